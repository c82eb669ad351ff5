"""The timer jobs called in this process (both backends): the sweep queues each due timer once, with its ETA,
on a real Redis; the fire job fires once, commits, and is a no-op the second time; the job base class commits
or rolls back. Worker processes are in test_worker_processes.py."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from celery import Celery
from flask import Flask
from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.db import db
from engine.models import AuditEvent, DueTimer, Patient, WorkItem
from engine.services.instances import enrol_patient
from engine.services.people import create_patient
from engine.services.timer_wakeups import TimerWakeup, claim_wakeups, release_wakeups
from engine.types import Actor
from tasks.timers import fire_timer_job, fire_timers_job, group_wakeups, sweep_timers
from tests.factories import deploy_test_bpmn, make_team
from tests.tasks.conftest import bind_celery

HORIZON = timedelta(minutes=2)
REQUEUE = timedelta(minutes=1)


def _enrol_with_timer(clock: ManualClock, identifier: str = "P-001") -> tuple[int, DueTimer]:
    """task_timer_reminder: a 2-day timer (then `controle_j2`) beside a nurse's work item."""
    if identifier == "P-001":
        deploy_test_bpmn("task_timer_reminder", clock)
        patient, _ = make_team(clock, ["infirmier"])
    else:
        patient = create_patient(identifier, "Martin", "Paul", at=clock.now(), site="MSP Test")
    outcome = enrol_patient(patient.identifier, "task_timer_reminder", actor=Actor.cli(), clock=clock)
    db.session.commit()
    timer = db.session.scalars(select(DueTimer).where(DueTimer.instance_id == outcome.instance_id)).one()
    return outcome.instance_id, timer


def _queued(client: redis.Redis, queue: str = "celery") -> list[dict[str, Any]]:
    """The fire jobs waiting in the broker: task name, args and ETA from each raw Celery message."""
    jobs = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        jobs.append({"task": message["headers"]["task"], "args": args, "eta": message["headers"].get("eta")})
    return sorted(jobs, key=lambda job: job["args"])


# ---------------------------------------------------------------- what the sweep picks (engine service)


def test_timer_is_claimed_once_when_it_falls_due_within_the_horizon(app: Flask, clock: ManualClock) -> None:
    _, timer = _enrol_with_timer(clock)
    clock.set(timer.due_at - HORIZON - timedelta(seconds=1))
    assert claim_wakeups(clock.now(), horizon=HORIZON, requeue_after=REQUEUE) == []
    clock.advance(timedelta(seconds=2))
    (wakeup,) = claim_wakeups(clock.now(), horizon=HORIZON, requeue_after=REQUEUE)
    db.session.commit()
    assert (wakeup.timer_id, wakeup.due_at) == (timer.id, timer.due_at)
    for _ in range(3):  # later sweeps, up to the due time and just after: nothing queued again
        clock.advance(timedelta(seconds=50))
        assert claim_wakeups(clock.now(), horizon=HORIZON, requeue_after=REQUEUE) == []


def test_timer_is_claimed_again_when_it_is_still_pending_past_the_requeue_delay(app: Flask,
                                                                               clock: ManualClock) -> None:
    _, timer = _enrol_with_timer(clock)
    clock.set(timer.due_at - timedelta(seconds=30))
    assert len(claim_wakeups(clock.now(), horizon=HORIZON, requeue_after=REQUEUE)) == 1
    clock.set(timer.due_at + REQUEUE - timedelta(seconds=1))
    assert claim_wakeups(clock.now(), horizon=HORIZON, requeue_after=REQUEUE) == []
    clock.set(timer.due_at + REQUEUE + timedelta(seconds=1))  # its job was lost: queue it again, once
    assert [w.timer_id for w in claim_wakeups(clock.now(), horizon=HORIZON, requeue_after=REQUEUE)] == [timer.id]
    clock.advance(timedelta(seconds=30))
    assert claim_wakeups(clock.now(), horizon=HORIZON, requeue_after=REQUEUE) == []


def test_released_timer_is_claimed_again_when_its_job_could_not_be_sent(app: Flask, clock: ManualClock) -> None:
    _, timer = _enrol_with_timer(clock)
    clock.set(timer.due_at)
    (wakeup,) = claim_wakeups(clock.now(), horizon=HORIZON, requeue_after=REQUEUE)
    release_wakeups([wakeup.timer_id])
    db.session.commit()
    assert [w.timer_id for w in claim_wakeups(clock.now(), horizon=HORIZON, requeue_after=REQUEUE)] == [timer.id]


