"""After every engine step: mirror ready user tasks, waiting timers and planned sends into their tables."""

from __future__ import annotations

from datetime import datetime, timedelta

import isodate
from sqlalchemy import select

from engine.bpmn.runtime import PathwayRun, ReadyTask
from engine.db import db
from engine.models import (
    DueTimer,
    InstanceStatus,
    PathwayInstance,
    Reminder,
    ReminderStatus,
    TimerStatus,
    WorkItem,
    WorkItemStatus,
)
from engine.models.work_item import OPEN_STATUSES
from engine.services import audit
from engine.services.people import care_team_assignee
from engine.types import Actor

PRIORITIES = ("routine", "urgent", "asap", "stat")


def parse_duration(text: str | None) -> timedelta | None:
    """An ISO 8601 duration as a timedelta (months counted as 30 days when no anchor is given)."""
    if not text:
        return None
    value = isodate.parse_duration(text)
    if isinstance(value, isodate.Duration):
        return value.totimedelta(start=datetime(2000, 1, 1))
    return value


def _new_work_item(instance: PathwayInstance, task: ReadyTask, now: datetime) -> WorkItem:
    props = task.properties
    role = task.lane or "coordinateur"
    due = parse_duration(props.get("due"))
    due_at = now + due if due is not None else None
    escalate = parse_duration(props.get("escalate_after"))
    priority = props.get("priority", "routine")
    return WorkItem(
        instance_id=instance.id, patient_id=instance.patient_id, spiff_task_id=task.task_id,
        element_id=task.element_id, title=task.title[:300], role_code=role,
        assignee_id=care_team_assignee(instance.patient_id, role, now) if role != "patient" else None,
        status=WorkItemStatus.OPEN.value, priority=priority if priority in PRIORITIES else "routine",
        form_key=props.get("form"), due_at=due_at,
        escalate_at=(due_at + escalate) if (due_at is not None and escalate is not None) else None,
        created_at=now,
    )


def sync_instance(instance: PathwayInstance, run: PathwayRun, *, actor: Actor, now: datetime) -> list[WorkItem]:
    """Write the run's state and project it into work items, due timers and reminders (flushes).

    Returns the work items opened by this step.
    """
    open_items = {wi.spiff_task_id: wi for wi in db.session.scalars(
        select(WorkItem).where(WorkItem.instance_id == instance.id, WorkItem.status.in_(OPEN_STATUSES)))}
    opened: list[WorkItem] = []
    ready_ids = set()
    for task in run.ready_tasks():
        ready_ids.add(task.task_id)
        if task.task_id not in open_items:
            item = _new_work_item(instance, task, now)
            db.session.add(item)
            opened.append(item)
    for task_id, item in open_items.items():
        if task_id not in ready_ids:  # interrupted by a boundary event, or the instance ended
            item.status = WorkItemStatus.CANCELLED.value
            item.cancelled_at = now
    _sync_timers(instance, run, now)
    _plan_reminders(instance, run, actor, now)
    for element_id in run.log.timers_fired:
        audit.record(actor, "timer.fired", at=now, patient_id=instance.patient_id, instance_id=instance.id,
                     object_type="element", object_id=element_id)
    for element_id in run.log.messages_caught:
        audit.record(actor, "message.caught", at=now, patient_id=instance.patient_id, instance_id=instance.id,
                     object_type="element", object_id=element_id)
    state = run.dump()
    instance.state = state
    instance.state_bytes = len(state)
    instance.updated_at = now
    if run.completed and instance.status == InstanceStatus.ACTIVE.value:
        instance.status = InstanceStatus.COMPLETED.value
        instance.ended_at = now
        audit.record(actor, "instance.completed", at=now, patient_id=instance.patient_id, instance_id=instance.id)
    run.log.timers_fired.clear()
    run.log.messages_caught.clear()
    run.log.sends.clear()
    db.session.flush()
    for item in opened:
        audit.record(actor, "work_item.opened", at=now, patient_id=instance.patient_id, instance_id=instance.id,
                     object_type="work_item", object_id=item.id,
                     details={"element_id": item.element_id, "role": item.role_code})
    return opened


def _sync_timers(instance: PathwayInstance, run: PathwayRun, now: datetime) -> None:
    """One pending DueTimer row per waiting engine timer; rows the engine consumed become fired.

    A cycle timer's engine task fires and waits again with its next due time: the occurrence that
    fired is closed and a new row opens for the next one, so each occurrence is claimed exactly once.
    """
    pending = {t.spiff_task_id: t for t in db.session.scalars(
        select(DueTimer).where(DueTimer.instance_id == instance.id, DueTimer.status == TimerStatus.PENDING.value))}
    waiting = {t.task_id: t for t in run.waiting_timers()}
    fired_elements = set(run.log.timers_fired)
    for task_id, row in list(pending.items()):
        timer = waiting.get(task_id)
        if timer is not None and row.due_at == timer.due_at:
            continue
        if row.due_at <= now and row.element_id in fired_elements:
            row.status, row.fired_at = TimerStatus.FIRED.value, now
        elif timer is not None:  # the engine moved this wait (its expression was re-evaluated)
            row.due_at = timer.due_at
            continue
        else:  # the wait ended without firing (its task was cancelled, a boundary event won...)
            row.status = TimerStatus.CANCELLED.value
        if timer is not None:
            pending.pop(task_id, None)
    db.session.flush()  # close fired occurrences before opening the next ones (unique per occurrence)
    for task_id, timer in waiting.items():
        if task_id not in pending:
            db.session.add(DueTimer(instance_id=instance.id, spiff_task_id=task_id, element_id=timer.element_id,
                                    title=timer.title[:300], due_at=timer.due_at,
                                    status=TimerStatus.PENDING.value, created_at=now))


def _plan_reminders(instance: PathwayInstance, run: PathwayRun, actor: Actor, now: datetime) -> None:
    for send in run.log.sends:
        dedup_key = f"instance:{instance.id}:task:{send.task_id}"
        if db.session.scalar(select(Reminder.id).where(Reminder.dedup_key == dedup_key)) is not None:
            continue
        professional_id = None
        if send.recipient != "patient":
            professional_id = care_team_assignee(instance.patient_id, send.recipient, now)
        reminder = Reminder(
            dedup_key=dedup_key, instance_id=instance.id, patient_id=instance.patient_id, element_id=send.element_id,
            recipient=send.recipient, professional_id=professional_id, channel=send.channel,
            template=send.template, params={}, appointment_at=send.appointment_at, send_at=send.at,
            status=ReminderStatus.PENDING.value, attempts=0, created_at=now,
        )
        db.session.add(reminder)
        db.session.flush()
        audit.record(actor, "reminder.planned", at=now, patient_id=instance.patient_id, instance_id=instance.id,
                     object_type="reminder", object_id=reminder.id,
                     details={"template": send.template, "channel": send.channel, "recipient": send.recipient})
