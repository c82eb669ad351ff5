"""The work-item sweep: invite patients to their open items, remind professionals, escalate once.

Run by `parcours tick` and by the beat job ``parcours.work_items.sweep``. Every message and escalation
it creates carries a unique key (reminder ``dedup_key``, work item ``escalation_key``), so running the
sweep every minute, or in two processes at once, opens each of them exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.types import String

from engine.clock import Clock
from engine.db import db
from engine.models import CareTeamMember, Reminder, ReminderStatus, WorkItem, WorkItemKind, WorkItemStatus
from engine.models.work_item import OPEN_STATUSES
from engine.notify.settings import NotifySettings
from engine.services import audit
from engine.services.people import care_team_assignee
from engine.types import Actor

SWEEPER = Actor.system("work-item-sweep")
ESCALATION_DUE = timedelta(days=1)
INVITE, DUE_SOON, OVERDUE, ESCALATION_NOTICE = ("questionnaire_patient", "pro_echeance_proche", "pro_en_retard",
                                                "pro_escalade")


@dataclass
class SweepReport:
    invitations: int = 0
    due_soon: int = 0
    overdue: int = 0
    escalations: int = 0


def _open_tasks() -> object:
    return select(WorkItem).where(WorkItem.status.in_(OPEN_STATUSES), WorkItem.kind == WorkItemKind.TASK.value)


def _without_reminder(template: str) -> object:
    return ~exists().where(Reminder.work_item_id == WorkItem.id, Reminder.template == template)


def _insert_once(row: Reminder | WorkItem) -> bool:
    """Insert a row guarded by a unique key; False when another sweep inserted it first."""
    savepoint = db.session.begin_nested()
    try:
        db.session.add(row)
        db.session.flush()
        savepoint.commit()
        return True
    except IntegrityError:
        savepoint.rollback()
        return False


def _plan(item: WorkItem, template: str, key: str, now: datetime, *, recipient: str,
          professional_id: int | None) -> Reminder | None:
    reminder = Reminder(dedup_key=key, instance_id=item.instance_id, patient_id=item.patient_id,
                        element_id=item.element_id, recipient=recipient, professional_id=professional_id,
                        channel="preferred", template=template, params={}, send_at=now, next_attempt_at=now,
                        status=ReminderStatus.PENDING.value, attempts=0, channel_attempts=0, created_at=now,
                        work_item_id=item.id)
    if not _insert_once(reminder):
        return None
    audit.record(SWEEPER, "reminder.planned", at=now, patient_id=item.patient_id, instance_id=item.instance_id,
                 object_type="reminder", object_id=reminder.id,
                 details={"template": template, "recipient": recipient, "work_item_id": item.id})
    return reminder


def _professionals_for(item: WorkItem, now: datetime) -> list[int]:
    """The assignee, else every active care-team member holding the item's role (its queue)."""
    if item.assignee_id is not None:
        return [item.assignee_id]
    members = db.session.scalars(select(CareTeamMember).where(CareTeamMember.patient_id == item.patient_id,
                                                              CareTeamMember.role_code == item.role_code))
    return sorted({m.professional_id for m in members if m.is_active(now)})


def _remind_professionals(query: object, template: str, label: str, now: datetime, limit: int) -> int:
    planned = 0
    for item in db.session.scalars(query.where(WorkItem.role_code != "patient", _without_reminder(template))
                                   .order_by(WorkItem.due_at, WorkItem.id).limit(limit)):
        for professional_id in _professionals_for(item, now):
            key = f"work_item:{item.id}:{label}:{professional_id}"
            planned += _plan(item, template, key, now, recipient=item.role_code,
                             professional_id=professional_id) is not None
    return planned


def _escalate(item: WorkItem, now: datetime) -> WorkItem | None:
    coordinator = care_team_assignee(item.patient_id, "coordinateur", now)
    escalation = WorkItem(
        instance_id=item.instance_id, patient_id=item.patient_id, spiff_task_id=f"esc-{item.id}",
        element_id=item.element_id, title=f"Escalade : {item.title}"[:300], role_code="coordinateur",
        assignee_id=coordinator, status=WorkItemStatus.OPEN.value, priority="urgent", form_key=None,
        due_at=now + ESCALATION_DUE, created_at=now, kind=WorkItemKind.ESCALATION.value,
        escalation_key=escalation_key(item.id), data={"source_work_item_id": item.id},
    )
    if not _insert_once(escalation):
        return None
    audit.record_entries([
        audit.entry(SWEEPER, "work_item.escalated", at=now, patient_id=item.patient_id, instance_id=item.instance_id,
                    object_type="work_item", object_id=item.id, details={"escalation_id": escalation.id}),
        audit.entry(SWEEPER, "work_item.opened", at=now, patient_id=item.patient_id, instance_id=item.instance_id,
                    object_type="work_item", object_id=escalation.id,
                    details={"kind": escalation.kind, "role": "coordinateur", "source_work_item_id": item.id}),
    ])
    if coordinator is not None:
        _plan(escalation, ESCALATION_NOTICE, f"work_item:{escalation.id}:escalation_notice:{coordinator}", now,
              recipient="coordinateur", professional_id=coordinator)
    return escalation


def escalation_key(work_item_id: int) -> str:
    return f"work_item:{work_item_id}:escalation"


def sweep_work_item_reminders(*, clock: Clock, settings: NotifySettings, limit: int = 500) -> SweepReport:
    """Plan the reminders and escalations due at the clock's now (flushes, audits; the caller commits)."""
    now = clock.now()
    report = SweepReport()
    invites = _open_tasks().where(WorkItem.role_code == "patient", _without_reminder(INVITE))
    for item in db.session.scalars(invites.order_by(WorkItem.id).limit(limit)):
        report.invitations += _plan(item, INVITE, f"work_item:{item.id}:invite", now, recipient="patient",
                                    professional_id=None) is not None
    report.due_soon = _remind_professionals(
        _open_tasks().where(WorkItem.due_at > now, WorkItem.due_at <= now + settings.due_soon),
        DUE_SOON, "due_soon", now, limit)
    report.overdue = _remind_professionals(_open_tasks().where(WorkItem.due_at <= now), OVERDUE, "overdue", now,
                                           limit)
    escalation = aliased(WorkItem)
    key = literal("work_item:", String) + WorkItem.id.cast(String) + literal(":escalation", String)
    due = _open_tasks().where(WorkItem.escalate_at <= now,
                              ~exists().where(escalation.escalation_key == key))
    for item in db.session.scalars(due.order_by(WorkItem.escalate_at, WorkItem.id).limit(limit)):
        report.escalations += _escalate(item, now) is not None
    db.session.flush()
    return report
