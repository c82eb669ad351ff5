"""Secure one-time links for patient work items (lane ``patient``: self-reported pain, daily weight).

The token is 32 random bytes (URL-safe); only its SHA-256 is stored. A link expires, works once, and is
revoked when a newer one is issued for the same work item. Completing through a link goes through the
normal completion service with the patient as the actor, so it is validated, locked and audited alike.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from engine.clock import Clock
from engine.db import db
from engine.errors import EngineError, InvalidTransition, NotFound
from engine.models import PathwayInstance, PatientLink, WorkItem
from engine.services import audit
from engine.services.inbox import complete_work_item
from engine.services.pathways import version_forms
from engine.types import Actor, StepOutcome


class PatientLinkError(EngineError):
    """The link is unknown, expired or already used; ``reason`` says which (the page shows it)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PatientLinkView:
    """What the patient's page shows: the form to fill, nothing else about the pathway."""

    work_item_id: int
    title: str
    form_key: str | None
    form_schema: dict[str, Any] | None
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_patient_link(work_item: WorkItem, *, now: datetime, lifetime: timedelta,
                       reminder_id: int | None = None) -> tuple[str, PatientLink]:
    """A new link for an open patient work item (flushes, audits); earlier unused links are revoked.

    Returns the token (to put in the message, never stored) and the row.
    """
    if work_item.role_code != "patient" or not work_item.is_open:
        raise InvalidTransition(f"work item {work_item.id} is not an open patient work item")
    db.session.execute(update(PatientLink).where(
        PatientLink.work_item_id == work_item.id, PatientLink.used_at.is_(None), PatientLink.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False))
    token = secrets.token_urlsafe(32)
    link = PatientLink(token_hash=_hash(token), work_item_id=work_item.id, patient_id=work_item.patient_id,
                       reminder_id=reminder_id, created_at=now, expires_at=now + lifetime)
    db.session.add(link)
    db.session.flush()
    audit.record(Actor.system("patient-link"), "patient_link.issued", at=now, patient_id=work_item.patient_id,
                 instance_id=work_item.instance_id, object_type="work_item", object_id=work_item.id,
                 details={"link_id": link.id, "expires_at": link.expires_at.isoformat()})
    return token, link


def _valid_link(token: str, now: datetime, *, lock: bool = False) -> tuple[PatientLink, WorkItem]:
    query = select(PatientLink).where(PatientLink.token_hash == _hash(token or ""))
    if lock:
        query = query.with_for_update()
    link = db.session.scalar(query)
    if link is None:
        raise PatientLinkError("this link is not valid: check that it was copied in full", reason="unknown")
    actor = Actor.patient(link.patient_id)
    item = db.session.get(WorkItem, link.work_item_id)
    problem = None
    if link.used_at is not None:
        problem = ("this link was already used: it works only once", "used")
    elif link.revoked_at is not None:
        problem = ("this link was replaced by a newer one: use the latest message", "revoked")
    elif now >= link.expires_at:
        problem = ("this link has expired: contact your care team for a new one", "expired")
    elif item is None or not item.is_open:
        problem = ("there is nothing left to fill in with this link", "closed")
    if problem is not None:
        audit.record(actor, "patient_link.refused", at=now, patient_id=link.patient_id, outcome="denied",
                     object_type="work_item", object_id=link.work_item_id, details={"reason": problem[1]})
        db.session.flush()
        raise PatientLinkError(problem[0], reason=problem[1])
    assert item is not None  # noqa: S101 - checked above
    return link, item


def open_patient_link(token: str, *, clock: Clock) -> PatientLinkView:
    """Check a link and describe the form it opens (audited as a read by the patient). Raises PatientLinkError."""
    now = clock.now()
    link, item = _valid_link(token, now)
    schema = _form_schema(item)
    audit.record(Actor.patient(link.patient_id), "patient_link.opened", at=now, patient_id=link.patient_id,
                 instance_id=item.instance_id, object_type="work_item", object_id=item.id)
    db.session.flush()
    return PatientLinkView(item.id, item.title, item.form_key, schema, link.expires_at)


def _form_schema(item: WorkItem) -> dict[str, Any] | None:
    if not item.form_key:
        return None
    instance = db.session.get(PathwayInstance, item.instance_id)
    if instance is None:
        raise NotFound(f"no pathway instance {item.instance_id}")
    return version_forms(instance.version).get(item.form_key)  # type: ignore[no-any-return]


def complete_via_patient_link(token: str, data: dict[str, Any], *, clock: Clock) -> StepOutcome:
    """Complete the link's work item with the patient's answers, then spend the link (one transaction).

    Raises PatientLinkError (unknown, expired, used, closed) or InvalidInput (answers fail the form).
    """
    now = clock.now()
    link, item = _valid_link(token, now, lock=True)
    outcome = complete_work_item(item.id, data, actor=Actor.patient(link.patient_id), clock=clock)
    link.used_at = now
    audit.record(Actor.patient(link.patient_id), "patient_link.used", at=now, patient_id=link.patient_id,
                 instance_id=item.instance_id, object_type="work_item", object_id=item.id)
    db.session.flush()
    return outcome
