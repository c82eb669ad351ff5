"""A patient's timeline (or one instance's): what happened and what is planned, in order, from the tables.

Sources: work items (opened, claimed / handed back / commented, completed with their data, cancelled),
due timers (pending with their due time, fired), reminders with their delivery status (never the rendered
text), messages received and instance status changes (audit events). Reading it is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.clock import Clock
from engine.db import db
from engine.errors import NotFound
from engine.models import (
    AuditEvent,
    DueTimer,
    PathwayInstance,
    Professional,
    Reminder,
    TimerStatus,
    WorkItem,
    WorkItemComment,
)
from engine.services import audit
from engine.services.patient_records import get_patient, main_anchor
from engine.types import Actor

INSTANCE_ACTIONS = ("instance.enrolled", "instance.completed", "instance.suspended", "instance.resumed",
                    "instance.cancelled", "instance.error")
MESSAGE_ACTIONS = ("message.delivered", "message.caught")
# Order of entries at the same instant: what happened to the instance, then to its work, then planned things.
_RANK = {"instance": 0, "message": 1, "timer": 2, "work_item": 3, "comment": 4, "reminder": 5}


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline. ``planned``: in the future (not happened yet)."""

    at: datetime
    kind: str  # instance, message, timer, work_item, comment, reminder
    event: str  # e.g. opened, claimed, completed, pending, fired, sent, delivered, enrolled
    title: str
    instance_id: int | None
    element_id: str | None = None
    who: str | None = None
    status: str | None = None
    data: dict[str, Any] | None = None
    note: str | None = None
    work_item_id: int | None = None
    planned: bool = False
    anchor: datetime | None = None  # the instance's main anchor date (J0), for "J+N"


@dataclass
class Timeline:
    entries: list[TimelineEntry] = field(default_factory=list)

    @property
    def past(self) -> list[TimelineEntry]:
        return [e for e in self.entries if not e.planned]

    @property
    def planned(self) -> list[TimelineEntry]:
        return [e for e in self.entries if e.planned]


def _names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(select(Professional.id, Professional.full_name).where(Professional.id.in_(ids)))
    return {pid: name for pid, name in rows}


def _work_item_entries(items: list[WorkItem], names: dict[int, str], anchors: dict[int, datetime | None],
                       now: datetime) -> list[TimelineEntry]:
    out = []
    for item in items:
        base = {"kind": "work_item", "title": item.title, "instance_id": item.instance_id,
                "element_id": item.element_id, "work_item_id": item.id, "anchor": anchors.get(item.instance_id)}
        out.append(TimelineEntry(at=item.created_at, event="opened", status=item.status,
                                 who=names.get(item.assignee_id) if item.assignee_id else None,
                                 note=item.role_code, **base))
        if item.completed_at is not None:
            out.append(TimelineEntry(at=item.completed_at, event="completed", data=item.data or {},
                                     who=names.get(item.completed_by_id) if item.completed_by_id else None, **base))
        elif item.cancelled_at is not None:
            out.append(TimelineEntry(at=item.cancelled_at, event="cancelled", **base))
        elif item.is_open and item.due_at is not None:
            out.append(TimelineEntry(at=item.due_at, event="due", status=item.status, planned=item.due_at > now,
                                     who=names.get(item.assignee_id) if item.assignee_id else None, **base))
    return out


def _comment_entries(items: dict[int, WorkItem], names: dict[int, str], anchors: dict[int, datetime | None]
                     ) -> list[TimelineEntry]:
    if not items:
        return []
    comments = db.session.scalars(select(WorkItemComment).where(WorkItemComment.work_item_id.in_(items))
                                  .order_by(WorkItemComment.at, WorkItemComment.id))
    out = []
    for c in comments:
        item = items[c.work_item_id]
        out.append(TimelineEntry(at=c.at, kind="comment", event=c.kind, title=item.title, instance_id=item.instance_id,
                                 element_id=item.element_id, work_item_id=item.id, note=c.body or None,
                                 who=names.get(c.author_id) if c.author_id else None,
                                 anchor=anchors.get(item.instance_id)))
    return out


def _timer_entries(timers: list[DueTimer], anchors: dict[int, datetime | None], now: datetime) -> list[TimelineEntry]:
    out = []
    for t in timers:
        title = t.title or t.element_id
        base = {"kind": "timer", "title": title, "instance_id": t.instance_id, "element_id": t.element_id,
                "anchor": anchors.get(t.instance_id)}
        if t.status == TimerStatus.FIRED.value and t.fired_at is not None:
            out.append(TimelineEntry(at=t.fired_at, event="fired", status=t.status, note=t.due_at.isoformat(), **base))
        elif t.status == TimerStatus.PENDING.value:
            out.append(TimelineEntry(at=t.due_at, event="pending", status=t.status, planned=t.due_at > now, **base))
        else:
            out.append(TimelineEntry(at=t.due_at, event=t.status, status=t.status, **base))
    return out


