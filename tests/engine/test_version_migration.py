"""Moving running instances between versions of a pathway: preview, all-or-nothing move, life after the move.

The pathways are written here as text (one key, several versions): ``suivi_ops`` is a nurse's assessment,
then a timer, then a check; version 2 changes what the care manager changes in a revision.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.db import db
from engine.errors import AccessDenied, InvalidInput, NotPermitted
from engine.models import AuditEvent, DueTimer, PathwayInstance, WorkItem
from engine.services.fast_forward import Answers, play_until
from engine.services.inbox import complete_work_item
from engine.services.instances import enrol_patient, resume_instance, suspend_instance
from engine.services.pathways import PathwaySource, deploy_pathway, latest_version, read_pathway_source
from engine.services.people import add_care_team_member, create_patient, create_professional
from engine.services.timers import fire_due_timers
from engine.services.version_migration import MigrationRefused, migrate_instances, migration_preview
from engine.types import Actor
from tests.conftest import PARIS, REPO
from tests.factories import actor, make_team
from webapp.cli.demo import DemoPatient, demo_professionals, enrol_and_replay

CLI = Actor.cli()
KEY = "suivi_ops"
SITE = "MSP Test"


def pathway_xml(*, timer: str = '"P3D"', call_after_timer: bool = False, bilan: bool = True,
                bilan_lane: str = "infirmier", key: str = KEY) -> str:
    """The test pathway: [bilan (nurse, due 8 h)] → relance (timer) → [appel (nurse)] → controle (nurse) → fin."""
    chain = (["bilan"] if bilan else []) + ["relance"] + (["appel"] if call_after_timer else []) + ["controle"]
    nodes = {
        "bilan": '<bpmn:userTask id="bilan" name="Bilan infirmier"><bpmn:extensionElements><spiffworkflow:properties>'
                 '<spiffworkflow:property name="due" value="PT8H"/></spiffworkflow:properties>'
                 '</bpmn:extensionElements>{io}</bpmn:userTask>',
        "relance": '<bpmn:intermediateCatchEvent id="relance" name="Trois jours plus tard">{io}'
                   f'<bpmn:timerEventDefinition><bpmn:timeDuration>{timer}</bpmn:timeDuration>'
                   '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>',
        "appel": '<bpmn:userTask id="appel" name="Appel de suivi">{io}</bpmn:userTask>',
        "controle": '<bpmn:userTask id="controle" name="Contrôle infirmier">{io}</bpmn:userTask>',
    }
    order = ["start", *chain, "fin"]
    flows = [(f"f_{a}_{b}", a, b) for a, b in zip(order, order[1:], strict=False)]
    body = [f'<bpmn:startEvent id="start"><bpmn:outgoing>f_start_{order[1]}</bpmn:outgoing></bpmn:startEvent>']
    for name in chain:
        incoming = next(f for f, _a, b in flows if b == name)
        outgoing = next(f for f, a, _b in flows if a == name)
        body.append(nodes[name].format(io=f"<bpmn:incoming>{incoming}</bpmn:incoming>"
                                          f"<bpmn:outgoing>{outgoing}</bpmn:outgoing>"))
    body.append(f'<bpmn:endEvent id="fin"><bpmn:incoming>{flows[-1][0]}</bpmn:incoming></bpmn:endEvent>')
    body += [f'<bpmn:sequenceFlow id="{f}" sourceRef="{a}" targetRef="{b}"/>' for f, a, b in flows]
    lanes: dict[str, list[str]] = {"infirmier": ["start", "fin"]}
    for name in chain:
        lanes.setdefault(bilan_lane if name == "bilan" else "infirmier", []).append(name)
    lane_xml = "".join(f'<bpmn:lane id="Lane_{code}" name="{code}">'
                       + "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in refs) + "</bpmn:lane>"
                       for code, refs in lanes.items())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_ops" '
            f'targetNamespace="http://parcours.test"><bpmn:process id="{key}" name="Suivi (opérations)" '
            f'isExecutable="true"><bpmn:laneSet>{lane_xml}</bpmn:laneSet>{"".join(body)}</bpmn:process>'
            '</bpmn:definitions>')


def deploy_xml(xml: str, clock: ManualClock, filename: str = f"{KEY}.bpmn") -> int:
    result = deploy_pathway(PathwaySource(filename, xml.encode("utf-8")), actor=CLI, clock=clock)
    db.session.commit()
    return result.version.id


def care_manager(clock: ManualClock, login: str = "coordinateur", site: str = SITE) -> Actor:
    pro = create_professional(login, f"Coordination {site}", ["coordinateur"], at=clock.now(), site=site,
                              password="demo")
    db.session.commit()
    return actor(pro)


def enrol(identifier: str, clock: ManualClock, *, family: str, site: str = SITE, nurse=None) -> int:
    patient = create_patient(identifier, family, "Anne", at=clock.now(), site=site)
    if nurse is not None:
        add_care_team_member(patient, nurse, "infirmier", start=clock.now())
    outcome = enrol_patient(patient.id, KEY, actor=CLI, clock=clock)
    db.session.commit()
    return outcome.instance_id


def open_item(instance_id: int, element_id: str | None = None) -> WorkItem | None:
    query = select(WorkItem).where(WorkItem.instance_id == instance_id, WorkItem.status.in_(["open", "claimed"]))
    if element_id:
        query = query.where(WorkItem.element_id == element_id)
    return db.session.scalar(query)


def at_timer(instance_id: int, clock: ManualClock) -> None:
    """Complete the nurse's assessment: the instance then waits on the timer."""
    complete_work_item(open_item(instance_id, "bilan").id, {}, actor=CLI, clock=clock)
    db.session.commit()