def test_timer_of_a_suspended_instance_is_not_claimed(app: Flask, clock: ManualClock) -> None:
    from engine.services.instances import suspend_instance

    instance_id, timer = _enrol_with_timer(clock)
    suspend_instance(instance_id, actor=Actor.cli(), clock=clock, reason="hospitalisé")
    db.session.commit()
    clock.set(timer.due_at)
    assert claim_wakeups(clock.now(), horizon=HORIZON, requeue_after=REQUEUE) == []


# ---------------------------------------------------------------- the sweep job, on a real Redis


def test_sweep_queues_one_fire_job_per_timer_with_its_eta_when_timers_fall_due_soon(
        app: Flask, clock: ManualClock, redis_celery: Celery, redis_db: redis.Redis) -> None:
    _, overdue = _enrol_with_timer(clock)
    clock.advance(timedelta(days=1, hours=23, minutes=59))  # the first timer is due in a minute...
    _, soon = _enrol_with_timer(clock, "P-002")
    clock.set(overdue.due_at + timedelta(seconds=30))  # the first is overdue; the second one is due in 2 days
    assert soon.due_at > clock.now() + HORIZON

    assert sweep_timers.apply().get() == {"queued": 1, "jobs": 1, "due_now": 1}
    assert _queued(redis_db) == [{"task": "parcours.timers.fire", "args": [overdue.id], "eta": None}]

    redis_db.delete("celery")
    clock.set(soon.due_at - timedelta(seconds=60))  # the first one's job was lost (never fired): queued again
    assert sweep_timers.apply().get() == {"queued": 2, "jobs": 2, "due_now": 1}
    lost, upcoming = _queued(redis_db)
    assert lost == {"task": "parcours.timers.fire", "args": [overdue.id], "eta": None}
    assert upcoming["args"] == [soon.id]
    assert datetime.fromisoformat(upcoming["eta"]) == soon.due_at
    assert sweep_timers.apply().get() == {"queued": 0, "jobs": 0, "due_now": 0}, "a timer was queued twice"


def test_sweep_unmarks_its_timers_when_the_broker_is_unreachable(app: Flask, clock: ManualClock,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _, timer = _enrol_with_timer(clock)
    celery = bind_celery(app, monkeypatch, "redis://127.0.0.1:9/0")  # nothing listens on the discard port
    celery.conf.broker_connection_max_retries = 1
    celery.conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1}
    clock.set(timer.due_at)
    with pytest.raises(Exception):  # noqa: B017 - whichever connection error kombu raises
        sweep_timers.apply().get()
    celery.close()
    db.session.expire_all()
    assert db.session.get(DueTimer, timer.id).enqueued_at is None  # the next sweep queues it
    assert len(claim_wakeups(clock.now(), horizon=HORIZON, requeue_after=REQUEUE)) == 1


# ---------------------------------------------------------------- the fire job


