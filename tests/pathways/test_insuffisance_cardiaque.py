"""Heart failure after discharge (workflows/bpmn/insuffisance_cardiaque.bpmn) walked end to end on the clock.

Discharge (J0, the anchor) on Monday 16 November 2026; the patient is enrolled that morning at 08:00 and the
coordinator records the reference weight (80.0 kg) at 09:30. Daily self-weighing J+1…J+60 at 08:00, weekly
nurse visits from J0 at 08:00.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.pathways.walk import Walk

ROLES = ["patient", "infirmier", "medecin_traitant", "coordinateur", "cardiologue"]
DISCHARGE = date(2026, 11, 16)


def _enrol(clock, **params) -> Walk:
    return Walk("insuffisance_cardiaque", clock, anchor="date_sortie", day=DISCHARGE, roles=ROLES, params=params)


def _reference_weight(w: Walk, kg: float = 80.0) -> None:
    w.tick(w.at(0, 9, 30))
    w.complete("coordinateur", "Task_PoidsReference", poids_reference_kg=kg)


def _weigh(w: Walk, day: int, kg: float = 80.4, **answers) -> None:
    """The weighing item opens on J+day at 08:00; the patient answers through the link at 08:30."""
    w.tick(w.at(day, 8))
    w.expect("patient", "Task_AutoPesee", due=w.at(day, 20))
    w.tick(w.at(day, 8, 30))
    w.complete("patient", "Task_AutoPesee", poids_kg=kg, **answers)


def test_pathway_completes_after_sixty_daily_weights_and_eight_nurse_visits_when_there_is_no_alert(app, clock):
    w = _enrol(clock)
    assert w.inboxes() == {"coordinateur": ["Task_PoidsReference"]}
    w.expect("coordinateur", "Task_PoidsReference", due=w.at(1, 8))
    assert w.pending_timers() == {}

    _reference_weight(w)
    assert w.inboxes() == {"medecin_traitant": ["Task_ConsultationMT"], "infirmier": ["Task_VisiteIde"],
                           "cardiologue": ["Task_ConsultationCardio"]}
    w.expect("medecin_traitant", "Task_ConsultationMT", due=w.at(7, 9, 30), escalate_at=w.at(8, 9, 30))
    w.expect("cardiologue", "Task_ConsultationCardio", due=w.at(60, 9, 30), escalate_at=w.at(67, 9, 30))
    w.expect("infirmier", "Task_VisiteIde", due=w.at(7, 9, 30))  # J0 08:00 had passed: the first visit opens
    assert w.pending_timers() == {"Timer_Pesee": w.at(1, 8), "Boundary_RdvMT": w.at(2, 9),
                                  "Boundary_RdvCardio": w.at(30, 9)}

    visits_done = 0
    for day in range(1, 61):
        _weigh(w, day)
        if day % 7 == 0 and day <= 49:  # visits 2 to 8 open on J+7k at 08:00, due a week later
            w.expect("infirmier", "Task_VisiteIde", opened=w.at(day, 8), due=w.at(day + 7, 8))
        if day == 1:
            assert all("Task_AutoPesee" not in items for items in w.inboxes().values())
            w.tick(w.at(1, 11))
            w.complete("medecin_traitant", "Task_ConsultationMT")
            assert "Boundary_RdvMT" not in w.pending_timers()
        if day == 2:
            assert w.tick(w.at(2, 9)) == 0
            assert w.inbox("coordinateur") == []  # the GP consultation was done before J+2
        if day == 20:
            w.tick(w.at(20, 10))
            w.complete("cardiologue", "Task_ConsultationCardio")
        if day == 30:
            assert w.tick(w.at(30, 9)) == 0
            assert w.inbox("coordinateur") == []  # the cardiology consultation was done before J+30
        if "Task_VisiteIde" in w.inbox("infirmier"):
            w.tick(w.at(day, 14))
            w.complete("infirmier", "Task_VisiteIde", poids_kg=80.5)
            visits_done += 1
        assert w.status == ("completed" if day == 60 else "active"), f"J+{day}"

    assert visits_done == 8
    assert w.inboxes() == {} and w.open_items() == [] and w.pending_timers() == {}
    assert w.reminders() == []  # no SMS in this pathway: the daily link is the patient's work item


@pytest.mark.parametrize(("kg", "alert"), [(78.0, False), (81.9, False), (82.0, True), (84.3, True)])
def test_nurse_calls_the_patient_the_same_day_only_when_weight_is_two_kilos_above_reference(app, clock, kg, alert):
    w = _enrol(clock)
    _reference_weight(w, 80.0)
    w.tick(w.at(1, 8))
    w.tick(w.at(1, 8, 40))
    w.complete("patient", "Task_AutoPesee", poids_kg=kg)
    if alert:
        assert w.inbox("infirmier") == ["Task_AlertePoids", "Task_VisiteIde"]
        w.expect("infirmier", "Task_AlertePoids", priority="urgent", due=w.at(1, 12, 40),
                 escalate_at=w.at(1, 14, 40))
        # The alert runs beside the daily weighing: tomorrow's weighing is planned while the call is pending.
        assert w.pending_timers()["Timer_Pesee"] == w.at(2, 8)
        w.tick(w.at(1, 10))
        w.complete("infirmier", "Task_AlertePoids", conduite="avis_medecin_traitant")
    assert w.inbox("infirmier") == ["Task_VisiteIde"]
    assert w.pending_timers()["Timer_Pesee"] == w.at(2, 8)  # tomorrow's weighing


def test_next_weighing_opens_on_time_when_yesterdays_weight_alert_is_still_open(app, clock):
    w = _enrol(clock)
    _reference_weight(w, 80.0)
    w.tick(w.at(1, 8))
    w.complete("patient", "Task_AutoPesee", poids_kg=83.0)
    w.tick(w.at(2, 8))
    w.expect("patient", "Task_AutoPesee", due=w.at(2, 20))
    assert "Task_AlertePoids" in w.inbox("infirmier")  # the nurse still has to call: nothing was lost
    w.complete("patient", "Task_AutoPesee", poids_kg=83.4)
    assert w.inbox("infirmier").count("Task_AlertePoids") == 2  # one alert per day of gain, each to be handled


@pytest.mark.parametrize("symptom", ["essoufflement_inhabituel", "oedemes_chevilles"])
def test_nurse_calls_the_patient_the_same_day_when_a_symptom_is_reported_without_weight_gain(app, clock, symptom):
    w = _enrol(clock)
    _reference_weight(w, 80.0)
    _weigh(w, 1)
    w.tick(w.at(2, 8))
    w.tick(w.at(2, 9))
    w.complete("patient", "Task_AutoPesee", poids_kg=80.0, **{symptom: True})
    w.expect("infirmier", "Task_AlertePoids", priority="urgent", due=w.at(2, 13))


def test_missed_weighing_closes_after_twenty_hours_without_alert_when_the_patient_does_not_answer(app, clock):
    w = _enrol(clock)
    _reference_weight(w)
    w.tick(w.at(1, 8))
    item = w.expect("patient", "Task_AutoPesee", due=w.at(1, 20))
    assert w.pending_timers()["Boundary_PeseeManquee"] == w.at(2, 4)
    assert w.tick(w.at(2, 3, 59)) == 0
    assert w.status_of(item) == "open"
    assert w.tick(w.at(2, 4)) == 1
    assert w.status_of(item) == "cancelled"
    assert w.inbox("infirmier") == ["Task_VisiteIde"]  # a missing answer is not an alert
    assert w.pending_timers()["Timer_Pesee"] == w.at(2, 8)
    w.tick(w.at(2, 8))
    w.expect("patient", "Task_AutoPesee", due=w.at(2, 20))


def test_coordinator_checks_the_gp_appointment_when_the_consultation_is_not_done_at_j2(app, clock):
    w = _enrol(clock)
    _reference_weight(w)
    _weigh(w, 1)
    _weigh(w, 2)
    assert w.tick(w.at(2, 8, 59)) == 0
    assert w.inbox("coordinateur") == []
    assert w.tick(w.at(2, 9)) == 1
    assert w.inbox("coordinateur") == ["Task_VerifierRdvMT"]
    w.expect("coordinateur", "Task_VerifierRdvMT", due=w.at(3, 9))
    assert w.inbox("medecin_traitant") == ["Task_ConsultationMT"]  # the consultation stays open
    w.tick(w.at(2, 11))
    w.complete("coordinateur", "Task_VerifierRdvMT", rendez_vous_pris="oui", action_menee="rdv_organise")
    assert w.inbox("coordinateur") == []
    w.tick(w.at(4, 17))
    w.complete("medecin_traitant", "Task_ConsultationMT")
    assert w.inbox("medecin_traitant") == []
    assert w.inbox("coordinateur") == []  # checked once, not again


def test_coordinator_checks_the_cardiology_appointment_when_the_consultation_is_not_done_at_j30(app, clock):
    w = _enrol(clock)
    _reference_weight(w)
    w.complete("medecin_traitant", "Task_ConsultationMT")
    for day in range(1, 31):
        _weigh(w, day)
        if "Task_VisiteIde" in w.inbox("infirmier"):
            w.complete("infirmier", "Task_VisiteIde")
    assert w.inbox("coordinateur") == []
    assert w.tick(w.at(30, 9)) == 1
    assert w.inbox("coordinateur") == ["Task_VerifierRdvCardio"]
    w.expect("coordinateur", "Task_VerifierRdvCardio", due=w.at(31, 9))
    assert w.inbox("cardiologue") == ["Task_ConsultationCardio"]
    w.complete("coordinateur", "Task_VerifierRdvCardio")
    w.complete("cardiologue", "Task_ConsultationCardio")
    assert w.inboxes() == {}
    assert w.status == "active"  # the weighing and nurse tracks go on to J+60


def test_gp_reviews_the_patient_within_a_day_when_the_nurse_reports_alert_signs(app, clock):
    w = _enrol(clock)
    _reference_weight(w)
    w.tick(w.at(3, 15))
    w.complete("infirmier", "Task_VisiteIde", poids_kg=81.0, signes_alerte=True)
    assert w.inbox("medecin_traitant") == ["Task_AvisMT", "Task_ConsultationMT"]
    w.expect("medecin_traitant", "Task_AvisMT", priority="urgent", due=w.at(4, 15))
    assert "Timer_VisiteIde" not in w.pending_timers()
    w.tick(w.at(3, 18))
    w.complete("medecin_traitant", "Task_AvisMT", conduite="consultation_rapprochee")
    assert w.inbox("medecin_traitant") == ["Task_ConsultationMT"]
    assert w.pending_timers()["Timer_VisiteIde"] == w.at(7, 8)


def test_no_gp_review_when_the_nurse_visit_finds_no_alert_sign(app, clock):
    w = _enrol(clock)
    _reference_weight(w)
    w.tick(w.at(3, 15))
    w.complete("infirmier", "Task_VisiteIde", signes_alerte=False)
    assert w.inbox("medecin_traitant") == ["Task_ConsultationMT"]
    assert w.pending_timers()["Timer_VisiteIde"] == w.at(7, 8)
