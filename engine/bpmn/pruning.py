"""Keeps long-running instances small: drops finished history from the engine's task tree after every step.

Bare SpiffWorkflow keeps every finished task of an instance in its task tree. A pathway that loops
(quarterly HbA1c for years, daily weight for months) would grow its stored state every cycle and, past
a depth of 1,000 tasks, SpiffWorkflow's task iterator stops seeing the live tasks: the instance stalls
after ~333 cycles of a 3-element loop.

Re-rooting at the common ancestor of the unfinished tasks is not enough once branches run in parallel
(a daily weight loop beside a nurse-visit branch waiting on a far timer): their common ancestor is the
split at the start, and each loop still grows below it. So after every step we *splice*: we keep

- every unfinished task (ready, waiting, predicted);
- the parent of each (an unfinished task inherits its parent's data when it becomes ready; joins look at
  ``task.parent`` to see which of their inputs completed);
- the split task a structured join looks up (``find_ancestor(split_task)``: boundary events);
- while a parallel or inclusive join waits, the other branches' join tasks of the same pass (the first
  arrival is cancelled by the second, yet still counts as "this input arrived" for the third);
- for the process's end join, which waits for every branch and only runs when the whole instance ends,
  one arrival: a loop whose body ends a branch (a reminder path to an end event) would otherwise pile
  up one arrival per cycle for the life of the instance. The end join only reads its arrivals' data
  (merged oldest first into the final data), so their data is folded, in the same order, into the
  newest arrival's parent;
- the branch points where kept tasks part ways, and their common ancestor as the new root;

and re-link each kept task to its nearest kept ancestor. Ancestor relations between kept tasks are
unchanged (loop detection in parallel joins relies on them). In memory every task holds its full data,
and the serializer stores a task's data as a delta against its (new) parent, so nothing is lost. The
history of what happened lives in the work-item, timer and audit tables instead.
"""

from __future__ import annotations

import copy
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import _EndJoin  # type: ignore[import-untyped]
from SpiffWorkflow.specs.Join import Join  # type: ignore[import-untyped]
from SpiffWorkflow.util.deep_merge import DeepMerge  # type: ignore[import-untyped]
from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]


def _needed(workflow: Any, unfinished: list[Any]) -> set[UUID]:
    keep: set[UUID] = set()
    for task in unfinished:
        keep.add(task.id)
        if task._parent is not None:
            keep.add(task._parent)
        split_name = getattr(task.task_spec, "split_task", None)
        if split_name:
            split = task.find_ancestor(split_name)
            if split is not None:
                keep.add(split.id)
    for waiting in (t for t in unfinished if t.state == TaskState.WAITING and isinstance(t.task_spec, Join)):
        arrivals = _arrivals_of_this_pass(workflow, waiting)
        if isinstance(waiting.task_spec, _EndJoin):
            arrivals = _fold_into_newest(arrivals)
        for task in arrivals:
            keep.add(task.id)
            if task._parent is not None:
                keep.add(task._parent)
    return keep


def _fold_into_newest(arrivals: list[Any]) -> list[Any]:
    """The newest of the end join's finished arrivals, its parent now holding every arrival's data.

    When the end join runs it merges each finished arrival's parent data into its own, oldest first
    (``UnstructuredJoin._run_hook``); folding them in that same order into one parent gives that data.
    """
    ordered = sorted((t for t in arrivals if t.parent is not None), key=lambda t: t.last_state_change)
    if len(ordered) < 2:
        return arrivals
    merged: dict[str, Any] = {}
    for task in ordered:
        DeepMerge.merge(merged, copy.deepcopy(task.parent.data))
    newest = ordered[-1]
    newest.parent.data = merged
    return [newest]


