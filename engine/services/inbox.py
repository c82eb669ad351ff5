"""Work items: the inbox query, claim / unclaim / hand back, comments and completion."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.clock import Clock
from engine.db import db
from engine.errors import ConcurrencyConflict, InvalidInput, InvalidTransition, NotFound, NotPermitted
from engine.models import (
    PathwayInstance,
    WorkItem,
    WorkItemComment,
    WorkItemKind,
    WorkItemStatus,
)
from engine.services import access, audit
from engine.services.forms import validate_form_data
from engine.services.inbox_query import InboxFilter, inbox_query
from engine.services.instances import run_step
from engine.services.pathways import version_forms
from engine.services.people import CareTeamNow, is_in_care_team
from engine.services.projection import open_work_items
from engine.types import Actor, StepOutcome


def list_inbox(actor: Actor, *, clock: Clock, flt: InboxFilter | None = None) -> list[WorkItem]:
    """The actor's open work items, soonest due first (audited as one read listing the patients)."""
    if not actor.is_professional:
        raise NotPermitted("the inbox belongs to a professional: give --user LOGIN")
    now = clock.now()
    statement, params = inbox_query(actor, at=now, flt=flt)
    items = list(db.session.scalars(statement, params))
    audit.record_entries([audit.entry(actor, "inbox.listed", at=now, object_type="inbox", details={
        "patients": sorted({i.patient_id for i in items}), "count": len(items)})])
    return items


def _load_item(work_item_id: int, actor: Actor, *, action: str, clock: Clock) -> WorkItem:
    item = db.session.get(WorkItem, work_item_id)
    if item is None:
        raise NotFound(f"no work item {work_item_id}")
    access.require_patient_access(actor, item.patient_id, action=action, clock=clock)
    return item


def may_work_on(actor: Actor, item: WorkItem, clock: Clock, team: CareTeamNow | None = None) -> bool:
    """Whether the actor may claim or complete the item: its assignee, or a holder of its role in the
    patient's care team now (a patient: their own patient-lane items); the rule every page shows too."""
    if actor.is_trusted_operator:
        return True
    if actor.kind == "patient":  # a patient (one-time link) completes their own patient-lane items only
        return item.role_code == "patient" and item.patient_id == actor.patient_id
    if item.assignee_id is not None and item.assignee_id == actor.professional_id:
        return True
    if item.role_code not in actor.roles or actor.professional_id is None:
        return False
    if team is not None:
        return team.includes(actor.professional_id, item.role_code)
    return is_in_care_team(item.patient_id, actor.professional_id, clock.now(), role_code=item.role_code)


def _require_open(item: WorkItem) -> None:
    if not item.is_open:
        who = f" by professional {item.completed_by_id}" if item.completed_by_id else ""
        raise InvalidTransition(f"work item {item.id} is already {item.status}{who}")


def _comment(item: WorkItem, actor: Actor, kind: str, body: str, clock: Clock) -> None:
    db.session.add(WorkItemComment(work_item_id=item.id, author_id=actor.professional_id, kind=kind, body=body,
                                   at=clock.now()))


def claim_work_item(work_item_id: int, *, actor: Actor, clock: Clock) -> WorkItem:
    """Take a work item from the role queue (or confirm one assigned to me). Flushes, audits."""
    item = _load_item(work_item_id, actor, action="work_item.claimed", clock=clock)
    _require_open(item)
    if not actor.is_professional:
        raise NotPermitted("claiming needs a professional (--user LOGIN)")
    if not may_work_on(actor, item, clock):
        raise NotPermitted(f"{actor.label} does not hold the role '{item.role_code}' in this patient's care team")
    if item.assignee_id not in (None, actor.professional_id) and item.status == WorkItemStatus.CLAIMED.value:
        raise InvalidTransition(f"work item {item.id} is already claimed by someone else")
    item.assignee_id = actor.professional_id
    item.status = WorkItemStatus.CLAIMED.value
    item.claimed_at = clock.now()
    _comment(item, actor, "claim", "", clock)
    audit.record(actor, "work_item.claimed", at=clock.now(), patient_id=item.patient_id,
                 instance_id=item.instance_id, object_type="work_item", object_id=item.id)
    db.session.flush()
    return item


def release_work_item(work_item_id: int, *, actor: Actor, clock: Clock, reason: str, hand_back: bool = False
                      ) -> WorkItem:
    """Unclaim (or hand back, with a reason) a work item: it returns to its role's queue."""
    kind = "hand_back" if hand_back else "unclaim"
    item = _load_item(work_item_id, actor, action=f"work_item.{kind}", clock=clock)
    _require_open(item)
    if hand_back and not reason.strip():
        raise InvalidInput("handing a work item back needs a reason")
    if not actor.is_trusted_operator and item.assignee_id != actor.professional_id:
        raise NotPermitted(f"work item {item.id} is not assigned to {actor.label}")
    item.assignee_id = None
    item.status = WorkItemStatus.OPEN.value
    item.claimed_at = None
    _comment(item, actor, kind, reason, clock)
    audit.record(actor, f"work_item.{kind}", at=clock.now(), patient_id=item.patient_id,
                 instance_id=item.instance_id, object_type="work_item", object_id=item.id,
                 details={"reason": reason})
    db.session.flush()
    return item


