"""Pathway definitions: read from files, validate, deploy as immutable versions, load for running."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select

from engine.bpmn.parser import NS, CompiledPathway, compile_pathway
from engine.bpmn.validation import validate_pathway
from engine.bpmn.xml_safety import parse_xml
from engine.clock import Clock
from engine.db import db
from engine.errors import NotFound, PathwayDefinitionError, Problem
from engine.models import InstanceStatus, PathwayInstance, PathwayVersion, VersionStatus
from engine.services import audit
from engine.services.roles import known_role_codes
from engine.types import Actor


@dataclass
class PathwaySource:
    """A BPMN file with the forms and DMN tables it refers to, as they will be stored."""

    filename: str
    bpmn: bytes
    forms: dict[str, Any] = field(default_factory=dict)
    dmn_files: dict[str, bytes] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256(self.bpmn)
        digest.update(json.dumps(self.forms, sort_keys=True, separators=(",", ":")).encode())
        for name in sorted(self.dmn_files):
            digest.update(name.encode() + b"\0" + self.dmn_files[name])
        return digest.hexdigest()


@dataclass(frozen=True)
class DeployResult:
    version: PathwayVersion
    created: bool


def _references(bpmn: bytes, filename: str) -> tuple[set[str], set[str]]:
    """Form keys of user tasks and decision ids of business rule tasks (empty if the XML is refused:
    validation then reports why)."""
    try:
        root = parse_xml(bpmn, filename)
    except PathwayDefinitionError:
        return set(), set()
    forms = root.xpath("//bpmn:userTask//spiffworkflow:property[@name='form']/@value", namespaces=NS)
    decisions = root.xpath("//spiffworkflow:calledDecisionId/text()", namespaces=NS)
    return {str(v) for v in forms}, {str(t).strip() for t in decisions}


def _decision_ids(dmn: bytes, filename: str) -> set[str]:
    try:
        root = parse_xml(dmn, filename)
    except PathwayDefinitionError:
        return set()
    return {str(el.get("id")) for el in root.iter() if isinstance(el.tag, str) and el.tag.endswith("}decision")}


def read_pathway_source(path: Path, forms_dir: Path | None = None) -> PathwaySource:
    """Read a BPMN file, the JSON Schema forms it names and the DMN files beside it that it calls."""
    if not path.is_file():
        raise PathwayDefinitionError([Problem(str(path), "-", "file not found")])
    source = PathwaySource(filename=path.name, bpmn=path.read_bytes())
    forms_dir = forms_dir or path.parent.parent / "forms"
    form_keys, wanted = _references(source.bpmn, path.name)
    for key in sorted(form_keys):
        form_path = forms_dir / f"{key}.json"
        if not form_path.is_file():
            continue  # validation reports the missing form with its element id
        try:
            source.forms[key] = json.loads(form_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            source.problems.append(Problem(str(form_path), key, f"form is not valid JSON: {exc}"))
    if wanted:
        for dmn_path in sorted(path.parent.glob("*.dmn")):
            data = dmn_path.read_bytes()
            if _decision_ids(data, dmn_path.name) & wanted:
                source.dmn_files[dmn_path.name] = data
    return source


def validate_source(source: PathwaySource) -> tuple[CompiledPathway | None, list[Problem]]:
    """Every problem that keeps the source from being deployed (empty list = deployable)."""
    compiled, problems = validate_pathway(source.bpmn, source.filename, forms=source.forms,
                                          dmn_files=source.dmn_files, known_roles=known_role_codes())
    problems = list(source.problems) + list(problems)
    return (compiled if not problems else None), problems


def deploy_pathway(source: PathwaySource, *, actor: Actor, clock: Clock) -> DeployResult:
    """Validate and store the next version of a pathway; identical content returns the existing version.

    Raises PathwayDefinitionError (nothing stored) when the file is refused. Flushes and audits.
    """
    compiled, problems = validate_source(source)
    if problems or compiled is None:
        raise PathwayDefinitionError(problems)
    sha = source.sha256
    existing = db.session.scalar(select(PathwayVersion).where(PathwayVersion.key == compiled.key,
                                                              PathwayVersion.sha256 == sha))
    if existing is not None:
        return DeployResult(existing, created=False)
    latest = db.session.scalar(select(func.max(PathwayVersion.version)).where(PathwayVersion.key == compiled.key))
    version = PathwayVersion(
        key=compiled.key, version=(latest or 0) + 1, title=compiled.title, sha256=sha, filename=source.filename,
        bpmn_xml=source.bpmn.decode("utf-8"), forms=source.forms,
        dmn_files={k: v.decode("utf-8") for k, v in source.dmn_files.items()},
        parameters=compiled.parameters, anchors=compiled.anchors, status=VersionStatus.ACTIVE.value,
        deployed_by_id=actor.professional_id, deployed_by_label=actor.label, deployed_at=clock.now(),
    )
    db.session.add(version)
    db.session.flush()
    _cache_put(_cache, version, compiled)
    audit.record(actor, "pathway.deployed", at=clock.now(), object_type="pathway_version", object_id=version.id,
                 details={"key": version.key, "version": version.version, "sha256": sha})
    return DeployResult(version, created=True)


def latest_version(key: str) -> PathwayVersion:
    version = db.session.scalar(
        select(PathwayVersion)
        .where(PathwayVersion.key == key, PathwayVersion.status == VersionStatus.ACTIVE.value)
        .order_by(PathwayVersion.version.desc())
        .limit(1)
    )
    if version is None:
        raise NotFound(f"no deployed pathway '{key}' (deploy it first: parcours deploy FILE)")
    return version


def get_version_by_id(version_id: int) -> PathwayVersion:
    version = db.session.get(PathwayVersion, version_id)
    if version is None:
        raise NotFound(f"no pathway version {version_id}")
    return version


def get_version(key: str, number: int) -> PathwayVersion:
    version = db.session.scalar(select(PathwayVersion).where(PathwayVersion.key == key,
                                                             PathwayVersion.version == number))
    if version is None:
        raise NotFound(f"pathway '{key}' has no version {number}")
    return version


@dataclass(frozen=True)
class PathwaySummary:
    key: str
    title: str
    version: int
    versions: int
    deployed_at: str
    sha256: str
    active_instances: int


def list_pathways() -> list[PathwaySummary]:
    """Latest version of every pathway, with how many versions exist and how many instances run."""
    rows = db.session.scalars(select(PathwayVersion).order_by(PathwayVersion.key, PathwayVersion.version)).all()
    counts = dict(db.session.execute(
        select(PathwayVersion.key, func.count(PathwayInstance.id))
        .join(PathwayInstance, PathwayInstance.version_id == PathwayVersion.id)
        .where(PathwayInstance.status == InstanceStatus.ACTIVE.value)
        .group_by(PathwayVersion.key)
    ).all())
    latest: dict[str, PathwayVersion] = {}
    totals: dict[str, int] = {}
    for row in rows:
        latest[row.key] = row
        totals[row.key] = totals.get(row.key, 0) + 1
    return [PathwaySummary(v.key, v.title, v.version, totals[v.key], v.deployed_at.isoformat(), v.sha256,
                           int(counts.get(v.key, 0))) for v in latest.values()]


def list_versions(key: str) -> list[PathwayVersion]:
    """Every deployed version of a pathway, oldest first; NotFound when the key was never deployed."""
    versions = list(db.session.scalars(select(PathwayVersion).where(PathwayVersion.key == key)
                                       .order_by(PathwayVersion.version)))
    if not versions:
        raise NotFound(f"no deployed pathway '{key}'")
    return versions


# -- compiled-spec and forms caches: parsing BPMN costs milliseconds, versions never change -----------------
_CACHE_SIZE = 64
_cache: OrderedDict[tuple[int, str], CompiledPathway] = OrderedDict()
_forms_cache: OrderedDict[tuple[int, str], dict[str, Any]] = OrderedDict()
_cache_lock = threading.Lock()


V = TypeVar("V")


def _cache_put(cache: OrderedDict[tuple[int, str], V], version: PathwayVersion, value: V) -> None:
    with _cache_lock:
        cache[(version.id, version.sha256)] = value
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)


def _cached(cache: OrderedDict[tuple[int, str], V], version: PathwayVersion, build: Callable[[], V]) -> V:
    """A per-version value from a small LRU cache (per process), built on a miss."""
    key = (version.id, version.sha256)
    with _cache_lock:
        value = cache.get(key)
        if value is not None:
            cache.move_to_end(key)
            return value
    value = build()
    _cache_put(cache, version, value)
    return value


def version_forms(version: PathwayVersion) -> dict[str, Any]:
    """The JSON Schema forms of a stored version, by form key (cached per process; do not modify)."""
    return _cached(_forms_cache, version, lambda: dict(version.forms or {}))


def compiled_for(version: PathwayVersion) -> CompiledPathway:
    """The runnable spec of a stored version (cached per process)."""
    return _cached(_cache, version, lambda: compile_pathway(
        version.bpmn_xml.encode("utf-8"), version.filename,
        {k: v.encode("utf-8") for k, v in (version.dmn_files or {}).items()}))
