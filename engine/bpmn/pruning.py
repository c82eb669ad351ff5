"""Keeps long-running instances small: re-roots the task tree at the oldest task still needed.

Bare SpiffWorkflow keeps every finished task of an instance in its task tree. A pathway that loops
(quarterly HbA1c for years, daily weight for months) would grow its stored state every cycle and, past
a depth of 1,000 tasks, SpiffWorkflow's task iterator stops seeing the live tasks: the instance stalls
after ~333 cycles of a 3-element loop. After every step we re-root the tree at the nearest common
ancestor of the unfinished tasks; that ancestor's data is already complete in memory (the serializer
stores a root's full data and deltas below it). History lives in the work-item, timer and audit tables.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]


def _path_from_root(task: Any) -> list[Any]:
    path = []
    while task is not None:
        path.append(task)
        task = task.parent
    path.reverse()
    return path


def _subtree_ids(task: Any) -> set[Any]:
    # Walk children ids directly: Task.__iter__ stops at depth 1,000, the very trap we avoid here.
    ids, stack = set(), [task]
    while stack:
        current = stack.pop()
        ids.add(current.id)
        stack.extend(current.children)
    return ids


def prune_finished_history(workflow: Any) -> int:
    """Re-root ``workflow`` (a top-level BpmnWorkflow) at the common ancestor of its unfinished tasks.

    Returns how many tasks were dropped. Subprocesses hanging under dropped tasks are dropped too.
    """
    unfinished = [t for t in workflow.tasks.values() if t.has_state(TaskState.NOT_FINISHED_MASK)]
    if not unfinished:
        return 0
    paths = [_path_from_root(t) for t in unfinished]
    ancestor = None
    for nodes in zip(*paths, strict=False):
        first = nodes[0]
        if all(n is first for n in nodes):
            ancestor = first
        else:
            break
    # The new root must be finished: an unfinished task still reads its parent's data when it runs.
    while ancestor is not None and not ancestor.has_state(TaskState.FINISHED_MASK):
        ancestor = ancestor.parent
    if ancestor is None or ancestor is workflow.task_tree:
        return 0
    keep = _subtree_ids(ancestor)
    dropped = [tid for tid in workflow.tasks if tid not in keep]
    ancestor._parent = None
    workflow.task_tree = ancestor
    for tid in dropped:
        task = workflow.tasks.pop(tid)
        workflow.event_manager.remove_task(task)
        subprocess = workflow.subprocesses.pop(tid, None)
        if subprocess is not None:
            for sub_task in subprocess.tasks.values():
                workflow.event_manager.remove_task(sub_task)
    if workflow.last_task is not None and workflow.last_task.id not in keep:
        workflow.last_task = None
    return len(dropped)
