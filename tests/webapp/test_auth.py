"""Login, logout, sessions and the headers every page carries."""

from __future__ import annotations

from sqlalchemy import select

from engine.db import db
from engine.models import AuditEvent
from tests.factories import make_team
from tests.webapp.conftest import WebUser, csrf_token


def test_login_with_the_right_password_opens_the_inbox(app, clock, web: WebUser):
    make_team(clock, ["infirmier"])
    response = web.login("infirmier")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert web.client.get("/", follow_redirects=True).status_code == 200
    assert "Mes tâches" in web.client.get("/inbox/").get_data(as_text=True)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login")).all()
    assert [(e.actor_label, e.outcome) for e in events] == [("infirmier", "success")]


def test_login_with_a_wrong_password_is_refused_and_audited(app, clock, web: WebUser):
    make_team(clock, ["infirmier"])
    response = web.login("infirmier", "wrong")
    assert response.status_code == 401
    assert "Identifiant ou mot de passe incorrect" in response.get_data(as_text=True)
    assert web.client.get("/inbox/").status_code == 302  # still signed out
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login"))
    assert event is not None and event.outcome == "denied"


def test_unknown_login_reads_like_a_wrong_password(app, clock, web: WebUser):
    response = web.login("nobody", "demo")
    assert response.status_code == 401
    assert "Identifiant ou mot de passe incorrect" in response.get_data(as_text=True)


def test_pages_need_a_session_and_come_back_after_login(app, clock, web: WebUser):
    make_team(clock, ["infirmier"])
    response = web.client.get("/inbox/?overdue=1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")
    page = web.client.get(response.headers["Location"])
    after = web.client.post(response.headers["Location"], data={"login": "infirmier", "password": "demo",
                                                                "csrf_token": csrf_token(page)})
    assert after.headers["Location"] == "/inbox/?overdue=1"


def test_login_never_redirects_off_site(app, clock, web: WebUser):
    make_team(clock, ["infirmier"])
    page = web.client.get("/auth/login?next=//evil.example/x")
    response = web.client.post("/auth/login?next=//evil.example/x", data={
        "login": "infirmier", "password": "demo", "csrf_token": csrf_token(page)})
    assert response.headers["Location"] == "/"


def test_a_form_without_its_csrf_token_is_refused(app, clock, web: WebUser):
    make_team(clock, ["infirmier"])
    response = web.client.post("/auth/login", data={"login": "infirmier", "password": "demo"})
    assert response.status_code == 400
    assert web.client.get("/inbox/").status_code == 302


def test_logout_ends_the_session(app, clock, web: WebUser):
    make_team(clock, ["infirmier"])
    web.login("infirmier")
    response = web.post_form("/inbox/", "/auth/logout", {})
    assert response.status_code == 302
    assert web.client.get("/inbox/").status_code == 302


def test_login_is_rate_limited(app, clock, web: WebUser):
    make_team(clock, ["infirmier"])
    app.config["PARCOURS_LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = [web.login("infirmier", "wrong").status_code for _ in range(4)]
    finally:
        app.config["PARCOURS_LOGIN_RATE_LIMIT"] = "1000 per minute"
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3] == 429


def test_every_page_carries_security_headers(app, clock, web: WebUser):
    response = web.client.get("/auth/login")
    headers = response.headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_english_is_available(app, clock, web: WebUser):
    page = web.client.get("/auth/login", headers={"Accept-Language": "en"})
    assert "Sign in" in page.get_data(as_text=True)
    page = web.client.get("/auth/login", headers={"Accept-Language": "fr"})
    assert "Se connecter" in page.get_data(as_text=True)
