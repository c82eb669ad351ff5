"""RAAC after shoulder surgery (workflows/bpmn/rrac_epaule.bpmn) walked end to end on the injected clock.

Surgery (J0) on Monday 7 December 2026; the patient is enrolled at J-21, on 16 November 2026 at 08:00.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.pathways.walk import Walk

ROLES = ["patient", "coordinateur", "infirmier", "chirurgien", "anesthesiste", "kinesitherapeute"]
SURGERY = date(2026, 12, 7)
PREPARATION = [("anesthesiste", "Task_ConsultationAnesthesie"), ("infirmier", "Task_EducationPreop"),
               ("kinesitherapeute", "Task_Prehabilitation")]


def _enrol(clock, day: date = SURGERY, **params) -> Walk:
    return Walk("rrac_epaule", clock, anchor="date_chirurgie", day=day, roles=ROLES, params=params)


def _prepare(w: Walk) -> None:
    """Consultation, the three preparation items, both SMS and the call the day before (patient reached)."""
    w.complete("chirurgien", "Task_ConsultationChirurgicale")
    for role, element_id in PREPARATION:
        w.complete(role, element_id)
    w.tick(w.at(-7, 9))
    w.tick(w.at(-1, 10))
    w.complete("infirmier", "Task_AppelPreadmission")


def _to_discharge_decision(w: Walk) -> None:
    _prepare(w)
    w.tick(w.at(0, 7))
    w.tick(w.at(0, 10))
    w.complete("chirurgien", "Task_Intervention")


def _to_j1_call(w: Walk) -> None:
    """Discharged on J0 (every criterion met), rehabilitation started; the J+1 call is the only open item."""
    _to_discharge_decision(w)
    w.tick(w.at(0, 16))
    w.complete("anesthesiste", "Task_DecisionSortie")
    w.complete("chirurgien", "Task_PrescriptionReeducation")
    w.complete("kinesitherapeute", "Task_BilanKineInitial")
    assert w.tick(w.at(1, 10)) == 1
    assert w.inboxes() == {"infirmier": ["Task_AppelJ1"]}
    w.expect("infirmier", "Task_AppelJ1", due=w.at(1, 12))


def test_pathway_completes_with_each_step_in_the_right_inbox_on_the_right_day_when_all_goes_well(app, clock):
    w = _enrol(clock)
    assert w.inboxes() == {"chirurgien": ["Task_ConsultationChirurgicale"]}
    w.expect("chirurgien", "Task_ConsultationChirurgicale", due=w.at(-14, 8))
    assert w.pending_timers() == {}

    w.tick(w.at(-21, 10))
    w.complete("chirurgien", "Task_ConsultationChirurgicale")
    assert w.inboxes() == {role: [element_id] for role, element_id in PREPARATION}
    w.expect("anesthesiste", "Task_ConsultationAnesthesie", due=w.at(-7, 10), escalate_at=w.at(-4, 10))
    w.expect("infirmier", "Task_EducationPreop", due=w.at(-7, 10))
    w.expect("kinesitherapeute", "Task_Prehabilitation", due=w.at(-7, 10))
    assert w.pending_timers() == {"Timer_J7_Chirurgie": w.at(-7, 9)}

    w.tick(w.at(-14, 14))
    for role, element_id in PREPARATION:
        w.complete(role, element_id)
    assert w.inboxes() == {}

    assert w.tick(w.at(-7, 8, 59)) == 0
    assert w.reminders() == []
    assert w.tick(w.at(-7, 9)) == 1
    assert w.reminders() == [("rappel_rdv_j7", "patient", "sms", w.at(0), w.at(-7, 9))]
    assert w.pending_timers() == {"Timer_J1_Chirurgie": w.at(-1, 10)}
    assert w.inboxes() == {}

    assert w.tick(w.at(-1, 10)) == 1
    assert w.reminders()[1] == ("rappel_rdv_j1", "patient", "sms", w.at(0), w.at(-1, 10))
    assert w.inboxes() == {"infirmier": ["Task_AppelPreadmission"]}
    w.expect("infirmier", "Task_AppelPreadmission", due=w.at(-1, 16))
    w.tick(w.at(-1, 11))
    w.complete("infirmier", "Task_AppelPreadmission", patient_joint_veille="oui")
    assert w.inboxes() == {}
    assert w.pending_timers() == {"Timer_J0": w.at(0, 7)}

    assert w.tick(w.at(0, 7)) == 1
    assert w.inboxes() == {"chirurgien": ["Task_Intervention"]}
    w.expect("chirurgien", "Task_Intervention", due=w.at(2, 7))
    w.tick(w.at(0, 10, 30))
    w.complete("chirurgien", "Task_Intervention")
    assert w.inboxes() == {"anesthesiste": ["Task_DecisionSortie"]}
    w.expect("anesthesiste", "Task_DecisionSortie", due=w.at(0, 18, 30))

    w.tick(w.at(0, 16))
    w.complete("anesthesiste", "Task_DecisionSortie", padss=10, douleur_eva=2, accompagnant_present=True)
    assert w.inboxes() == {"chirurgien": ["Task_PrescriptionReeducation"]}
    w.expect("chirurgien", "Task_PrescriptionReeducation", due=w.at(1, 16))
    assert w.pending_timers() == {"Timer_J1_PostOp": w.at(1, 10), "Timer_J7_Suivi": w.at(35, 9)}
    w.tick(w.at(0, 17))
    w.complete("chirurgien", "Task_PrescriptionReeducation")
    assert w.inboxes() == {"kinesitherapeute": ["Task_BilanKineInitial"]}
    w.expect("kinesitherapeute", "Task_BilanKineInitial", due=w.at(7, 17))

    assert w.tick(w.at(1, 10)) == 1
    assert w.inbox("infirmier") == ["Task_AppelJ1"]
    w.expect("infirmier", "Task_AppelJ1", due=w.at(1, 12))
    w.tick(w.at(1, 10, 20))
    w.complete("infirmier", "Task_AppelJ1", patient_joint="oui", douleur_nrs=2)
    assert w.inboxes() == {"kinesitherapeute": ["Task_BilanKineInitial"]}
    w.tick(w.at(4, 11))
    w.complete("kinesitherapeute", "Task_BilanKineInitial")
    assert w.inboxes() == {}
    assert w.pending_timers() == {"Timer_J7_Suivi": w.at(35, 9), "Timer_BilanKine": w.at(80, 9)}

    # follow-up loop, first pass: six weeks
    assert w.tick(w.at(35, 9)) == 1
    assert w.reminders()[2] == ("rappel_rdv_j7", "patient", "sms", w.at(42), w.at(35, 9))
    assert w.inboxes() == {}
    assert w.tick(w.at(41, 9)) == 1
    assert w.reminders()[3] == ("rappel_rdv_j1", "patient", "sms", w.at(42), w.at(41, 9))
    assert w.inboxes() == {"chirurgien": ["Task_ConsultationSuivi"]}
    w.expect("chirurgien", "Task_ConsultationSuivi", due=w.at(48, 9), escalate_at=w.at(55, 9))
    w.tick(w.at(42, 11))
    w.complete("chirurgien", "Task_ConsultationSuivi", patient_venu="oui")
    assert w.pending_timers() == {"Timer_J7_Suivi": w.at(83, 9), "Timer_BilanKine": w.at(80, 9)}

    assert w.tick(w.at(80, 9)) == 1
    assert w.inboxes() == {"kinesitherapeute": ["Task_BilanKineFinal"]}
    w.expect("kinesitherapeute", "Task_BilanKineFinal", due=w.at(87, 9))
    w.tick(w.at(82, 15))
    w.complete("kinesitherapeute", "Task_BilanKineFinal")

    # second pass: three months
    assert w.tick(w.at(83, 9)) == 1
    assert w.tick(w.at(89, 9)) == 1
    assert w.inboxes() == {"chirurgien": ["Task_ConsultationSuivi"]}
    w.expect("chirurgien", "Task_ConsultationSuivi", due=w.at(96, 9), escalate_at=w.at(103, 9))
    assert w.status == "active"
    w.tick(w.at(90, 11))
    w.complete("chirurgien", "Task_ConsultationSuivi", patient_venu="oui")

    assert w.status == "completed"
    assert w.inboxes() == {} and w.open_items() == [] and w.pending_timers() == {}
    assert w.reminders() == [
        ("rappel_rdv_j7", "patient", "sms", w.at(0), w.at(-7, 9)),
        ("rappel_rdv_j1", "patient", "sms", w.at(0), w.at(-1, 10)),
        ("rappel_rdv_j7", "patient", "sms", w.at(42), w.at(35, 9)),
        ("rappel_rdv_j1", "patient", "sms", w.at(42), w.at(41, 9)),
        ("rappel_rdv_j7", "patient", "sms", w.at(90), w.at(83, 9)),
        ("rappel_rdv_j1", "patient", "sms", w.at(90), w.at(89, 9)),
    ]


CALLBACK, URGENT = ["Task_RappelDouleur"], ["Task_AvisChirurgienUrgent"]


@pytest.mark.parametrize(("pain", "surgeon", "nurse"), [
    pytest.param(3, [], [], id="nrs3-nothing"),
    pytest.param(4, [], CALLBACK, id="nrs4-nurse-callback"),
    pytest.param(5, [], CALLBACK, id="nrs5-nurse-callback"),
    pytest.param(6, [], CALLBACK, id="nrs6-nurse-callback"),
    pytest.param(7, URGENT, [], id="nrs7-urgent-surgeon"),
    pytest.param(8, URGENT, [], id="nrs8-urgent-surgeon"),
])
def test_j1_call_routes_on_the_pain_score_when_the_patient_is_reached(app, clock, pain, surgeon, nurse):
    w = _enrol(clock)
    _to_j1_call(w)
    w.tick(w.at(1, 10, 30))
    w.complete("infirmier", "Task_AppelJ1", patient_joint="oui", douleur_nrs=pain)
    assert w.inbox("chirurgien") == surgeon
    assert w.inbox("infirmier") == nurse
    assert w.inbox("coordinateur") == []


def test_urgent_surgeon_item_opens_when_pain_is_eight_at_the_j1_call(app, clock):
    w = _enrol(clock)
    _to_j1_call(w)
    w.tick(w.at(1, 10, 30))
    outcome = w.complete("infirmier", "Task_AppelJ1", patient_joint="oui", douleur_nrs=8)
    item = w.expect("chirurgien", "Task_AvisChirurgienUrgent", priority="urgent", due=w.at(1, 14, 30),
                    escalate_at=w.at(1, 15, 30))
    assert outcome.opened_work_items == (item.id,)
    assert w.inboxes() == {"chirurgien": ["Task_AvisChirurgienUrgent"]}
    w.tick(w.at(1, 11))
    w.complete("chirurgien", "Task_AvisChirurgienUrgent", conduite="consultation_jour_meme")
    assert w.inbox("chirurgien") == []
    assert w.status == "active"  # the rehabilitation branch and the follow-up loop go on


@pytest.mark.parametrize("sign", ["fievre", "saignement_plaie", "deficit_neurologique"])
def test_urgent_surgeon_item_opens_when_an_alert_sign_comes_with_mild_pain(app, clock, sign):
    w = _enrol(clock)
    _to_j1_call(w)
    w.complete("infirmier", "Task_AppelJ1", patient_joint="oui", douleur_nrs=1, **{sign: True})
    w.expect("chirurgien", "Task_AvisChirurgienUrgent", priority="urgent", due=w.at(1, 14))
    assert w.inbox("infirmier") == []


def test_nurse_callback_within_four_hours_when_pain_is_five_at_the_j1_call(app, clock):
    w = _enrol(clock)
    _to_j1_call(w)
    w.tick(w.at(1, 10, 45))
    w.complete("infirmier", "Task_AppelJ1", patient_joint="oui", douleur_nrs=5)
    w.expect("infirmier", "Task_RappelDouleur", due=w.at(1, 14, 45))
    assert w.inbox("chirurgien") == []
    w.complete("infirmier", "Task_RappelDouleur", douleur_nrs_rappel=3)
    assert w.inboxes() == {}


def test_nurse_callback_when_the_patient_has_nausea_with_mild_pain(app, clock):
    w = _enrol(clock)
    _to_j1_call(w)
    w.complete("infirmier", "Task_AppelJ1", patient_joint="oui", douleur_nrs=2, nausees_vomissements=True)
    w.expect("infirmier", "Task_RappelDouleur", due=w.at(1, 14))
    assert w.inbox("chirurgien") == []


def test_second_call_two_hours_later_when_the_patient_is_not_reached_once(app, clock):
    w = _enrol(clock)
    _to_j1_call(w)
    w.tick(w.at(1, 10, 15))
    w.complete("infirmier", "Task_AppelJ1", patient_joint="non")
    assert w.inboxes() == {}
    assert w.pending_timers()["Timer_NouvelEssai"] == w.at(1, 12, 15)
    assert w.tick(w.at(1, 12, 14)) == 0
    assert w.tick(w.at(1, 12, 15)) == 1
    w.expect("infirmier", "Task_AppelJ1", due=w.at(1, 14, 15))
    w.complete("infirmier", "Task_AppelJ1", patient_joint="oui", douleur_nrs=2)
    assert w.inboxes() == {}
    assert "Timer_NouvelEssai" not in w.pending_timers()


def test_coordinator_item_opens_when_the_patient_is_not_reached_twice(app, clock):
    w = _enrol(clock)
    _to_j1_call(w)
    w.tick(w.at(1, 10, 15))
    w.complete("infirmier", "Task_AppelJ1", patient_joint="non")
    w.tick(w.at(1, 12, 15))
    w.tick(w.at(1, 12, 40))
    w.complete("infirmier", "Task_AppelJ1", patient_joint="non")
    assert w.inboxes() == {"coordinateur": ["Task_PatientInjoignable"]}
    w.expect("coordinateur", "Task_PatientInjoignable", priority="urgent", due=w.at(1, 16, 40))
    assert "Timer_NouvelEssai" not in w.pending_timers()  # no third attempt
    w.complete("coordinateur", "Task_PatientInjoignable", contact_etabli="oui", action_menee="proche_joint")
    assert w.inboxes() == {}


def test_coordinator_reaches_the_patient_before_admission_when_the_nurse_could_not_the_day_before(app, clock):
    w = _enrol(clock)
    w.complete("chirurgien", "Task_ConsultationChirurgicale")
    for role, element_id in PREPARATION:
        w.complete(role, element_id)
    w.tick(w.at(-7, 9))
    w.tick(w.at(-1, 10))
    w.tick(w.at(-1, 15))
    w.complete("infirmier", "Task_AppelPreadmission", patient_joint_veille="non")
    assert w.inboxes() == {"coordinateur": ["Task_CoordinationVeille"]}
    w.expect("coordinateur", "Task_CoordinationVeille", priority="urgent", due=w.at(-1, 19))
    assert w.pending_timers() == {}  # the J0 wait starts once the patient is prepared
    w.tick(w.at(-1, 17))
    w.complete("coordinateur", "Task_CoordinationVeille", contact_etabli="oui")
    assert w.pending_timers() == {"Timer_J0": w.at(0, 7)}
    assert w.tick(w.at(0, 7)) == 1
    w.expect("chirurgien", "Task_Intervention", due=w.at(2, 7))


def test_intervention_opens_when_the_last_preparation_is_done_when_it_is_done_after_j0(app, clock):
    w = _enrol(clock)
    w.complete("chirurgien", "Task_ConsultationChirurgicale")
    w.complete("infirmier", "Task_EducationPreop")
    w.complete("kinesitherapeute", "Task_Prehabilitation")
    w.tick(w.at(-7, 9))
    w.tick(w.at(-1, 10))
    w.complete("infirmier", "Task_AppelPreadmission")
    assert w.tick(w.at(0, 7)) == 0
    assert w.inboxes() == {"anesthesiste": ["Task_ConsultationAnesthesie"]}
    w.tick(w.at(0, 7, 30))
    w.complete("anesthesiste", "Task_ConsultationAnesthesie")
    w.expect("chirurgien", "Task_Intervention", due=w.at(2, 7, 30))


@pytest.mark.parametrize("answers", [
    {"padss": 8, "douleur_eva": 2, "accompagnant_present": True},
    {"padss": 10, "douleur_eva": 5, "accompagnant_present": True},
    {"padss": 10, "douleur_eva": 2, "accompagnant_present": False},
])
def test_surgeon_converts_to_hospitalisation_when_discharge_criteria_are_not_met(app, clock, answers):
    w = _enrol(clock)
    _to_discharge_decision(w)
    w.tick(w.at(0, 15))
    w.complete("anesthesiste", "Task_DecisionSortie", **answers)
    assert w.inboxes() == {"chirurgien": ["Task_Conversion"]}
    w.expect("chirurgien", "Task_Conversion", priority="urgent", due=w.at(0, 19))
    assert w.pending_timers() == {}  # the post-operative follow-up waits for the conversion
    w.complete("chirurgien", "Task_Conversion", motif_conversion="douleur", nuits_hospitalisation=2)
    assert w.inboxes() == {"chirurgien": ["Task_PrescriptionReeducation"]}
    # the J+1 call moves to the day after discharge: two nights, so J+3 at 10:00
    assert w.pending_timers()["Timer_J1_PostOp"] == w.at(3, 10)
    assert w.tick(w.at(1, 10)) == 0
    assert w.inbox("infirmier") == []
    assert w.tick(w.at(3, 10)) == 1
    w.expect("infirmier", "Task_AppelJ1", due=w.at(3, 12))


def test_pathway_completes_after_the_only_consultation_when_one_follow_up_delay_is_configured(app, clock):
    w = _enrol(clock, delais_consult_suivi_jours=[42], delai_bilan_kine_jours=30)
    _to_j1_call(w)
    w.complete("infirmier", "Task_AppelJ1", patient_joint="oui", douleur_nrs=1)
    assert w.pending_timers() == {"Timer_J7_Suivi": w.at(35, 9), "Timer_BilanKine": w.at(30, 9)}
    assert w.tick(w.at(30, 9)) == 1
    w.complete("kinesitherapeute", "Task_BilanKineFinal")
    w.tick(w.at(35, 9))
    w.tick(w.at(41, 9))
    w.expect("chirurgien", "Task_ConsultationSuivi", due=w.at(48, 9))
    w.complete("chirurgien", "Task_ConsultationSuivi")
    assert w.status == "completed"
    assert [r[0] for r in w.reminders()] == ["rappel_rdv_j7", "rappel_rdv_j1"] * 2


def test_follow_up_reminders_and_visit_stay_at_nine_local_time_when_summer_time_starts(app, clock):
    # Surgery on Monday 4 January 2027: the 3-month visit (J+90, 4 April) falls after the switch to summer
    # time (28 March 2027). The documented expressions are J+83 and J+89 at 09:00 Paris time.
    w = _enrol(clock, day=date(2027, 1, 4))
    _to_j1_call(w)
    w.complete("infirmier", "Task_AppelJ1", patient_joint="oui", douleur_nrs=1)
    w.tick(w.at(35, 9))
    w.tick(w.at(41, 9))
    w.complete("chirurgien", "Task_ConsultationSuivi")
    assert w.pending_timers()["Timer_J7_Suivi"] == w.at(83, 9)
    assert w.tick(w.at(83, 9)) == 1
    assert w.reminders()[-1] == ("rappel_rdv_j7", "patient", "sms", w.at(90), w.at(83, 9))
    assert w.tick(w.at(89, 9)) == 1
    w.expect("chirurgien", "Task_ConsultationSuivi", due=w.at(96, 9))
