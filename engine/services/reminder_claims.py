"""Claiming due reminders so that several dispatchers (tick, Celery workers) never send one twice.

A claim moves a row to ``sending`` with a lease (``lease_until``) and is committed before the message
leaves: a dispatcher that dies mid-send leaves the row to be taken again once the lease has expired.
PostgreSQL: ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)``, so concurrent dispatchers
take disjoint batches without waiting. SQLite: the same conditional UPDATE (the database's single writer
lock serialises claimers; the second sees the rows no longer due).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from engine.db import db
from engine.models import Reminder, ReminderStatus


def _due(now: datetime) -> object:
    """Pending and due, or sending with an expired lease (its dispatcher died)."""
    return or_(
        and_(Reminder.status == ReminderStatus.PENDING.value, Reminder.next_attempt_at <= now),
        and_(Reminder.status == ReminderStatus.SENDING.value, Reminder.lease_until < now),
    )


def claim_due_reminders(now: datetime, *, lease: timedelta, limit: int) -> list[tuple[int, bool]]:
    """Claim up to ``limit`` due reminders, oldest first (flushes; the caller commits before sending).

    Returns (reminder id, whether it was taken over from an expired lease) pairs.
    """
    candidates = (select(Reminder.id).where(_due(now))
                  .order_by(Reminder.next_attempt_at, Reminder.id).limit(limit))
    expired = {rid for rid in db.session.scalars(
        select(Reminder.id).where(Reminder.status == ReminderStatus.SENDING.value, Reminder.lease_until < now)
        .limit(limit))}
    if db.session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    result = db.session.execute(
        update(Reminder).where(Reminder.id.in_(candidates.scalar_subquery()), _due(now))
        .values(status=ReminderStatus.SENDING.value, lease_until=now + lease)
        .returning(Reminder.id).execution_options(synchronize_session=False))
    ids = sorted(result.scalars())
    return [(rid, rid in expired) for rid in ids]


def claim_reminder(reminder_id: int, now: datetime, *, lease: timedelta) -> tuple[bool, bool]:
    """Claim one reminder if it is due (the Celery ``send`` job). Returns (claimed, taken over)."""
    was_expired = db.session.scalar(select(Reminder.status).where(Reminder.id == reminder_id)) == \
        ReminderStatus.SENDING.value
    query = select(Reminder.id).where(Reminder.id == reminder_id, _due(now))
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    result = db.session.execute(
        update(Reminder).where(Reminder.id.in_(query.scalar_subquery()), _due(now))
        .values(status=ReminderStatus.SENDING.value, lease_until=now + lease)
        .returning(Reminder.id).execution_options(synchronize_session=False))
    claimed = result.scalar() is not None
    return claimed, claimed and was_expired
