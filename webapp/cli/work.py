"""CLI: inbox, claim, unclaim, hand-back, comment, complete (reminders: webapp/cli/reminders.py)."""

from __future__ import annotations

import click
from sqlalchemy import select

from engine.db import db
from engine.models import Patient
from engine.services.inbox import (
    InboxFilter,
    claim_work_item,
    comment_work_item,
    complete_work_item,
    list_inbox,
    release_work_item,
)
from webapp.cli.support import actor_from_login, clock, echo_json, local, parse_json_option, transactional


@click.command("inbox")
@click.option("--user", required=True, help="Login of the professional.")
@click.option("--overdue", is_flag=True, help="Only overdue work items.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@transactional
def inbox_command(user: str, overdue: bool, as_json: bool) -> None:
    """List a professional's open work items, soonest due first."""
    actor = actor_from_login(user)
    items = list_inbox(actor, clock=clock(), flt=InboxFilter(overdue=overdue))
    patients = {p.id: p for p in db.session.scalars(select(Patient).where(
        Patient.id.in_({i.patient_id for i in items})))}
    rows = [{
        "id": i.id, "title": i.title, "element_id": i.element_id, "role": i.role_code, "status": i.status,
        "priority": i.priority, "due_at": i.due_at, "patient_id": i.patient_id,
        "patient": patients[i.patient_id].display_name, "assigned_to_me": i.assignee_id == actor.professional_id,
        "form": i.form_key, "instance_id": i.instance_id,
    } for i in items]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"no open work item for {user}")
    now = clock().now()
    for row in rows:
        due = row["due_at"]
        flag = " EN RETARD" if due is not None and due < now else ""
        due_text = local(due).strftime("%Y-%m-%d %H:%M") if due else "-"
        mine = "*" if row["assigned_to_me"] else " "
        click.echo(f"{mine}{row['id']:>6}  {due_text}{flag:<11} {row['priority']:<8} {row['patient']:<24} "
                   f"{row['title']}")


@click.command("claim")
@click.argument("work_item_id", type=int)
@click.option("--user", required=True)
@transactional
def claim_command(work_item_id: int, user: str) -> None:
    """Take a work item from the role queue."""
    item = claim_work_item(work_item_id, actor=actor_from_login(user), clock=clock())
    click.echo(f"work item {item.id} claimed by {user}")


@click.command("unclaim")
@click.argument("work_item_id", type=int)
@click.option("--user", required=True)
@click.option("--reason", default="")
@transactional
def unclaim_command(work_item_id: int, user: str, reason: str) -> None:
    """Put a claimed work item back in its role queue."""
    item = release_work_item(work_item_id, actor=actor_from_login(user), clock=clock(), reason=reason)
    click.echo(f"work item {item.id} back in the '{item.role_code}' queue")


@click.command("hand-back")
@click.argument("work_item_id", type=int)
@click.option("--user", required=True)
@click.option("--reason", required=True)
@transactional
def hand_back_command(work_item_id: int, user: str, reason: str) -> None:
    """Hand a work item back to its role queue, with a reason."""
    item = release_work_item(work_item_id, actor=actor_from_login(user), clock=clock(), reason=reason,
                             hand_back=True)
    click.echo(f"work item {item.id} handed back to the '{item.role_code}' queue")


@click.command("comment")
@click.argument("work_item_id", type=int)
@click.option("--user", required=True)
@click.option("--text", required=True)
@transactional
def comment_command(work_item_id: int, user: str, text: str) -> None:
    """Comment on a work item."""
    comment_work_item(work_item_id, text, actor=actor_from_login(user), clock=clock())
    click.echo(f"comment added to work item {work_item_id}")


@click.command("complete")
@click.argument("work_item_id", type=int)
@click.option("--user", required=True)
@click.option("--data", default=None, help='Form data, JSON object: {"douleur_nrs": 3}.')
@click.option("--expect-version", type=int, default=None, help="Fail if the instance changed since this version.")
@transactional
def complete_command(work_item_id: int, user: str, data: str | None, expect_version: int | None) -> None:
    """Complete a work item with its form data; the pathway moves on."""
    outcome = complete_work_item(work_item_id, parse_json_option(data, "--data"), actor=actor_from_login(user),
                                 clock=clock(), expected_lock_version=expect_version)
    if outcome.error_message:
        click.echo(f"instance {outcome.instance_id} is now in error at {outcome.error_element}: "
                   f"{outcome.error_message}", err=True)
        db.session.commit()
        raise SystemExit(1)
    click.echo(f"work item {work_item_id} completed; instance {outcome.instance_id} {outcome.status}; "
               f"opened {list(outcome.opened_work_items)}")


COMMANDS = [inbox_command, claim_command, unclaim_command, hand_back_command, comment_command, complete_command]
