"""Builds a runnable pathway (SpiffWorkflow spec + what Parcours reads from it) from BPMN and DMN XML."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.specs.defaults import (  # type: ignore[import-untyped]
    BoundaryEvent,
    IntermediateCatchEvent,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition  # type: ignore[import-untyped]
from SpiffWorkflow.exceptions import SpiffWorkflowException  # type: ignore[import-untyped]
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # type: ignore[import-untyped]
from SpiffWorkflow.spiff.specs.defaults import (  # type: ignore[import-untyped]
    BusinessRuleTask,
    ScriptTask,
    SendTask,
    UserTask,
)

from engine.bpmn.xml_safety import parse_xml
from engine.errors import PathwayDefinitionError, Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}


@dataclass(frozen=True)
class ElementInfo:
    """What Parcours needs to know about one BPMN element."""

    element_id: str
    name: str
    kind: str  # user_task, send_task, script_task, timer, message, business_rule, other
    lane: str | None
    properties: dict[str, str] = field(default_factory=dict)
    expression: str | None = None  # timer expression, script text
    timer_kind: str | None = None  # date, duration, cycle
    message_name: str | None = None
    decision_id: str | None = None


@dataclass
class CompiledPathway:
    """A parsed pathway: the spec to run plus its elements, parameters and anchors."""

    key: str
    title: str
    filename: str
    spec: Any
    subprocess_specs: dict[str, Any]
    parameters: dict[str, Any]
    anchors: list[str]
    elements: dict[str, ElementInfo]
    executable: bool = True

    def element(self, element_id: str) -> ElementInfo | None:
        return self.elements.get(element_id)


def _problem(filename: str, element_id: str, reason: str) -> PathwayDefinitionError:
    return PathwayDefinitionError([Problem(filename, element_id or "-", reason)])


def process_properties(process: etree._Element) -> dict[str, str]:
    """The ``spiffworkflow:properties`` written directly on a ``bpmn:process``."""
    props: dict[str, str] = {}
    path = "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property"
    for prop in process.xpath(path, namespaces=NS):
        name = prop.get("name")
        if name:
            props[name] = prop.get("value", "")
    return props


def read_parameters(filename: str, process: etree._Element) -> tuple[dict[str, Any], list[str]]:
    """Parameters (``param:NAME`` = JSON literal) and required anchor dates (``anchors``) of a process."""
    params: dict[str, Any] = {}
    anchors: list[str] = []
    pid = process.get("id", "-")
    for name, raw in process_properties(process).items():
        if name == "anchors":
            anchors = [a.strip() for a in raw.split(",") if a.strip()]
        elif name.startswith("param:"):
            pname = name.removeprefix("param:")
            if not pname.isidentifier() or pname.startswith("_"):
                raise _problem(filename, pid, f"parameter name '{pname}' is not a valid variable name")
            try:
                params[pname] = json.loads(raw)
            except json.JSONDecodeError:
                raise _problem(filename, pid, f"parameter '{pname}' value {raw!r} is not a JSON literal "
                                              f"(write 7, 2.5, true or \"text\")") from None
    return params, anchors


def executable_processes(root: etree._Element) -> list[etree._Element]:
    return [p for p in root.xpath("//bpmn:process", namespaces=NS) if p.get("isExecutable", "false") == "true"]


def _element_info(task_spec: Any) -> ElementInfo | None:
    element_id = getattr(task_spec, "bpmn_id", None)
    if not element_id:
        return None
    name = task_spec.bpmn_name or element_id
    lane = getattr(task_spec, "lane", None)
    props = dict((getattr(task_spec, "extensions", None) or {}).get("properties", {}))
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(task_spec, UserTask):
        return ElementInfo(element_id, name, "user_task", lane, props)
    if isinstance(task_spec, SendTask):
        return ElementInfo(element_id, name, "send_task", lane, props)
    if isinstance(task_spec, ScriptTask):
        return ElementInfo(element_id, name, "script_task", lane, props, expression=task_spec.script)
    if isinstance(task_spec, BusinessRuleTask):
        decision = getattr(getattr(task_spec, "dmnEngine", None), "decision_table", None)
        return ElementInfo(element_id, name, "business_rule", lane, props, decision_id=getattr(decision, "id", None))
    if isinstance(definition, TimerEventDefinition):
        kind = type(definition).__name__.replace("EventDefinition", "").replace("Timer", "").lower()
        timer_kind = {"timedate": "date", "duration": "duration", "cycle": "cycle"}.get(kind, kind)
        return ElementInfo(element_id, name, "timer", lane, props, expression=definition.expression,
                           timer_kind=timer_kind)
    if isinstance(definition, MessageEventDefinition) and isinstance(task_spec, IntermediateCatchEvent | BoundaryEvent):
        return ElementInfo(element_id, name, "message", lane, props, message_name=definition.name)
    return ElementInfo(element_id, name, "other", lane, props)


def compile_pathway(bpmn: bytes, filename: str, dmn_files: dict[str, bytes] | None = None) -> CompiledPathway:
    """Parse BPMN (and the DMN files it may call) into a runnable pathway.

    Raises PathwayDefinitionError, located by file and element id, for anything SpiffWorkflow refuses.
    Convention checks (lanes, roles, forms, timers) live in ``engine.bpmn.validation``.
    """
    root = parse_xml(bpmn, filename)
    processes = executable_processes(root)
    if not processes:
        any_process = root.xpath("//bpmn:process", namespaces=NS)
        element = any_process[0].get("id", "-") if any_process else "-"
        raise _problem(filename, element, "no executable process: set isExecutable=\"true\" on the pathway's "
                                          "bpmn:process (and check it is complete enough to run)")
    if len(processes) > 1:
        ids = ", ".join(p.get("id", "?") for p in processes)
        raise _problem(filename, processes[1].get("id", "-"),
                       f"one executable process per pathway file, found {len(processes)} ({ids})")
    process = processes[0]
    key = process.get("id", "")
    params, anchors = read_parameters(filename, process)
    parser = SpiffBpmnParser()
    try:
        for dmn_name, dmn_xml in (dmn_files or {}).items():
            parser.add_dmn_xml(parse_xml(dmn_xml, dmn_name), filename=dmn_name)
        parser.add_bpmn_xml(root, filename=filename)
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        element = getattr(exc, "id", "") or key
        line = getattr(exc, "line_number", "")
        where = f" (line {line})" if line else ""
        raise _problem(getattr(exc, "file_name", "") or filename, element, f"{exc}{where}") from exc
    except SpiffWorkflowException as exc:
        raise _problem(filename, key, str(exc)) from exc
    except (KeyError, AttributeError, TypeError, ValueError, IndexError) as exc:
        raise _problem(filename, key, f"the BPMN could not be read ({type(exc).__name__}: {exc})") from exc
    elements: dict[str, ElementInfo] = {}
    for sp in [spec, *subprocess_specs.values()]:
        if sp is None:
            continue
        for task_spec in sp.task_specs.values():
            info = _element_info(task_spec)
            if info is not None:
                elements.setdefault(info.element_id, info)
            definition = getattr(task_spec, "event_definition", None)
            # A message payload with no declared variable lands under the message name (our convention).
            if isinstance(definition, MessageEventDefinition) and hasattr(definition, "message_var"):
                if definition.message_var is None:
                    definition.message_var = definition.name
    title = process.get("name") or key
    return CompiledPathway(key, title, filename, spec, subprocess_specs, params, anchors, elements)