def _arrivals_of_this_pass(workflow: Any, waiting: Any) -> list[Any]:
    """Finished instances of a waiting join's spec that record an input of the current pass.

    In a loop, the previous pass ended where this join last completed: arrivals from before it are stale
    (bare SpiffWorkflow counts them, and fires a looping join early when the branches arrive in another order).
    """
    name = waiting.task_spec.name
    previous = waiting.parent
    while previous is not None and not (previous.task_spec.name == name and previous.has_state(TaskState.COMPLETED)):
        previous = previous.parent
    out: list[Any] = []
    for task in workflow.tasks.values():
        if task.task_spec.name != name or not task.has_state(TaskState.FINISHED_MASK):
            continue
        if waiting.is_descendant_of(task) or (previous is not None and not task.is_descendant_of(previous)):
            continue
        out.append(task)
    return out


def _branch_points(tasks: dict[UUID, Any], keep: set[UUID]) -> dict[UUID, set[UUID]]:
    """For every ancestor of a kept task: the children through which kept tasks are reached."""
    through: dict[UUID, set[UUID]] = {}
    for task_id in keep:
        child, node = task_id, tasks[task_id]._parent
        while node is not None:
            seen = through.get(node)
            if seen is not None:  # this ancestor's own ancestors were walked already
                seen.add(child)
                break
            through[node] = {child}
            child, node = node, tasks[node]._parent
    return through


def _new_root(workflow: Any, keep: set[UUID], through: dict[UUID, set[UUID]]) -> Any:
    """The common ancestor of every kept task (the first kept or branching task down from the root)."""
    node = workflow.task_tree
    while node.id not in keep and len(through.get(node.id, ())) == 1:
        node = workflow.tasks[next(iter(through[node.id]))]
    return node


def _final_task(workflow: Any) -> Any:
    """A completed instance keeps one task: the end of the process, holding the final data."""
    ends = [t for t in workflow.tasks.values() if t.task_spec.name == "End" and t.has_state(TaskState.COMPLETED)]
    return ends[-1] if ends else None


def prune_finished_history(workflow: Any) -> int:
    """Drop the finished tasks nothing will read again from ``workflow`` (a top-level BpmnWorkflow).

    Returns how many tasks were dropped. Subprocesses hanging under dropped tasks are dropped too.
    """
    tasks: dict[UUID, Any] = workflow.tasks
    unfinished = [t for t in tasks.values() if t.has_state(TaskState.NOT_FINISHED_MASK)]
    if unfinished:
        keep = _needed(workflow, unfinished)
        through = _branch_points(tasks, keep)
        keep.update(node for node, children in through.items() if len(children) > 1)
        root = _new_root(workflow, keep, through)
        if not root.has_state(TaskState.FINISHED_MASK):
            return 0  # the instance has not started: nothing finished to drop
    else:
        root = _final_task(workflow)
        if root is None:
            return 0
        keep = {root.id}
    # Re-link, walking the subtree of the new root in its original (depth-first) order.
    children_of: dict[UUID, list[UUID]] = {root.id: []}
    stack = [(child, root.id) for child in reversed(root._children)]
    while stack:
        task_id, kept_ancestor = stack.pop()
        task = tasks[task_id]
        if task_id in keep:
            children_of[kept_ancestor].append(task_id)
            children_of[task_id] = []
            task._parent = kept_ancestor
            kept_ancestor = task_id
        stack.extend((child, kept_ancestor) for child in reversed(task._children))
    dropped = [task_id for task_id in tasks if task_id not in children_of]
    if not dropped:
        return 0
    for task_id, children in children_of.items():
        tasks[task_id]._children = children
    root._parent = None
    workflow.task_tree = root
    for task_id in dropped:
        task = tasks.pop(task_id)
        workflow.event_manager.remove_task(task)
        subprocess = workflow.subprocesses.pop(task_id, None)
        if subprocess is not None:
            for sub_task in subprocess.tasks.values():
                workflow.event_manager.remove_task(sub_task)
    if workflow.last_task is not None and workflow.last_task.id not in children_of:
        workflow.last_task = None
    return len(dropped)