def comment_work_item(work_item_id: int, body: str, *, actor: Actor, clock: Clock) -> WorkItemComment:
    item = _load_item(work_item_id, actor, action="work_item.commented", clock=clock)
    if not body.strip():
        raise InvalidInput("a comment cannot be empty")
    comment = WorkItemComment(work_item_id=item.id, author_id=actor.professional_id, kind="comment", body=body,
                              at=clock.now())
    db.session.add(comment)
    audit.record(actor, "work_item.commented", at=clock.now(), patient_id=item.patient_id,
                 instance_id=item.instance_id, object_type="work_item", object_id=item.id)
    db.session.flush()
    return comment


def complete_work_item(work_item_id: int, data: dict[str, Any], *, actor: Actor, clock: Clock,
                       expected_lock_version: int | None = None) -> StepOutcome:
    """Complete a work item with form data and advance its instance, in one transaction.

    Checks role + care team (or assignment), validates the data against the form's JSON Schema, locks the
    instance; a stale ``expected_lock_version`` or a concurrent completion raises ConcurrencyConflict.
    """
    now = clock.now()
    # Lock the instance through its work item first, then read its open items under the lock: two
    # statements for what the checks below and the projection need (a refused actor only rolls back).
    instance = db.session.scalar(
        select(PathwayInstance).join(WorkItem, WorkItem.instance_id == PathwayInstance.id)
        .where(WorkItem.id == work_item_id).with_for_update(of=PathwayInstance)
        .execution_options(populate_existing=True))
    if instance is None:
        raise NotFound(f"no work item {work_item_id}")
    open_items = open_work_items(instance.id, reload=True)
    item = next((wi for wi in open_items.values() if wi.id == work_item_id), None)
    if item is None:  # completed or cancelled meanwhile: say by whom
        item = db.session.get(WorkItem, work_item_id, populate_existing=True)
        assert item is not None
    team = CareTeamNow(item.patient_id, now)
    access.require_patient_access(actor, item.patient_id, action="work_item.completed", clock=clock, team=team)
    if not may_work_on(actor, item, clock, team):
        raise NotPermitted(f"{actor.label} does not hold the role '{item.role_code}' in this patient's care team "
                           f"and is not the assignee")
    _require_open(item)
    if item.kind != WorkItemKind.TASK.value:
        return _close_escalation(item, data, actor=actor, now=now)
    if expected_lock_version is not None and expected_lock_version != instance.lock_version:
        raise ConcurrencyConflict(f"instance {instance.id} changed since the form was opened "
                                  f"(version {expected_lock_version}, now {instance.lock_version})")
    schema = version_forms(instance.version).get(item.form_key) if item.form_key else None
    data = validate_form_data(item.form_key, schema, data)

    def mark_completed() -> list[dict[str, Any]]:
        item.status = WorkItemStatus.COMPLETED.value
        item.data = data
        item.completed_at = now
        item.completed_by_id = actor.professional_id
        return [audit.entry(actor, "work_item.completed", at=now, patient_id=item.patient_id,
                            instance_id=instance.id, object_type="work_item", object_id=item.id,
                            details={"element_id": item.element_id})]

    return run_step(instance, lambda run: run.complete_task(item.spiff_task_id, data), actor=actor, clock=clock,
                    before_sync=mark_completed, open_items=open_items, team=team)


def _close_escalation(item: WorkItem, data: dict[str, Any], *, actor: Actor, now: Any) -> StepOutcome:
    """An escalation is no engine task: the coordinator closes it (with a note, if given); the pathway and
    the late work item it points to are unchanged (that item stays in its inbox until done)."""
    if not isinstance(data, dict):
        raise InvalidInput("form data must be a JSON object")
    item.status = WorkItemStatus.COMPLETED.value
    item.data = {**(item.data or {}), **data}
    item.completed_at = now
    item.completed_by_id = actor.professional_id
    audit.record(actor, "work_item.completed", at=now, patient_id=item.patient_id, instance_id=item.instance_id,
                 object_type="work_item", object_id=item.id, details={"kind": item.kind})
    db.session.flush()
    instance = db.session.get(PathwayInstance, item.instance_id)
    return StepOutcome(item.instance_id, instance.status if instance is not None else "", ())
