"""The in-memory simulation tells the same story as production: the same pathway played through the persisted
services (locks, projection, audit) on the database gives the same calendar, day by day and step by step."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from engine.clock import ManualClock
from engine.db import db
from engine.models import AuditEvent, PathwayInstance, WorkItem
from engine.services.fast_forward import Answers, play_until
from engine.services.instances import enrol_patient
from engine.services.pathways import latest_version, read_pathway_source
from engine.services.simulation import simulate_pathway
from engine.types import Actor
from tests.conftest import REPO, START
from tests.factories import deploy_file, make_team

KINDS = {"work_item.opened": "ouverture", "work_item.completed": "fait", "timer.fired": "minuteur",
         "reminder.planned": "rappel", "message.caught": "message", "instance.completed": "fin"}
ROLES = ["medecin_traitant", "infirmier", "kinesitherapeute", "chirurgien", "cardiologue", "coordinateur",
         "podologue", "ophtalmologue", "patient"]
CASES = {
    "rrac_epaule": ({"date_chirurgie": "2026-11-20"}, {"Task_AppelJ1": [{"patient_joint": "oui", "douleur_nrs": 8}]},
                    150),
    "insuffisance_cardiaque": ({}, {}, 90),
    "diabete_t2": ({}, {}, 400),
}


def _persisted_calendar(instance_id: int) -> list[tuple[Any, ...]]:
    items = {w.id: w for w in db.session.scalars(select(WorkItem).where(WorkItem.instance_id == instance_id))}
    calendar = []
    for event in db.session.scalars(select(AuditEvent).where(
            AuditEvent.instance_id == instance_id, AuditEvent.action.in_(KINDS)).order_by(AuditEvent.id)):
        element = None
        if event.object_type == "work_item":
            element = items[int(event.object_id)].element_id
        elif event.object_type == "element":
            element = event.object_id
        elif event.action == "reminder.planned":
            element = event.details["template"]
        calendar.append(((event.at - START).days, KINDS[event.action], element))
    return calendar


def _simulated_calendar(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["day"], e["kind"], e.get("element_id") or e.get("template")) for e in entries]


@pytest.mark.parametrize("key", sorted(CASES))
def test_simulation_gives_the_calendar_the_persisted_services_give(app: Flask, clock: ManualClock, key: str) -> None:
    context, answers, days = CASES[key]
    path = REPO / "workflows" / "bpmn" / f"{key}.bpmn"
    deploy_file(path, clock)
    patient, _team = make_team(clock, ROLES)
    ctx = {anchor: START.date().isoformat() for anchor in ("date_chirurgie", "date_sortie", "date_inclusion")}
    ctx.update(context)
    ctx = {k: v for k, v in ctx.items() if k in latest_version(key).anchors}
    outcome = enrol_patient(patient.id, key, context=ctx, actor=Actor.system("test"), clock=clock)
    db.session.commit()
    play_until(outcome.instance_id, START + timedelta(days=days), clock=clock, answers=Answers(answers),
               actor=Actor.system("test"))
    persisted = _persisted_calendar(outcome.instance_id)
    instance = db.session.get(PathwayInstance, outcome.instance_id)

    report = simulate_pathway(read_pathway_source(path), start=START, days=days, context=ctx, answers=answers)

    assert len(persisted) > 10
    assert _simulated_calendar(report.calendar) == persisted
    assert report.status == instance.status
    # the same state, give or take the digits of SpiffWorkflow's wall-clock timestamps in it
    assert abs(report.summary["state_bytes"] - instance.state_bytes) <= 0.02 * instance.state_bytes