def two_instances(clock: ManualClock, v2: str) -> tuple[int, int, int, int, dict]:
    """v1 deployed; Martin waits at the assessment, Durand at the timer (assessment done); then ``v2`` deployed."""
    _patient, team = make_team(clock, ["infirmier"], identifier="P-000")
    v1 = deploy_xml(pathway_xml(), clock)
    at_bilan = enrol("P-001", clock, family="Martin", nurse=team["infirmier"])
    at_relance = enrol("P-002", clock, family="Durand", nurse=team["infirmier"])
    clock.advance(timedelta(hours=1))
    at_timer(at_relance, clock)
    v2_id = deploy_xml(v2, clock)
    return v1, v2_id, at_bilan, at_relance, team


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# -- preview ----------------------------------------------------------------------------------------------------

def test_preview_lists_every_instance_as_movable_when_the_new_version_adds_a_step(app, clock):
    v1, v2, at_bilan, at_relance, _team = two_instances(clock, pathway_xml(call_after_timer=True))
    preview = migration_preview(care_manager(clock), v1, v2, clock=clock)
    assert sorted(m.instance_id for m in preview.movable) == sorted([at_bilan, at_relance])
    assert preview.blocked == []
    durand = next(m for m in preview.movable if m.instance_id == at_relance)
    assert durand.patient.family_name == "Durand" and durand.at == ("Trois jours plus tard",)
    (event,) = _events("migration.previewed")
    assert event.details["movable"] == 2 and len(event.details["patients"]) == 2


def test_preview_says_why_an_instance_cannot_move_when_its_step_was_removed(app, clock):
    v1, v2, at_bilan, at_relance, _team = two_instances(clock, pathway_xml(bilan=False))
    preview = migration_preview(care_manager(clock), v1, v2, clock=clock)
    assert [m.instance_id for m in preview.movable] == [at_relance]
    (blocked,) = preview.blocked
    assert blocked.instance_id == at_bilan
    assert [(o.kind, o.element_id, o.title) for o in blocked.obstacles] == [("removed", "bilan", "Bilan infirmier")]


def test_preview_refuses_an_open_work_item_whose_role_changes(app, clock):
    v1, v2, at_bilan, at_relance, _team = two_instances(clock, pathway_xml(bilan_lane="medecin_traitant"))
    preview = migration_preview(care_manager(clock), v1, v2, clock=clock)
    (blocked,) = preview.blocked
    assert blocked.instance_id == at_bilan
    assert [(o.kind, o.detail) for o in blocked.obstacles] == [("role_changed", "infirmier → medecin_traitant")]
    assert [m.instance_id for m in preview.movable] == [at_relance]


def test_preview_is_refused_between_two_different_pathways(app, clock):
    v1, _v2, _a, _b, _team = two_instances(clock, pathway_xml(call_after_timer=True))
    other = deploy_xml(pathway_xml(key="autre_suivi"), clock, filename="autre_suivi.bpmn")
    with pytest.raises(InvalidInput, match="same pathway"):
        migration_preview(care_manager(clock), v1, other, clock=clock)


def test_preview_and_migration_are_for_care_managers_only(app, clock):
    v1, v2, at_bilan, _b, team = two_instances(clock, pathway_xml(call_after_timer=True))
    with pytest.raises(NotPermitted):
        migration_preview(actor(team["infirmier"]), v1, v2, clock=clock)
    with pytest.raises(NotPermitted):
        migrate_instances(actor(team["infirmier"]), v1, v2, [at_bilan], clock=clock)


def test_care_manager_of_another_site_sees_and_moves_none_of_these_patients(app, clock):
    v1, v2, at_bilan, _b, _team = two_instances(clock, pathway_xml(call_after_timer=True))
    elsewhere = care_manager(clock, login="coord-ailleurs", site="Autre site")
    preview = migration_preview(elsewhere, v1, v2, clock=clock)
    assert preview.movable == [] and preview.blocked == []
    with pytest.raises(InvalidInput, match="not running instances"):
        migrate_instances(elsewhere, v1, v2, [at_bilan], clock=clock)
    db.session.rollback()
    assert db.session.get(PathwayInstance, at_bilan).version_id == v1


