"""Quiet hours: when a patient may not be messaged (default 20:00-09:00 and Sundays, their own timezone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from engine.errors import InvalidInput


@dataclass(frozen=True)
class QuietHours:
    start: time = time(20, 0)  # quiet from this time...
    end: time = time(9, 0)  # ...until this time (the next morning when end <= start)
    sundays: bool = True  # all of Sunday is quiet

    @classmethod
    def parse(cls, text: str, *, sundays: bool = True) -> QuietHours:
        """``"20:00-09:00"`` (a window over midnight) or ``"12:00-14:00"``; ``""``/``"none"``: no window."""
        text = (text or "").strip().lower()
        if text in ("", "none", "off"):
            return cls(time(0, 0), time(0, 0), sundays)
        try:
            start_text, end_text = text.split("-")
            return cls(time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip()), sundays)
        except ValueError:
            raise InvalidInput(f"quiet hours must look like 20:00-09:00, got {text!r}") from None

    def is_quiet(self, local: datetime) -> bool:
        if self.sundays and local.weekday() == 6:
            return True
        now = local.time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_allowed(self, at: datetime, zone: ZoneInfo) -> datetime:
        """``at`` if it is outside the window, else the first moment the window opens (UTC)."""
        local = at.astimezone(zone)
        for _ in range(8 * 24 * 4):  # a week of quarter-hours bounds the search; the end of a window is exact
            if not self.is_quiet(local):
                return local.astimezone(UTC)
            local = self._window_end(local, zone)
        return at  # pragma: no cover - a window covering the whole week (refused by settings)

    def _window_end(self, local: datetime, zone: ZoneInfo) -> datetime:
        """The next candidate moment after ``local`` inside a quiet window: the end time, or the next midnight."""
        if self.sundays and local.weekday() == 6:
            next_day = (local + timedelta(days=1)).date()
            candidate = datetime.combine(next_day, time(0, 0), zone)
            # Monday 00:00 may itself be inside the night window: the loop goes on to its end.
            return candidate
        day = local.date() if local.time() < self.end else (local + timedelta(days=1)).date()
        return datetime.combine(day, self.end, zone)
