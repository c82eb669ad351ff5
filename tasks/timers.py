"""Timer jobs: a frequent sweep that queues what falls due, and the jobs that fire timers.

DueTimer rows are the source of truth. Every few seconds beat runs ``parcours.timers.sweep``: it marks the
timers due within the horizon as queued (one commit) and then queues ``parcours.timers.fire(timer_id)`` jobs
with ``eta=due_at`` for those not yet due, so they fire on time without a faster sweep. Timers due within half a
second of each other share one ``parcours.timers.fire_many(timer_ids)`` job (a storm costs a message per group,
still one transaction per timer). A timer still pending well after its due time is queued again (its job was
lost), and firing is idempotent (the engine claims the row under a lock), so a timer queued twice fires once.

Test-only hook: with ``PARCOURS_TEST_FIRE_DELAY_SECONDS`` set, the fire job sleeps that long after the engine
step, before its commit, having first created ``<PARCOURS_TEST_FIRE_MARKER_DIR>/<timer_id>-<pid>`` when that
variable is set: a test can then kill the worker in the middle of a firing (tests/tasks/test_worker_processes.py).
Never set them in production.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

from celery import Task, shared_task
from celery.exceptions import Retry
from flask import current_app
from sqlalchemy.exc import OperationalError

from engine.clock import Clock
from engine.db import db
from engine.errors import ConcurrencyConflict, InvalidTransition
from engine.services.timer_wakeups import TimerWakeup, claim_wakeups, pending_due_at, release_wakeups
from engine.services.timers import fire_timer
from engine.types import Actor
from tasks.config import JobSettings

log = logging.getLogger(__name__)
TIMER_ACTOR = Actor.system("timer")
# Timers due within GROUP_SPREAD of each other go in one job of at most GROUP_SIZE (see group_wakeups).
GROUP_SPREAD = timedelta(milliseconds=500)
GROUP_SIZE = 20


def _clock() -> Clock:
    return current_app.extensions["parcours_clock"]  # type: ignore[no-any-return]


def _test_delay(timer_id: int) -> None:
    """The test-only slow hook (see the module docstring)."""
    delay = float(os.environ.get("PARCOURS_TEST_FIRE_DELAY_SECONDS") or 0)
    if delay <= 0:
        return
    marker_dir = os.environ.get("PARCOURS_TEST_FIRE_MARKER_DIR")
    if marker_dir:
        (Path(marker_dir) / f"{timer_id}-{os.getpid()}").touch()
    time.sleep(delay)


def group_wakeups(wakeups: list[TimerWakeup], now: datetime, *, spread: timedelta,
                  size: int) -> list[tuple[list[int], datetime | None]]:
    """Timers to fire together: consecutive ones (by due time) due within ``spread`` of the first, at most
    ``size`` per group; each group's ETA is its last due time (None when already due). A storm of timers then
    costs a message per group instead of one per timer, for at most ``spread`` of added lateness."""
    groups: list[tuple[list[int], datetime | None]] = []
    first: datetime | None = None
    for wakeup in wakeups:
        due = wakeup.due_at if wakeup.due_at > now else now
        if groups and first is not None and len(groups[-1][0]) < size and due - first <= spread:
            groups[-1][0].append(wakeup.timer_id)
            groups[-1] = (groups[-1][0], due if due > now else None)
        else:
            first = due
            groups.append(([wakeup.timer_id], due if due > now else None))
    return groups


@shared_task(name="parcours.timers.sweep", ignore_result=True)
def sweep_timers() -> dict[str, int]:
    """Queue fire jobs for the timers due now or within the horizon (each timer once); returns the counts."""
    settings = JobSettings.from_env()
    now = _clock().now()
    wakeups = claim_wakeups(now, horizon=timedelta(seconds=settings.horizon_seconds),
                            requeue_after=timedelta(seconds=settings.requeue_seconds), limit=settings.batch)
    db.session.commit()  # the marks first: a job must never run before its timer is marked as queued
    groups = group_wakeups(wakeups, now, spread=GROUP_SPREAD, size=GROUP_SIZE)
    sent = 0
    try:
        with fire_timer_job.app.producer_or_acquire() as producer:
            for ids, eta in groups:
                if len(ids) == 1:
                    fire_timer_job.apply_async((ids[0],), eta=eta, producer=producer)
                else:
                    fire_timers_job.apply_async((ids,), eta=eta, producer=producer)
                sent += 1
    except Exception:
        # The broker is unreachable: unmark what was not sent, so that the next sweep queues it again.
        release_wakeups([timer_id for ids, _ in groups[sent:] for timer_id in ids])
        db.session.commit()
        raise
    due_now = sum(1 for w in wakeups if w.due_at <= now)
    if wakeups:
        log.info("timer sweep: %d queued in %d job(s) (%d due now, %d with an ETA)", len(wakeups), sent, due_now,
                 len(wakeups) - due_now)
    return {"queued": len(wakeups), "jobs": sent, "due_now": due_now}


def _fire(task: Task, timer_id: int, clock: Clock) -> str:
    """Fire one timer in the current transaction (the caller commits); a status word."""
    try:
        outcome = fire_timer(timer_id, clock=clock, actor=TIMER_ACTOR)
    except ConcurrencyConflict as exc:  # the instance moved under us: try again shortly
        raise task.retry(countdown=1, exc=exc) from exc
    except InvalidTransition:
        return "skipped"
    _test_delay(timer_id)
    if outcome is None:
        due = pending_due_at(timer_id)
        if due is not None and due > clock.now() and not task.request.is_eager:  # an ETA run a moment early
            raise task.retry(countdown=(due - clock.now()).total_seconds() + 0.05, max_retries=None)
        return "skipped"
    if outcome.error_message:
        log.warning("timer %s: instance %s in error at %s: %s", timer_id, outcome.instance_id,
                    outcome.error_element, outcome.error_message)
        return "error"
    return "fired"


FIRE_OPTIONS = {"bind": True, "ignore_result": True, "acks_late": True, "reject_on_worker_lost": True,
                "autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5, "time_limit": 300}


@shared_task(name="parcours.timers.fire", **FIRE_OPTIONS)
def fire_timer_job(self: Task, timer_id: int) -> str:
    """Fire one timer if it is due and still pending; a no-op otherwise (already fired, cancelled, not ours).

    ``acks_late``: the message is acknowledged only after the commit, so a worker killed mid-firing leaves it
    to be delivered again. ``reject_on_worker_lost``: when only the pool process dies, the worker puts the
    message back at once instead of recording a failure. Either way the killed transaction was never
    committed: the timer is still pending and fires once, from the redelivered message or the sweep.
    """
    return _fire(self, timer_id, _clock())


@shared_task(name="parcours.timers.fire_many", **FIRE_OPTIONS)
def fire_timers_job(self: Task, timer_ids: list[int]) -> dict[str, int]:
    """Fire several timers, one transaction each, in order (same guarantees as ``parcours.timers.fire``: a
    redelivered message fires again only what is still pending). Returns how many ended in each status."""
    clock = _clock()
    counts: dict[str, int] = {}
    for timer_id in timer_ids:
        try:
            status = _fire(self, timer_id, clock)
            db.session.commit()
        except Retry:
            raise
        except Exception:  # one broken instance must not hold back the others
            db.session.rollback()
            log.exception("timer %s failed", timer_id)
            status = "failed"
        counts[status] = counts.get(status, 0) + 1
    return counts
