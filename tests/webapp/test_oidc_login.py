"""The OIDC login path (Pro Santé Connect ready), against a real OIDC provider on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from engine.db import db
from engine.models import AuditEvent, Professional
from tests.conftest import make_app
from tests.factories import make_team
from tests.webapp.conftest import FreshRequestClient
from tests.webapp.oidc_provider import FakeProvider

_MADE: list[Flask] = []


@pytest.fixture(autouse=True)
def _dispose_oidc_apps() -> Iterator[None]:
    """Each test builds an app of its own (OIDC configured at creation): close its pooled connections."""
    yield
    while _MADE:
        with _MADE.pop().app_context():
            db.engine.dispose()


def _oidc_app(app: Flask, issuer: str) -> Flask:
    oidc_app = make_app(app.config["SQLALCHEMY_DATABASE_URI"], app.extensions["parcours_clock"],
                        PARCOURS_OIDC_ISSUER=issuer, PARCOURS_OIDC_CLIENT_ID="parcours",
                        PARCOURS_OIDC_CLIENT_SECRET="secret")  # noqa: S106 - test client secret
    oidc_app.test_client_class = FreshRequestClient
    _MADE.append(oidc_app)
    return oidc_app


def _sign_in(oidc_app: Flask, provider: FakeProvider, code: str = "good-code"):  # type: ignore[no-untyped-def]
    client = oidc_app.test_client()
    start = client.get("/auth/oidc/login")
    assert start.status_code == 302
    location = urlsplit(start.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == provider.issuer
    query = parse_qs(location.query)
    provider.nonce = query["nonce"][0]
    callback = client.get(f"/auth/oidc/callback?code={code}&state={query['state'][0]}")
    return client, callback


def test_oidc_is_off_by_default(app, clock, web):
    assert web.client.get("/auth/oidc/login").status_code == 404
    assert "Pro Santé Connect" not in web.client.get("/auth/login").get_data(as_text=True)


def test_a_linked_professional_signs_in_with_the_identity_provider(app, clock):
    _patient, team = make_team(clock, ["infirmier"])
    with FakeProvider("parcours") as provider:
        provider.subject = "psc-8100000001"
        db.session.get(Professional, team["infirmier"].id).oidc_subject = provider.subject
        db.session.commit()
        oidc_app = _oidc_app(app, provider.issuer)
        assert "Pro Santé Connect" in oidc_app.test_client().get("/auth/login").get_data(as_text=True)
        client, callback = _sign_in(oidc_app, provider)
        assert callback.status_code == 302 and callback.headers["Location"] == "/"
        assert client.get("/inbox/").status_code == 200
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login"))
    assert event is not None and (event.actor_label, event.outcome, event.details) == (
        "infirmier", "success", {"method": "oidc"})


def test_an_identity_linked_to_nobody_is_refused(app, clock):
    make_team(clock, ["infirmier"])
    with FakeProvider("parcours") as provider:
        provider.subject = "psc-unknown"
        oidc_app = _oidc_app(app, provider.issuer)
        client, callback = _sign_in(oidc_app, provider)
        assert callback.status_code == 302 and callback.headers["Location"] == "/auth/login"
        assert "rattaché à aucun professionnel" in client.get("/auth/login").get_data(as_text=True)
        assert client.get("/inbox/").status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login"))
    assert event is not None and event.outcome == "denied"


def test_a_refused_token_exchange_is_a_readable_refusal(app, clock):
    with FakeProvider("parcours") as provider:
        oidc_app = _oidc_app(app, provider.issuer)
        client, callback = _sign_in(oidc_app, provider, code="bad-code")
        assert callback.status_code == 302 and callback.headers["Location"] == "/auth/login"
        assert client.get("/inbox/").status_code == 302


def test_an_unreachable_provider_is_a_readable_error(app, clock):
    with FakeProvider("parcours") as provider:
        issuer = provider.issuer
    oidc_app = _oidc_app(app, issuer)  # the provider is gone: discovery cannot be read
    response = oidc_app.test_client().get("/auth/oidc/login")
    assert response.status_code == 503
    assert "injoignable" in response.get_data(as_text=True)


def test_an_id_token_with_the_wrong_nonce_is_refused(app, clock):
    _patient, team = make_team(clock, ["infirmier"])
    with FakeProvider("parcours") as provider:
        db.session.get(Professional, team["infirmier"].id).oidc_subject = provider.subject
        db.session.commit()
        oidc_app = _oidc_app(app, provider.issuer)
        client = oidc_app.test_client()
        query = parse_qs(urlsplit(client.get("/auth/oidc/login").headers["Location"]).query)
        provider.nonce = "replayed-nonce"
        callback = client.get(f"/auth/oidc/callback?code=good-code&state={query['state'][0]}")
        assert callback.status_code == 302 and callback.headers["Location"] == "/auth/login"
        assert client.get("/inbox/").status_code == 302
