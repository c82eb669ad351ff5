"""The diagram in a real browser (Debian's Chromium through Playwright): bpmn-js draws the shoulder pathway
under the app's CSP, with the J+1 call marked done and the urgent surgeon opinion active."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from engine.db import db
from engine.models import Professional
from tests.conftest import REPO
from tests.pathways.test_rrac_epaule import _enrol, _to_j1_call

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install '.[test]')")
pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's Chromium (/usr/bin/chromium) "
                                "is not installed; no downloaded browser is used")


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The app served on a free loopback port for the length of the test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_diagram_shows_the_j1_call_done_and_the_urgent_opinion_active_in_the_browser(app, clock, live_url):
    w = _enrol(clock)
    _to_j1_call(w)
    w.complete("infirmier", "Task_AppelJ1", patient_joint="oui", douleur_nrs=8)
    nurse = db.session.scalar(select(Professional).where(Professional.login == "infirmier"))
    nurse.password_hash = generate_password_hash("demo")
    db.session.commit()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            blocked: list[str] = []
            page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{live_url}/auth/login")
            page.fill("input[name=login]", "infirmier")
            page.fill("input[name=password]", "demo")
            page.click("button[type=submit]")
            page.goto(f"{live_url}/patients/{w.patient.id}/instances/{w.instance_id}")
            page.wait_for_selector("#diagram[data-markers-ready='1']", timeout=30_000)
            assert page.locator("[data-element-id='Task_AppelJ1'].step-done").count() == 1
            assert page.locator("[data-element-id='Task_AvisChirurgienUrgent'].step-active").count() == 1
            assert page.locator(".bjs-powered-by").is_visible()  # the bpmn.io watermark (its licence)
            assert blocked == []
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(Path(ARTIFACTS) / f"diagram-{app.config['TEST_BACKEND']}.png"))
        finally:
            browser.close()
