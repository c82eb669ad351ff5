"""Timer jobs: a frequent sweep that queues what falls due, and the job that fires one timer.

DueTimer rows are the source of truth. Every few seconds beat runs ``parcours.timers.sweep``: it marks the
timers due within the horizon as queued (one commit) and then queues one ``parcours.timers.fire(timer_id)``
each, with ``eta=due_at`` for those not yet due, so they fire on time without a faster sweep. A timer still
pending well after its due time is queued again (its job was lost), and firing is idempotent (the engine
claims the row under a lock), so a timer queued twice still fires once.

Test-only hook: with ``PARCOURS_TEST_FIRE_DELAY_SECONDS`` set, the fire job sleeps that long after the engine
step, before its commit, having first created ``<PARCOURS_TEST_FIRE_MARKER_DIR>/<timer_id>-<pid>`` when that
variable is set: a test can then kill the worker in the middle of a firing (tests/tasks/test_worker_kill.py).
Never set them in production.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from pathlib import Path

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import OperationalError

from engine.clock import Clock
from engine.db import db
from engine.errors import ConcurrencyConflict, InvalidTransition
from engine.services.timer_wakeups import claim_wakeups, pending_due_at, release_wakeups
from engine.services.timers import fire_timer
from engine.types import Actor
from tasks.config import JobSettings

log = logging.getLogger(__name__)
TIMER_ACTOR = Actor.system("timer")


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


@shared_task(name="parcours.timers.sweep", ignore_result=True)
def sweep_timers() -> dict[str, int]:
    """Queue a fire job for each timer due now or within the horizon (each timer once); returns the counts."""
    settings = JobSettings.from_env()
    now = _clock().now()
    wakeups = claim_wakeups(now, horizon=timedelta(seconds=settings.horizon_seconds),
                            requeue_after=timedelta(seconds=settings.requeue_seconds), limit=settings.batch)
    db.session.commit()  # the marks first: a job must never run before its timer is marked as queued
    sent = 0
    try:
        with fire_timer_job.app.producer_or_acquire() as producer:
            for wakeup in wakeups:
                eta = wakeup.due_at if wakeup.due_at > now else None
                fire_timer_job.apply_async((wakeup.timer_id,), eta=eta, producer=producer)
                sent += 1
    except Exception:
        # The broker is unreachable: unmark what was not sent, so that the next sweep queues it again.
        release_wakeups([w.timer_id for w in wakeups[sent:]])
        db.session.commit()
        raise
    due_now = sum(1 for w in wakeups if w.due_at <= now)
    if wakeups:
        log.info("timer sweep: %d queued (%d due now, %d with an ETA)", sent, due_now, sent - due_now)
    return {"queued": sent, "due_now": due_now}


@shared_task(bind=True, name="parcours.timers.fire", ignore_result=True, acks_late=True,
             reject_on_worker_lost=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5,
             time_limit=300)
def fire_timer_job(self, timer_id: int) -> str:  # type: ignore[no-untyped-def]
    """Fire one timer if it is due and still pending; a no-op otherwise (already fired, cancelled, not ours).

    ``acks_late``: the message is acknowledged only after the commit, so a worker killed mid-firing leaves it
    to be delivered again. ``reject_on_worker_lost``: when only the pool process dies, the worker puts the
    message back at once instead of recording a failure. Either way the killed transaction was never
    committed: the timer is still pending and fires once, from the redelivered message or the sweep.
    """
    clock = _clock()
    try:
        outcome = fire_timer(timer_id, clock=clock, actor=TIMER_ACTOR)
    except ConcurrencyConflict as exc:  # the instance moved under us: try again shortly
        raise self.retry(countdown=1, exc=exc) from exc
    except InvalidTransition:
        return "skipped"
    _test_delay(timer_id)
    if outcome is None:
        due = pending_due_at(timer_id)
        if due is not None and due > clock.now() and not self.request.is_eager:  # an ETA run a moment early
            raise self.retry(countdown=(due - clock.now()).total_seconds() + 0.05, max_retries=None)
        return "skipped"
    if outcome.error_message:
        log.warning("timer %s: instance %s in error at %s: %s", timer_id, outcome.instance_id,
                    outcome.error_element, outcome.error_message)
        return "error"
    return "fired"