# -- moving -----------------------------------------------------------------------------------------------------

def test_migrated_instance_keeps_its_open_work_item_and_runs_on_the_new_version(app, clock):
    v1, v2, at_bilan, _at_relance, team = two_instances(clock, pathway_xml(call_after_timer=True))
    item = open_item(at_bilan, "bilan")
    item_id, assignee, due = item.id, item.assignee_id, item.due_at
    manager = care_manager(clock)

    result = migrate_instances(manager, v1, v2, [at_bilan], clock=clock)
    db.session.commit()

    assert [m.instance_id for m in result.moved] == [at_bilan]
    instance = db.session.get(PathwayInstance, at_bilan)
    assert instance.version_id == v2
    same = open_item(at_bilan)
    assert (same.id, same.assignee_id, same.due_at, same.element_id) == (item_id, assignee, due, "bilan")
    (event,) = _events("instance.migrated")
    assert (event.instance_id, event.actor_id) == (at_bilan, manager.professional_id)
    assert (event.details["from_version"], event.details["to_version"]) == (1, 2)

    # v2's behaviour: after the timer, the new call opens (v1 would open the check)
    complete_work_item(item_id, {}, actor=actor(team["infirmier"]), clock=clock)
    db.session.commit()
    clock.advance(timedelta(days=3, hours=1))
    assert fire_due_timers(clock=clock).fired >= 1
    assert open_item(at_bilan).element_id == "appel"


def test_waiting_timer_keeps_its_due_time_when_its_definition_did_not_change(app, clock):
    v1, v2, _at_bilan, at_relance, _team = two_instances(clock, pathway_xml(call_after_timer=True))
    (timer,) = db.session.scalars(select(DueTimer).where(DueTimer.instance_id == at_relance))
    due = timer.due_at
    clock.advance(timedelta(days=1))  # a day into the three
    migrate_instances(care_manager(clock), v1, v2, [at_relance], clock=clock)
    db.session.commit()
    pending = db.session.scalars(select(DueTimer).where(DueTimer.instance_id == at_relance,
                                                        DueTimer.status == "pending")).all()
    assert [t.due_at for t in pending] == [due]
    clock.set(due + timedelta(minutes=1))
    fire_due_timers(clock=clock)
    assert open_item(at_relance).element_id == "appel"


def test_waiting_timer_follows_the_new_definition_when_it_changed(app, clock):
    v1, v2, _at_bilan, at_relance, _team = two_instances(clock, pathway_xml(timer='"P5D"'))
    (timer,) = db.session.scalars(select(DueTimer).where(DueTimer.instance_id == at_relance))
    old_due = timer.due_at
    migrate_instances(care_manager(clock), v1, v2, [at_relance], clock=clock)
    db.session.commit()
    (pending,) = db.session.scalars(select(DueTimer).where(DueTimer.instance_id == at_relance,
                                                           DueTimer.status == "pending"))
    assert pending.due_at == clock.now() + timedelta(days=5)  # counted again from the move, with v2's duration
    clock.set(old_due + timedelta(minutes=1))
    assert fire_due_timers(clock=clock).fired == 0  # v1's due time is gone


def test_migration_is_all_or_nothing_when_one_selected_instance_cannot_move(app, clock):
    v1, v2, at_bilan, at_relance, _team = two_instances(clock, pathway_xml(bilan=False))
    states = {i: db.session.get(PathwayInstance, i).state for i in (at_bilan, at_relance)}
    with pytest.raises(MigrationRefused) as refused:
        migrate_instances(care_manager(clock), v1, v2, [at_bilan, at_relance], clock=clock)
    db.session.rollback()
    assert [m.instance_id for m in refused.value.blocked] == [at_bilan]
    assert "none was moved" in str(refused.value) and "bilan" in str(refused.value)
    for instance_id, state in states.items():
        instance = db.session.get(PathwayInstance, instance_id)
        assert (instance.version_id, instance.state) == (v1, state)
    assert _events("instance.migrated") == []


def test_migrating_all_moves_only_those_that_can_move(app, clock):
    v1, v2, at_bilan, at_relance, _team = two_instances(clock, pathway_xml(bilan=False))
    result = migrate_instances(care_manager(clock), v1, v2, None, clock=clock)
    db.session.commit()
    assert [m.instance_id for m in result.moved] == [at_relance]
    assert [m.instance_id for m in result.left] == [at_bilan]
    assert db.session.get(PathwayInstance, at_relance).version_id == v2
    assert db.session.get(PathwayInstance, at_bilan).version_id == v1
    # the assessment Durand passed is gone from v2: the history no longer holds it, the pathway runs on
    clock.advance(timedelta(days=3, hours=1))
    fire_due_timers(clock=clock)
    assert open_item(at_relance).element_id == "controle"


