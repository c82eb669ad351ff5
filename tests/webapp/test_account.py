"""My account: the interface language and the timezone dates are shown in."""

from __future__ import annotations

from sqlalchemy import select

from engine.db import db
from engine.models import AuditEvent, Professional
from tests.factories import make_team


def test_a_professional_switches_the_interface_to_english_and_back(app, clock, browser_for):
    make_team(clock, ["infirmier"])
    nurse = browser_for("infirmier")
    assert "Mes tâches" in nurse.client.get("/inbox/").get_data(as_text=True)
    response = nurse.post_form("/account/", "/account/", {"locale": "en", "timezone": "Europe/Paris"})
    assert response.status_code == 302
    assert "My work" in nurse.client.get("/inbox/").get_data(as_text=True)
    nurse.post_form("/account/", "/account/", {"locale": "fr", "timezone": "Europe/Paris"})
    assert "Mes tâches" in nurse.client.get("/inbox/").get_data(as_text=True)
    changes = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "professional.preferences_changed"))
    assert [e.details["locale"] for e in changes] == ["en", "fr"]


def test_a_professional_overseas_sets_their_timezone(app, clock, browser_for):
    _patient, team = make_team(clock, ["infirmier"])
    nurse = browser_for("infirmier")
    response = nurse.post_form("/account/", "/account/", {"locale": "fr", "timezone": "Indian/Reunion"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Professional, team["infirmier"].id).timezone == "Indian/Reunion"
    assert 'value="Indian/Reunion" selected' in nurse.client.get("/account/").get_data(as_text=True)


def test_an_unknown_timezone_or_language_is_refused_next_to_the_field(app, clock, browser_for):
    _patient, team = make_team(clock, ["infirmier"])
    nurse = browser_for("infirmier")
    response = nurse.post_form("/account/", "/account/", {"locale": "de", "timezone": "Mars/Olympus"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="locale-error"' in page and 'id="timezone-error"' in page
    assert "fuseau horaire inconnu" in page
    db.session.expire_all()
    pro = db.session.get(Professional, team["infirmier"].id)
    assert (pro.locale, pro.timezone) == ("fr", "Europe/Paris")
