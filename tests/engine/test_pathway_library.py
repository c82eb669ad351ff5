"""The studio's library: pathways with their versions, the current one, running instances per version (the
care manager's site only, by status) and the last change; care managers only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.db import db
from engine.errors import NotFound, NotPermitted
from engine.models import PathwayInstance
from engine.services.instances import cancel_instance, enrol_patient, suspend_instance
from engine.services.pathway_library import RunningCounts, pathway_history, pathway_library, version_outline
from engine.services.people import actor_for, create_patient, create_professional
from engine.types import Actor
from tests.webapp.studio.rrac_versions import J1_TIMER, deploy, rrac_source

SITE = "MSP Test"


def _enrol(identifier: str, clock, *, site: str = SITE) -> int:
    patient = create_patient(identifier, "Patient", identifier, at=clock.now(), site=site)
    outcome = enrol_patient(patient.id, "rrac_epaule", context={"date_chirurgie": "2026-12-16"},
                            actor=Actor.cli(), clock=clock)
    db.session.commit()
    return outcome.instance_id


def _care_manager(clock, login: str = "coordinateur", roles: tuple[str, ...] = ("coordinateur",)) -> Actor:
    pro = create_professional(login, f"Dr {login}", list(roles), at=clock.now(), site=SITE, password="demo")
    db.session.commit()
    return actor_for(pro)


def _two_versions_with_patients(clock):
    """v1: 3 patients of the site (one suspended, one in error, one cancelled) + 1 elsewhere; v2: 1 patient."""
    deploy(rrac_source(), clock, Actor.cli("alice"))
    running = _enrol("P-1", clock)
    suspended = _enrol("P-2", clock)
    in_error = _enrol("P-3", clock)
    cancelled = _enrol("P-4", clock)
    _enrol("X-1", clock, site="Autre site")
    suspend_instance(suspended, actor=Actor.cli(), clock=clock)
    cancel_instance(cancelled, actor=Actor.cli(), clock=clock)
    # An instance the engine stopped on a failing step (as runtime errors leave it): set as such for the count.
    db.session.get(PathwayInstance, in_error).status = "error"
    db.session.commit()
    clock.advance(timedelta(days=1))
    deploy(rrac_source(j2=True), clock, Actor.cli("bruno"))
    _enrol("P-5", clock)
    return running


def test_library_counts_running_instances_per_version_and_status_for_the_site(app, clock):
    _two_versions_with_patients(clock)
    manager = _care_manager(clock)

    [entry] = pathway_library(manager)

    assert (entry.key, entry.title) == ("rrac_epaule", "RAAC après chirurgie de l'épaule")
    assert [v.number for v in entry.versions] == [1, 2]
    assert entry.current is not None and entry.current.number == 2
    assert entry.version(1).running == RunningCounts(active=1, suspended=1, error=1)  # not cancelled, not elsewhere
    assert entry.version(2).running == RunningCounts(active=1)
    assert entry.running.total == 4
    assert entry.last_change is not None
    assert (entry.last_change.what, entry.last_change.version, entry.last_change.by) == ("deployed", 2, "bruno")
    assert entry.last_change.at == clock.now()


def test_the_operator_counts_every_site(app, clock):
    _two_versions_with_patients(clock)
    [entry] = pathway_library(Actor.cli())
    assert entry.version(1).running == RunningCounts(active=2, suspended=1, error=1)


def test_history_lists_versions_oldest_first_with_who_deployed(app, clock):
    _two_versions_with_patients(clock)
    history = pathway_history(_care_manager(clock), "rrac_epaule")
    assert [(v.number, v.deployed_by, v.is_current) for v in history.versions] == [
        (1, "alice", False), (2, "bruno", True)]
    with pytest.raises(NotFound):
        pathway_history(_care_manager(clock, "coord2"), "inconnu")


def test_library_is_for_care_managers_only(app, clock):
    deploy(rrac_source(), clock)
    nurse = _care_manager(clock, "infirmier", ("infirmier",))
    with pytest.raises(NotPermitted):
        pathway_library(nurse)
    with pytest.raises(NotPermitted):
        pathway_history(nurse, "rrac_epaule")


def test_version_outline_gives_steps_with_lanes_and_properties(app, clock):
    version = deploy(rrac_source(), clock)
    outline = version_outline(version)
    assert outline.anchors == ["date_chirurgie"]
    call = outline.steps["Task_AppelJ1"]
    assert (call.kind, call.lane, call.properties["form"], call.properties["due"]) == (
        "user_task", "infirmier", "rrac_appel_j1", "PT2H")
    timer = outline.steps[J1_TIMER]
    assert timer.kind == "timer_event" and "days=1 + nuits_hospitalisation" in timer.timer.expression
