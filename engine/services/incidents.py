"""Instances in ``error`` (an engine step failed: the element, the message) and what a care manager does about
them: retry, skip the failed step (with a reason), cancel (with a reason). Site-restricted, each audited.

A failed step keeps nothing of itself (``instances.run_step``): the instance stays where it was before it.
- retry runs again what was pending: a timer whose step failed fires again, automatic steps run again. If
  it fails again, the instance stays in error with the new message. If the failure came from a form (a
  condition on its answers), the instance is active again with that form still open, to submit again;
- skip runs what was pending but completes the failed element without running it, then runs on;
- cancel ends the instance (work items, timers and reminders cancelled).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from engine.bpmn.recovery import retry, skip_failed
from engine.clock import Clock
from engine.db import db
from engine.errors import InvalidInput, InvalidTransition
from engine.models import InstanceStatus, PathwayInstance, PathwayVersion, Patient
from engine.services import audit
from engine.services.care_managers import require_care_manager
from engine.services.cohort import instance_on_site, on_site
from engine.services.instances import cancel_instance, lock_instance, run_step
from engine.services.pathways import compiled_for
from engine.types import Actor, StepOutcome

MAX_REASON = 500


@dataclass(frozen=True)
class Incident:
    instance_id: int
    patient: Patient
    version: PathwayVersion
    element_id: str | None
    element_title: str
    message: str
    since: datetime


def _element_title(version: PathwayVersion, element_id: str | None) -> str:
    info = compiled_for(version).element(element_id) if element_id else None
    return (info.name if info is not None else None) or element_id or "-"


def list_incidents(actor: Actor, *, clock: Clock, limit: int = 200) -> list[Incident]:
    """The site's instances in error, most recent first (audited "incident.listed" with the patients)."""
    site = require_care_manager(actor)
    rows = db.session.execute(
        select(PathwayInstance, Patient).join(Patient, Patient.id == PathwayInstance.patient_id)
        .where(PathwayInstance.status == InstanceStatus.ERROR.value, on_site(site))
        .order_by(PathwayInstance.updated_at.desc(), PathwayInstance.id.desc()).limit(limit)).all()
    incidents = [Incident(i.id, p, i.version, i.error_element, _element_title(i.version, i.error_element),
                          i.error_message or "", i.updated_at) for i, p in rows]
    audit.record(actor, "incident.listed", at=clock.now(), object_type="incidents",
                 details={"patients": sorted({i.patient.id for i in incidents}), "count": len(incidents)})
    return incidents


def _in_error(actor: Actor, instance_id: int, action: str) -> PathwayInstance:
    """The instance, locked, at the care manager's site and in error; else AccessDenied / InvalidTransition."""
    require_care_manager(actor)
    instance = lock_instance(instance_id)
    instance_on_site(actor, instance, action=action)
    if instance.status != InstanceStatus.ERROR.value:
        verb = action.split(".")[-1].replace("_", " ")
        raise InvalidTransition(f"instance {instance.id} is {instance.status}, not in error: nothing to {verb}")
    return instance


def _reason(reason: str | None, what: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(f"a reason is required to {what}", {"reason": "motif obligatoire"})
    if len(text) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters", {"reason": "motif trop long"})
    return text


def _recover(actor: Actor, instance: PathwayInstance, action: str, step: object, details: dict[str, object], *,
             clock: Clock) -> StepOutcome:
    """Put the instance back to active and run ``step``; audit ``action`` with how it went."""
    failed = {"element_id": instance.error_element, "message": (instance.error_message or "")[:500]}
    instance.status = InstanceStatus.ACTIVE.value
    instance.error_element = instance.error_message = None
    now = clock.now()

    def recorded() -> list[dict[str, object]]:
        return [audit.entry(actor, action, at=now, patient_id=instance.patient_id, instance_id=instance.id,
                            details={**details, "failed": failed})]

    outcome = run_step(instance, step, actor=actor, clock=clock, before_sync=recorded)  # type: ignore[arg-type]
    if outcome.error_message is not None:  # failed again: the instance is back in error with the new message
        audit.record(actor, action, at=now, patient_id=instance.patient_id, instance_id=instance.id, outcome="error",
                     details={**details, "failed": failed, "error": {"element_id": outcome.error_element,
                                                                     "message": outcome.error_message[:500]}})
        db.session.flush()
    return outcome


def retry_instance(actor: Actor, instance_id: int, *, clock: Clock) -> StepOutcome:
    """Run the failed step again (flushes, audits "instance.retried"). In error again → outcome.error_message."""
    instance = _in_error(actor, instance_id, "instance.retried")
    return _recover(actor, instance, "instance.retried", retry, {}, clock=clock)


def skip_failed_step(actor: Actor, instance_id: int, reason: str, *, clock: Clock) -> StepOutcome:
    """Complete the failed element without running it and go on (flushes, audits "instance.step_skipped").

    InvalidTransition (nothing written) when the element does not come back (it followed a form).
    """
    text = _reason(reason, "skip a failed step")
    instance = _in_error(actor, instance_id, "instance.step_skipped")
    element_id = instance.error_element
    if not element_id:
        raise InvalidTransition(f"instance {instance.id} failed outside any step: retry it or cancel it")
    return _recover(actor, instance, "instance.step_skipped",
                    lambda run: skip_failed(run, element_id), {"reason": text, "element_id": element_id},
                    clock=clock)


def cancel_failed_instance(actor: Actor, instance_id: int, reason: str, *, clock: Clock) -> PathwayInstance:
    """End an instance in error for good (flushes; "instance.cancelled" audited with the reason)."""
    text = _reason(reason, "cancel an instance")
    _in_error(actor, instance_id, "instance.cancelled")
    return cancel_instance(instance_id, actor=actor, clock=clock, reason=text)
