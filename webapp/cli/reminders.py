"""CLI: reminders (list, dispatch, provider receipts, inbound STOP, preferences) and one-time patient links."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from engine.db import db
from engine.models import Reminder
from engine.notify.channels import close_channels
from engine.services.delivery import handle_inbound_stop, record_delivery_receipt, set_contact_preferences
from engine.services.patient_links import PatientLinkError, complete_via_patient_link, open_patient_link
from engine.services.reminder_queries import STATUSES, list_reminders
from engine.services.reminders import DispatchReport, dispatch_due_reminders
from webapp.cli.support import (
    actor_from_login,
    clock,
    echo_json,
    fail,
    local,
    parse_json_option,
    transactional,
)
from webapp.notify import notify_channels, notify_settings


def reminder_row(r: Reminder) -> dict[str, Any]:
    return {"id": r.id, "patient_id": r.patient_id, "recipient": r.recipient, "professional_id": r.professional_id,
            "channel": r.channel, "template": r.template, "send_at": r.send_at, "next_attempt_at": r.next_attempt_at,
            "appointment_at": r.appointment_at, "status": r.status, "status_reason": r.status_reason,
            "attempts": r.attempts, "fallback_from": r.fallback_from, "provider_id": r.provider_id,
            "provider_status": r.provider_status, "sent_at": r.sent_at, "delivered_at": r.delivered_at,
            "work_item_id": r.work_item_id, "error": r.error}


def dispatch_summary(report: DispatchReport) -> str:
    return (f"reminders: {report.sent} sent, {report.deferred} deferred (quiet hours), {report.cancelled} cancelled, "
            f"{report.retrying} to retry, {report.failed} failed, {len(report.errors)} error(s)")


@click.group("reminders", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
              help="Only reminders in this status (repeatable).")
@click.option("--user", default=None, help="As this professional: only their patients' reminders.")
@click.pass_context
def reminders_group(ctx: click.Context, as_json: bool, statuses: tuple[str, ...], user: str | None) -> None:
    """List reminders (planned, sent, delivered, failed) with their delivery status and attempts."""
    if ctx.invoked_subcommand is None:
        _list(as_json, statuses, user)


@transactional
def _list(as_json: bool, statuses: tuple[str, ...], user: str | None) -> None:
    rows = [reminder_row(r) for r in list_reminders(actor_from_login(user), clock=clock(), statuses=statuses)]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no reminder")
    for row in rows:
        when = row["sent_at"] or row["next_attempt_at"] or row["send_at"]
        reason = f" ({row['status_reason']})" if row["status_reason"] else ""
        click.echo(f"{row['id']:>6} {local(when):%Y-%m-%d %H:%M} {row['status'] + reason:<28} {row['channel']:<6} "
                   f"attempts {row['attempts']}  {row['recipient']:<16} {row['template']}")


@reminders_group.command("dispatch")
@click.option("--limit", type=click.IntRange(1, 100000), default=500, help="At most this many reminders.")
@with_appcontext
def dispatch_command(limit: int) -> None:
    """Send the reminders due now (what `tick` does, without the timers)."""
    channels = notify_channels()
    try:
        report = dispatch_due_reminders(clock=clock(), channels=channels, settings=notify_settings(), limit=limit)
    finally:
        close_channels(channels)
    click.echo(dispatch_summary(report))
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    if report.errors or report.failed:
        raise SystemExit(1)


@reminders_group.command("callback")
@click.argument("provider_id")
@click.argument("status")
@with_appcontext
@transactional
def callback_command(provider_id: str, status: str) -> None:
    """Record a provider delivery receipt (DELIVRD, UNDELIV, EXPIRED...); a repeated receipt changes nothing."""
    outcome = record_delivery_receipt(provider_id, status, clock=clock())
    if outcome.reminder_id is None:
        click.echo(f"receipt recorded; no reminder has provider id {provider_id!r}")
    elif outcome.duplicate:
        click.echo(f"duplicate receipt ignored; reminder {outcome.reminder_id} is {outcome.status}")
    else:
        click.echo(f"reminder {outcome.reminder_id}: {outcome.status}")


@reminders_group.command("stop")
@click.argument("sender")
@click.option("--keyword", default="STOP", help="The word received (STOP, ARRET).")
@with_appcontext
@transactional
def stop_command(sender: str, keyword: str) -> None:
    """An inbound STOP from SENDER (phone number or e-mail address): opt that channel out."""
    patients = handle_inbound_stop(sender, clock=clock(), keyword=keyword)
    if not patients:
        fail("no patient has this phone number or e-mail address (recorded)")
    click.echo(f"opted out: {len(patients)} patient(s)")


@reminders_group.command("preferences")
@click.argument("patient")
@click.option("--channel", type=click.Choice(["sms", "email"]), default=None, help="Preferred channel.")
@click.option("--opt-out", "opt_out", multiple=True, type=click.Choice(["sms", "email"]))
@click.option("--opt-in", "opt_in", multiple=True, type=click.Choice(["sms", "email"]))
@click.option("--quiet-hours", default=None, help='The patient\'s quiet window, e.g. "21:00-08:00" ("" = default).')
@click.option("--user", default=None, help="Act as this professional.")
@with_appcontext
@transactional
def preferences_command(patient: str, channel: str | None, opt_out: tuple[str, ...], opt_in: tuple[str, ...],
                        quiet_hours: str | None, user: str | None) -> None:
    """Change a patient's contact preferences."""
    changes = {**dict.fromkeys(opt_in, False), **dict.fromkeys(opt_out, True)}
    row = set_contact_preferences(patient, actor=actor_from_login(user), clock=clock(), preferred_channel=channel,
                                  opt_out=changes, quiet_hours=quiet_hours)
    click.echo(f"patient {row.id}: preferred {row.preferred_channel}, opt-out sms={row.opt_out_sms} "
               f"email={row.opt_out_email}, quiet hours {row.quiet_hours or 'default'}")


@click.group("patient-link")
def patient_link_group() -> None:
    """One-time patient links (the web page comes with the web app): check or use a token."""


def _link_failure(exc: PatientLinkError) -> None:
    db.session.commit()  # keep the audited refusal (nothing else was written)
    fail(f"{exc} [{exc.reason}]")


@patient_link_group.command("show")
@click.argument("token")
@with_appcontext
def link_show_command(token: str) -> None:
    """What the link opens (its form), without using it."""
    try:
        view = open_patient_link(token, clock=clock())
        db.session.commit()
    except PatientLinkError as exc:
        _link_failure(exc)
        return
    echo_json({"work_item_id": view.work_item_id, "form": view.form_key, "expires_at": view.expires_at,
               "fields": sorted((view.form_schema or {}).get("properties", {}))})


@patient_link_group.command("submit")
@click.argument("token")
@click.option("--data", default=None, help="The patient's answers, JSON object.")
@with_appcontext
@transactional
def link_submit_command(token: str, data: str | None) -> None:
    """Answer the patient's form through the link (works once)."""
    answers = parse_json_option(data, "--data")
    try:
        outcome = complete_via_patient_link(token, answers, clock=clock())
    except PatientLinkError as exc:  # refused before anything was written but its audit event
        _link_failure(exc)
        return
    click.echo(f"answers recorded; instance {outcome.instance_id} {outcome.status}")


COMMANDS = [reminders_group, patient_link_group]
