"""`parcours reminders` and `parcours tick` dispatching reminders, as subprocesses on a demo database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.cli.helpers import Cli, assert_ok, assert_readable_failure
from tests.notify.smtp_sink import SmtpSink, free_port

FAR = (datetime.now(UTC) + timedelta(days=400)).replace(hour=10).isoformat(timespec="seconds")


def _dispatched(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("reminders:")]
    assert lines, f"tick does not summarise the reminders: {stdout!r}"
    return lines[0]


def test_tick_sends_due_reminders_and_reminders_json_lists_their_delivery(any_demo_cli: Cli) -> None:
    with SmtpSink() as sink:
        result = assert_ok(any_demo_cli.run("tick", "--now", FAR, env={"PARCOURS_NOTIFY_EMAIL_URL": sink.apprise_url}))
        received = sink.wait_for(1)
    summary = _dispatched(result.stdout)
    assert "0 failed" in summary and "0 error(s)" in summary, result
    assert "escalation(s)" in result.stdout
    assert received and all(r.recipients[0].endswith("@demo.invalid") for r in received)
    assert all("Ouvrez-la dans Parcours" in r.text for r in received)
    rows = assert_ok(any_demo_cli.run("reminders", "--json")).json()
    sent = [row for row in rows if row["status"] == "sent"]
    assert len([row for row in sent if row["channel"] == "email"]) == len(received)
    assert all(row["attempts"] == 1 and row["provider_id"] for row in sent)
    assert {row["status"] for row in rows} <= {"sent", "cancelled"}
    only_sent = assert_ok(any_demo_cli.run("reminders", "--json", "--status", "sent")).json()
    assert [row["id"] for row in only_sent] == [row["id"] for row in sent]
    again = assert_ok(any_demo_cli.run("tick", "--now", FAR))
    assert _dispatched(again.stdout).startswith("reminders: 0 sent"), again


def test_tick_exits_1_and_says_so_when_reminders_cannot_be_delivered(demo_cli: Cli) -> None:
    nobody = f"mailto://127.0.0.1:{free_port()}?from=rappels@parcours.test&mode=insecure"
    result = demo_cli.run("tick", "--now", FAR, env={"PARCOURS_NOTIFY_EMAIL_URL": nobody,
                                                     "PARCOURS_NOTIFY_MAX_ATTEMPTS": "1"})
    assert_readable_failure(result, "could not be delivered")
    failed = assert_ok(demo_cli.run("reminders", "--json", "--status", "failed")).json()
    assert failed and all(row["error"] and row["attempts"] == 1 for row in failed)


def test_receipt_callback_is_idempotent_and_stop_from_an_unknown_sender_fails_readably(demo_cli: Cli) -> None:
    assert_ok(demo_cli.run("tick", "--now", FAR))
    sent = assert_ok(demo_cli.run("reminders", "--json", "--status", "sent")).json()
    provider_id = sent[0]["provider_id"]
    first = assert_ok(demo_cli.run("reminders", "callback", provider_id, "DELIVRD"))
    assert "delivered" in first.stdout
    again = assert_ok(demo_cli.run("reminders", "callback", provider_id, "DELIVRD"))
    assert "duplicate" in again.stdout
    assert_readable_failure(demo_cli.run("reminders", "callback", provider_id, "PEUT-ETRE"), "unknown delivery status")
    assert_readable_failure(demo_cli.run("reminders", "stop", "+33799999999"), "no patient")
    assert_readable_failure(demo_cli.run("tick", "--now", FAR, env={"PARCOURS_QUIET_HOURS": "vingt heures"}),
                            "quiet hours")
