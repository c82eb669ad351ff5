"""Append-only audit trail: one AuditEvent per read or write of patient data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert

from engine.db import db
from engine.errors import AccessDenied
from engine.models import AuditEvent
from engine.types import Actor


def record(
    actor: Actor,
    action: str,
    *,
    at: datetime,
    patient_id: int | None = None,
    instance_id: int | None = None,
    object_type: str | None = None,
    object_id: int | str | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event (flushed with the caller's transaction)."""
    event = AuditEvent(**entry(actor, action, at=at, patient_id=patient_id, instance_id=instance_id,
                               object_type=object_type, object_id=object_id, outcome=outcome, details=details))
    db.session.add(event)
    return event


def entry(
    actor: Actor,
    action: str,
    *,
    at: datetime,
    patient_id: int | None = None,
    instance_id: int | None = None,
    object_type: str | None = None,
    object_id: int | str | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The column values of one audit event (for ``record_entries``)."""
    return {
        "at": at,
        "actor_kind": actor.kind,
        "actor_id": actor.professional_id,
        "actor_label": actor.label,
        "action": action,
        "outcome": outcome,
        "patient_id": patient_id,
        "instance_id": instance_id,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "details": details or {},
    }


def record_entries(entries: list[dict[str, Any]]) -> None:
    """Append several audit events, in order, in one INSERT executed now in the caller's transaction."""
    if entries:
        db.session.execute(insert(AuditEvent), entries)


def record_denial(denied: AccessDenied, *, at: datetime) -> AuditEvent:
    """Audit a refused access (call after the refused transaction was rolled back, then commit)."""
    actor = Actor(denied.actor_kind, denied.actor_label, denied.actor_id)
    return record(actor, denied.action, at=at, patient_id=denied.patient_id, outcome="denied")
