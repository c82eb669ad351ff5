"""Pathway drafts: created from a starter template, a copy of a version or an uploaded .bpmn; saved with an
optimistic revision; validated with element-located problems; deployed as the pathway's next version.

Drafts are never runnable: only ``deploy_draft`` turns one into a PathwayVersion, through the same validation
and storage as ``parcours deploy`` (engine.services.pathways.deploy_pathway). Every write is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from engine.bpmn.xml_safety import parse_xml
from engine.clock import Clock
from engine.db import db
from engine.errors import (
    ConcurrencyConflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PathwayDefinitionError,
    Problem,
)
from engine.models import DraftStatus, InstanceStatus, PathwayDraft, PathwayInstance, PathwayVersion, Patient
from engine.services import audit
from engine.services.care_managers import require_care_manager
from engine.services.draft_documents import (
    StarterTemplate,
    check_key,
    form_text_problems,
    key_and_title,
    normalised_forms,
    referenced_form_keys,
    renamed,
    starter_source,
    starter_templates,
)
from engine.services.pathways import DeployResult, PathwaySource, deploy_pathway, get_version_by_id, validate_source
from engine.types import Actor

__all__ = [
    "CopyableVersion", "DeployPreview", "DraftSummary", "StarterTemplate", "copyable_versions", "create_draft",
    "delete_draft", "deploy_draft", "deploy_preview", "draft_source", "draft_summary", "get_draft", "list_drafts",
    "save_draft", "starter_templates", "validate_draft",
]


@dataclass(frozen=True)
class DraftSummary:
    """One row of the drafts list."""

    id: int
    key: str
    title: str
    status: str
    revision: int
    base_version: int | None
    deployed_version: int | None
    created_by_label: str
    updated_at: datetime
    updated_by_label: str


@dataclass(frozen=True)
class DeployPreview:
    """What deploying the draft would do: the version it becomes, the running instances that stay where they
    are (version number -> count, the care manager's site only), and what keeps it from deploying."""

    key: str
    next_version: int
    instances_staying: dict[int, int]
    problems: list[Problem]
    base_version: int | None = None
    latest_version: int | None = None
    identical_to: int | None = None  # an existing version with exactly this content
    notes: list[str] = field(default_factory=list)


def _version_number(version_id: int | None) -> int | None:
    if version_id is None:
        return None
    return db.session.scalar(select(PathwayVersion.version).where(PathwayVersion.id == version_id))


def _latest(key: str) -> PathwayVersion | None:
    return db.session.scalar(select(PathwayVersion).where(PathwayVersion.key == key)
                             .order_by(PathwayVersion.version.desc()).limit(1))


def _new_draft(actor: Actor, clock: Clock, bpmn: bytes, filename: str, forms: dict[str, Any],
               dmn_files: dict[str, str], base: PathwayVersion | None) -> PathwayDraft:
    root = parse_xml(bpmn, filename)  # refused (nothing stored) unless it is safe BPMN XML
    key, title = key_and_title(root)
    now = clock.now()
    draft = PathwayDraft(key=key, title=title, bpmn_xml=bpmn.decode("utf-8"), forms=forms, dmn_files=dmn_files,
                         base_version_id=base.id if base else None, status=DraftStatus.DRAFT.value,
                         created_by_id=actor.professional_id, created_by_label=actor.label, created_at=now,
                         updated_by_id=actor.professional_id, updated_by_label=actor.label, updated_at=now)
    db.session.add(draft)
    db.session.flush()
    return draft


def create_draft(*, actor: Actor, clock: Clock, template: str | None = None, from_version_id: int | None = None,
                 upload: tuple[str, bytes] | None = None, key: str | None = None, title: str | None = None,
                 starters_dir: Path | None = None) -> PathwayDraft:
    """A new draft from exactly one of: a starter template (``key``/``title`` name the new pathway), a copy of
    a deployed version (its XML, forms and DMN), or an uploaded .bpmn (forms and DMN of the latest version
    with the same key, if any). Flushes and audits.

    An upload that is not safe BPMN XML (too big, DTD/entities, malformed, another root) is refused with a
    PathwayDefinitionError and nothing is stored; a BPMN with convention problems is kept (validate says them).
    """
    require_care_manager(actor)
    if sum(x is not None for x in (template, from_version_id, upload)) != 1:
        raise InvalidInput("give exactly one of: a starter template, a version to copy, an uploaded file")
    details: dict[str, Any]
    if template is not None:
        bpmn, forms = starter_source(template, starters_dir)
        new_key = check_key(key) if key else key_and_title(parse_xml(bpmn, f"{template}.bpmn"))[0]
        if _latest(new_key) is not None:
            raise InvalidInput(f"a pathway '{new_key}' is already deployed: choose another key for a new pathway, "
                               f"or edit a copy of that pathway", {"key": "déjà utilisé"})
        bpmn = renamed(bpmn, f"{template}.bpmn", key=new_key, title=(title or "").strip()[:300] or None)
        draft = _new_draft(actor, clock, bpmn, f"{new_key}.bpmn", forms, {}, None)
        details = {"template": template}
    elif from_version_id is not None:
        version = get_version_by_id(from_version_id)
        draft = _new_draft(actor, clock, version.bpmn_xml.encode("utf-8"), version.filename, dict(version.forms or {}),
                           dict(version.dmn_files or {}), version)
        details = {"from_version": version.version}
    else:
        assert upload is not None
        filename, data = upload
        root = parse_xml(data, filename or "upload.bpmn")
        base = _latest(key_and_title(root)[0])
        forms: dict[str, Any] = {}
        dmn: dict[str, str] = {}
        if base is not None:
            wanted = referenced_form_keys(root)
            forms = {k: v for k, v in (base.forms or {}).items() if k in wanted}
            dmn = dict(base.dmn_files or {})
        draft = _new_draft(actor, clock, data, filename or "upload.bpmn", forms, dmn, base)
        details = {"upload": (filename or "")[:200]}
    audit.record(actor, "draft.created", at=clock.now(), object_type="pathway_draft", object_id=draft.id,
                 details={"key": draft.key, **details})
    return draft


@dataclass(frozen=True)
class CopyableVersion:
    """The latest version of a deployed pathway, offered as the start of a new draft."""

    id: int
    key: str
    version: int
    title: str


def copyable_versions() -> list[CopyableVersion]:
    """The latest version of every deployed pathway, by key."""
    latest = (select(PathwayVersion.key, func.max(PathwayVersion.version).label("version"))
              .group_by(PathwayVersion.key).subquery())
    columns = (PathwayVersion.id, PathwayVersion.key, PathwayVersion.version, PathwayVersion.title)
    rows = db.session.execute(select(*columns)
                              .join(latest, (latest.c.key == PathwayVersion.key)
                                    & (latest.c.version == PathwayVersion.version))
                              .order_by(PathwayVersion.key)).all()
    return [CopyableVersion(*row) for row in rows]


def get_draft(draft_id: int, *, for_update: bool = False) -> PathwayDraft:
    draft = db.session.get(PathwayDraft, draft_id, with_for_update=for_update or None)
    if draft is None:
        raise NotFound(f"no draft {draft_id}")
    return draft


def draft_summary(draft: PathwayDraft) -> DraftSummary:
    """One draft as the list shows it (with the version numbers it is based on / was deployed as)."""
    return DraftSummary(draft.id, draft.key, draft.title, draft.status, draft.revision,
                        _version_number(draft.base_version_id), _version_number(draft.deployed_version_id),
                        draft.created_by_label, draft.updated_at, draft.updated_by_label)


def list_drafts() -> list[DraftSummary]:
    """Every draft, the last changed first."""
    drafts = list(db.session.scalars(select(PathwayDraft).order_by(PathwayDraft.updated_at.desc(),
                                                                    PathwayDraft.id.desc())))
    ids = {d.base_version_id for d in drafts} | {d.deployed_version_id for d in drafts}
    numbers = dict(db.session.execute(select(PathwayVersion.id, PathwayVersion.version)
                                      .where(PathwayVersion.id.in_([i for i in ids if i is not None]))).all())
    return [DraftSummary(d.id, d.key, d.title, d.status, d.revision, numbers.get(d.base_version_id),
                         numbers.get(d.deployed_version_id), d.created_by_label, d.updated_at, d.updated_by_label)
            for d in drafts]


def _check_editable(draft: PathwayDraft, expected_revision: int | None) -> None:
    if draft.status == DraftStatus.DEPLOYED.value:
        number = _version_number(draft.deployed_version_id)
        raise InvalidTransition(f"this draft was deployed as version {number} of '{draft.key}': edit a copy of "
                                f"that version instead")
    if expected_revision is not None and expected_revision != draft.revision:
        raise ConcurrencyConflict(f"the draft was saved by {draft.updated_by_label} meanwhile (revision "
                                  f"{draft.revision}, yours is {expected_revision}): nothing was written")


def save_draft(draft_id: int, *, bpmn_xml: str, forms: Mapping[str, Any] | None, expected_revision: int,
               actor: Actor, clock: Clock) -> PathwayDraft:
    """Store the editor's BPMN and forms as the draft's next revision (key and title follow the XML).

    ConcurrencyConflict when someone saved since ``expected_revision``; PathwayDefinitionError when the text
    is not safe BPMN XML. Flushes (the new revision is then on the draft) and audits.
    """
    require_care_manager(actor)
    if not isinstance(bpmn_xml, str):
        raise InvalidInput("the diagram (xml) must be text", {"xml": "texte attendu"})
    draft = get_draft(draft_id, for_update=True)
    _check_editable(draft, expected_revision)
    data = bpmn_xml.encode("utf-8")
    root = parse_xml(data, f"{draft.key}.bpmn")
    draft.key, draft.title = key_and_title(root)
    draft.bpmn_xml = bpmn_xml
    draft.forms = normalised_forms(dict(forms) if forms is not None else draft.forms)
    draft.updated_by_id, draft.updated_by_label, draft.updated_at = actor.professional_id, actor.label, clock.now()
    try:
        db.session.flush()
    except StaleDataError:
        raise ConcurrencyConflict("the draft was saved by someone else at the same moment: nothing was written; "
                                  "reload it") from None
    audit.record(actor, "draft.saved", at=clock.now(), object_type="pathway_draft", object_id=draft.id,
                 details={"key": draft.key, "revision": draft.revision})
    return draft


def delete_draft(draft_id: int, *, actor: Actor, clock: Clock) -> None:
    """Remove a draft (deployed versions stay). Audits."""
    require_care_manager(actor)
    draft = get_draft(draft_id, for_update=True)
    audit.record(actor, "draft.deleted", at=clock.now(), object_type="pathway_draft", object_id=draft.id,
                 details={"key": draft.key, "revision": draft.revision})
    db.session.delete(draft)
    db.session.flush()


def draft_source(draft: PathwayDraft, *, bpmn_xml: str | None = None,
                 forms: Mapping[str, Any] | None = None) -> PathwaySource:
    """The draft as a PathwaySource (what deploy and simulation read): its BPMN, the forms its user tasks
    name, its DMN files. ``bpmn_xml``/``forms`` replace the saved ones (what the editor holds now)."""
    text = draft.bpmn_xml if bpmn_xml is None else bpmn_xml
    all_forms = normalised_forms(dict(forms)) if forms is not None else dict(draft.forms or {})
    bpmn = text.encode("utf-8")
    filename = f"{draft.key}.bpmn"
    try:
        root = parse_xml(bpmn, filename)
        filename = f"{key_and_title(root)[0]}.bpmn"
        tasks_by_form = referenced_form_keys(root)
    except PathwayDefinitionError:
        tasks_by_form = {}  # validation reports why the XML is refused
    used = {k: v for k, v in all_forms.items() if k in tasks_by_form}
    return PathwaySource(filename=filename, bpmn=bpmn, forms=used,
                         dmn_files={k: v.encode("utf-8") for k, v in (draft.dmn_files or {}).items()},
                         problems=form_text_problems(filename, used, tasks_by_form))


def validate_draft(draft: PathwayDraft, *, bpmn_xml: str | None = None,
                   forms: Mapping[str, Any] | None = None) -> list[Problem]:
    """Every problem that keeps the draft (or the editor's current content) from deploying, located by the
    BPMN element id where there is one ('-' for the file as a whole). Reads only."""
    return validate_source(draft_source(draft, bpmn_xml=bpmn_xml, forms=forms))[1]


def _running_per_version(key: str, site: str) -> dict[int, int]:
    query = (select(PathwayVersion.version, func.count(PathwayInstance.id))
             .join(PathwayInstance, PathwayInstance.version_id == PathwayVersion.id)
             .where(PathwayVersion.key == key, PathwayInstance.status == InstanceStatus.ACTIVE.value)
             .group_by(PathwayVersion.version).order_by(PathwayVersion.version))
    if site:
        query = query.join(Patient, Patient.id == PathwayInstance.patient_id).where(Patient.site == site)
    return {int(v): int(n) for v, n in db.session.execute(query).all()}


def deploy_preview(draft: PathwayDraft, *, actor: Actor) -> DeployPreview:
    """What ``deploy_draft`` would do now (reads only; the counts are the care manager's site's instances)."""
    site = require_care_manager(actor)
    source = draft_source(draft)
    problems = validate_source(source)[1]
    latest = _latest(draft.key)
    identical = db.session.scalar(select(PathwayVersion.version).where(PathwayVersion.key == draft.key,
                                                                       PathwayVersion.sha256 == source.sha256))
    return DeployPreview(key=draft.key, next_version=(latest.version if latest else 0) + 1,
                         instances_staying=_running_per_version(draft.key, site), problems=problems,
                         base_version=_version_number(draft.base_version_id),
                         latest_version=latest.version if latest else None, identical_to=identical)


def deploy_draft(draft: PathwayDraft, *, actor: Actor, clock: Clock,
                 expected_revision: int | None = None) -> DeployResult:
    """Deploy the saved draft as the next version of its pathway; the draft is then marked deployed.

    PathwayDefinitionError (with every problem; nothing stored) when validation refuses it; InvalidTransition
    when it was deployed already or is identical to an existing version; ConcurrencyConflict when saved since
    ``expected_revision``. Running instances stay on their version. Flushes and audits.
    """
    require_care_manager(actor)
    _check_editable(draft, expected_revision)
    result = deploy_pathway(draft_source(draft), actor=actor, clock=clock)
    if not result.created:
        raise InvalidTransition(f"this draft is identical to version {result.version.version} of "
                                f"'{result.version.key}': nothing to deploy")
    draft.status = DraftStatus.DEPLOYED.value
    draft.deployed_version_id = result.version.id
    draft.updated_by_id, draft.updated_by_label, draft.updated_at = actor.professional_id, actor.label, clock.now()
    db.session.flush()
    audit.record(actor, "draft.deployed", at=clock.now(), object_type="pathway_draft", object_id=draft.id,
                 details={"key": result.version.key, "version": result.version.version,
                          "version_id": result.version.id})
    return result
