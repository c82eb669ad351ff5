"""Which elements a stored instance state waits on, read from its JSON without rebuilding the workflow.

The cohort view counts hundreds of instances per version: message waits have no table of their own (work
items and due timers do), so they are read from the stored state, whose tasks carry their element id
(``task_spec``) and state. A full load would cost a workflow rebuild per instance.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]


def waiting_elements(state: str, element_ids: set[str]) -> dict[str, datetime]:
    """The elements among ``element_ids`` the state waits on, with when the wait began (engine wall time)."""
    if not state or not element_ids:
        return {}
    try:
        tasks = json.loads(state).get("tasks", {})
    except (ValueError, AttributeError):
        return {}
    found: dict[str, datetime] = {}
    for task in tasks.values():
        name = task.get("task_spec")
        if name in element_ids and task.get("state") == TaskState.WAITING:
            since = datetime.fromtimestamp(float(task.get("last_state_change") or 0), UTC)
            found[name] = min(since, found.get(name, since))
    return found
