"""API test fixtures: a bearer token per professional, a care team on a deployed pathway, an outsider."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from engine.clock import ManualClock
from engine.db import db
from engine.models import Patient, Professional
from engine.services.api_tokens import issue_token
from engine.services.instances import enrol_patient
from engine.services.people import create_professional
from engine.types import Actor
from tests.factories import deploy_test_bpmn, make_team
from tests.webapp.conftest import FreshRequestClient


class ApiClient:
    """The test client speaking to /api/v1 with a bearer token."""

    def __init__(self, app: Flask, token: str | None) -> None:
        app.test_client_class = FreshRequestClient
        self.client = app.test_client()
        self.token = token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(extra or {})
        return headers

    def get(self, path: str, headers: dict[str, str] | None = None) -> TestResponse:
        return self.client.get(path, headers=self._headers(headers))

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> TestResponse:
        return self.client.post(path, json=json, headers=self._headers(headers))


def token_for(login: str, clock: ManualClock, *, days: int | None = None) -> str:
    issued = issue_token(login, f"test {login}", clock=clock, actor=Actor.cli(), days=days)
    db.session.commit()
    return issued.plain


@pytest.fixture
def api_for(app: Flask, clock: ManualClock) -> Callable[[str], ApiClient]:
    def make(login: str) -> ApiClient:
        return ApiClient(app, token_for(login, clock))

    return make


@dataclass
class Ward:
    """A patient on the nurse-then-GP pathway, their care team, and a nurse from elsewhere."""

    patient: Patient
    team: dict[str, Professional]
    outsider: Professional
    instance_id: int
    work_item_id: int


@pytest.fixture
def ward(app: Flask, clock: ManualClock) -> Ward:
    patient, team = make_team(clock, ["infirmier", "medecin_traitant"])
    outsider = create_professional("intrus", "Inf. Ailleurs", ["infirmier"], at=clock.now(), site="Autre site",
                                   password="demo")
    deploy_test_bpmn("nurse_then_gp", clock)
    outcome = enrol_patient(patient.id, "nurse_then_gp", actor=Actor.cli(), clock=clock)
    db.session.commit()
    return Ward(patient, team, outsider, outcome.instance_id, outcome.opened_work_items[0])


def problem(response: TestResponse) -> dict[str, Any]:
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]
