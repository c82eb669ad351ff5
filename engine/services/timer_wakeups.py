"""Timer wake-ups: which due timers a job runner should queue now, each queued once (plus a lost-job re-queue).

The jobs' sweep (``tasks/timers.py``) asks this module what to queue: pending timers on active instances that
fall due within a short horizon, never queued before, and timers still pending long after their due time
(their job was lost: a killed worker, a broker restart). Firing itself stays in ``engine.services.timers``,
which is idempotent, so a timer queued twice still fires once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from engine.db import db
from engine.models import DueTimer, InstanceStatus, PathwayInstance, TimerStatus


@dataclass(frozen=True)
class TimerWakeup:
    """A timer to queue: fire it at ``due_at`` (or at once if that is past)."""

    timer_id: int
    due_at: datetime


def claim_wakeups(now: datetime, *, horizon: timedelta, requeue_after: timedelta,
                  limit: int = 1000) -> list[TimerWakeup]:
    """Mark the timers to queue now as queued (``enqueued_at = now``; flushes) and return them, soonest first.

    Picked: pending timers on active instances due before ``now + horizon`` that were never queued, or that are
    still pending ``requeue_after`` past both their due time and their last queueing. The caller commits, then
    queues the jobs; if queueing fails it calls :func:`release_wakeups` so the next sweep queues them again.
    On PostgreSQL the rows are taken with ``SKIP LOCKED``, so two overlapping sweeps split the work.
    """
    stale = now - requeue_after
    query = (
        select(DueTimer.id, DueTimer.due_at)
        .join(PathwayInstance, PathwayInstance.id == DueTimer.instance_id)
        .where(DueTimer.status == TimerStatus.PENDING.value, DueTimer.due_at <= now + horizon,
               PathwayInstance.status == InstanceStatus.ACTIVE.value,
               or_(DueTimer.enqueued_at.is_(None),
                   and_(DueTimer.enqueued_at <= stale, DueTimer.due_at <= stale)))
        .order_by(DueTimer.due_at, DueTimer.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=DueTimer, skip_locked=True)
    rows = db.session.execute(query).all()
    if rows:
        db.session.execute(update(DueTimer).where(DueTimer.id.in_([row.id for row in rows]))
                           .values(enqueued_at=now).execution_options(synchronize_session=False))
        db.session.flush()
    return [TimerWakeup(row.id, row.due_at) for row in rows]


def release_wakeups(timer_ids: list[int]) -> None:
    """Forget that these timers were queued (their jobs could not be sent), so the next sweep retries (flushes)."""
    if timer_ids:
        db.session.execute(update(DueTimer).where(DueTimer.id.in_(timer_ids), DueTimer.status ==
                                                  TimerStatus.PENDING.value)
                           .values(enqueued_at=None).execution_options(synchronize_session=False))
        db.session.flush()


def pending_due_at(timer_id: int) -> datetime | None:
    """When this timer is due if it is still pending, else None (a read)."""
    return db.session.scalar(select(DueTimer.due_at).where(DueTimer.id == timer_id,
                                                           DueTimer.status == TimerStatus.PENDING.value))
