"""Instance state <-> BpmnWorkflow, without the spec (the spec lives once per pathway version)."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn import BpmnWorkflow  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.serializer.default.workflow import (  # type: ignore[import-untyped]
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder  # type: ignore[import-untyped]
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # type: ignore[import-untyped]

from engine.bpmn.parser import CompiledPathway

# Bump when the stored shape changes; stored next to the state so old instances can be migrated.
STATE_FORMAT = 1

_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)


def _datetime_to_dict(value: datetime) -> dict[str, str]:
    # SpiffWorkflow keeps only the UTC offset: an anchor date in Europe/Paris would come back as a fixed +01:00
    # and every timer computed from it after a change to summer time would be an hour off. Keep the zone name.
    zone = getattr(value.tzinfo, "key", None)
    return {"value": value.isoformat(), "tz": zone} if zone else {"value": value.isoformat()}


def _datetime_from_dict(dct: dict[str, str]) -> datetime:
    value = datetime.fromisoformat(dct["value"])
    return value.astimezone(ZoneInfo(dct["tz"])) if dct.get("tz") else value


_registry.register(datetime, _datetime_to_dict, _datetime_from_dict)
_registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
_registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
_workflow_converter = BpmnWorkflowConverter(BpmnWorkflow, _registry)
_encoder = create_encoder(_registry)
# SpiffWorkflow's registry switches to "encoder mode" through a shared flag: one dump at a time.
_dump_lock = threading.Lock()


def dump_state(workflow: BpmnWorkflow) -> str:
    """JSON text of the instance's runtime state (tasks, data, subprocesses), spec excluded."""
    with _dump_lock:
        _registry._encoder_mode = True
        try:
            dct = WorkflowConverter.to_dict(_workflow_converter, workflow)
            dct["subprocesses"] = _workflow_converter.mapping_to_dict(workflow.subprocesses)
            dct["bpmn_events"] = _registry.convert(workflow.bpmn_events)
            dct["format"] = STATE_FORMAT
            return json.dumps(dct, separators=(",", ":"), cls=_encoder)
        finally:
            _registry._encoder_mode = False


def load_state(compiled: CompiledPathway, state: str) -> BpmnWorkflow:
    """Rebuild a workflow from ``dump_state`` output on the pathway version's (cached) spec."""
    dct: dict[str, Any] = json.loads(state)
    if dct.get("format") != STATE_FORMAT:
        raise ValueError(f"unsupported instance state format {dct.get('format')!r}")
    workflow = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, deserializing=True)
    workflow.tasks = _workflow_converter.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
    workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
    _workflow_converter.set_default_attributes(workflow, dct)
    _workflow_converter.subprocesses_from_dict(dct["subprocesses"], workflow)
    workflow.bpmn_events = _registry.restore(dct.get("bpmn_events", []))
    return workflow