def _reminder_entries(reminders: list[Reminder], anchors: dict[int, datetime | None], now: datetime
                      ) -> list[TimelineEntry]:
    """Planned / sent / delivered / failed / cancelled, with channel and recipient; no message text."""
    out = []
    for r in reminders:
        base = {"kind": "reminder", "title": r.template, "instance_id": r.instance_id, "element_id": r.element_id,
                "status": r.status, "who": r.recipient, "note": r.channel,
                "anchor": anchors.get(r.instance_id) if r.instance_id else None}
        if r.sent_at is not None:
            out.append(TimelineEntry(at=r.sent_at, event="sent", **base))
            if r.delivered_at is not None:
                out.append(TimelineEntry(at=r.delivered_at, event="delivered", **base))
            elif r.status in ("failed", "cancelled"):
                out.append(TimelineEntry(at=r.sent_at, event=r.status, data={"reason": r.status_reason or ""}, **base))
        elif r.status in ("pending", "sending"):
            at = r.next_attempt_at or r.send_at
            out.append(TimelineEntry(at=at, event="planned", planned=at > now, **base))
        else:  # failed or cancelled before anything left
            out.append(TimelineEntry(at=r.send_at, event=r.status, data={"reason": r.status_reason or ""}, **base))
    return out


def _audit_entries(events: list[AuditEvent], anchors: dict[int, datetime | None]) -> list[TimelineEntry]:
    out = []
    for e in events:
        kind = "instance" if e.action in INSTANCE_ACTIONS else "message"
        details = e.details or {}
        title = details.get("key") if kind == "instance" else (e.object_id or "")
        note = details.get("reason") or details.get("message")
        out.append(TimelineEntry(at=e.at, kind=kind, event=e.action.split(".", 1)[1], title=str(title or ""),
                                 instance_id=e.instance_id, who=e.actor_label, status=e.outcome,
                                 element_id=details.get("element_id") or (e.object_id if kind == "message" else None),
                                 note=str(note) if note else None, anchor=anchors.get(e.instance_id or 0)))
    return out


def patient_timeline(actor: Actor, patient_id: int, *, clock: Clock, instance_id: int | None = None) -> Timeline:
    """The patient's timeline (all instances, or ``instance_id`` only), oldest first, planned things last.

    Access-checked (AccessDenied → 404 for anyone outside the team); audited "patient.timeline_viewed".
    """
    patient = get_patient(actor, patient_id, action="patient.timeline_viewed", clock=clock)
    now = clock.now()
    instance_query = select(PathwayInstance).where(PathwayInstance.patient_id == patient.id)
    if instance_id is not None:
        instance_query = instance_query.where(PathwayInstance.id == instance_id)
    instances = list(db.session.scalars(instance_query))
    if instance_id is not None and not instances:
        raise NotFound(f"no pathway instance {instance_id} for this patient")
    anchors = {i.id: main_anchor(i) for i in instances}
    ids = list(anchors)

    def scoped(model: Any) -> Any:
        query = select(model).where(model.patient_id == patient.id)
        return query.where(model.instance_id == instance_id) if instance_id is not None else query

    items = list(db.session.scalars(scoped(WorkItem).order_by(WorkItem.id)))
    timers = list(db.session.scalars(select(DueTimer).where(DueTimer.instance_id.in_(ids)).order_by(DueTimer.id))
                  ) if ids else []
    reminders = list(db.session.scalars(scoped(Reminder).order_by(Reminder.id)))
    events = list(db.session.scalars(scoped(AuditEvent).where(
        AuditEvent.action.in_(INSTANCE_ACTIONS + MESSAGE_ACTIONS), AuditEvent.outcome != "denied")
        .order_by(AuditEvent.id)))
    people = {i.assignee_id for i in items if i.assignee_id} | {i.completed_by_id for i in items if i.completed_by_id}
    by_id = {i.id: i for i in items}
    comment_authors = set(db.session.scalars(select(WorkItemComment.author_id).where(
        WorkItemComment.work_item_id.in_(by_id), WorkItemComment.author_id.is_not(None)))) if by_id else set()
    names = _names(people | comment_authors)
    entries = (_work_item_entries(items, names, anchors, now) + _comment_entries(by_id, names, anchors)
               + _timer_entries(timers, anchors, now) + _reminder_entries(reminders, anchors, now)
               + _audit_entries(events, anchors))
    entries.sort(key=lambda e: (e.planned, e.at, _RANK.get(e.kind, 9), e.work_item_id or 0))
    audit.record(actor, "patient.timeline_viewed", at=now, patient_id=patient.id, instance_id=instance_id,
                 object_type="timeline", object_id=instance_id or patient.id, details={"entries": len(entries)})
    return Timeline(entries)
