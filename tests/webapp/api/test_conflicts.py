"""Optimistic concurrency on completion: a stale ETag is 409; of two racing clients exactly one wins."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy import func, select

from engine.db import db
from engine.models import AuditEvent, Professional, WorkItem
from engine.services.instances import enrol_patient
from engine.services.people import add_care_team_member, create_professional
from engine.types import Actor
from tests.factories import deploy_test_bpmn, make_team
from tests.webapp.api.conftest import ApiClient, problem, token_for

RACE_TIMEOUT = 60


def test_a_stale_etag_gets_409_and_nothing_is_written(app, clock, ward, api_for):
    api = api_for("infirmier")
    etag = api.get(f"/api/v1/work-items/{ward.work_item_id}").headers["ETag"]
    stale = f'"{int(etag.strip(chr(34))) - 1}"'
    response = api.post(f"/api/v1/work-items/{ward.work_item_id}/complete", json={"data": {}},
                        headers={"If-Match": stale})
    assert response.status_code == 409
    assert problem(response)["conflict"] == "stale"
    assert db.session.get(WorkItem, ward.work_item_id).status == "open"
    by_body = api.post(f"/api/v1/work-items/{ward.work_item_id}/complete",
                       json={"data": {}, "version": int(stale.strip('"'))})
    assert by_body.status_code == 409
    fresh = api.post(f"/api/v1/work-items/{ward.work_item_id}/complete", json={"data": {}},
                     headers={"If-Match": etag})
    assert fresh.status_code == 200


def test_completing_an_item_someone_else_completed_is_409(app, clock, ward, api_for):
    create_professional("infirmier2", "Inf. Deux", ["infirmier"], at=clock.now())
    add_care_team_member(ward.patient, db.session.scalar(select(Professional).filter_by(login="infirmier2")),
                         "infirmier", start=clock.now())
    db.session.commit()
    first, second = api_for("infirmier"), api_for("infirmier2")
    etag = first.get(f"/api/v1/work-items/{ward.work_item_id}").headers["ETag"]
    assert first.post(f"/api/v1/work-items/{ward.work_item_id}/complete", json={"data": {}}).status_code == 200
    late = second.post(f"/api/v1/work-items/{ward.work_item_id}/complete", json={"data": {}},
                       headers={"If-Match": etag})
    assert late.status_code == 409
    assert "already completed" in problem(late)["detail"]


def test_a_malformed_if_match_is_400(app, clock, ward, api_for):
    response = api_for("infirmier").post(f"/api/v1/work-items/{ward.work_item_id}/complete", json={"data": {}},
                                         headers={"If-Match": "yesterday"})
    assert response.status_code == 400


def _pg_url(app) -> str:
    return db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _wait_for_lock_waiters(url: str, count: int) -> None:
    deadline = time.monotonic() + RACE_TIMEOUT
    with psycopg.connect(url, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()").fetchone()[0] < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the {count} racing requests never reached the gate")
            time.sleep(0.01)


@pytest.mark.postgres_only
def test_two_clients_completing_at_once_one_wins_and_the_other_gets_409(pg_app):
    from tests.webapp.api.conftest import Ward  # noqa: F401  (the same set-up as the `ward` fixture)

    clock = pg_app.extensions["parcours_clock"]
    patient, team = make_team(clock, ["infirmier", "medecin_traitant"])
    second = create_professional("infirmier2", "Inf. Deux", ["infirmier"], at=clock.now())
    add_care_team_member(patient, second, "infirmier", start=clock.now())
    deploy_test_bpmn("nurse_then_gp", clock)
    outcome = enrol_patient(patient.id, "nurse_then_gp", actor=Actor.cli(), clock=clock)
    db.session.commit()
    item_id, instance_id = outcome.opened_work_items[0], outcome.instance_id
    clients = [ApiClient(pg_app, token_for("infirmier", clock)), ApiClient(pg_app, token_for("infirmier2", clock))]
    etag = clients[0].get(f"/api/v1/work-items/{item_id}").headers["ETag"]
    db.session.commit()
    url = _pg_url(pg_app)
    results: dict[int, int] = {}

    def race(n: int) -> None:
        response = clients[n].post(f"/api/v1/work-items/{item_id}/complete", json={"data": {"by": n}},
                                   headers={"If-Match": etag})
        results[n] = response.status_code

    with psycopg.connect(url) as gate:  # hold the instance row: both requests queue on it
        gate.execute("SELECT id FROM pathway_instance WHERE id = %s FOR UPDATE", (instance_id,))
        threads = [threading.Thread(target=race, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        _wait_for_lock_waiters(url, 2)
        gate.commit()
    for thread in threads:
        thread.join(RACE_TIMEOUT)
    assert sorted(results.values()) == [200, 409]
    db.session.expire_all()
    assert db.session.get(WorkItem, item_id).status == "completed"
    completions = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "work_item.completed"))
    assert completions == 1
    next_items = db.session.scalars(select(WorkItem.title).where(WorkItem.instance_id == instance_id,
                                                                 WorkItem.status == "open")).all()
    assert next_items == ["Synthèse du médecin traitant"]  # the instance advanced once
