"""Studio (drafts) web fixtures: drafts cleared around each test, a care manager and a nurse, rrac_epaule v1."""

from __future__ import annotations

import pytest

from engine.db import db
from engine.services.people import create_professional
from tests.conftest import REPO
from tests.factories import deploy_file

RRAC = REPO / "workflows" / "bpmn" / "rrac_epaule.bpmn"


@pytest.fixture
def people(app, clock) -> None:
    create_professional("coordinateur", "Claire Coordinatrice", ["coordinateur"], at=clock.now(), site="MSP Test",
                        password="demo")
    create_professional("infirmier", "Ines Infirmière", ["infirmier"], at=clock.now(), site="MSP Test",
                        password="demo")
    db.session.commit()


@pytest.fixture
def rrac_v1(app, clock) -> int:
    return deploy_file(RRAC, clock)
