"""Timers fired by real Celery worker and beat processes, on the wall clock, no mocks.

- Redis broker (a database of our own, flushed) + PostgreSQL: production's shape. These tests pick the
  PostgreSQL backend on purpose: several processes write at once, and row locks (SKIP LOCKED) are what keeps
  a timer from firing twice there; SQLite would serialise the writers and prove less.
- The embedded broker (kombu's SQLAlchemy transport on a SQLite file) + the SQLite app database: the default
  that `parcours run` starts with no server, so it runs on SQLite.
- Redis stopped (a private server, losing every queued message) while timers fall due: the command line keeps
  working, and every timer fires once after Redis returns.
- A worker killed with SIGKILL in the middle of firing (the test-only slow hook of tasks/timers.py holds each
  firing open before its commit): every timer still fires exactly once after a new worker starts.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.db import db
from engine.models import AuditEvent, DueTimer, PathwayInstance, WorkItem
from engine.services.instances import enrol_patient
from engine.services.people import create_patient
from engine.types import Actor
from tests.factories import deploy_test_bpmn, make_team
from tests.tasks.conftest import REDIS_TEST_URL
from tests.tasks.workers import CeleryProcess, database_url, job_env, wait_until

pytestmark = pytest.mark.slow

LATENESS_TARGET = timedelta(seconds=5)  # DESIGN §5: p99 lateness <= 5 s
FIRE_TIMEOUT = 90.0


def _enrol_due_in(clock: ManualClock, seconds: float, identifiers: list[str]) -> list[int]:
    """Patients on task_timer_reminder whose 2-day timer falls due ``seconds`` from now on the wall clock
    (enrolled on a test clock set 2 days back); returns the instance ids."""
    deploy_test_bpmn("task_timer_reminder", clock)
    make_team(clock, ["infirmier"])
    clock.set(datetime.now(UTC) - timedelta(days=2) + timedelta(seconds=seconds))
    ids = []
    for identifier in identifiers:
        if identifier != "P-001":
            create_patient(identifier, "Martin", "Paul", at=clock.now(), site="MSP Test")
        ids.append(enrol_patient(identifier, "task_timer_reminder", actor=Actor.cli(), clock=clock).instance_id)
    db.session.commit()
    return ids


def _fresh_read() -> None:
    db.session.rollback()  # a new transaction: see what the worker committed
    db.session.expire_all()


def _count(model, *where) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _control_item(instance_id: int) -> WorkItem | None:
    _fresh_read()
    return db.session.scalar(select(WorkItem).where(WorkItem.instance_id == instance_id,
                                                    WorkItem.element_id == "controle_j2"))


def _assert_fired_once_on_time(instance_id: int) -> None:
    timer = db.session.scalars(select(DueTimer).where(DueTimer.instance_id == instance_id)).one()
    assert timer.status == "fired" and timer.fired_at is not None
    lateness = timer.fired_at - timer.due_at
    assert timedelta(0) <= lateness <= LATENESS_TARGET, f"fired {lateness.total_seconds():.2f} s after due"
    assert _count(AuditEvent, AuditEvent.action == "timer.fired", AuditEvent.instance_id == instance_id) == 1
    assert _count(WorkItem, WorkItem.instance_id == instance_id, WorkItem.element_id == "controle_j2") == 1


@pytest.fixture
def sqlite_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    from tests.conftest import _app_for, _fresh

    yield from _fresh(_app_for("sqlite", tmp_path_factory))


@pytest.mark.postgres_only
def test_timer_fires_on_time_and_next_work_item_appears_when_worker_and_beat_run_on_redis(
        pg_app: Flask, redis_db: redis.Redis, processes: list[CeleryProcess], tmp_path: Path) -> None:
    clock: ManualClock = pg_app.extensions["parcours_clock"]
    env = job_env(tmp_path, database_url(pg_app), REDIS_TEST_URL)
    processes.append(worker := CeleryProcess("worker", env, tmp_path / "worker.log", "--concurrency", "2"))
    processes.append(beat := CeleryProcess("beat", env, tmp_path / "beat.log"))
    worker.wait_ready()
    (instance_id,) = _enrol_due_in(clock, 6, ["P-001"])  # due 6 s from now: the sweep queues it with an ETA

    item = wait_until(lambda: _control_item(instance_id), FIRE_TIMEOUT, "the timer did not fire", worker, beat)
    assert item.status == "open" and item.role_code == "infirmier"
    _assert_fired_once_on_time(instance_id)
    assert "parcours.timers.fire" in worker.output


def test_timer_fires_when_worker_and_beat_run_on_the_embedded_broker(
        sqlite_app: Flask, processes: list[CeleryProcess], tmp_path: Path) -> None:
    clock: ManualClock = sqlite_app.extensions["parcours_clock"]
    env = job_env(tmp_path, database_url(sqlite_app), None)
    processes.append(worker := CeleryProcess("worker", env, tmp_path / "worker.log", "--concurrency", "1"))
    processes.append(beat := CeleryProcess("beat", env, tmp_path / "beat.log"))
    worker.wait_ready()
    assert "sqla+sqlite:///" in worker.output and (tmp_path / "celery-broker.sqlite3").is_file()
    (instance_id,) = _enrol_due_in(clock, 6, ["P-001"])

    item = wait_until(lambda: _control_item(instance_id), FIRE_TIMEOUT, "the timer did not fire", worker, beat)
    assert item.status == "open"
    _assert_fired_once_on_time(instance_id)


N_KILLED_BATCH = 200


@pytest.mark.postgres_only
def test_each_timer_fires_exactly_once_when_the_worker_is_killed_mid_firing(
        pg_app: Flask, redis_db: redis.Redis, processes: list[CeleryProcess], tmp_path: Path) -> None:
    clock: ManualClock = pg_app.extensions["parcours_clock"]
    ids = _enrol_due_in(clock, -60, ["P-001"] + [f"K-{n:03d}" for n in range(1, N_KILLED_BATCH)])
    versions = dict(db.session.execute(select(PathwayInstance.id, PathwayInstance.lock_version)).all())
    db.session.commit()
    markers = tmp_path / "firing"
    markers.mkdir()
    # Lost jobs (prefetched by the killed worker, unacknowledged) are queued again 3 s after their due time
    # instead of waiting for Redis' visibility timeout.
    env = job_env(tmp_path, database_url(pg_app), REDIS_TEST_URL, PARCOURS_TIMER_REQUEUE_SECONDS="3")
    slow = {**env, "PARCOURS_TEST_FIRE_DELAY_SECONDS": "1.5", "PARCOURS_TEST_FIRE_MARKER_DIR": str(markers)}
    processes.append(doomed := CeleryProcess("worker", slow, tmp_path / "doomed.log", "--concurrency", "2"))
    processes.append(beat := CeleryProcess("beat", env, tmp_path / "beat.log"))

    wait_until(lambda: len(list(markers.iterdir())) >= 5, FIRE_TIMEOUT, "the worker fired nothing", doomed, beat)
    doomed.kill()  # SIGKILL, worker and pool processes, while firings sit uncommitted in the slow hook
    _fresh_read()
    started = {int(marker.name.split("-")[0]) for marker in markers.iterdir()}
    interrupted = set(db.session.scalars(select(DueTimer.id).where(DueTimer.id.in_(started),
                                                                   DueTimer.status == "pending")))
    assert interrupted, "no firing was interrupted: the kill came too late to prove anything"
    fired_before = _count(DueTimer, DueTimer.status == "fired")
    assert fired_before < N_KILLED_BATCH

    processes.append(worker := CeleryProcess("worker", env, tmp_path / "worker.log", "--concurrency", "2"))

    def all_fired() -> bool:
        _fresh_read()
        return _count(DueTimer, DueTimer.status == "fired") == N_KILLED_BATCH

    wait_until(all_fired, 180, "not every timer fired after the restart", worker, beat)
    fired_per_instance = dict(db.session.execute(
        select(AuditEvent.instance_id, func.count()).where(AuditEvent.action == "timer.fired")
        .group_by(AuditEvent.instance_id)).all())
    assert fired_per_instance == {instance_id: 1 for instance_id in ids}
    items_per_instance = dict(db.session.execute(
        select(WorkItem.instance_id, func.count()).where(WorkItem.element_id == "controle_j2")
        .group_by(WorkItem.instance_id)).all())
    assert items_per_instance == {instance_id: 1 for instance_id in ids}
    after = dict(db.session.execute(select(PathwayInstance.id, PathwayInstance.lock_version)).all())
    assert after == {instance_id: version + 1 for instance_id, version in versions.items()}


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A Redis server of this test's own on a free port (the shared one is never stopped): its URL, and
    functions that stop it and start it again on the same port. No persistence: a restart loses every message."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        server.append(subprocess.Popen(  # noqa: S603 - fixed argv
            [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        client = redis.Redis(port=port)
        wait_until(lambda: _pings(client), 20, "redis-server did not start")
        client.close()

    def stop() -> None:
        server[-1].terminate()
        server[-1].wait(20)

    start()
    yield f"redis://127.0.0.1:{port}/0", stop, start
    for process in server:
        if process.poll() is None:
            process.kill()
            process.wait()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.mark.postgres_only
def test_timers_due_while_redis_is_down_fire_once_when_it_returns(
        pg_app: Flask, private_redis: tuple[str, Callable[[], None], Callable[[], None]],
        processes: list[CeleryProcess], tmp_path: Path) -> None:
    url, stop_redis, start_redis = private_redis
    clock: ManualClock = pg_app.extensions["parcours_clock"]
    env = job_env(tmp_path, database_url(pg_app), url, PARCOURS_TIMER_REQUEUE_SECONDS="3")
    processes.append(worker := CeleryProcess("worker", env, tmp_path / "worker.log", "--concurrency", "2"))
    processes.append(beat := CeleryProcess("beat", env, tmp_path / "beat.log"))
    worker.wait_ready()
    deploy_test_bpmn("nurse_then_gp", clock)
    ids = _enrol_due_in(clock, 8, ["P-001", "R-002", "R-003"])
    # The sweep queues their ETA jobs into Redis, then Redis goes away with them (no persistence).
    wait_until(lambda: "timer sweep: 3 queued" in worker.output, 30, "the sweep did not queue the timers", worker)
    stop_redis()

    # Meanwhile the engine and the command line keep working: a patient is enrolled, no broker involved.
    enrolled = subprocess.run(  # noqa: S603
        [str(Path(sys.executable).with_name("parcours")), "enrol", "--patient", "R-003", "--pathway",
         "nurse_then_gp"], env=env, capture_output=True, text=True,
        timeout=120, check=False)
    assert enrolled.returncode == 0, enrolled.stderr
    time.sleep(10)  # the timers fall due while Redis is down
    _fresh_read()
    assert _count(DueTimer, DueTimer.instance_id.in_(ids), DueTimer.status == "pending") == 3

    start_redis()
    if worker.process.poll() is not None:
        # kombu 5.7's Redis transport can crash the worker when the broker goes away while it holds unacknowledged
        # (ETA) messages (AttributeError in restore_unacked, celery/kombu#582-like). Workers run under a supervisor
        # that restarts them (README); so does this test. Nothing is lost either way: the rows are the truth.
        processes.append(worker := CeleryProcess("worker", env, tmp_path / "worker-2.log", "--concurrency", "2"))
    for instance_id in ids:
        wait_until(lambda i=instance_id: _control_item(i), FIRE_TIMEOUT, "a timer did not fire after Redis returned",
                   worker, beat)
    _fresh_read()
    for instance_id in ids:
        assert _count(AuditEvent, AuditEvent.action == "timer.fired", AuditEvent.instance_id == instance_id) == 1
        assert _count(WorkItem, WorkItem.instance_id == instance_id, WorkItem.element_id == "controle_j2") == 1


@pytest.mark.postgres_only
def test_reminder_reaches_a_real_smtp_server_when_worker_and_beat_run_on_redis(
        pg_app: Flask, redis_db: redis.Redis, processes: list[CeleryProcess], tmp_path: Path) -> None:
    """Beat's reminder dispatch, a worker on Redis, the pooled SMTP channel, an SMTP server on loopback: the
    patient's e-mail arrives once, in French, with the appointment's date and time and no pathway in it."""
    from engine.models import Reminder
    from tests.notify.helpers import enrol_critical_reminder, patient_with_team
    from tests.notify.smtp_sink import SmtpSink

    clock: ManualClock = pg_app.extensions["parcours_clock"]
    clock.set(datetime.now(UTC))
    day = (datetime.now(UTC) + timedelta(days=3)).date()
    reminder_id = enrol_critical_reminder(clock, patient_with_team(clock), day=day.isoformat()).id
    with SmtpSink() as sink:
        env = job_env(tmp_path, database_url(pg_app), REDIS_TEST_URL, PARCOURS_NOTIFY_EMAIL_URL=sink.smtp_url,
                      PARCOURS_REMINDER_DISPATCH_SECONDS="1", PARCOURS_QUIET_HOURS="none",
                      PARCOURS_QUIET_SUNDAYS="0")  # the test runs at any hour: no quiet window
        processes.append(worker := CeleryProcess("worker", env, tmp_path / "worker.log", "--concurrency", "2"))
        processes.append(beat := CeleryProcess("beat", env, tmp_path / "beat.log"))
        worker.wait_ready()
        received = wait_until(lambda: sink.received, FIRE_TIMEOUT, "no e-mail reached the SMTP server", worker, beat)
        time.sleep(3)  # a few more dispatch rounds: still one message
    assert len(sink.received) == 1 and received[0].recipients == ["jeanne@example.org"]
    text = received[0].text
    assert f" {day.day} " in text and "14 h" in text and "STOP" in text  # "vendredi 4 décembre 2026 à 14 h"
    assert "rappel_critique" not in text and "chirurgie" not in text.lower()
    _fresh_read()
    reminder = db.session.get(Reminder, reminder_id)
    assert reminder.status == "sent" and reminder.attempts == 1 and reminder.rendered_text == text
    assert "parcours.reminders.dispatch" in worker.output
