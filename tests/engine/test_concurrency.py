"""Real races on PostgreSQL: separate connections (threads, processes, `parcours tick` commands), no mocks.

Each race is started through a real barrier: a lock the test holds in its own connection (every racer
queues on it, the test checks in pg_locks that all of them wait, then lets go) or a multiprocessing barrier.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select, text

from engine.clock import ManualClock
from engine.db import db
from engine.errors import ConcurrencyConflict, InvalidTransition
from engine.models import AuditEvent, DueTimer, PathwayInstance, Professional, WorkItem
from engine.services.inbox import complete_work_item
from engine.services.instances import enrol_patient
from engine.services.people import add_care_team_member, create_patient, create_professional
from engine.services.timers import fire_due_timers
from engine.types import Actor
from tests.conftest import REPO
from tests.factories import actor, deploy_test_bpmn, make_team

pytestmark = pytest.mark.postgres_only

RACERS_TIMEOUT = 60
N_TIMERS = 100


# -- helpers ----------------------------------------------------------------------------------------------------

def _pg_url(app) -> str:
    """The test database as a plain libpq URL (for psycopg and for DATABASE_URL)."""
    with app.app_context():
        url = db.engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)


def _wait_for_lock_waiters(pg_url: str, count: int) -> None:
    """Block until ``count`` other sessions of this database wait on a lock (the racers are all at the gate)."""
    deadline = time.monotonic() + RACERS_TIMEOUT
    with psycopg.connect(pg_url, autocommit=True) as conn:
        while True:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()").fetchone()[0]
            if waiting >= count:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"only {waiting} of {count} racers reached the gate")
            time.sleep(0.01)


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# -- two professionals complete the same work item at once ------------------------------------------------------

def _complete_in_own_session(app, item_id: int, nurse_id: int, version: int | None, data: dict, results: dict,
                             key: str) -> None:
    """One racer: its own app context, so its own session and its own database connection."""
    clock = app.extensions["parcours_clock"]
    with app.app_context():
        try:
            nurse = db.session.get(Professional, nurse_id)
            outcome = complete_work_item(item_id, data, actor=actor(nurse), clock=clock,
                                         expected_lock_version=version)
            db.session.commit()
            results[key] = outcome
        except (ConcurrencyConflict, InvalidTransition) as exc:
            db.session.rollback()
            results[key] = exc
        except Exception as exc:  # reported by the test, never swallowed
            db.session.rollback()
            results[key] = exc
        finally:
            db.session.remove()


def _race_completions(app, pg_url: str, instance_id: int, racers: list[tuple[str, int, int, dict]], *,
                      expect_version: bool) -> dict:
    """Start every completion while the test holds the instance row: all racers queue on it, then go at once.

    With ``expect_version`` each racer sends the lock_version its form was opened at (as the web form does).
    """
    results: dict = {}
    version = db.session.get(PathwayInstance, instance_id).lock_version if expect_version else None
    db.session.commit()
    with psycopg.connect(pg_url) as gate:
        gate.execute("SELECT id FROM pathway_instance WHERE id = %s FOR UPDATE", (instance_id,))
        threads = [threading.Thread(target=_complete_in_own_session,
                                    args=(app, item_id, nurse_id, version, data, results, key))
                   for key, item_id, nurse_id, data in racers]
        for thread in threads:
            thread.start()
        _wait_for_lock_waiters(pg_url, len(racers))
        gate.rollback()  # open the gate: the racers fight for the row lock now
        for thread in threads:
            thread.join(RACERS_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a racer never finished"
    db.session.expire_all()
    return results


def _two_nurses_and_item(pg_app):
    clock = pg_app.extensions["parcours_clock"]
    deploy_test_bpmn("nurse_then_gp", clock)
    patient, team = make_team(clock, ["infirmier", "medecin_traitant"])
    colleague = create_professional("ide-b", "IDE B", ["infirmier"], at=clock.now(), site="MSP Test")
    add_care_team_member(patient, colleague, "infirmier", start=clock.now())
    outcome = enrol_patient(patient.identifier, "nurse_then_gp", actor=Actor.cli(), clock=clock)
    db.session.commit()
    (item_id,) = outcome.opened_work_items
    return outcome.instance_id, item_id, team["infirmier"], colleague


def test_exactly_one_completion_wins_when_two_nurses_complete_same_item_at_once(pg_app):
    instance_id, item_id, nurse_a, nurse_b = _two_nurses_and_item(pg_app)
    pg_url = _pg_url(pg_app)
    version_before = db.session.get(PathwayInstance, instance_id).lock_version

    results = _race_completions(pg_app, pg_url, instance_id, [
        ("a", item_id, nurse_a.id, {"note": "vu par A"}),
        ("b", item_id, nurse_b.id, {"note": "vu par B"}),
    ], expect_version=True)

    winners = {k: r for k, r in results.items() if not isinstance(r, Exception)}
    losers = {k: r for k, r in results.items() if isinstance(r, Exception)}
    assert len(winners) == 1 and len(losers) == 1, results
    (loser,) = losers.values()
    assert isinstance(loser, ConcurrencyConflict | InvalidTransition), repr(loser)
    winner_key = next(iter(winners))
    winner_nurse = {"a": nurse_a, "b": nurse_b}[winner_key]

    item = db.session.get(WorkItem, item_id)
    assert (item.status, item.completed_by_id, item.data) == ("completed", winner_nurse.id,
                                                              {"note": f"vu par {winner_key.upper()}"})
    instance = db.session.get(PathwayInstance, instance_id)
    assert instance.lock_version == version_before + 1
    next_items = db.session.scalars(select(WorkItem).where(WorkItem.instance_id == instance_id,
                                                           WorkItem.status == "open")).all()
    assert [w.element_id for w in next_items] == ["synthese_mt"]
    assert winners[winner_key].opened_work_items == (next_items[0].id,)
    assert _count(AuditEvent, AuditEvent.action == "work_item.completed") == 1
    assert _count(AuditEvent, AuditEvent.action == "work_item.opened", AuditEvent.instance_id == instance_id) == 2


def test_both_steps_apply_when_two_steps_of_same_instance_are_completed_at_once(pg_app):
    """Parallel branches: two nurses finish two different steps together; the row lock serialises them and
    neither step is lost (a lost update would leave the instance waiting forever on a completed step)."""
    clock = pg_app.extensions["parcours_clock"]
    deploy_test_bpmn("task_timer_reminder", clock)
    patient, team = make_team(clock, ["infirmier"])
    colleague = create_professional("ide-b", "IDE B", ["infirmier"], at=clock.now(), site="MSP Test")
    add_care_team_member(patient, colleague, "infirmier", start=clock.now())
    outcome = enrol_patient(patient.identifier, "task_timer_reminder", actor=Actor.cli(), clock=clock)
    db.session.commit()
    clock.advance(timedelta(days=2, minutes=1))
    assert fire_due_timers(clock=clock).fired == 1
    items = {w.element_id: w.id for w in db.session.scalars(
        select(WorkItem).where(WorkItem.instance_id == outcome.instance_id, WorkItem.status == "open"))}
    assert set(items) == {"bilan", "controle_j2"}
    version_before = db.session.get(PathwayInstance, outcome.instance_id).lock_version

    results = _race_completions(pg_app, _pg_url(pg_app), outcome.instance_id, [
        ("bilan", items["bilan"], team["infirmier"].id, {}),
        ("controle", items["controle_j2"], colleague.id, {}),
    ], expect_version=False)

    assert not [r for r in results.values() if isinstance(r, Exception)], results
    instance = db.session.get(PathwayInstance, outcome.instance_id)
    assert instance.status == "completed"
    assert instance.lock_version == version_before + 2
    assert _count(WorkItem, WorkItem.instance_id == instance.id, WorkItem.status == "completed") == 2
    assert _count(AuditEvent, AuditEvent.action == "instance.completed") == 1


def test_second_step_is_a_conflict_when_both_forms_were_opened_at_the_same_version(pg_app):
    """The same race with the version each form was opened at: the later one is stale and told so."""
    clock = pg_app.extensions["parcours_clock"]
    deploy_test_bpmn("task_timer_reminder", clock)
    patient, team = make_team(clock, ["infirmier"])
    colleague = create_professional("ide-b", "IDE B", ["infirmier"], at=clock.now(), site="MSP Test")
    add_care_team_member(patient, colleague, "infirmier", start=clock.now())
    outcome = enrol_patient(patient.identifier, "task_timer_reminder", actor=Actor.cli(), clock=clock)
    db.session.commit()
    clock.advance(timedelta(days=2, minutes=1))
    fire_due_timers(clock=clock)
    items = {w.element_id: w.id for w in db.session.scalars(
        select(WorkItem).where(WorkItem.instance_id == outcome.instance_id, WorkItem.status == "open"))}
    version_before = db.session.get(PathwayInstance, outcome.instance_id).lock_version

    results = _race_completions(pg_app, _pg_url(pg_app), outcome.instance_id, [
        ("bilan", items["bilan"], team["infirmier"].id, {}),
        ("controle", items["controle_j2"], colleague.id, {}),
    ], expect_version=True)

    (loser,) = [r for r in results.values() if isinstance(r, Exception)]
    assert isinstance(loser, ConcurrencyConflict) and "changed since the form was opened" in str(loser)
    assert db.session.get(PathwayInstance, outcome.instance_id).lock_version == version_before + 1
    (left,) = db.session.scalars(select(WorkItem).where(WorkItem.instance_id == outcome.instance_id,
                                                        WorkItem.status == "open")).all()
    assert left.completed_at is None and left.data is None


# -- two workers race on 100 due timers -------------------------------------------------------------------------

def _due_timers_across_instances(pg_app) -> tuple[datetime, dict[int, int]]:
    """N_TIMERS patients on appel_douleur, each with its J+1 timer pending. Returns (due, lock_version by id)."""
    clock = pg_app.extensions["parcours_clock"]
    deploy_test_bpmn("appel_douleur", clock)
    cli = Actor.cli()
    for n in range(N_TIMERS):
        patient = create_patient(f"T-{n:03d}", "Patient", f"N{n}", at=clock.now(), site="MSP Test")
        enrol_patient(patient.id, "appel_douleur", context={"date_chirurgie": "2026-11-16"}, actor=cli, clock=clock)
    db.session.commit()
    assert _count(DueTimer, DueTimer.status == "pending") == N_TIMERS
    due = db.session.scalar(select(func.max(DueTimer.due_at)))
    versions = dict(db.session.execute(select(PathwayInstance.id, PathwayInstance.lock_version)).all())
    db.session.commit()
    return due, versions


def _assert_each_timer_fired_once(versions: dict[int, int], reports: list[tuple[int, int, list[str]]]) -> None:
    db.session.expire_all()
    assert [errors for _, _, errors in reports] == [[], []]
    assert sum(fired for fired, _, _ in reports) == N_TIMERS
    assert all(fired > 0 for fired, _, _ in reports), f"one worker fired nothing, so nothing raced: {reports}"
    assert _count(DueTimer, DueTimer.status == "pending") == 0
    assert _count(DueTimer, DueTimer.status == "fired", DueTimer.fired_at.is_not(None)) == N_TIMERS
    fired_per_instance = dict(db.session.execute(
        select(AuditEvent.instance_id, func.count()).where(AuditEvent.action == "timer.fired")
        .group_by(AuditEvent.instance_id)).all())
    assert fired_per_instance == {instance_id: 1 for instance_id in versions}
    items_per_instance = dict(db.session.execute(
        select(WorkItem.instance_id, func.count()).where(WorkItem.element_id == "appel_j1")
        .group_by(WorkItem.instance_id)).all())
    assert items_per_instance == {instance_id: 1 for instance_id in versions}
    after = dict(db.session.execute(select(PathwayInstance.id, PathwayInstance.lock_version)).all())
    assert after == {instance_id: version + 1 for instance_id, version in versions.items()}


def _tick_worker(db_url: str, now_iso: str, instance_path: str, barrier, out) -> None:
    """A separate OS process: its own app, engine and connections; waits at the barrier, then sweeps."""
    os.environ["PARCOURS_INSTANCE_PATH"] = instance_path
    from webapp import create_app

    clock = ManualClock(datetime.fromisoformat(now_iso))
    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "PARCOURS_CLOCK": clock, "TESTING": True})
    with app.app_context():
        db.session.execute(text("SELECT 1"))  # connected before the start signal
        db.session.commit()
        barrier.wait(RACERS_TIMEOUT)
        report = fire_due_timers(clock=clock)
        db.session.remove()
    out.put((report.fired, report.skipped, report.errors))


def test_each_timer_fires_once_when_two_worker_processes_sweep_100_due_timers_at_once(pg_app, tmp_path):
    due, versions = _due_timers_across_instances(pg_app)
    now = (due + timedelta(minutes=1)).isoformat()
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_tick_worker, args=(_pg_url(pg_app), now, str(tmp_path), barrier, out))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        reports = [out.get(timeout=RACERS_TIMEOUT) for _ in workers]
        for worker in workers:
            worker.join(RACERS_TIMEOUT)
            assert worker.exitcode == 0
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
                worker.join()
    _assert_each_timer_fired_once(versions, reports)


def test_each_timer_fires_once_when_two_parcours_tick_commands_run_at_once(pg_app, tmp_path):
    due, versions = _due_timers_across_instances(pg_app)
    pg_url = _pg_url(pg_app)
    env = {**os.environ, "DATABASE_URL": pg_url, "PARCOURS_INSTANCE_PATH": str(tmp_path)}
    parcours = str(Path(sys.executable).with_name("parcours"))
    command = [parcours, "tick", "--now", (due + timedelta(minutes=1)).isoformat()]
    with psycopg.connect(pg_url) as gate:
        # Both commands block on their first read of due_timer until the gate opens.
        gate.execute("LOCK TABLE due_timer IN ACCESS EXCLUSIVE MODE")
        procs = [subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        try:
            _wait_for_lock_waiters(pg_url, 2)
        finally:
            gate.rollback()
    try:
        outputs = [p.communicate(timeout=RACERS_TIMEOUT) for p in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert [p.returncode for p in procs] == [0, 0], outputs
    reports = []
    for stdout, stderr in outputs:
        found = re.search(r"(\d+) timer\(s\) fired, (\d+) skipped, (\d+) error\(s\)", stdout)
        assert found, (stdout, stderr)
        fired, skipped, errors = (int(g) for g in found.groups())
        reports.append((fired, skipped, [stderr] if errors else []))
    _assert_each_timer_fired_once(versions, reports)

