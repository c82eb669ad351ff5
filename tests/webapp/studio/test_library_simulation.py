"""Simulating a version from the studio, on both databases: the form offers the anchor dates and the answers
that choose branches; the timeline is grouped by ISO week and counted from the anchor date (the J+1 call of
version 2 falls on J+2); bad input is a 400 with the reason next to the field; nothing is stored but the
simulation's own audit event."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import func, select, text

from engine.db import db
from engine.models import AuditEvent
from engine.services.people import create_professional
from tests.conftest import TABLES_TO_CLEAR
from tests.webapp.studio.rrac_versions import J1_CALL, J1_TIMER, deploy_two_versions

SIMULATE = "/studio/pathways/rrac_epaule/v{n}/simulate"
SURGERY = "2026-12-16"  # a Wednesday, week 51; the tests' clock says Monday 16 November 2026
FORM = {"start": "2026-11-16", "months": "3", "anchor:date_chirurgie": SURGERY}


@pytest.fixture
def manager(app, clock, browser_for):
    create_professional("coordinateur", "Claire Coord", ["coordinateur"], at=clock.now(), site="MSP Test",
                        password="demo")
    db.session.commit()
    deploy_two_versions(clock, j2=True)
    return browser_for("coordinateur")


def _simulate(manager, n: int = 2, **fields: str):
    return manager.post_form(SIMULATE.format(n=n), SIMULATE.format(n=n), {**FORM, **fields})


def _rows(html: str, element_id: str, kind: str = "ouverture") -> list[str]:
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)) for row in re.findall(
        rf'<tr class="sim-{kind}" data-kind="{kind}" data-day="-?\d+" data-element-id="{element_id}">.*?</tr>',
        html, re.S)]


def _week_of(html: str, element_id: str) -> str:
    position = re.search(rf'<tr class="sim-ouverture" [^>]*data-element-id="{element_id}"', html).start()
    return re.findall(r'data-iso-week="([\d-]+W\d+)"', html[:position])[-1]


def test_form_offers_anchor_dates_and_the_answers_that_choose_branches(manager):
    response = manager.client.get(SIMULATE.format(n=2))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r'<input type="date" id="anchor:date_chirurgie" name="anchor:date_chirurgie" '
                     r'value="2026-11-16"', html)
    assert 'name="months" min="1" max="36" value="6"' in html
    call = re.search(rf'<fieldset class="sim-question" data-element-id="{J1_CALL}">.*?</fieldset>', html, re.S).group(0)
    for field in ("patient_joint", "douleur_nrs", "fievre", "saignement_plaie", "nausees_vomissements"):
        assert f'name="answer:{J1_CALL}:{field}"' in call, field
    assert "antalgiques_pris" not in call  # read by no condition: not offered
    assert re.search(rf'name="answer:{J1_CALL}:douleur_nrs" value="2" min="0" max="10"', call)  # the form's default


def test_version_2_puts_the_j1_call_on_j2_in_the_week_of_the_surgery(manager):
    response = _simulate(manager)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    html = response.get_data(as_text=True)
    [call] = _rows(html, J1_CALL)
    assert "ven. 18 déc. 2026 10:00 J+2" in call
    assert "Appeler le patient à J+1 (douleur, signes d'alerte)" in call.replace("&#39;", "'")
    assert "infirmier" in call
    assert _week_of(html, J1_CALL) == "2026-W51"
    assert re.search(r'data-iso-week="2026-W51">\s*<h3>Semaine du lun. 14 déc. 2026', html)
    [timer] = _rows(html, J1_TIMER, "minuteur")
    assert "J+2" in timer and "Lendemain de la sortie, 10 h" in timer
    reminders = _rows(html, "Send_RappelJ7_Chirurgie", "rappel")
    assert reminders and "J-7" in reminders[0] and "sms" in reminders[0] and "rappel_rdv_j7" in reminders[0]
    assert 'data-status="completed"' not in html  # 3 months: the 3-month visit is after the period


def test_version_1_puts_the_same_call_on_j1(manager):
    html = _simulate(manager, n=1).get_data(as_text=True)
    [call] = _rows(html, J1_CALL)
    assert "jeu. 17 déc. 2026 10:00 J+1" in call


def test_example_answers_choose_the_branch(manager):
    quiet = _simulate(manager).get_data(as_text=True)
    assert not _rows(quiet, "Task_AvisChirurgienUrgent")
    html = _simulate(manager, **{f"answer:{J1_CALL}:douleur_nrs": "8"}).get_data(as_text=True)
    [urgent] = _rows(html, "Task_AvisChirurgienUrgent")
    assert "J+2" in urgent and "chirurgien" in urgent
    # a list in the advanced answers: not reached at the first call, reached at the second attempt
    retry = _simulate(manager, answers_json='{"Task_AppelJ1": [{"patient_joint": "non"}, {"patient_joint": "oui"}]}')
    assert len(_rows(retry.get_data(as_text=True), J1_CALL)) == 2


@pytest.mark.parametrize(("fields", "input_name", "reason"), [
    ({"months": "0"}, "months", "Un nombre de mois entre 1 et 36."),
    ({"months": "37"}, "months", "Un nombre de mois entre 1 et 36."),
    ({"months": "six"}, "months", "Un nombre de mois entre 1 et 36."),
    ({"start": "16/11/2026"}, "start", "Date invalide (attendu : AAAA-MM-JJ)."),
    ({"anchor:date_chirurgie": ""}, "anchor:date_chirurgie", "Date obligatoire."),
    ({"start": "9999-12-01"}, "start", "Une date à moins de 20 ans d&#39;aujourd&#39;hui."),
    ({"anchor:date_chirurgie": "0001-01-01"}, "anchor:date_chirurgie", "Une date à moins de 20 ans"),
    ({f"answer:{J1_CALL}:douleur_nrs": "11"}, f"answer:{J1_CALL}:douleur_nrs", "Entre 0 et 10."),
    ({f"answer:{J1_CALL}:patient_joint": "peut-être"}, f"answer:{J1_CALL}:patient_joint", "valeurs proposées"),
    ({f"answer:{J1_CALL}:fievre": "bof"}, f"answer:{J1_CALL}:fievre", "Choisissez oui ou non."),
    ({"answers_json": "{pas du json"}, "answers_json", "JSON invalide (ligne 1, colonne 2)"),
    ({"answers_json": "[1, 2]"}, "answers_json", "Attendu : un objet"),
    ({"answers_json": '{"Task_AppelJ1": {"douleur_nrs": "beaucoup"}}'}, "answers_json",
     "Refusé par le parcours : form &#39;rrac_appel_j1&#39; is not valid: douleur_nrs"),
])
def test_bad_input_is_a_400_with_the_reason_next_to_the_field(manager, fields, input_name, reason):
    response = _simulate(manager, **fields)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'<p class="field-error" id="{re.escape(input_name)}-error" role="alert">[^<]*'
                     rf'{re.escape(reason)}', html), html[html.find("field-error") - 200:html.find("field-error") + 400]
    assert f'aria-describedby="{input_name}-error"' in html
    assert "sim-week" not in html  # no timeline
    for name, value in fields.items():  # what was typed is kept (a select keeps only the values it offers)
        if name == "answers_json":
            assert f">{escape(value)}</textarea>" in html
        elif value and not name.endswith((":patient_joint", ":fievre")):
            assert re.search(rf'name="{re.escape(name)}"[^>]* value="{re.escape(value)}"', html), name


def _row_counts() -> dict[str, int]:
    return {table: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
            for table in TABLES_TO_CLEAR}


def test_a_simulation_stores_nothing_but_its_own_audit_event(manager):
    before = _row_counts()
    response = _simulate(manager, **{f"answer:{J1_CALL}:douleur_nrs": "8"})
    assert response.status_code == 200 and _rows(response.get_data(as_text=True), J1_CALL)
    db.session.rollback()  # read what the request committed
    after = _row_counts()
    assert {t: after[t] - before[t] for t in after if after[t] != before[t]} == {"audit_event": 1}
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert (event.action, event.actor_label, event.patient_id, event.instance_id) == (
        "pathway.simulated", "coordinateur", None, None)
    assert event.details["key"] == "rrac_epaule" and event.details["context"] == {"date_chirurgie": SURGERY}
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "pathway.simulated")) == 1
