"""The Celery jobs' bodies called directly (STYLE: jobs are thin; the worker and beat tests live with the Celery app).

``.run`` is the job's own function: calling the task object would go through whichever Celery app the process
bound last (its Flask task base pushes that app's context), not the test's app.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from engine.clock import ManualClock
from tasks.reminders import dispatch_reminders, send_one_reminder, sweep_work_items
from tests.conftest import PARIS
from tests.notify.helpers import enrol_critical_reminder, outbox, patient_with_team


def test_jobs_send_a_reminder_once_and_sweep_when_called_with_ids(app: Flask, clock: ManualClock) -> None:
    clock.set(datetime(2026, 11, 16, 10, 0, tzinfo=PARIS))
    first = enrol_critical_reminder(clock, patient_with_team(clock)).id
    second = enrol_critical_reminder(clock, patient_with_team(clock, identifier="P-002")).id
    assert send_one_reminder.run(first) == "sent"
    assert send_one_reminder.run(first) == "skipped"
    assert dispatch_reminders.run(limit=10)["sent"] == 1
    assert len(outbox(first)) == 1 and len(outbox(second)) == 1
    assert set(sweep_work_items.run()) == {"invitations", "due_soon", "overdue", "escalations"}
