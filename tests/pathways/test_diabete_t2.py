"""Type 2 diabetes follow-up (workflows/bpmn/diabete_t2.bpmn) walked end to end on the injected clock.

Inclusion (the anchor) on Monday 5 April 2027; the patient is enrolled that day at 08:00. Quarter q is due
on J+91q; its reminder and its visit open 30 days before, at 09:00. The yearly checks open at 09:00 on the
inclusion day and on each anniversary, leap years included: 5 April 2028 is J+366 (29 February 2028 lies
between), 5 April 2029 is J+731. The first two quarters stay in summer time.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from engine.db import db
from engine.errors import InvalidTransition
from engine.models import PathwayInstance
from engine.services.messages import deliver_message
from engine.types import Actor
from tests.pathways.walk import Walk, local, plus_iso

ROLES = ["patient", "coordinateur", "medecin_traitant", "podologue", "ophtalmologue"]
INCLUSION = date(2027, 4, 5)
YEAR_2 = (date(2028, 4, 5) - INCLUSION).days  # 366: the first anniversary, across 29 February 2028
YEAR_3 = (date(2029, 4, 5) - INCLUSION).days  # 731
LAB = Actor.system("laboratoire")
YEARLY_GP = ["Task_BilanRenal", "Task_ECG", "Task_ExamenPieds"]


def _enrol(clock, *, first_year_checks: bool = True, **params) -> Walk:
    """Enrol on the inclusion day at 08:00; by default the first yearly checks are then done that week."""
    clock.set(local(INCLUSION, 8))
    w = Walk("diabete_t2", clock, anchor="date_inclusion", day=INCLUSION, roles=ROLES, params=params)
    if first_year_checks:
        _yearly_checks(w, 0)
    return w


def _result(w: Walk, hba1c: float) -> None:
    """The lab sends the HbA1c result (message ``resultat_hba1c``)."""
    deliver_message(w.patient.identifier, "resultat_hba1c", {"hba1c": hba1c}, actor=LAB, clock=w.clock)
    db.session.commit()


def _yearly_checks(w: Walk, day: int, grade: int = 0) -> None:
    """The yearly checks open on J+day at 09:00; the GP and the ophthalmologist do them that week."""
    assert w.tick(w.at(day, 9)) >= 1
    assert sorted(w.inbox("medecin_traitant")) == YEARLY_GP
    assert w.inbox("ophtalmologue") == ["Task_ExamenOphtalmo"]
    w.tick(w.at(day + 3, 11))
    for element_id in YEARLY_GP:
        answers = {"grade_podologique": grade} if element_id == "Task_ExamenPieds" else {}
        w.complete("medecin_traitant", element_id, **answers)
    w.complete("ophtalmologue", "Task_ExamenOphtalmo")


def _open_quarter(w: Walk, quarter: int) -> None:
    """Reminder and visit open 30 days before the due date J+91q, at 09:00."""
    opens, due = 91 * quarter - 30, 91 * quarter
    assert w.tick(w.at(opens, 8, 59)) == 0, f"quarter {quarter}: the reminder fired before 09:00 Paris time"
    assert w.tick(w.at(opens, 9)) == 1
    assert w.reminders()[-1] == ("rappel_rdv_a_prendre", "patient", "sms", w.at(due), w.at(opens, 9))
    assert w.inboxes() == {"medecin_traitant": ["Task_VisiteTrimestrielle"]}
    due_at = plus_iso(w.at(opens, 9), "P30D")  # the due date J+91q, at the opening time
    w.expect("medecin_traitant", "Task_VisiteTrimestrielle", due=due_at, escalate_at=plus_iso(due_at, "P30D"))


def _visit(w: Walk, quarter: int) -> None:
    """The GP sees the patient 10 days after the item opened and prescribes the HbA1c."""
    w.tick(w.at(91 * quarter - 20, 10))
    w.complete("medecin_traitant", "Task_VisiteTrimestrielle", hba1c_prescrite=True)
    assert w.inbox("medecin_traitant") == []


def test_pathway_completes_after_twelve_quarters_and_three_yearly_checks_when_results_are_on_target(app, clock):
    w = _enrol(clock)
    yearly_days = {5: YEAR_2, 9: YEAR_3}  # the yearly checks that fall before quarter q opens
    for quarter in range(1, 13):
        if quarter in yearly_days:
            _yearly_checks(w, yearly_days[quarter])
        _open_quarter(w, quarter)
        _visit(w, quarter)
        w.tick(w.at(91 * quarter - 8, 14))
        _result(w, 6.5)
        assert w.inboxes() == {}
        assert w.status == ("completed" if quarter == 12 else "active")
    assert w.open_items() == [] and w.pending_timers() == {}
    assert [r[3] for r in w.reminders()] == [w.at(91 * q) for q in range(1, 13)]


def test_pathway_completes_after_the_last_quarter_when_the_follow_up_is_set_to_two_quarters(app, clock):
    w = _enrol(clock, duree_suivi_trimestres=2)
    assert w.pending_timers() == {"Timer_RappelVisite": w.at(61, 9)}  # one yearly check for two quarters
    for quarter in (1, 2):
        _open_quarter(w, quarter)
        _visit(w, quarter)
        assert w.status == "active"
        w.tick(w.at(91 * quarter - 8, 14))
        _result(w, 6.8)
    assert w.status == "completed"
    assert w.inboxes() == {} and w.open_items() == [] and w.pending_timers() == {}
    assert w.reminders() == [("rappel_rdv_a_prendre", "patient", "sms", w.at(91), w.at(61, 9)),
                             ("rappel_rdv_a_prendre", "patient", "sms", w.at(182), w.at(152, 9))]


def test_first_reminder_and_visit_open_a_month_before_the_due_date_when_enrolled(app, clock):
    w = _enrol(clock)
    assert w.pending_timers() == {"Timer_RappelVisite": w.at(61, 9), "Timer_BilanAnnuel": w.at(YEAR_2, 9)}
    assert w.reminders() == []
    _open_quarter(w, 1)  # 5 June 2027 at 09:00, visit due 5 July 2027 at 09:00
    assert w.reminders() == [("rappel_rdv_a_prendre", "patient", "sms", local(date(2027, 7, 5)),
                              local(date(2027, 6, 5), 9))]
    assert w.inboxes() == {"medecin_traitant": ["Task_VisiteTrimestrielle"]}


def test_gp_reviews_the_treatment_when_the_hba1c_result_is_above_target(app, clock):
    w = _enrol(clock)
    _open_quarter(w, 1)
    _visit(w, 1)
    w.tick(w.at(80, 15))
    _result(w, 7.6)
    assert w.inbox("medecin_traitant") == ["Task_RevueHbA1c"]
    w.expect("medecin_traitant", "Task_RevueHbA1c", due=w.at(94, 15))
    assert w.inbox("coordinateur") == []
    assert "Timer_RappelVisite" not in w.pending_timers()  # the next quarter waits for the review
    w.tick(w.at(82, 9))
    w.complete("medecin_traitant", "Task_RevueHbA1c", conduite="intensification_traitement")
    assert w.pending_timers()["Timer_RappelVisite"] == w.at(152, 9)


@pytest.mark.parametrize("hba1c", [5.9, 7.0])
def test_next_quarter_is_planned_without_review_when_the_hba1c_result_is_at_or_below_target(app, clock, hba1c):
    w = _enrol(clock)
    _open_quarter(w, 1)
    _visit(w, 1)
    w.tick(w.at(80, 15))
    _result(w, hba1c)
    assert w.inboxes() == {}
    assert w.pending_timers()["Timer_RappelVisite"] == w.at(152, 9)


def test_gp_review_follows_the_patients_own_target_when_the_target_is_set_at_enrolment(app, clock):
    w = _enrol(clock, cible_hba1c=8.0)
    _open_quarter(w, 1)
    _visit(w, 1)
    _result(w, 7.6)
    assert w.inboxes() == {}


def test_coordinator_chases_the_result_when_no_hba1c_arrives_within_a_month(app, clock):
    w = _enrol(clock)
    _open_quarter(w, 1)
    _visit(w, 1)  # visit completed on J+71 (15 June 2027) at 10:00: the wait ends on 15 July at 10:00
    assert local(date(2027, 7, 15), 10) in w.pending_timers().values()
    assert w.tick(local(date(2027, 7, 15), 9, 59)) == 0
    assert w.inboxes() == {}
    assert w.tick(local(date(2027, 7, 15), 10)) == 1
    assert w.inboxes() == {"coordinateur": ["Task_RelanceHbA1c"]}
    w.expect("coordinateur", "Task_RelanceHbA1c", due=local(date(2027, 7, 22), 10))
    with pytest.raises(InvalidTransition):  # the wait is over: a late result is refused
        _result(w, 6.4)
    db.session.rollback()
    w.complete("coordinateur", "Task_RelanceHbA1c", hba1c=8.2, source_resultat="laboratoire")
    assert w.inbox("medecin_traitant") == ["Task_RevueHbA1c"]


def test_result_is_refused_and_nothing_changes_when_no_visit_waits_for_it(app, clock):
    w = _enrol(clock)
    _open_quarter(w, 1)
    before = db.session.scalar(select(PathwayInstance.lock_version).where(PathwayInstance.id == w.instance_id))
    with pytest.raises(InvalidTransition, match="resultat_hba1c"):
        _result(w, 7.9)
    db.session.rollback()
    assert db.session.get(PathwayInstance, w.instance_id, populate_existing=True).lock_version == before
    assert w.inboxes() == {"medecin_traitant": ["Task_VisiteTrimestrielle"]}


def test_yearly_checks_open_at_nine_on_the_inclusion_day_and_each_anniversary_when_enrolled(app, clock):
    w = _enrol(clock, first_year_checks=False)
    assert w.inboxes() == {}
    assert w.pending_timers() == {"Timer_BilanAnnuel": w.at(0, 9), "Timer_RappelVisite": w.at(61, 9)}
    assert w.tick(w.at(0, 8, 59)) == 0
    assert w.inboxes() == {}
    _yearly_checks(w, 0)
    assert w.inboxes() == {}
    assert w.pending_timers()["Timer_BilanAnnuel"] == w.at(YEAR_2, 9)
    assert w.tick(w.at(61, 9)) == 1  # the first quarterly visit opens, and stays open (never done)
    assert w.tick(w.at(YEAR_2 - 1, 9)) == 0  # not on J+365: 2028 is a leap year
    assert w.tick(w.at(YEAR_2, 8, 59)) == 0
    assert w.inbox("medecin_traitant") == ["Task_VisiteTrimestrielle"]
    assert w.tick(w.at(YEAR_2, 9)) == 1
    assert sorted(w.inbox("medecin_traitant")) == sorted(YEARLY_GP + ["Task_VisiteTrimestrielle"])
    assert w.inbox("ophtalmologue") == ["Task_ExamenOphtalmo"]


def test_yearly_checks_are_due_in_calendar_months_when_they_open(app, clock):
    # Opened on 5 April 2027 at 09:00: lab, ECG and foot exam due P2M, eye screening P3M, podiatrist P1M.
    w = _enrol(clock, first_year_checks=False)
    w.tick(w.at(0, 9))
    for element_id in YEARLY_GP:
        w.expect("medecin_traitant", element_id, due=local(date(2027, 6, 5), 9))
    w.expect("ophtalmologue", "Task_ExamenOphtalmo", due=local(date(2027, 7, 5), 9))
    w.complete("medecin_traitant", "Task_ExamenPieds", grade_podologique=2)
    w.expect("podologue", "Task_Podologue", due=local(date(2027, 5, 5), 9))


@pytest.mark.parametrize(("grade", "podiatrist"), [(0, []), (1, []), (2, ["Task_Podologue"]), (3, ["Task_Podologue"])])
def test_podiatrist_item_opens_when_the_foot_risk_grade_is_two_or_more(app, clock, grade, podiatrist):
    w = _enrol(clock, first_year_checks=False)
    w.tick(w.at(0, 9))
    w.tick(w.at(5, 10))
    w.complete("medecin_traitant", "Task_ExamenPieds", grade_podologique=grade)
    assert w.inbox("podologue") == podiatrist
    assert w.inbox("coordinateur") == []


def test_next_yearly_check_waits_for_the_podiatrist_when_the_patient_is_referred(app, clock):
    w = _enrol(clock, first_year_checks=False)
    _yearly_checks(w, 0, grade=3)
    assert w.inbox("podologue") == ["Task_Podologue"]
    assert "Timer_BilanAnnuel" not in w.pending_timers()
    w.tick(w.at(20, 14))
    w.complete("podologue", "Task_Podologue", seances_planifiees=8)
    assert w.inboxes() == {}
    assert w.pending_timers()["Timer_BilanAnnuel"] == w.at(YEAR_2, 9)
