"""Edge inputs a fuzzer of one pathway would not reach: extreme dates, on a pathway with anchor dates."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from tests.factories import deploy_file


@pytest.mark.parametrize("when", ["0001-01-01", "9999-12-31", "0001-01-01T00:00:00+01:00",
                                  "9999-12-31T23:59:59-05:00", "2026-02-30", "demain"])
def test_an_extreme_or_broken_anchor_date_never_gets_a_server_error(app, clock, ward, api_for, when):
    deploy_file(REPO / "workflows" / "bpmn" / "rrac_epaule.bpmn", clock)
    response = api_for("infirmier").post(f"/api/v1/patients/{ward.patient.id}/enrolments",
                                         json={"pathway": "rrac_epaule", "context": {"date_chirurgie": when}})
    assert response.status_code in (201, 409, 422), response.get_data(as_text=True)


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00"])
def test_a_care_team_period_out_of_range_is_refused_with_422(app, clock, ward, api_for, when):
    response = api_for("infirmier").post(f"/api/v1/patients/{ward.patient.id}/care-team",
                                         json={"professional": "intrus", "role": "infirmier", "start": when})
    assert response.status_code == 422, response.get_data(as_text=True)
