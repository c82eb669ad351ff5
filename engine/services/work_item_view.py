"""One work item as its page shows it: patient, pathway, form, comments and history (an audited read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.clock import Clock
from engine.db import db
from engine.errors import NotFound
from engine.models import PathwayInstance, Patient, Professional, Role, WorkItem, WorkItemComment, WorkItemKind
from engine.services import access, audit
from engine.services.inbox import may_work_on
from engine.services.pathways import version_forms
from engine.types import Actor


@dataclass(frozen=True)
class CommentLine:
    """A comment or an event of the work item's history (claim, unclaim, hand back)."""

    kind: str
    body: str
    author: str
    at: datetime


@dataclass(frozen=True)
class WorkItemPage:
    """Everything the work-item page needs, read once under the access check."""

    item: WorkItem
    patient_id: int
    patient_name: str
    patient_identifier: str
    pathway_title: str
    pathway_key: str
    role_label: str
    assignee_name: str | None
    completed_by_name: str | None
    form_schema: dict[str, Any] | None
    lock_version: int
    instance_status: str
    may_work_on: bool
    is_mine: bool
    history: tuple[CommentLine, ...]

    @property
    def is_escalation(self) -> bool:
        return self.item.kind != WorkItemKind.TASK.value

    @property
    def can_complete(self) -> bool:
        return self.item.is_open and self.may_work_on


@dataclass(frozen=True)
class WorkItemForm:
    """What a submitted form is parsed against: the item's schema and kind (no patient data)."""

    work_item_id: int
    kind: str
    form_schema: dict[str, Any] | None
    is_open: bool


def _load(work_item_id: int, actor: Actor, *, action: str, clock: Clock) -> tuple[WorkItem, PathwayInstance]:
    item = db.session.get(WorkItem, work_item_id)
    if item is None:
        raise NotFound(f"no work item {work_item_id}")
    access.require_patient_access(actor, item.patient_id, action=action, clock=clock)
    instance = db.session.get(PathwayInstance, item.instance_id)
    if instance is None:
        raise NotFound(f"no pathway instance {item.instance_id}")
    return item, instance


def _schema(item: WorkItem, instance: PathwayInstance) -> dict[str, Any] | None:
    if not item.form_key or item.kind != WorkItemKind.TASK.value:
        return None
    return version_forms(instance.version).get(item.form_key)  # type: ignore[no-any-return]


def _names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(select(Professional.id, Professional.full_name).where(Professional.id.in_(ids)))
    return {pro_id: name for pro_id, name in rows}


def open_work_item(work_item_id: int, *, actor: Actor, clock: Clock) -> WorkItemPage:
    """Read a work item for its page: checks care-team access (AccessDenied → 404), audits "work_item.viewed".

    Flushes the audit event; the caller's transaction commits it.
    """
    item, instance = _load(work_item_id, actor, action="work_item.viewed", clock=clock)
    patient = db.session.get(Patient, item.patient_id)
    if patient is None:
        raise NotFound(f"no patient {item.patient_id}")
    comments = list(db.session.scalars(select(WorkItemComment).where(WorkItemComment.work_item_id == item.id)
                                       .order_by(WorkItemComment.at, WorkItemComment.id)))
    names = _names({c.author_id for c in comments if c.author_id is not None}
                   | {i for i in (item.assignee_id, item.completed_by_id) if i is not None})
    role = db.session.get(Role, item.role_code)
    history = tuple(CommentLine(c.kind, c.body, names.get(c.author_id, "—") if c.author_id else "—", c.at)
                    for c in comments)
    page = WorkItemPage(
        item=item, patient_id=patient.id, patient_name=patient.display_name, patient_identifier=patient.identifier,
        pathway_title=instance.version.title, pathway_key=instance.version.key,
        role_label=role.label_fr if role is not None else item.role_code,
        assignee_name=names.get(item.assignee_id) if item.assignee_id else None,
        completed_by_name=names.get(item.completed_by_id) if item.completed_by_id else None,
        form_schema=_schema(item, instance), lock_version=instance.lock_version, instance_status=instance.status,
        may_work_on=actor.is_professional and may_work_on(actor, item, clock),
        is_mine=item.assignee_id is not None and item.assignee_id == actor.professional_id, history=history)
    audit.record(actor, "work_item.viewed", at=clock.now(), patient_id=item.patient_id, instance_id=item.instance_id,
                 object_type="work_item", object_id=item.id)
    db.session.flush()
    return page


def work_item_form(work_item_id: int, *, actor: Actor, clock: Clock) -> WorkItemForm:
    """The schema a submitted form is parsed against (access-checked; no audit: the completion audits)."""
    item, instance = _load(work_item_id, actor, action="work_item.completed", clock=clock)
    return WorkItemForm(item.id, item.kind, _schema(item, instance), item.is_open)


def describe_work_items(ids: tuple[int, ...] | list[int]) -> list[tuple[str, str]]:
    """(title, role label) of work items just opened by a step the actor made (to say what comes next)."""
    if not ids:
        return []
    rows = db.session.execute(select(WorkItem.id, WorkItem.title, WorkItem.role_code).where(WorkItem.id.in_(ids)))
    by_id = {i: (title, role) for i, title, role in rows}
    labels = {code: label for code, label in db.session.execute(select(Role.code, Role.label_fr))}
    return [(by_id[i][0], labels.get(by_id[i][1], by_id[i][1])) for i in ids if i in by_id]
