"""Signing in and out in a real browser: the login page, a wrong password, the inbox after login, logout."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engine.db import db
from engine.models import Professional
from tests.browser.pages import sign_in, sign_out

pytestmark = pytest.mark.browser


def test_login_page_asks_for_an_identifier_and_a_password_when_signed_out(open_page, shots):
    page = open_page("visiteur")
    page.goto("/inbox/")
    expect(page).to_have_url(re.compile(r"/auth/login\?next="))
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    expect(page.get_by_label("Identifiant", exact=True)).to_be_visible()
    expect(page.get_by_label("Mot de passe", exact=True)).to_have_attribute("type", "password")
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    shots.take(page, "page-de-connexion")


def test_a_wrong_password_says_so_and_keeps_the_user_out(open_page, shots):
    page = open_page("infirmier")
    sign_in(page, "infirmier", "mauvais-mot-de-passe")
    expect(page.get_by_role("alert")).to_have_text("Identifiant ou mot de passe incorrect.")
    expect(page.get_by_label("Identifiant", exact=True)).to_have_value("infirmier")
    expect(page.get_by_label("Mot de passe", exact=True)).to_have_value("")
    shots.take(page, "mot-de-passe-incorrect")
    page.goto("/inbox/")
    expect(page).to_have_url(re.compile(r"/auth/login"))


def test_login_opens_the_inbox_with_the_professional_s_name(live_server, open_page, shots):
    with live_server.database():
        name = db.session.scalar(select(Professional.full_name).where(Professional.login == "infirmier"))
    page = open_page("infirmier")
    sign_in(page, "infirmier")
    expect(page).to_have_url(re.compile(r"/inbox/"))
    expect(page.get_by_role("heading", name="Mes tâches", exact=True)).to_be_visible()
    expect(page.locator("header .who")).to_have_text(name)
    shots.take(page, "boite-de-travail")


def test_logout_returns_to_the_login_page_and_ends_the_session(open_page, shots):
    page = open_page("infirmier")
    sign_in(page, "infirmier")
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    sign_out(page)
    expect(page).to_have_url(re.compile(r"/auth/login$"))
    expect(page.get_by_role("button", name="Se déconnecter")).to_have_count(0)
    shots.take(page, "deconnecte")
    page.goto("/inbox/")
    expect(page).to_have_url(re.compile(r"/auth/login\?next="))
