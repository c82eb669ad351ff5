"""The browser scenario's data hold at any hour: the J+1 call is open even when the tests run before 10:00."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from engine.db import db
from engine.models import WorkItem
from tests.browser.scenario import J1_CALL, j1_call_opens, patient_operated_yesterday
from webapp.cli.demo import PARIS

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("hour", [time(7, 30), time(16, 0)], ids=["before-the-call", "after-the-call"])
def test_the_j1_call_of_a_patient_operated_yesterday_is_open_when_the_run_starts_at(live_server, hour):
    now = datetime.combine(datetime.now(PARIS).date(), hour, PARIS)
    with live_server.database():
        patient = patient_operated_yesterday(now=now)
        call = db.session.get(WorkItem, patient.call_id)
        assert call is not None and call.element_id == J1_CALL and call.status == "open"
        assert call.created_at == j1_call_opens(now)
        assert call.due_at == j1_call_opens(now) + timedelta(hours=2)
        assert call.assignee_id is not None
