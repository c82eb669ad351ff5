"""Every route that names a patient's object answers 404 to a professional outside the care team, and the
attempt is audited as denied. The routes are read from the app's URL map, so a new page is covered the day
it is added. The studio's pages (/studio/) answer 403 to anyone who is not a care manager before reading
anything, and 404 (audited) to a care manager of another site. The API's endpoints (which need a valid body
to reach the check) are listed in tests/webapp/api/test_access.py, and this test fails if one is missing there."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import func, select

from engine.db import db
from engine.models import AuditEvent, CareTeamMember, WorkItem
from engine.services.people import create_professional
from tests.webapp.api.conftest import Ward, ward  # noqa: F401  (the fixture)
from tests.webapp.api.test_access import PATIENT_ENDPOINTS
from tests.webapp.conftest import WebUser

PATIENT_OBJECTS = {"patient_id", "instance_id", "work_item_id", "member_id"}


def _patient_rules(app: Flask, *, api: bool) -> list[tuple[str, str, str]]:
    """(method, rule, endpoint) of the routes whose URL names a patient, an instance, a work item or a member."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.arguments & PATIENT_OBJECTS or rule.rule.startswith("/api/") != api:
            continue
        found += [(method, rule.rule, rule.endpoint) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return sorted(found)


def _denials(patient_id: int, login: str = "intrus") -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.outcome == "denied", AuditEvent.actor_label == login, AuditEvent.patient_id == patient_id))


def _answers(web: WebUser, target: Ward, rules: list[tuple[str, str, str]], login: str) -> dict[str, tuple[int, int]]:
    """{"METHOD rule": (status, denied audits added)} for each route, the target's objects in its URL."""
    member_id = db.session.scalar(select(CareTeamMember.id).where(CareTeamMember.patient_id == target.patient.id))
    values = {"patient_id": target.patient.id, "instance_id": target.instance_id, "work_item_id": target.work_item_id,
              "member_id": member_id}
    token = web.token_of("/inbox/")
    answers = {}
    for method, rule, _endpoint in rules:
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule)
        before = _denials(target.patient.id, login)
        if method == "GET":
            response = web.client.get(path)
        else:
            response = web.client.post(path, data={"csrf_token": token, "reason": "x", "body": "x",
                                                   "role": "infirmier", "start": "2026-11-16"})
        db.session.expire_all()
        answers[f"{method} {rule}"] = (response.status_code, _denials(target.patient.id, login) - before)
    return answers


def test_every_patient_page_answers_404_to_an_outsider_and_audits_it(app, clock, ward: Ward, web: WebUser):  # noqa: F811
    assert web.login("intrus").status_code == 302
    rules = _patient_rules(app, api=False)
    assert len(rules) >= 15, rules  # the record, its forms, the work item and its actions
    answers = _answers(web, ward, rules, "intrus")
    studio = {key for key in answers if key.split(" ", 1)[1].startswith("/studio/")}
    assert studio, "the studio's instance pages (retry, skip, cancel) name an instance"
    assert answers == {key: (403, 0) if key in studio else (404, 1) for key in answers}
    assert db.session.get(WorkItem, ward.work_item_id).status == "open"
    assert db.session.scalar(select(func.count()).select_from(CareTeamMember).where(
        CareTeamMember.professional_id == ward.outsider.id)) == 0


def test_every_patient_api_endpoint_is_in_the_access_test(app):
    listed = {(method, re.sub(r"\?.*$", "", template)) for method, template, _body in PATIENT_ENDPOINTS}
    names = {"patient_id": "{patient}", "instance_id": "{instance}", "work_item_id": "{item}"}
    routes = {(method, re.sub(r"<(?:\w+:)?(\w+)>", lambda m: names[m.group(1)], rule))
              for method, rule, _endpoint in _patient_rules(app, api=True)}
    assert routes - listed == set(), "add these endpoints to tests/webapp/api/test_access.py PATIENT_ENDPOINTS"


def test_every_studio_page_naming_a_patient_answers_404_to_another_sites_care_manager(app, clock, ward: Ward,  # noqa: F811
                                                                                     web: WebUser):
    create_professional("coord-ailleurs", "Coordinatrice Ailleurs", ["coordinateur"], at=clock.now(),
                        site="Autre site", password="demo")
    db.session.commit()
    assert web.login("coord-ailleurs").status_code == 302
    rules = [r for r in _patient_rules(app, api=False) if r[1].startswith("/studio/")]
    assert rules
    answers = _answers(web, ward, rules, "coord-ailleurs")
    assert answers == {key: (404, 1) for key in answers}
    assert db.session.get(WorkItem, ward.work_item_id).status == "open"
