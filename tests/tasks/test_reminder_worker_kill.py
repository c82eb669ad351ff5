"""A worker killed with SIGKILL in the middle of a batch of e-mail reminders: after a restart, each is sent once.

Real processes and servers, no mocks: a Celery worker and beat on Redis (a database of our own) and
PostgreSQL, the pooled SMTP channel, an SMTP server on loopback (aiosmtpd) counting what it receives. The
doomed worker runs with the test-only slow hook of tasks/reminders.py: each send first leaves a marker, then
sleeps, then hands the message to the SMTP server — after the batch's claim was committed. It is killed while
a send sits in that sleep; a normal worker then takes over the leased rows once their (shortened) lease is over.

The one window this test does not exercise, on purpose: a kill after the SMTP server accepted a message and
before the ``sent`` commit. That reminder is sent again after its lease with the same X-Parcours-Ref and
Message-ID (receivers can drop it), so there a duplicate is possible, never a loss (engine/services/reminders.py).
The doomed worker runs one process (concurrency 1) and the kill follows a new marker within a poll (0.1 s)
while each sleep lasts 2 s, so the kill lands in the sleep; the test checks that it did.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import func, insert, select

from engine.db import db
from engine.models import AuditEvent, Patient, Reminder
from tests.notify.helpers import actions
from tests.notify.smtp_sink import SmtpSink
from tests.tasks.conftest import REDIS_TEST_URL
from tests.tasks.workers import CeleryProcess, database_url, job_env, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

N_REMINDERS = 200
SEND_DELAY_SECONDS = "2"
KILL_AFTER_MARKERS = 4  # three sent and committed, the fourth in its sleep
LEASE_SECONDS = "10"  # the lease starts at the doomed worker's claim: taken over a few seconds after the kill


def _seed_due_reminders(now: datetime) -> list[int]:
    """N patients with an e-mail address and one e-mail reminder each, due a minute ago (bulk rows: the
    planner is not what is under test)."""
    db.session.execute(insert(Patient), [
        {"identifier": f"K-{n:04d}", "family_name": "Martin", "given_name": "Paul", "email": f"k{n}@example.org",
         "phone": None, "preferred_channel": "email", "opt_out_sms": False, "opt_out_email": False,
         "timezone": "Europe/Paris", "language": "fr", "ins_qualified": False, "site": "MSP Test",
         "created_at": now} for n in range(N_REMINDERS)])
    patient_ids = list(db.session.scalars(select(Patient.id).where(Patient.identifier.like("K-%"))))
    due = now - timedelta(minutes=1)
    db.session.execute(insert(Reminder), [
        {"dedup_key": f"kill:{pid}", "patient_id": pid, "recipient": "patient", "channel": "email",
         "template": "rappel_rdv_j7", "params": {}, "appointment_at": now + timedelta(days=7), "send_at": due,
         "next_attempt_at": due, "status": "pending", "attempts": 0, "channel_attempts": 0, "created_at": now}
        for pid in patient_ids])
    db.session.commit()
    return sorted(db.session.scalars(select(Reminder.id)))


def _fresh_read() -> None:
    db.session.rollback()  # a new transaction: see what the workers committed
    db.session.expire_all()


def _statuses() -> Counter[str]:
    _fresh_read()
    return Counter(dict(db.session.execute(select(Reminder.status, func.count()).group_by(Reminder.status)).all()))


def _refs(sink: SmtpSink) -> list[str]:
    return [str(received.message["X-Parcours-Ref"]) for received in list(sink.received)]


def _dispatches_done(worker: CeleryProcess) -> int:
    return len(re.findall(r"parcours\.reminders\.dispatch\[[^\]]+\] succeeded", worker.output))


def test_each_reminder_is_sent_exactly_once_when_the_worker_is_killed_mid_batch(
        pg_app: Flask, redis_db: redis.Redis, processes: list[CeleryProcess], tmp_path: Path) -> None:
    ids = _seed_due_reminders(datetime.now(UTC))
    markers = tmp_path / "sending"
    markers.mkdir()
    with SmtpSink() as sink:
        env = job_env(tmp_path, database_url(pg_app), REDIS_TEST_URL, PARCOURS_NOTIFY_EMAIL_URL=sink.smtp_url,
                      PARCOURS_REMINDER_DISPATCH_SECONDS="1", PARCOURS_NOTIFY_LEASE_SECONDS=LEASE_SECONDS,
                      PARCOURS_QUIET_HOURS="none", PARCOURS_QUIET_SUNDAYS="0")  # any hour: no quiet window
        slow = {**env, "PARCOURS_TEST_SEND_DELAY_SECONDS": SEND_DELAY_SECONDS,
                "PARCOURS_TEST_SEND_MARKER_DIR": str(markers)}
        processes.append(doomed := CeleryProcess("worker", slow, tmp_path / "doomed.log", "--concurrency", "1"))
        processes.append(beat := CeleryProcess("beat", env, tmp_path / "beat.log"))

        wait_until(lambda: len(list(markers.iterdir())) >= KILL_AFTER_MARKERS, 120, "the worker sent nothing",
                   doomed, beat)
        doomed.kill()  # SIGKILL, worker and pool process, while a send sleeps after its claim's commit

        started = sorted(int(marker.name.split("-")[0]) for marker in markers.iterdir())
        statuses = _statuses()
        leased = set(db.session.scalars(select(Reminder.id).where(Reminder.status == "sending")))
        sent_before = set(db.session.scalars(select(Reminder.id).where(Reminder.status == "sent")))
        # The doomed worker claimed the whole batch in one committed claim, sent all but the last marked one,
        # and the last marked one never reached the SMTP server: the kill landed in the sleep.
        assert statuses == {"sent": len(started) - 1, "sending": N_REMINDERS - len(started) + 1}, statuses
        assert sent_before == set(started[:-1]) and started[-1] in leased
        assert sorted(_refs(sink)) == sorted(f"parcours-{rid}-email" for rid in sent_before)

        processes.append(worker := CeleryProcess("worker", env, tmp_path / "worker.log", "--concurrency", "1"))
        wait_until(lambda: _statuses()["sent"] == N_REMINDERS, 180, "not every reminder was sent after the restart",
                   worker, beat)
        # Two more dispatch rounds after the last send: nothing left to send twice.
        done = _dispatches_done(worker)
        wait_until(lambda: _dispatches_done(worker) >= done + 2, 60, "the dispatch stopped running", worker, beat)
        refs = _refs(sink)
        message_ids = [str(received.message["Message-ID"]) for received in list(sink.received)]

    assert Counter(refs) == {f"parcours-{rid}-email": 1 for rid in ids}
    assert sorted(message_ids) == sorted(f"<parcours-{rid}-email@parcours>" for rid in ids)
    _fresh_read()
    sent_audits = Counter(db.session.scalars(select(AuditEvent.object_id).where(
        AuditEvent.object_type == "reminder", AuditEvent.action == "reminder.sent")))
    assert sent_audits == {str(rid): 1 for rid in ids}
    for rid in leased:
        assert actions(rid) == ["reminder.lease_expired", "reminder.sent"]
    for rid in sent_before:
        assert actions(rid) == ["reminder.sent"]
    # The killed attempt was never committed: each reminder counts one attempt, the one that went out.
    assert set(db.session.scalars(select(Reminder.attempts))) == {1}
    assert "parcours.reminders.dispatch" in worker.output
