"""Pathway instances: enrol a patient, run engine steps under a lock, suspend, resume, cancel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from engine.bpmn.parser import CompiledPathway
from engine.bpmn.runtime import PathwayRun
from engine.clock import Clock
from engine.db import db
from engine.errors import ConcurrencyConflict, EngineStepError, InvalidInput, InvalidTransition, NotFound
from engine.models import (
    DueTimer,
    InstanceStatus,
    PathwayInstance,
    PathwayVersion,
    Reminder,
    ReminderStatus,
    TimerStatus,
    WorkItem,
    WorkItemStatus,
)
from engine.models.work_item import OPEN_STATUSES
from engine.services import access, audit
from engine.services.pathways import compiled_for, get_version, latest_version
from engine.services.people import CareTeamNow, find_patient
from engine.services.projection import NOTHING_YET, Baseline, sync_instance
from engine.types import Actor, StepOutcome


def lock_instance(instance_id: int) -> PathwayInstance:
    """Load an instance and lock its row until the transaction ends (SELECT ... FOR UPDATE on PostgreSQL)."""
    instance = db.session.scalar(
        select(PathwayInstance).where(PathwayInstance.id == instance_id)
        .with_for_update(of=PathwayInstance).execution_options(populate_existing=True)
    )
    if instance is None:
        raise NotFound(f"no pathway instance {instance_id}")
    return instance


def _as_anchor(name: str, value: Any, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tz)
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return datetime.combine(date.fromisoformat(value), time(0, 0), tz)
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(f"anchor date '{name}' must be an ISO 8601 date (2026-11-20) or date-time, "
                               f"got {value!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
    raise InvalidInput(f"anchor date '{name}' must be an ISO 8601 date, got {value!r}")


def build_start_data(version: PathwayVersion | CompiledPathway, context: dict[str, Any], tz: ZoneInfo
                     ) -> dict[str, Any]:
    """Parameters with their defaults, overridden by the context; anchor dates as aware datetimes."""
    missing = [a for a in version.anchors if a not in context]
    if missing:
        raise InvalidInput(f"pathway '{version.key}' needs the anchor date(s) {', '.join(missing)} "
                           f"(e.g. --context '{{\"{missing[0]}\": \"2026-11-20\"}}')")
    data: dict[str, Any] = dict(version.parameters or {})
    for name, value in context.items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise InvalidInput(f"context key {name!r} is not a valid variable name")
        if name in version.anchors or name.startswith("date_"):
            data[name] = _as_anchor(name, value, tz)
        elif name in data and isinstance(data[name], int | float) and not isinstance(value, int | float):
            raise InvalidInput(f"parameter '{name}' must be a number, got {value!r}")
        else:
            data[name] = value
    return data


def enrol_patient(patient_ref: str | int, pathway_key: str, *, context: dict[str, Any] | None = None,
                  version_number: int | None = None, actor: Actor, clock: Clock) -> StepOutcome:
    """Start a pathway instance for a patient and run it to its first wait (flushes, audits).

    The engine runs before anything is stored: a pathway that fails at start stores nothing.
    """
    patient = find_patient(patient_ref)
    access.require_patient_access(actor, patient.id, action="instance.enrol", clock=clock)
    version = get_version(pathway_key, version_number) if version_number else latest_version(pathway_key)
    running = db.session.scalar(select(PathwayInstance.id).where(
        PathwayInstance.patient_id == patient.id, PathwayInstance.version_id.in_(
            select(PathwayVersion.id).where(PathwayVersion.key == pathway_key)),
        PathwayInstance.status.in_([InstanceStatus.ACTIVE.value, InstanceStatus.SUSPENDED.value,
                                    InstanceStatus.ERROR.value])))
    if running is not None:
        raise InvalidTransition(f"patient {patient.identifier} is already on pathway '{pathway_key}' "
                                f"(instance {running})")
    try:
        tz = ZoneInfo(patient.timezone or "Europe/Paris")
    except ZoneInfoNotFoundError:
        tz = ZoneInfo("Europe/Paris")
    context = dict(context or {})
    data = build_start_data(version, context, tz)
    now = clock.now()
    run = PathwayRun.start(compiled_for(version), data, clock)  # EngineStepError propagates: nothing stored
    instance = PathwayInstance(patient_id=patient.id, version_id=version.id, status=InstanceStatus.ACTIVE.value,
                               context={k: (v.isoformat() if isinstance(v, datetime | date) else v)
                                        for k, v in context.items()},
                               state="", started_at=now, updated_at=now)
    db.session.add(instance)
    db.session.flush()
    audit.record(actor, "instance.enrolled", at=now, patient_id=patient.id, instance_id=instance.id,
                 object_type="pathway_version", object_id=version.id,
                 details={"key": version.key, "version": version.version})
    opened = sync_instance(instance, run, actor=actor, now=now, baseline=NOTHING_YET)
    return StepOutcome(instance.id, instance.status, tuple(w.id for w in opened))


def run_step(instance: PathwayInstance, action: Callable[[PathwayRun], None], *, actor: Actor, clock: Clock,
             before_sync: Callable[[], list[dict[str, Any]]] | None = None,
             open_items: dict[str, WorkItem] | None = None, team: CareTeamNow | None = None,
             loaded: PathwayRun | None = None) -> StepOutcome:
    """Load the locked instance's engine, apply ``action``, project the result — all or nothing.

    ``before_sync`` runs once the engine step succeeded and returns the audit entries (``audit.entry``) of
    what it changed: they are written first, with the step's own. ``open_items``: the instance's open work
    items, if the caller already read them under the lock; ``team``: the patient's care team now, if the
    caller already has it; ``loaded``: the instance's engine if the caller already loaded it from ``state``.
    An engine failure writes nothing of the step and records the instance as ``error`` (element + message);
    a concurrent change raises ConcurrencyConflict (the caller rolls back).

    The engine acts in memory before anything is written: a failing step leaves the session as it was,
    so no savepoint is needed (two round trips saved per step on PostgreSQL).
    """
    if instance.status != InstanceStatus.ACTIVE.value:
        raise InvalidTransition(f"instance {instance.id} is {instance.status}, not active")
    now = clock.now()
    try:
        run = loaded or PathwayRun.load(compiled_for(instance.version), instance.state, clock,
                                        instance_id=instance.id)
        baseline = Baseline.of(run)
        action(run)
    except EngineStepError as exc:
        instance.status = InstanceStatus.ERROR.value
        instance.error_element = exc.element_id
        instance.error_message = str(exc)[:2000]
        instance.updated_at = now
        audit.record(actor, "instance.error", at=now, patient_id=instance.patient_id, instance_id=instance.id,
                     outcome="error", details={"element_id": exc.element_id, "message": str(exc)[:500]})
        try:
            db.session.flush()
        except StaleDataError as stale:
            raise ConcurrencyConflict(f"instance {instance.id} was changed by someone else; reload and retry"
                                      ) from stale
        return StepOutcome(instance.id, instance.status, (), exc.element_id, str(exc))
    audit_first = before_sync() if before_sync is not None else []
    try:
        opened = sync_instance(instance, run, actor=actor, now=now, baseline=baseline, open_items=open_items,
                               audit_first=audit_first, team=team)
    except StaleDataError as exc:
        raise ConcurrencyConflict(f"instance {instance.id} was changed by someone else; reload and retry") from exc
    return StepOutcome(instance.id, instance.status, tuple(w.id for w in opened))


def _set_status(instance_id: int, new: InstanceStatus, allowed: tuple[InstanceStatus, ...], action: str, *,
                actor: Actor, clock: Clock, reason: str | None = None) -> PathwayInstance:
    instance = lock_instance(instance_id)
    access.require_patient_access(actor, instance.patient_id, action=action, clock=clock)
    if instance.status not in {s.value for s in allowed}:
        raise InvalidTransition(f"instance {instance.id} is {instance.status}: cannot {action.split('.')[-1]} it")
    now = clock.now()
    instance.status = new.value
    instance.updated_at = now
    if new in (InstanceStatus.CANCELLED,):
        instance.ended_at = now
    audit.record(actor, action, at=now, patient_id=instance.patient_id, instance_id=instance.id,
                 details={"reason": reason} if reason else {})
    return instance


def suspend_instance(instance_id: int, *, actor: Actor, clock: Clock, reason: str | None = None) -> PathwayInstance:
    """Pause an instance: its work items stay, its timers wait until it is resumed (flushes, audits)."""
    instance = _set_status(instance_id, InstanceStatus.SUSPENDED, (InstanceStatus.ACTIVE,), "instance.suspended",
                           actor=actor, clock=clock, reason=reason)
    db.session.flush()
    return instance


def resume_instance(instance_id: int, *, actor: Actor, clock: Clock) -> PathwayInstance:
    """Resume a suspended instance (timers that fell due meanwhile fire at the next tick)."""
    instance = _set_status(instance_id, InstanceStatus.ACTIVE, (InstanceStatus.SUSPENDED,), "instance.resumed",
                           actor=actor, clock=clock)
    db.session.flush()
    return instance


def cancel_instance(instance_id: int, *, actor: Actor, clock: Clock, reason: str | None = None) -> PathwayInstance:
    """End an instance for good: open work items, pending timers and reminders are cancelled."""
    instance = _set_status(instance_id, InstanceStatus.CANCELLED,
                           (InstanceStatus.ACTIVE, InstanceStatus.SUSPENDED, InstanceStatus.ERROR),
                           "instance.cancelled", actor=actor, clock=clock, reason=reason)
    now = clock.now()
    for item in db.session.scalars(select(WorkItem).where(WorkItem.instance_id == instance.id,
                                                          WorkItem.status.in_(OPEN_STATUSES))):
        item.status, item.cancelled_at = WorkItemStatus.CANCELLED.value, now
    for timer in db.session.scalars(select(DueTimer).where(DueTimer.instance_id == instance.id,
                                                           DueTimer.status == TimerStatus.PENDING.value)):
        timer.status = TimerStatus.CANCELLED.value
    for reminder in db.session.scalars(select(Reminder).where(Reminder.instance_id == instance.id,
                                                              Reminder.status == ReminderStatus.PENDING.value)):
        reminder.status = ReminderStatus.CANCELLED.value
    db.session.flush()
    return instance


def instances_of_patient(patient_id: int) -> list[PathwayInstance]:
    return list(db.session.scalars(select(PathwayInstance).where(PathwayInstance.patient_id == patient_id)
                                   .order_by(PathwayInstance.id)))
