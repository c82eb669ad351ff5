"""After every engine step: mirror ready user tasks, waiting timers and planned sends into their tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import isodate
from sqlalchemy import select, update

from engine.bpmn.runtime import PathwayRun, ReadyTask, WaitingTimer
from engine.db import db
from engine.models import (
    DueTimer,
    InstanceStatus,
    PathwayInstance,
    Reminder,
    ReminderStatus,
    TimerStatus,
    WorkItem,
    WorkItemKind,
    WorkItemStatus,
)
from engine.models.work_item import OPEN_STATUSES
from engine.services import audit
from engine.services.people import CareTeamNow
from engine.types import Actor

PRIORITIES = ("routine", "urgent", "asap", "stat")


def add_duration(start: datetime, text: str | None, zone: ZoneInfo) -> datetime | None:
    """``start`` plus an ISO 8601 duration: years and months on the patient's calendar (P1M from 5 April is
    5 May), days and hours as elapsed time, as SpiffWorkflow counts its own duration timers."""
    if not text:
        return None
    value = isodate.parse_duration(text)
    if isinstance(value, isodate.Duration):
        calendar_part = isodate.Duration(years=value.years, months=value.months)
        return (start.astimezone(zone) + calendar_part).astimezone(UTC) + value.tdelta
    return start + value


@dataclass(frozen=True)
class WorkItemPlan:
    """What a ready user task becomes in an inbox: role queue, due date, escalation, priority."""

    role: str
    due_at: datetime | None
    escalate_at: datetime | None
    priority: str
    form_key: str | None


def plan_work_item(task: ReadyTask, now: datetime, zone: ZoneInfo) -> WorkItemPlan:
    """The inbox fields of a ready task opened at ``now`` (``due``/``escalate_after`` on the patient's calendar)."""
    props = task.properties
    due_at = add_duration(now, props.get("due"), zone)
    escalate_at = add_duration(due_at, props.get("escalate_after"), zone) if due_at is not None else None
    priority = props.get("priority", "routine")
    return WorkItemPlan(task.lane or "coordinateur", due_at, escalate_at,
                        priority if priority in PRIORITIES else "routine", props.get("form"))


def _new_work_item(instance: PathwayInstance, task: ReadyTask, now: datetime, team: CareTeamNow) -> WorkItem:
    plan = plan_work_item(task, now, team.zone)  # due dates on the patient's calendar
    return WorkItem(
        instance_id=instance.id, patient_id=instance.patient_id, spiff_task_id=task.task_id,
        element_id=task.element_id, title=task.title[:300], role_code=plan.role,
        assignee_id=team.assignee(plan.role) if plan.role != "patient" else None,
        status=WorkItemStatus.OPEN.value, priority=plan.priority, form_key=plan.form_key, due_at=plan.due_at,
        escalate_at=plan.escalate_at, created_at=now,
    )


def open_work_items(instance_id: int, *, reload: bool = False) -> dict[str, WorkItem]:
    """The instance's open work items by engine task id (``reload``: refresh those already in the session)."""
    query = select(WorkItem).where(WorkItem.instance_id == instance_id, WorkItem.status.in_(OPEN_STATUSES),
                                   WorkItem.kind == WorkItemKind.TASK.value)  # not escalations (no engine task)
    if reload:
        query = query.execution_options(populate_existing=True)
    return {wi.spiff_task_id: wi for wi in db.session.scalars(query)}


@dataclass(frozen=True)
class Baseline:
    """What the stored state showed before a step: its ready user tasks and waiting timers.

    The open work items and pending timers of an instance mirror its stored state (every state write goes
    through ``sync_instance``), so a step knows which rows it changes without reading them back.
    """

    ready_task_ids: frozenset[str]
    timers: tuple[WaitingTimer, ...]

    @classmethod
    def of(cls, run: PathwayRun) -> Baseline:
        return cls(frozenset(t.task_id for t in run.ready_tasks()), tuple(run.waiting_timers()))


NOTHING_YET = Baseline(frozenset(), ())  # a new instance: no rows mirror it yet


def sync_instance(instance: PathwayInstance, run: PathwayRun, *, actor: Actor, now: datetime, baseline: Baseline,
                  open_items: dict[str, WorkItem] | None = None,
                  audit_first: list[dict[str, Any]] | None = None, team: CareTeamNow | None = None
                  ) -> list[WorkItem]:
    """Write the run's state and project it into work items, due timers and reminders (flushes).

    ``baseline``: the run before the step (``Baseline.of``; ``NOTHING_YET`` for a new instance);
    ``open_items``: the instance's open work items when the caller read them under the instance lock;
    ``audit_first``: the caller's audit entries for this step (``audit.entry``), written before the step's;
    ``team``: the patient's care team now, if the caller read it (else read when a new work item needs it).
    Returns the work items opened by this step. Reads first, then writes: what the step changes goes to
    the database in one flush, then its audit events, in the order the step produced them, in one insert.
    """
    team = team if team is not None and team.at == now else CareTeamNow(instance.patient_id, now)
    with db.session.no_autoflush:  # the reads below do not depend on this step's pending writes
        if open_items is not None:
            # not the item this step just completed (its new status is not flushed yet)
            open_task_ids = {task_id for task_id, wi in open_items.items() if wi.status in OPEN_STATUSES}
        else:
            open_task_ids = set(baseline.ready_task_ids)
        opened = _sync_work_items(instance, run, open_task_ids, now, team, open_items)
        _sync_timers(instance, run, now, baseline)
        reminders = _plan_reminders(instance, run, now, team)
    state = run.dump(instance_id=instance.id)
    instance.state = state
    instance.state_bytes = len(state)
    instance.updated_at = now
    completed = run.completed and instance.status == InstanceStatus.ACTIVE.value
    if completed:
        instance.status = InstanceStatus.COMPLETED.value
        instance.ended_at = now
    db.session.flush()  # the instance (optimistic lock checked here), then ids for the audit events
    audit.record_entries([*(audit_first or []), *_audit_entries(instance, run, actor, now, reminders, opened,
                                                                 completed)])
    run.log.timers_fired.clear()
    run.log.messages_caught.clear()
    run.log.sends.clear()
    return opened


def _audit_entries(instance: PathwayInstance, run: PathwayRun, actor: Actor, now: datetime,
                   reminders: list[Reminder], opened: list[WorkItem], completed: bool) -> list[dict[str, Any]]:
    def entry(action: str, **kwargs: Any) -> dict[str, Any]:
        return audit.entry(actor, action, at=now, patient_id=instance.patient_id, instance_id=instance.id, **kwargs)

    entries = [entry("reminder.planned", object_type="reminder", object_id=r.id,
                     details={"template": r.template, "channel": r.channel, "recipient": r.recipient})
               for r in reminders]
    entries += [entry("timer.fired", object_type="element", object_id=e) for e in run.log.timers_fired]
    entries += [entry("message.caught", object_type="element", object_id=e) for e in run.log.messages_caught]
    if completed:
        entries.append(entry("instance.completed"))
    entries += [entry("work_item.opened", object_type="work_item", object_id=item.id,
                      details={"element_id": item.element_id, "role": item.role_code}) for item in opened]
    return entries


def _sync_work_items(instance: PathwayInstance, run: PathwayRun, open_task_ids: set[str], now: datetime,
                     team: CareTeamNow, open_items: dict[str, WorkItem] | None) -> list[WorkItem]:
    """Open a work item per new ready user task; cancel the open ones whose task is no longer ready."""
    opened: list[WorkItem] = []
    ready_ids = set()
    for task in run.ready_tasks():
        ready_ids.add(task.task_id)
        if task.task_id not in open_task_ids:
            item = _new_work_item(instance, task, now, team)
            db.session.add(item)
            opened.append(item)
    gone = open_task_ids - ready_ids  # interrupted by a boundary event, or the instance ended
    if gone:
        items = [known[t] for t in gone if t in known] if (known := open_items or {}) else []
        if len(items) < len(gone):
            items = list(db.session.scalars(select(WorkItem).where(
                WorkItem.instance_id == instance.id, WorkItem.spiff_task_id.in_(sorted(gone)),
                WorkItem.status.in_(OPEN_STATUSES))))
        for item in items:
            item.status = WorkItemStatus.CANCELLED.value
            item.cancelled_at = now
    return opened


def _sync_timers(instance: PathwayInstance, run: PathwayRun, now: datetime, baseline: Baseline) -> None:
    """One pending DueTimer row per waiting engine timer; rows the engine consumed become fired.

    The pending rows are the baseline's waiting timers (one per engine task). A cycle timer's engine task
    fires and waits again with its next due time: the occurrence that fired is closed and a new row opens
    for the next one, so each occurrence is claimed exactly once (the closing update runs before the insert).
    """
    waiting = {t.task_id: t for t in run.waiting_timers()}
    fired_elements = set(run.log.timers_fired)
    kept: set[str] = set()
    for before in baseline.timers:
        timer = waiting.get(before.task_id)
        if timer is not None and timer.due_at == before.due_at:
            kept.add(before.task_id)
            continue
        if before.due_at <= now and before.element_id in fired_elements:
            values: dict[str, Any] = {"status": TimerStatus.FIRED.value, "fired_at": now}
        elif timer is not None:  # the engine moved this wait (its expression was re-evaluated)
            values = {"due_at": timer.due_at}
            kept.add(before.task_id)
        else:  # the wait ended without firing (its task was cancelled, a boundary event won...)
            values = {"status": TimerStatus.CANCELLED.value}
        db.session.execute(
            update(DueTimer).where(DueTimer.instance_id == instance.id, DueTimer.spiff_task_id == before.task_id,
                                   DueTimer.status == TimerStatus.PENDING.value)
            .values(**values).execution_options(synchronize_session="evaluate"))  # the loaded row too
    for task_id, timer in waiting.items():
        if task_id not in kept:
            db.session.add(DueTimer(instance_id=instance.id, spiff_task_id=task_id, element_id=timer.element_id,
                                    title=timer.title[:300], due_at=timer.due_at,
                                    status=TimerStatus.PENDING.value, created_at=now))


def _plan_reminders(instance: PathwayInstance, run: PathwayRun, now: datetime, team: CareTeamNow
                    ) -> list[Reminder]:
    """A pending Reminder per planned send (once per engine task: the dedup key). Returns the new ones."""
    planned: list[Reminder] = []
    keys: set[str] = set()
    for send in run.log.sends:
        dedup_key = f"instance:{instance.id}:task:{send.task_id}"
        if dedup_key in keys or db.session.scalar(
                select(Reminder.id).where(Reminder.dedup_key == dedup_key)) is not None:
            continue
        keys.add(dedup_key)
        professional_id = None
        if send.recipient != "patient":
            professional_id = team.assignee(send.recipient)
        reminder = Reminder(
            dedup_key=dedup_key, instance_id=instance.id, patient_id=instance.patient_id, element_id=send.element_id,
            recipient=send.recipient, professional_id=professional_id, channel=send.channel,
            template=send.template, params={}, appointment_at=send.appointment_at, send_at=send.at,
            status=ReminderStatus.PENDING.value, attempts=0, created_at=now,
        )
        db.session.add(reminder)
        planned.append(reminder)
    return planned