def _count(model: Any, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_fire_job_fires_the_timer_once_and_commits_when_it_runs_twice(app: Flask, clock: ManualClock,
                                                                      redis_celery: Celery) -> None:
    instance_id, timer = _enrol_with_timer(clock)
    clock.set(timer.due_at + timedelta(seconds=1))
    assert fire_timer_job.apply((timer.id,)).get() == "fired"
    assert fire_timer_job.apply((timer.id,)).get() == "skipped"
    db.session.expire_all()
    fired = db.session.get(DueTimer, timer.id)
    assert (fired.status, fired.fired_at) == ("fired", timer.due_at + timedelta(seconds=1))
    assert _count(AuditEvent, AuditEvent.action == "timer.fired", AuditEvent.instance_id == instance_id) == 1
    assert [w.element_id for w in db.session.scalars(select(WorkItem).where(
        WorkItem.instance_id == instance_id, WorkItem.status == "open").order_by(WorkItem.id))] == \
        ["bilan", "controle_j2"]


def test_fire_job_does_nothing_when_the_timer_is_not_due_yet(app: Flask, clock: ManualClock,
                                                            redis_celery: Celery) -> None:
    _, timer = _enrol_with_timer(clock)
    clock.set(timer.due_at - timedelta(seconds=1))
    assert fire_timer_job.apply((timer.id,)).get() == "skipped"
    db.session.expire_all()
    assert db.session.get(DueTimer, timer.id).status == "pending"


# ---------------------------------------------------------------- the job base class


def test_job_commits_on_success_and_rolls_back_on_error(app: Flask, clock: ManualClock, redis_celery: Celery) -> None:
    @redis_celery.task(name="tests.create_patient", shared=False)  # not added to later tests' Celery apps
    def create(identifier: str, fail: bool) -> str:
        create_patient(identifier, "Durand", "Luc", at=clock.now(), site="MSP Test")
        db.session.flush()
        if fail:
            raise RuntimeError("boom after the write")
        return identifier

    assert create.apply(("KEPT", False)).get() == "KEPT"
    failed = create.apply(("DROPPED", True))
    assert failed.failed() and isinstance(failed.result, RuntimeError)
    db.session.expire_all()
    assert sorted(db.session.scalars(select(Patient.identifier))) == ["KEPT"]


# ---------------------------------------------------------------- timers due together


def test_group_wakeups_puts_timers_due_within_half_a_second_in_one_job() -> None:
    now = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    at = [now - timedelta(seconds=5), now - timedelta(seconds=1), now + timedelta(seconds=10),
          now + timedelta(seconds=10.4), now + timedelta(seconds=10.6), now + timedelta(seconds=11)]
    wakeups = [TimerWakeup(n, due) for n, due in enumerate(at, start=1)]
    groups = group_wakeups(wakeups, now, spread=timedelta(milliseconds=500), size=20)
    assert groups == [([1, 2], None), ([3, 4], at[3]), ([5, 6], at[5])]
    assert [ids for ids, _ in group_wakeups(wakeups, now, spread=timedelta(minutes=1), size=4)] == \
        [[1, 2, 3, 4], [5, 6]]


def test_sweep_queues_one_job_for_timers_due_together_and_it_fires_each_once(
        app: Flask, clock: ManualClock, redis_celery: Celery, redis_db: redis.Redis) -> None:
    timers = [_enrol_with_timer(clock, identifier)[1] for identifier in ("P-001", "P-002", "P-003")]
    due = max(t.due_at for t in timers)
    clock.set(due - timedelta(seconds=30))
    assert sweep_timers.apply().get() == {"queued": 3, "jobs": 1, "due_now": 0}
    (job,) = _queued(redis_db)
    assert job["task"] == "parcours.timers.fire_many"
    assert job["args"] == [[t.id for t in timers]] and datetime.fromisoformat(job["eta"]) == due

    clock.set(due)
    assert fire_timers_job.apply(([t.id for t in timers],)).get() == {"fired": 3}
    assert fire_timers_job.apply(([t.id for t in timers],)).get() == {"skipped": 3}  # a redelivered message
    db.session.expire_all()
    assert _count(AuditEvent, AuditEvent.action == "timer.fired") == 3
    assert _count(WorkItem, WorkItem.element_id == "controle_j2") == 3


def test_worker_runs_timer_reminder_and_escalation_jobs_on_beat_when_started(app: Flask, monkeypatch: pytest.MonkeyPatch
                                                                              ) -> None:
    celery = bind_celery(app, monkeypatch, None)
    try:
        celery.loader.import_default_modules()
        names = set(celery.tasks)
        assert {"parcours.timers.sweep", "parcours.timers.fire", "parcours.reminders.dispatch",
                "parcours.reminders.send", "parcours.work_items.sweep"} <= names
        schedule = {entry["task"]: entry["schedule"] for entry in celery.conf.beat_schedule.values()}
        assert schedule == {"parcours.timers.sweep": 5.0, "parcours.reminders.dispatch": 30.0,
                            "parcours.work_items.sweep": 60.0, "parcours.broker.prune": 3600.0}
        assert "parcours.broker.prune" in names
    finally:
        celery.close()


def test_redis_needs_no_broker_pruning(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    celery = bind_celery(app, monkeypatch, "redis://127.0.0.1:6379/5")
    try:
        tasks = {entry["task"] for entry in celery.conf.beat_schedule.values()}
        assert "parcours.broker.prune" not in tasks
    finally:
        celery.close()
