"""Every file of the BPMN MIWG corpus, uploaded through the drafts page (test client) and deployed, gives a
deployed version or a readable list of located problems: never a server error."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from engine.db import db
from engine.models import PathwayDraft, PathwayVersion
from engine.services.people import create_professional
from tests.webapp.conftest import FreshRequestClient, WebUser

CORPUS = Path(__file__).resolve().parent / "miwg"  # the BPMN MIWG reference models, CC BY 3.0 (see its README)
PROBLEM = re.compile(r'<li data-element-id="([^"]+)">(.*?)</li>', re.S)


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.bpmn")) if CORPUS.is_dir() else [CORPUS / "MISSING.bpmn"]


@pytest.fixture
def manager(app: Flask, clock) -> WebUser:
    """A care manager signed in through the login form."""
    create_professional("coordinateur", "Claire Coordinatrice", ["coordinateur"], at=clock.now(), site="MSP Test",
                        password="demo")
    db.session.commit()
    app.test_client_class = FreshRequestClient
    user = WebUser(app.test_client())
    assert user.login("coordinateur").status_code == 302
    return user


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_miwg_file_uploaded_deploys_or_lists_its_problems(manager: WebUser, path: Path) -> None:
    if not path.is_file():
        pytest.fail(f"MIWG corpus not found: looked for *.bpmn in {CORPUS}")
    uploaded = manager.client.post("/studio/drafts/new", data={
        "csrf_token": manager.token_of("/studio/drafts/"), "file": (io.BytesIO(path.read_bytes()), path.name)},
        content_type="multipart/form-data")
    if uploaded.status_code == 422:  # refused as XML: the page says why
        assert "Fichier refusé" in uploaded.get_data(as_text=True)
        print(f"{path.name}: upload refused")
        return
    assert uploaded.status_code == 302, uploaded.status_code
    draft = db.session.scalar(select(PathwayDraft))
    page = manager.client.get(f"/studio/drafts/{draft.id}/")
    assert page.status_code == 200
    confirm = manager.client.get(f"/studio/drafts/{draft.id}/deploy")
    assert confirm.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', confirm.get_data(as_text=True))
    assert token
    deployed = manager.client.post(f"/studio/drafts/{draft.id}/deploy",
                                   data={"revision": str(draft.revision), "csrf_token": token.group(1)})
    if deployed.status_code == 302:
        version = db.session.scalar(select(PathwayVersion).where(PathwayVersion.key == draft.key))
        assert version is not None
        print(f"{path.name}: deployed as {version.key} v{version.version}")
        return
    assert deployed.status_code == 422, deployed.status_code
    problems = PROBLEM.findall(deployed.get_data(as_text=True))
    assert problems, "a refused deploy lists its problems"
    for element_id, reason in problems:
        assert element_id and re.sub(r"<[^>]+>", "", reason).strip(), (element_id, reason)
    assert db.session.scalar(select(PathwayVersion).where(PathwayVersion.key == draft.key)) is None
    print(f"{path.name}: refused, {len(problems)} problem(s); first: {problems[0][0]}")
