"""One transaction per request: a refused change writes nothing, yet the page shown again is an audited read."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.db import db
from engine.models import AuditEvent, CareTeamMember
from engine.services.people import create_professional
from tests.webapp.records import team_and_outsider


def _count_views(patient_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.patient_id == patient_id, AuditEvent.action == "patient.viewed"))


def test_a_refused_care_team_change_writes_nothing_but_its_page_read_is_audited(app, clock, browser_for):
    patient, _team, _outsider = team_and_outsider(clock)
    kine = create_professional("kine", "Mme Kiné", ["kinesitherapeute"], at=clock.now(), site="MSP Test")
    db.session.commit()
    nurse = browser_for("infirmier")
    page = nurse.client.get(f"/patients/{patient.id}")
    before = _count_views(patient.id)
    response = nurse.client.post(f"/patients/{patient.id}/care-team", data={
        "professional_id": str(kine.id), "role": "chirurgien", "start": "2026-11-16",
        "csrf_token": nurse.token_of(f"/patients/{patient.id}")})
    assert page.status_code == 200 and response.status_code == 422
    db.session.expire_all()
    assert db.session.scalar(select(CareTeamMember).where(CareTeamMember.professional_id == kine.id)) is None
    assert _count_views(patient.id) == before + 2  # the page read for the token, then the page shown again
