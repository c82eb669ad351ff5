"""External events (a lab result arrives) delivered to the patient's waiting pathway instances."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.bpmn.runtime import PathwayRun
from engine.clock import Clock
from engine.db import db
from engine.errors import InvalidInput, InvalidTransition
from engine.models import InstanceStatus, PathwayInstance
from engine.services import access, audit
from engine.services.instances import lock_instance, run_step
from engine.services.pathways import compiled_for
from engine.services.people import find_patient
from engine.types import Actor, StepOutcome


def _deliver(run: PathwayRun, name: str, payload: dict[str, Any]) -> None:
    if not run.deliver_message(name, payload):
        raise InvalidTransition(f"the instance stopped waiting for message '{name}'")


def deliver_message(patient_ref: str | int, name: str, payload: dict[str, Any] | None = None, *, actor: Actor,
                    clock: Clock) -> list[StepOutcome]:
    """Deliver message ``name`` to every active instance of the patient waiting for it (flushes, audits).

    Raises InvalidTransition when no instance waits for that message (nothing is stored).
    """
    if not name or not name.replace("_", "").isalnum():
        raise InvalidInput(f"message name {name!r} is not valid")
    payload = payload or {}
    if not isinstance(payload, dict):
        raise InvalidInput("message data must be a JSON object")
    patient = find_patient(patient_ref)
    access.require_patient_access(actor, patient.id, action="message.delivered", clock=clock)
    outcomes = []
    instance_ids = db.session.scalars(select(PathwayInstance.id).where(
        PathwayInstance.patient_id == patient.id, PathwayInstance.status == InstanceStatus.ACTIVE.value)).all()
    for instance_id in instance_ids:
        instance = lock_instance(instance_id)
        probe = PathwayRun.load(compiled_for(instance.version), instance.state, clock, instance_id=instance.id)
        if name not in probe.waiting_messages():
            probe.keep_warm(instance.id, instance.state)
            continue
        outcome = run_step(instance, lambda run, n=name, p=payload: _deliver(run, n, p), actor=actor, clock=clock,
                           loaded=probe)
        audit.record(actor, "message.delivered", at=clock.now(), patient_id=patient.id, instance_id=instance.id,
                     object_type="message", object_id=name, details={"keys": sorted(payload)})
        outcomes.append(outcome)
    if not outcomes:
        raise InvalidTransition(f"no pathway of patient {patient.identifier} is waiting for message '{name}'")
    db.session.flush()
    return outcomes
