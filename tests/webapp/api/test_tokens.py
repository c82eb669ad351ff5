"""Token authentication: a bearer token of a professional, never the session cookie."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.db import db
from engine.models import ApiToken, AuditEvent
from engine.services.api_tokens import revoke_token
from engine.types import Actor
from tests.webapp.api.conftest import ApiClient, problem, token_for
from tests.webapp.conftest import WebUser
from webapp.cli import main


def test_a_valid_token_reads_my_patients_and_marks_the_token_used(app, clock, ward):
    api = ApiClient(app, token_for("infirmier", clock))
    response = api.get("/api/v1/patients")
    assert response.status_code == 200
    assert [p["identifier"] for p in response.get_json()["items"]] == ["P-001"]
    assert db.session.scalar(select(ApiToken.last_used_at)) is not None


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer pct_not-a-token", "Basic aW5maXJtaWVyOmRlbW8=",
                                    "bearer " + "x" * 500])
def test_calls_are_refused_with_401_when_the_token_is_missing_or_wrong(app, clock, ward, header):
    client = ApiClient(app, None)
    response = client.get("/api/v1/patients", headers={"Authorization": header} if header else None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in problem(response)["detail"]


def test_a_revoked_token_is_refused(app, clock, ward):
    token = token_for("infirmier", clock)
    api = ApiClient(app, token)
    assert api.get("/api/v1/patients").status_code == 200
    revoke_token(db.session.scalar(select(ApiToken.id)), clock=clock, actor=Actor.cli())
    db.session.commit()
    response = api.get("/api/v1/patients")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_an_expired_token_is_refused(app, clock, ward):
    api = ApiClient(app, token_for("infirmier", clock, days=1))
    assert api.get("/api/v1/patients").status_code == 200
    clock.advance(timedelta(days=1, seconds=1))
    assert api.get("/api/v1/patients").status_code == 401


def test_the_session_cookie_alone_does_not_authenticate_api_calls(app, clock, ward, web: WebUser):
    assert web.login("infirmier").status_code == 302
    assert web.client.get("/inbox/").status_code == 200  # signed in for the pages
    response = web.client.get("/api/v1/patients")
    assert response.status_code == 401
    response = web.client.post(f"/api/v1/work-items/{ward.work_item_id}/claim")
    assert response.status_code == 401


def test_the_cli_creates_lists_and_revokes_tokens(app, clock, ward):
    runner = app.test_cli_runner()
    created = runner.invoke(main, args=["token", "create", "--user", "infirmier", "--name", "Labo", "--days", "30"])
    assert created.exit_code == 0, created.output
    plain = created.stdout.strip().splitlines()[-1]
    assert plain.startswith("pct_")
    assert plain not in {t.token_hash for t in db.session.scalars(select(ApiToken))}
    api = ApiClient(app, plain)
    assert api.get("/api/v1/patients").status_code == 200
    listed = runner.invoke(main, args=["token", "list", "--json"])
    assert '"status": "active"' in listed.output and plain not in listed.output
    token_id = db.session.scalar(select(ApiToken.id))
    assert runner.invoke(main, args=["token", "revoke", str(token_id)]).exit_code == 0
    db.session.expire_all()
    assert api.get("/api/v1/patients").status_code == 401
    assert runner.invoke(main, args=["token", "revoke", str(token_id)]).exit_code == 1
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"api_token.issued", "api_token.revoked"} <= actions


def test_an_unknown_user_gets_no_token(app, clock, ward):
    result = app.test_cli_runner().invoke(main, args=["token", "create", "--user", "nobody", "--name", "x"])
    assert result.exit_code == 1
    assert "nobody" in result.output


def test_a_deactivated_professional_token_is_refused(app, clock, ward):
    api = ApiClient(app, token_for("infirmier", clock))
    ward.team["infirmier"].active = False
    db.session.commit()
    assert api.get("/api/v1/patients").status_code == 401


def test_the_cli_creates_a_service_account_for_a_provider_and_refuses_a_clinician_as_one(app, clock, ward):
    runner = app.test_cli_runner()
    created = runner.invoke(main, args=["token", "create", "--service-account", "--user", "sms-gateway",
                                        "--name", "Passerelle SMS"])
    assert created.exit_code == 0, created.output
    provider = ApiClient(app, created.stdout.strip().splitlines()[-1])
    assert provider.get("/api/v1/patients").get_json()["items"] == []  # no patient access at all
    clinician = runner.invoke(main, args=["token", "create", "--service-account", "--user", "infirmier",
                                          "--name", "x"])
    assert clinician.exit_code == 1 and "not a service account" in clinician.output
