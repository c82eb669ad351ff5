"""Makes SpiffWorkflow's timer code read the engine's injected clock instead of the wall clock.

SpiffWorkflow reads ``datetime.now(timezone.utc)`` inside its timer module (durations start "now",
due checks compare to "now"). We replace that module's ``datetime`` name once with a subclass whose
``now()`` reads a context variable, so every engine run happens under ``engine_clock(clock)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer  # type: ignore[import-untyped]

from engine.clock import Clock

_current_clock: ContextVar[Clock | None] = ContextVar("parcours_engine_clock", default=None)


class _ClockedDatetime(datetime):
    """``datetime`` whose ``now()`` is the engine clock while one is installed."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        clock = _current_clock.get()
        if clock is None:
            return datetime.now(tz)
        now = clock.now()
        return now.astimezone(tz) if tz is not None else now.astimezone(UTC).replace(tzinfo=None)


_spiff_timer.datetime = _ClockedDatetime


@contextlib.contextmanager
def engine_clock(clock: Clock) -> Iterator[None]:
    """Run the enclosed engine code with ``clock`` as SpiffWorkflow's notion of now."""
    token = _current_clock.set(clock)
    try:
        yield
    finally:
        _current_clock.reset(token)
