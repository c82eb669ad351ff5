"""Loaded workflows kept warm between the steps of an instance (per process), keyed by their stored state.

Rebuilding a BpmnWorkflow from its stored JSON costs about as much as the step itself. A process that runs
an instance's next step (the same web worker for a professional's consecutive completions, the same job
worker for a timer storm) can reuse the workflow it dumped last time — but only if the stored state is
exactly the text it dumped: the entry is keyed by the instance and checked against the state read under
the instance lock, so a step committed by another process, a rolled-back step or an edited row all miss
and reload from the database. An entry is taken out while its step runs (a failing step leaves nothing
behind) and put back only with the state it was dumped as.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

_CAPACITY = int(os.environ.get("PARCOURS_WARM_WORKFLOWS", "256"))
_entries: OrderedDict[int, tuple[str, Any, Any]] = OrderedDict()  # instance id → (state, spec, workflow)
_lock = threading.Lock()


def take(instance_id: int, state: str, spec: Any) -> Any | None:
    """The warm workflow of ``instance_id`` if it was dumped as exactly ``state`` on ``spec``; removed."""
    with _lock:
        entry = _entries.pop(instance_id, None)
    if entry is None or entry[1] is not spec or entry[0] != state:
        return None
    return entry[2]


def put(instance_id: int, state: str, spec: Any, workflow: Any) -> None:
    """Keep ``workflow`` (just dumped as ``state``) for the instance's next step."""
    if _CAPACITY <= 0:
        return
    with _lock:
        _entries[instance_id] = (state, spec, workflow)
        _entries.move_to_end(instance_id)
        while len(_entries) > _CAPACITY:
            _entries.popitem(last=False)


def forget(instance_id: int | None = None) -> None:
    """Drop one instance's warm workflow, or all of them."""
    with _lock:
        if instance_id is None:
            _entries.clear()
        else:
            _entries.pop(instance_id, None)
