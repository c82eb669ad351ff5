"""CLI: enrol, message, tick (timers, work-item reminders, reminder dispatch), suspend / resume / cancel."""

from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from engine.clock import ManualClock
from engine.db import db
from engine.errors import InvalidInput
from engine.notify.channels import close_channels
from engine.services.instances import cancel_instance, enrol_patient, resume_instance, suspend_instance
from engine.services.messages import deliver_message
from engine.services.reminders import dispatch_due_reminders
from engine.services.timers import fire_due_timers
from engine.services.work_item_reminders import sweep_work_item_reminders
from webapp.cli.reminders import dispatch_summary
from webapp.cli.support import actor_from_login, clock, database_problem, fail, parse_json_option, transactional
from webapp.notify import notify_channels, notify_settings


@click.command("enrol")
@click.option("--patient", required=True, help="Patient id or local identifier.")
@click.option("--pathway", required=True, help="Pathway key (BPMN process id).")
@click.option("--context", default=None, help='Anchor dates and values, JSON: {"date_chirurgie": "2026-11-20"}.')
@click.option("--version", "version_number", type=int, default=None, help="A given version (default: latest).")
@click.option("--user", default=None, help="Act as this professional (default: the local operator).")
@transactional
def enrol_command(patient: str, pathway: str, context: str | None, version_number: int | None,
                  user: str | None) -> None:
    """Enrol a patient on a pathway and run it to its first wait."""
    outcome = enrol_patient(patient, pathway, context=parse_json_option(context, "--context"),
                            version_number=version_number, actor=actor_from_login(user), clock=clock())
    click.echo(f"instance {outcome.instance_id}: {outcome.status}, "
               f"{len(outcome.opened_work_items)} work item(s) opened {list(outcome.opened_work_items)}")


@click.command("message")
@click.option("--patient", required=True, help="Patient id or local identifier.")
@click.option("--name", required=True, help="Message name (e.g. resultat_hba1c).")
@click.option("--data", default=None, help="Payload, JSON object.")
@click.option("--user", default=None, help="Act as this professional.")
@transactional
def message_command(patient: str, name: str, data: str | None, user: str | None) -> None:
    """Deliver a message (an external event such as a lab result) to the patient's waiting pathway."""
    outcomes = deliver_message(patient, name, parse_json_option(data, "--data"), actor=actor_from_login(user),
                               clock=clock())
    for outcome in outcomes:
        click.echo(f"instance {outcome.instance_id}: {outcome.status}, "
                   f"opened {list(outcome.opened_work_items)}")


@click.command("tick")
@click.option("--now", "now_text", default=None, help="Fire what is due at this ISO 8601 time (default: now).")
def tick_command(now_text: str | None) -> None:
    """Fire every timer due now (or at --now), plan work-item reminders and escalations, send due reminders."""
    the_clock = clock()
    if now_text:
        try:
            when = datetime.fromisoformat(now_text)
        except ValueError:
            fail(f"--now must be an ISO 8601 date-time with offset (2026-11-21T10:00:00+01:00), got {now_text!r}")
            return
        if when.tzinfo is None:
            fail("--now needs a timezone offset, e.g. 2026-11-21T10:00:00+01:00")
            return
        the_clock = ManualClock(when)
    try:
        report = fire_due_timers(clock=the_clock)
        sweep = sweep_work_item_reminders(clock=the_clock, settings=notify_settings())
        db.session.commit()
        channels = notify_channels()
        try:
            sent = dispatch_due_reminders(clock=the_clock, channels=channels, settings=notify_settings())
        finally:
            close_channels(channels)
    except (OperationalError, ProgrammingError) as exc:
        fail(database_problem(exc))
        return
    except InvalidInput as exc:  # a malformed PARCOURS_* notification setting
        fail(str(exc))
        return
    click.echo(f"{report.fired} timer(s) fired, {report.skipped} skipped, {len(report.errors)} error(s)")
    click.echo(f"work items: {sweep.invitations} patient invitation(s), {sweep.due_soon} due-soon and "
               f"{sweep.overdue} overdue reminder(s) planned, {sweep.escalations} escalation(s)")
    click.echo(dispatch_summary(sent))
    for error in [*report.errors, *sent.errors]:
        click.echo(f"error: {error}", err=True)
    if sent.failed:
        click.echo(f"error: {sent.failed} reminder(s) could not be delivered on any channel "
                   f"(`parcours reminders --status failed`)", err=True)
    if report.errors or sent.errors or sent.failed:
        raise SystemExit(1)


def _status_command(name: str, func, help_text: str):  # type: ignore[no-untyped-def]
    @click.command(name, help=help_text)
    @click.argument("instance_id", type=int)
    @click.option("--reason", default=None)
    @click.option("--user", default=None, help="Act as this professional.")
    @transactional
    def command(instance_id: int, reason: str | None, user: str | None) -> None:
        kwargs = {"reason": reason} if func is not resume_instance else {}
        if func is cancel_instance and not reason:
            raise InvalidInput("cancelling an instance needs --reason")
        instance = func(instance_id, actor=actor_from_login(user), clock=clock(), **kwargs)
        click.echo(f"instance {instance.id}: {instance.status}")

    return command


COMMANDS = [
    enrol_command, message_command, tick_command,
    _status_command("suspend", suspend_instance, "Suspend an instance (its timers wait)."),
    _status_command("resume", resume_instance, "Resume a suspended instance."),
    _status_command("cancel", cancel_instance, "Cancel an instance for good (needs --reason)."),
]
