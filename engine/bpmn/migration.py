"""Moves one instance's engine state from a pathway version to another (SpiffWorkflow's diff + migrate).

``check_migration`` says whether a stored state can move and, if not, why (one ``Obstacle`` per step in the
way); ``migrate_run`` moves a loaded run onto the new version's spec. The rules, stricter than the engine's
own ``migrate_workflow`` where a care pathway needs it:

- every step the instance is at (ready, waiting, in progress) must exist in the new version: the engine
  aligns steps by BPMN id (``SpecDiff``); a step it cannot align is "removed";
- a step already passed that the stored state still holds (the parent of a live step, whose data the live
  step inherits) and that the new version no longer has is taken out of the history, its data kept for the
  step after it — unless it splits or joins the flow (a gateway, a join): then the instance cannot move;
- a step in progress (a sub-process, a multi-instance) must be unchanged: the engine restarts only ready
  and waiting steps;
- a ready user task keeps its role (lane): its open work item stays where it is, same id, same assignee;
- no embedded sub-process or call activity may be running (not supported yet, like SpiffArena).

Moving resets each ready and waiting step on the new spec (its next steps are predicted again), as
``migrate_workflow`` does, with one difference: a waiting timer whose definition did not change keeps its
due time (a "P3M" follow-up started two months ago still falls due in one month, not in three).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.util.diff import diff_workflow  # type: ignore[import-untyped]
from SpiffWorkflow.specs.Join import Join  # type: ignore[import-untyped]
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # type: ignore[import-untyped]
from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]

from engine.bpmn.clock_bridge import engine_clock
from engine.bpmn.parser import CompiledPathway
from engine.bpmn.runtime import PathwayRun
from engine.bpmn.serializer import load_state
from engine.errors import EngineStepError

# Spec comparisons only (converting task specs to dicts); the instance state has its own registry.
_spec_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)

RESET = TaskState.READY | TaskState.WAITING
LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass(frozen=True)
class Obstacle:
    """Why an instance cannot move: ``kind`` (removed, passed_removed, started_changed, role_changed,
    subprocess, engine) at ``element_id``; ``detail``: the old and new role, or the engine's message."""

    kind: str
    element_id: str
    title: str
    detail: str = ""

    def __str__(self) -> str:
        what = {
            "removed": "is not in the new version",
            "passed_removed": "was already passed, is not in the new version and joins or splits the flow",
            "started_changed": "is in progress and changed in the new version",
            "role_changed": f"changes role ({self.detail})",
            "subprocess": "is a running sub-process (not supported yet)",
            "engine": f"could not be moved by the engine: {self.detail}",
        }.get(self.kind, self.kind)
        return f"step {self.element_id} ({self.title}) {what}"


class _NoInfo:
    name = ""


def _element_id(task: Any) -> str:
    return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name


def _title(task: Any) -> str:
    return getattr(task.task_spec, "bpmn_name", None) or _element_id(task)


def _event_definition(spec: Any) -> Any:
    return _spec_registry.convert(spec.event_definition) if hasattr(spec, "event_definition") else None


def _obstacles(workflow: Any, new: CompiledPathway) -> list[Obstacle]:
    diff, subprocess_diffs = diff_workflow(_spec_registry, workflow, new.spec, new.subprocess_specs)
    removed = {task.id for task in diff.removed}
    changed = {task.id for task in diff.changed}
    found: list[Obstacle] = []
    for task_id in subprocess_diffs:
        task = workflow.get_task_from_id(task_id)
        found.append(Obstacle("subprocess", _element_id(task), _title(task)))
    live = [t for t in workflow.get_tasks(skip_subprocesses=True) if t.has_state(LIVE)]
    for task in live:
        if task.id in removed:
            found.append(Obstacle("removed", _element_id(task), _title(task)))
        elif task.has_state(TaskState.STARTED) and task.id in changed:
            found.append(Obstacle("started_changed", _element_id(task), _title(task)))
        elif task.has_state(TaskState.READY) and task.task_spec.manual:
            old_lane = getattr(task.task_spec, "lane", None)
            new_lane = getattr(diff.alignment[task], "lane", None)
            if old_lane != new_lane:
                found.append(Obstacle("role_changed", _element_id(task), _title(task), f"{old_lane} → {new_lane}"))
    found += _passed_removed(workflow, diff, new)[2]
    return found


def _one_way(task: Any) -> bool:
    """One way in, one way out: no gateway, no join (taking it out of the history keeps the flow's shape)."""
    spec = task.task_spec
    return (len(spec.inputs) <= 1 and len(spec.outputs) <= 1 and not isinstance(spec, Join)
            and not hasattr(spec, "cond_task_specs"))


def _root_stand_in(task: Any, diff: Any, new: CompiledPathway) -> Any | None:
    """For a removed passed step at the root of the kept history: the new version's step before its children."""
    inputs: set[str] = set()
    for child in task.children:
        target = diff.alignment.get(child)
        if target is None:
            return None
        inputs.update(spec.name for spec in target.inputs)
    return new.spec.task_specs.get(inputs.pop()) if len(inputs) == 1 else None


