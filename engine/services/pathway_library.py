"""The studio's pathway library: every pathway with its versions, the instances running on each, the last change.

For care managers only (``require_care_manager``). Instance counts are those of the care manager's site
(Patient.site; the CLI operator counts every site) and are aggregates: no patient is named, so nothing is
audited. A "running" instance is one the version still carries: active, suspended or in error (each counted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from engine.bpmn.definition_outline import DefinitionOutline, outline_definition
from engine.db import db
from engine.errors import NotFound
from engine.models import (
    RUNNING_STATUSES,
    DraftStatus,
    PathwayDraft,
    PathwayInstance,
    PathwayVersion,
    Patient,
    VersionStatus,
)
from engine.services.care_managers import require_care_manager
from engine.services.pathways import PathwaySource, get_version
from engine.types import Actor


@dataclass(frozen=True)
class RunningCounts:
    """Instances a version still carries, by status."""

    active: int = 0
    suspended: int = 0
    error: int = 0

    @property
    def total(self) -> int:
        return self.active + self.suspended + self.error

    def __add__(self, other: RunningCounts) -> RunningCounts:
        return RunningCounts(self.active + other.active, self.suspended + other.suspended, self.error + other.error)


@dataclass(frozen=True)
class LibraryChange:
    """The latest change to a pathway: when, by whom, what (``deployed`` a version; drafts add ``draft_saved``)."""

    at: datetime
    by: str
    what: str
    version: int | None = None


@dataclass(frozen=True)
class VersionEntry:
    id: int
    number: int
    title: str
    status: str
    deployed_at: datetime
    deployed_by: str
    running: RunningCounts
    is_current: bool  # the version new enrolments start on (the latest active one)


@dataclass
class PathwayEntry:
    key: str
    title: str
    versions: list[VersionEntry] = field(default_factory=list)  # oldest first
    last_change: LibraryChange | None = None

    @property
    def current(self) -> VersionEntry | None:
        return next((v for v in self.versions if v.is_current), None)

    @property
    def latest(self) -> VersionEntry:
        return self.versions[-1]

    @property
    def running(self) -> RunningCounts:
        total = RunningCounts()
        for version in self.versions:
            total = total + version.running
        return total

    def version(self, number: int) -> VersionEntry | None:
        return next((v for v in self.versions if v.number == number), None)


def _deploys(keys: set[str]) -> dict[str, LibraryChange]:
    """The latest deploy of each pathway."""
    changes: dict[str, LibraryChange] = {}
    rows = db.session.execute(select(PathwayVersion.key, PathwayVersion.version, PathwayVersion.deployed_at,
                                     PathwayVersion.deployed_by_label)
                              .where(PathwayVersion.key.in_(keys)).order_by(PathwayVersion.version))
    for key, number, at, by in rows:
        changes[key] = LibraryChange(at, by, "deployed", number)
    return changes


def _draft_saves(keys: set[str]) -> dict[str, LibraryChange]:
    """The latest change to a draft of each pathway (created, saved) not yet deployed."""
    changes: dict[str, LibraryChange] = {}
    rows = db.session.execute(select(PathwayDraft.key, PathwayDraft.updated_at, PathwayDraft.updated_by_label)
                              .where(PathwayDraft.key.in_(keys), PathwayDraft.status == DraftStatus.DRAFT.value)
                              .order_by(PathwayDraft.updated_at))
    for key, at, by in rows:
        changes[key] = LibraryChange(at, by, "draft_saved")
    return changes


# Where changes come from, newest wins: a function of the keys listed that returns {key: LibraryChange}.
CHANGE_SOURCES: list[Callable[[set[str]], dict[str, LibraryChange]]] = [_deploys, _draft_saves]


def _last_changes(keys: set[str]) -> dict[str, LibraryChange]:
    latest: dict[str, LibraryChange] = {}
    for source in CHANGE_SOURCES:
        for key, change in source(keys).items():
            if key not in latest or change.at > latest[key].at:
                latest[key] = change
    return latest


def running_instances(site: str, version_ids: list[int] | None = None) -> dict[int, RunningCounts]:
    """Running instances per version id, of the site's patients ("" = every site)."""
    query = (select(PathwayInstance.version_id, PathwayInstance.status, func.count(PathwayInstance.id))
             .where(PathwayInstance.status.in_(RUNNING_STATUSES))
             .group_by(PathwayInstance.version_id, PathwayInstance.status))
    if site:
        query = query.join(Patient, Patient.id == PathwayInstance.patient_id).where(Patient.site == site)
    if version_ids is not None:
        query = query.where(PathwayInstance.version_id.in_(version_ids))
    by_version: dict[int, dict[str, int]] = {}
    for version_id, status, count in db.session.execute(query):
        by_version.setdefault(version_id, {})[status] = int(count)
    return {vid: RunningCounts(c.get("active", 0), c.get("suspended", 0), c.get("error", 0))
            for vid, c in by_version.items()}


def _entries(site: str, key: str | None = None) -> list[PathwayEntry]:
    query = select(PathwayVersion).order_by(PathwayVersion.key, PathwayVersion.version)
    if key is not None:
        query = query.where(PathwayVersion.key == key)
    versions = list(db.session.scalars(query))
    counts = running_instances(site, [v.id for v in versions] if key is not None else None)
    current: dict[str, int] = {}
    for v in versions:
        if v.status == VersionStatus.ACTIVE.value:
            current[v.key] = v.version
    entries: dict[str, PathwayEntry] = {}
    for v in versions:
        entry = entries.setdefault(v.key, PathwayEntry(v.key, v.title))
        entry.title = v.title  # the latest version's title
        entry.versions.append(VersionEntry(v.id, v.version, v.title, v.status, v.deployed_at, v.deployed_by_label,
                                           counts.get(v.id, RunningCounts()), current.get(v.key) == v.version))
    changes = _last_changes(set(entries))
    for entry in entries.values():
        entry.last_change = changes.get(entry.key)
    return sorted(entries.values(), key=lambda e: (e.title.lower(), e.key))


def pathway_library(actor: Actor) -> list[PathwayEntry]:
    """Every deployed pathway (by title): its versions, current version, running instances of the care
    manager's site per version, and its last change. NotPermitted for anyone but a care manager."""
    return _entries(require_care_manager(actor))


def pathway_history(actor: Actor, key: str) -> PathwayEntry:
    """One pathway's versions, oldest first, with their running instances (NotFound if never deployed)."""
    entries = _entries(require_care_manager(actor), key)
    if not entries:
        raise NotFound(f"no deployed pathway '{key}'")
    return entries[0]


def library_version(actor: Actor, key: str, number: int) -> PathwayVersion:
    """A stored version, for a care manager (NotFound if the pathway has no such version)."""
    require_care_manager(actor)
    return get_version(key, number)


def version_outline(version: PathwayVersion) -> DefinitionOutline:
    """The version's steps, lanes, flows and properties, read from its stored BPMN."""
    return outline_definition(version.bpmn_xml, version.filename)


def version_source(version: PathwayVersion) -> PathwaySource:
    """A stored version as a source (what the simulation and the diff of a draft read)."""
    return PathwaySource(filename=version.filename, bpmn=version.bpmn_xml.encode("utf-8"),
                         forms=dict(version.forms or {}),
                         dmn_files={k: v.encode("utf-8") for k, v in (version.dmn_files or {}).items()})
