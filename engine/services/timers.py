"""Due timers: find what is due and fire each timer exactly once, even with several callers racing."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update

from engine.clock import Clock
from engine.db import db
from engine.errors import ConcurrencyConflict, InvalidTransition
from engine.models import DueTimer, InstanceStatus, PathwayInstance, TimerStatus
from engine.services.instances import lock_instance, run_step
from engine.types import Actor, StepOutcome

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    fired: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def due_timer_ids(now: datetime, *, limit: int = 500) -> list[int]:
    """Pending timers due at ``now`` on active instances, oldest first (a read; nothing locked)."""
    return list(db.session.scalars(
        select(DueTimer.id)
        .join(PathwayInstance, PathwayInstance.id == DueTimer.instance_id)
        .where(DueTimer.status == TimerStatus.PENDING.value, DueTimer.due_at <= now,
               PathwayInstance.status == InstanceStatus.ACTIVE.value)
        .order_by(DueTimer.due_at, DueTimer.id)
        .limit(limit)
    ))


def _claim(timer_id: int, now: datetime) -> DueTimer | None:
    """Take the timer for this transaction, or None if another caller has it or it already fired."""
    if db.session.get_bind().dialect.name == "postgresql":
        timer = db.session.scalar(
            select(DueTimer).where(DueTimer.id == timer_id, DueTimer.status == TimerStatus.PENDING.value)
            .with_for_update(skip_locked=True).execution_options(populate_existing=True))
        return timer
    # SQLite: a conditional (no-op) update is the claim: it takes the database's write lock, so a second
    # caller waits, then finds the timer no longer pending.
    result = db.session.execute(
        update(DueTimer).where(DueTimer.id == timer_id, DueTimer.status == TimerStatus.PENDING.value)
        .values(status=DueTimer.status).execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return db.session.get(DueTimer, timer_id, populate_existing=True)


def fire_timer(timer_id: int, *, clock: Clock, actor: Actor | None = None) -> StepOutcome | None:
    """Fire one due timer and advance its instance (flushes). None if it was not ours to fire.

    An engine failure during the step is in the outcome (``error_message``): the instance is then in
    ``error`` and the timer stays pending, so that a retry from the studio fires it again.
    """
    now = clock.now()
    timer = _claim(timer_id, now)
    if timer is None or timer.due_at > now:
        return None
    instance = lock_instance(timer.instance_id)
    if instance.status != InstanceStatus.ACTIVE.value:
        return None
    actor = actor or Actor.system("timer")
    outcome = run_step(instance, lambda run: run.fire_due_timers(), actor=actor, clock=clock)
    # The projection's UPDATE of the timer rows updated this loaded row too (no SELECT to read it back).
    if outcome.error_message is None and timer.status == TimerStatus.PENDING.value and timer.due_at <= now:
        # Never dropped: a timer the engine did not consume stays pending for the next sweep.
        log.warning("timer %s (%s) of instance %s was due but the engine did not fire it",
                    timer.id, timer.element_id, timer.instance_id)
    return outcome


def fire_due_timers(*, clock: Clock, limit: int = 500, actor: Actor | None = None) -> TickReport:
    """Fire every timer due at the clock's now, one transaction per timer (this function commits).

    Safe to run in several processes at once: each timer is claimed under a row lock (SKIP LOCKED on
    PostgreSQL) or by a conditional update (SQLite), so it fires exactly once.
    """
    report = TickReport()
    ids = due_timer_ids(clock.now(), limit=limit)
    db.session.commit()  # end the read transaction before claiming (SQLite snapshots)
    for timer_id in ids:
        try:
            outcome = fire_timer(timer_id, clock=clock, actor=actor)
            db.session.commit()  # an instance put in error keeps its error mark
            if outcome is None:
                report.skipped += 1
            elif outcome.error_message:
                report.errors.append(f"timer {timer_id}: instance {outcome.instance_id} in error at "
                                     f"{outcome.error_element}: {outcome.error_message}")
            else:
                report.fired += 1
        except (ConcurrencyConflict, InvalidTransition) as exc:
            db.session.rollback()
            report.skipped += 1
            log.info("timer %s skipped: %s", timer_id, exc)
        except Exception as exc:  # one broken instance must not stop the sweep
            db.session.rollback()
            report.errors.append(f"timer {timer_id}: {exc}")
            log.exception("timer %s failed", timer_id)
    return report
