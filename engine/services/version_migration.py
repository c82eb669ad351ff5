"""Moving running instances from one version of a pathway to another: preview (which can move, which cannot
and why), then move the selected ones — all or nothing. Care managers only, restricted to their site.

Candidates are the instances of the source version that have not ended (active, suspended, in error). An
instance can move when the engine can carry its state over (engine/bpmn/migration.py: the steps it is at
exist in the target version, its role per open work item is unchanged...). A move locks the instance,
rewrites its state on the target spec, runs an active instance on to its next wait (a timer already due
under the new definition fires), updates its version, work items and timers (an open work item on a step
that still exists stays open, same id, same assignee) and is audited "instance.migrated".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from engine.bpmn.migration import Obstacle, check_migration, migrate_run
from engine.bpmn.runtime import PathwayRun
from engine.bpmn.serializer import load_state
from engine.clock import Clock
from engine.db import db
from engine.errors import EngineStepError, InvalidInput, InvalidTransition
from engine.models import (
    RUNNING_STATUSES,
    DueTimer,
    InstanceStatus,
    PathwayInstance,
    PathwayVersion,
    Patient,
    TimerStatus,
    WorkItem,
    WorkItemKind,
)
from engine.models.work_item import OPEN_STATUSES
from engine.services import audit
from engine.services.care_managers import require_care_manager
from engine.services.cohort import on_site
from engine.services.instances import lock_instance
from engine.services.pathways import compiled_for, get_version_by_id
from engine.services.projection import Baseline, open_work_items, sync_instance
from engine.types import Actor


@dataclass(frozen=True)
class InstanceMove:
    """One candidate instance: its patient, status, where it is, and what stops it from moving (if anything)."""

    instance_id: int
    patient: Patient
    status: str
    at: tuple[str, ...]  # titles of the steps it is at (open work items, pending timers)
    obstacles: tuple[Obstacle, ...] = ()

    @property
    def movable(self) -> bool:
        return not self.obstacles


@dataclass
class MigrationPreview:
    source: PathwayVersion
    target: PathwayVersion
    movable: list[InstanceMove] = field(default_factory=list)
    blocked: list[InstanceMove] = field(default_factory=list)


@dataclass
class MigrationResult:
    source: PathwayVersion
    target: PathwayVersion
    moved: list[InstanceMove] = field(default_factory=list)
    left: list[InstanceMove] = field(default_factory=list)  # "all that can move": those that could not


class MigrationRefused(InvalidTransition):
    """Some selected instances cannot move: none moved (409). ``blocked`` says which and why."""

    def __init__(self, message: str, blocked: list[InstanceMove]) -> None:
        super().__init__(message)
        self.blocked = blocked


def _versions(from_version_id: int, to_version_id: int) -> tuple[PathwayVersion, PathwayVersion]:
    source, target = get_version_by_id(from_version_id), get_version_by_id(to_version_id)
    if source.key != target.key:
        raise InvalidInput(f"version {source.id} is pathway '{source.key}', version {target.id} is "
                           f"'{target.key}': instances move only between versions of the same pathway")
    if source.id == target.id:
        raise InvalidInput(f"the instances are already on version {source.version} of '{source.key}'")
    return source, target


def _candidates(source: PathwayVersion, site: str, ids: list[int] | None = None) -> list[tuple[PathwayInstance,
                                                                                                Patient]]:
    query = (select(PathwayInstance, Patient).join(Patient, Patient.id == PathwayInstance.patient_id)
             .where(PathwayInstance.version_id == source.id, PathwayInstance.status.in_(RUNNING_STATUSES),
                    on_site(site)))
    if ids is not None:
        query = query.where(PathwayInstance.id.in_(ids))
    rows = db.session.execute(query.order_by(Patient.family_name, Patient.given_name, PathwayInstance.id))
    return [(instance, patient) for instance, patient in rows]


def _where(instance_id: int) -> tuple[str, ...]:
    """Titles of the steps the instance is at: its open work items and pending timers."""
    items = db.session.scalars(select(WorkItem.title).where(
        WorkItem.instance_id == instance_id, WorkItem.status.in_(OPEN_STATUSES),
        WorkItem.kind == WorkItemKind.TASK.value))
    timers = db.session.scalars(select(DueTimer.title).where(
        DueTimer.instance_id == instance_id, DueTimer.status == TimerStatus.PENDING.value))
    return tuple(sorted({t for t in [*items, *timers] if t}))


def _assess(instance: PathwayInstance, patient: Patient, source: PathwayVersion, target: PathwayVersion,
            clock: Clock) -> InstanceMove:
    obstacles = check_migration(compiled_for(source), compiled_for(target), instance.state, clock,
                                run_on=instance.status == InstanceStatus.ACTIVE.value)
    return InstanceMove(instance.id, patient, instance.status, _where(instance.id), tuple(obstacles))


def migration_preview(actor: Actor, from_version_id: int, to_version_id: int, *, clock: Clock) -> MigrationPreview:
    """Which of the site's instances of the source version can move to the target, which cannot and why.

    Each move is tried in memory (nothing is stored). Audited "migration.previewed" with the patients listed.
    """
    site = require_care_manager(actor)
    source, target = _versions(from_version_id, to_version_id)
    preview = MigrationPreview(source, target)
    for instance, patient in _candidates(source, site):
        move = _assess(instance, patient, source, target, clock)
        (preview.movable if move.movable else preview.blocked).append(move)
    audit.record(actor, "migration.previewed", at=clock.now(), object_type="pathway_version", object_id=target.id,
                 details={"key": source.key, "from_version": source.version, "to_version": target.version,
                          "patients": sorted({m.patient.id for m in preview.movable + preview.blocked}),
                          "movable": len(preview.movable), "blocked": len(preview.blocked)})
    return preview


def _refusal(blocked: list[InstanceMove], target: PathwayVersion) -> MigrationRefused:
    lines = "; ".join(f"instance {m.instance_id} ({m.patient.display_name}): "
                      + ", ".join(str(o) for o in m.obstacles) for m in blocked)
    return MigrationRefused(f"{len(blocked)} selected instance(s) cannot move to version {target.version}, so "
                            f"none was moved: {lines}", blocked)


def migrate_instances(actor: Actor, from_version_id: int, to_version_id: int, instance_ids: list[int] | None, *,
                      clock: Clock) -> MigrationResult:
    """Move the selected instances (None: every one that can move) to the target version — all or nothing.

    InvalidInput (422) when the selection names instances that are not the site's running instances of the
    source version; MigrationRefused (409) when one of them cannot move: then nothing is written. Each
    instance is locked, then moved (flushes; audits "instance.migrated" per instance).
    """
    site = require_care_manager(actor)
    source, target = _versions(from_version_id, to_version_id)
    wanted = None if instance_ids is None else sorted(set(instance_ids))
    if wanted is not None and not wanted:
        raise InvalidInput("select at least one instance to move", {"instance": "aucune instance choisie"})
    found = {i.id: (i, p) for i, p in _candidates(source, site, wanted)}
    if wanted is not None and (missing := [i for i in wanted if i not in found]):
        raise InvalidInput(f"instance(s) {', '.join(map(str, missing))} are not running instances of version "
                           f"{source.version} of '{source.key}' at your site: nothing moved",
                           {"instance": "instance inconnue"})
    if not found:
        raise InvalidInput(f"no running instance of version {source.version} of '{source.key}' to move")
    moves: list[tuple[PathwayInstance, InstanceMove, PathwayRun, Baseline]] = []
    blocked: list[InstanceMove] = []
    for instance_id in sorted(found):  # lock in id order: two migrations never wait on each other in a cycle
        instance, patient = lock_instance(instance_id), found[instance_id][1]
        if instance.version_id != source.id or instance.status not in RUNNING_STATUSES:
            raise InvalidTransition(f"instance {instance.id} changed meanwhile (now {instance.status} on version "
                                    f"id {instance.version_id}): nothing moved, reload the preview")
        move = _assess(instance, patient, source, target, clock)
        if not move.movable:
            blocked.append(move)
            continue
        run = PathwayRun(compiled_for(source), load_state(compiled_for(source), instance.state), clock)
        baseline = Baseline.of(run)
        moved = migrate_run(run, compiled_for(target))
        if instance.status == InstanceStatus.ACTIVE.value:
            try:
                moved.advance()
            except EngineStepError as exc:
                blocked.append(InstanceMove(instance.id, patient, instance.status, move.at, (
                    Obstacle("engine", exc.element_id or "-", exc.element_id or "-", str(exc)),)))
                continue
        moves.append((instance, move, moved, baseline))
    if blocked and instance_ids is not None:
        raise _refusal(blocked, target)
    if not moves:
        raise _refusal(blocked, target)
    result = MigrationResult(source, target, left=blocked)
    for instance, move, moved, baseline in moves:  # every engine step done: now the writes
        _write(actor, instance, moved, baseline, source, target, clock)
        result.moved.append(move)
    return result


def _write(actor: Actor, instance: PathwayInstance, run: PathwayRun, baseline: Baseline, source: PathwayVersion,
           target: PathwayVersion, clock: Clock) -> None:
    now = clock.now()
    instance.version_id = target.id
    instance.version = target
    migrated = audit.entry(actor, "instance.migrated", at=now, patient_id=instance.patient_id,
                           instance_id=instance.id, object_type="pathway_version", object_id=target.id,
                           details={"key": target.key, "from_version": source.version, "to_version": target.version,
                                    "from_version_id": source.id, "to_version_id": target.id})
    open_items = open_work_items(instance.id, reload=True)
    sync_instance(instance, run, actor=actor, now=now, baseline=baseline, open_items=open_items,
                  audit_first=[migrated])
    for task in run.ready_tasks():  # the same step on the new version: its title and form as they are now
        item = open_items.get(task.task_id)
        if item is not None and item.is_open:
            item.title = task.title[:300]
            item.form_key = task.properties.get("form") or item.form_key
    db.session.flush()