def test_an_empty_selection_is_refused(app, clock):
    v1, v2, _a, _b, _team = two_instances(clock, pathway_xml(call_after_timer=True))
    with pytest.raises(InvalidInput, match="at least one"):
        migrate_instances(care_manager(clock), v1, v2, [], clock=clock)


def test_instance_of_an_unknown_patient_is_refused_as_not_found_for_the_site(app, clock):
    v1, v2, at_bilan, _b, _team = two_instances(clock, pathway_xml(call_after_timer=True))
    with pytest.raises(InvalidInput):
        migrate_instances(care_manager(clock), v1, v2, [at_bilan, 99_999], clock=clock)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(PathwayInstance)
                             .where(PathwayInstance.version_id == v2)) == 0


def test_an_access_denied_is_not_raised_for_a_foreign_instance_only_a_refusal(app, clock):
    # the refusal does not reveal whether the instance exists at another site
    v1, v2, at_bilan, _b, _team = two_instances(clock, pathway_xml(call_after_timer=True))
    elsewhere = care_manager(clock, login="coord-ailleurs", site="Autre site")
    with pytest.raises(InvalidInput) as refused:
        migrate_instances(elsewhere, v1, v2, [at_bilan], clock=clock)
    assert not isinstance(refused.value, AccessDenied)
    assert "Martin" not in str(refused.value)


# -- the shipped shoulder pathway -----------------------------------------------------------------------------

def test_rrac_patients_at_every_stage_move_to_the_j2_version_and_run_to_the_end(app, clock):
    """v2 of rrac_epaule moves the J+1 call timer to J+2: patients before surgery, just after, in rehabilitation
    all move, and each then plays its pathway to the end on v2 (no instance stalls or fails)."""
    source = read_pathway_source(REPO / "workflows" / "bpmn" / "rrac_epaule.bpmn")
    v1 = deploy_pathway(source, actor=CLI, clock=clock).version.id
    db.session.commit()
    pros = demo_professionals(clock.now())
    ids = [enrol_and_replay(DemoPatient(f"R-{i}", "Martin", f"P{i}", "rrac_epaule", "date_chirurgie", day, ago, 0.5),
                            pros, clock.now())
           for i, (day, ago) in enumerate([(12, 2), (0, 5), (-1, 21), (-38, 60)])]
    text = source.bpmn.decode().replace("days=1 + nuits_hospitalisation", "days=2 + nuits_hospitalisation")
    v2 = deploy_pathway(PathwaySource(source.filename, text.encode(), forms=source.forms), actor=CLI,
                        clock=clock).version.id
    db.session.commit()
    assert latest_version("rrac_epaule").id == v2
    result = migrate_instances(CLI, v1, v2, ids, clock=clock)
    db.session.commit()
    assert sorted(m.instance_id for m in result.moved) == sorted(ids)
    replay = ManualClock(clock.now())
    for instance_id in ids:
        play_until(instance_id, clock.now() + timedelta(days=400), clock=replay, answers=Answers({}),
                   actor=Actor.system("timer"))
        replay.set(clock.now())
        instance = db.session.get(PathwayInstance, instance_id)
        assert (instance.status, instance.version_id, instance.error_message) == ("completed", v2, None)
    # the patient moved before surgery (in 12 days, ambulatory: no night) got the nurse's call at J+2, 10:00
    surgery = (clock.now().astimezone(PARIS) + timedelta(days=12)).date()
    call = db.session.scalar(select(WorkItem).where(WorkItem.instance_id == ids[0],
                                                    WorkItem.element_id == "Task_AppelJ1").order_by(WorkItem.id))
    assert call.created_at == datetime.combine(surgery + timedelta(days=2), time(10, 0), PARIS)


def test_a_suspended_instance_moves_and_stays_suspended(app, clock):
    v1, v2, at_bilan, _at_relance, _team = two_instances(clock, pathway_xml(call_after_timer=True))
    suspend_instance(at_bilan, actor=CLI, clock=clock, reason="hospitalisé")
    db.session.commit()
    result = migrate_instances(care_manager(clock), v1, v2, [at_bilan], clock=clock)
    db.session.commit()
    assert [m.status for m in result.moved] == ["suspended"]
    instance = db.session.get(PathwayInstance, at_bilan)
    assert (instance.status, instance.version_id) == ("suspended", v2)
    resume_instance(at_bilan, actor=CLI, clock=clock)
    complete_work_item(open_item(at_bilan, "bilan").id, {}, actor=CLI, clock=clock)
    db.session.commit()
    clock.advance(timedelta(days=3, hours=1))
    fire_due_timers(clock=clock)
    assert open_item(at_bilan).element_id == "appel"