def _passed_removed(workflow: Any, diff: Any, new: CompiledPathway) -> tuple[list[Any], dict[UUID, Any],
                                                                              list[Obstacle]]:
    """Passed steps the state keeps that the new version lacks: those to take out of the history, those at
    its root to stand for the new version's step before them, and those that cannot go (obstacles)."""
    splice: list[Any] = []
    stand_ins: dict[UUID, Any] = {}
    found: list[Obstacle] = []
    for task in diff.removed:
        if not task.has_state(TaskState.FINISHED_MASK):
            continue
        stand_in = _root_stand_in(task, diff, new) if task.parent is None and _one_way(task) else None
        if not _one_way(task) or (task.parent is None and stand_in is None):
            found.append(Obstacle("passed_removed", _element_id(task), _title(task)))
        elif task.parent is None:
            stand_ins[task.id] = stand_in
        else:
            splice.append(task)
    return splice, stand_ins, found


def _splice_out(workflow: Any, removed: list[Any]) -> dict[UUID, dict[str, Any]]:
    """Take passed steps the new version no longer has out of the history (their children hang from their
    parent); returns the data each child must start from when it is reset: its removed parent's."""
    inherited: dict[UUID, dict[str, Any]] = {}
    for task in sorted(removed, key=lambda t: t.depth):  # ancestors first: a child keeps its nearest parent's data
        parent = task.parent
        children = list(task._children)
        for child_id in children:
            workflow.tasks[child_id]._parent = parent.id
            inherited[child_id] = copy.deepcopy(task.data)
        index = parent._children.index(task.id)
        parent._children[index:index + 1] = children
        del workflow.tasks[task.id]
    return inherited


def check_migration(old: CompiledPathway, new: CompiledPathway, state: str, clock: Any, *, run_on: bool = False
                    ) -> list[Obstacle]:
    """The reasons the instance stored as ``state`` on ``old`` cannot move to ``new`` (empty: it can).

    The move is tried in memory, to the end (reset, prediction, ``run_on``: the engine run to the next wait,
    dump, read back on the new spec): what the engine itself refuses is an obstacle too. Nothing is stored.
    """
    run = PathwayRun(old, load_state(old, state), clock)
    found = _obstacles(run.workflow, new)
    if found:
        return found
    try:
        moved = migrate_run(run, new)
        if run_on:
            moved.advance()
        load_state(new, moved.dump())
    except EngineStepError as exc:
        element = exc.element_id or "-"
        return [Obstacle("engine", element, (new.element(element) or old.element(element) or _NoInfo).name
                         or element, str(exc))]
    except Exception as exc:  # noqa: BLE001 - any engine failure is a reason not to move, shown to the user
        return [Obstacle("engine", "-", "-", f"{type(exc).__name__}: {exc}")]
    return []


def migrate_run(run: PathwayRun, new: CompiledPathway) -> PathwayRun:
    """Move a loaded run onto ``new`` (call ``check_migration`` first); returns the run on the new spec.

    Ready and waiting steps are reset on the new spec (their next steps predicted again); a waiting timer
    whose definition is unchanged keeps its due time. The run is not advanced: the caller runs the engine.
    """
    workflow = run.workflow
    diff, _ = diff_workflow(_spec_registry, workflow, new.spec, new.subprocess_specs)
    passed, stand_ins, _found = _passed_removed(workflow, diff, new)
    old_timers = {}
    for task in workflow.get_tasks(state=TaskState.WAITING, skip_subprocesses=True):
        definition = getattr(task.task_spec, "event_definition", None)
        target = diff.alignment.get(task)
        if isinstance(definition, TimerEventDefinition) and target is not None \
                and _event_definition(task.task_spec) == _event_definition(target):
            old_timers[task.id] = dict(task.internal_data)
    inherited = _splice_out(workflow, passed)
    workflow.spec = new.spec
    workflow.subprocess_specs = new.subprocess_specs
    for task in workflow.tasks.values():
        target = diff.alignment.get(task)
        if target is not None:
            task.task_spec = target
    for task_id, spec in stand_ins.items():
        workflow.tasks[task_id].task_spec = spec
    with engine_clock(run.clock):
        for task in list(workflow.get_tasks(state=RESET, skip_subprocesses=True)):
            if task.id in workflow.tasks:  # a reset branch may have removed it already
                task.reset_branch(inherited.get(task.id))
        for task_id, internal in old_timers.items():
            task = workflow.tasks.get(task_id)
            if task is not None and task.has_state(TaskState.WAITING):
                task.internal_data = internal
    if workflow.last_task is not None and workflow.last_task.id not in workflow.tasks:
        workflow.last_task = None
    return PathwayRun(new, workflow, run.clock)
