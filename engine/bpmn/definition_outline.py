"""A pathway's BPMN read into a plain outline (steps, lanes, flows, timers, properties) to show and compare.

Read from the XML alone (never compiled): a draft that does not run yet has an outline too. The XML goes
through ``xml_safety.parse_xml`` (size limit, no DTD or entities, no network).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from engine.bpmn.parser import BPMN_NS, NS, executable_processes, process_properties
from engine.bpmn.xml_safety import parse_xml

# BPMN tag (local name) -> the kind a care manager reads; events are refined by their definition below.
_KINDS: dict[str, str] = {
    "userTask": "user_task", "sendTask": "send_task", "scriptTask": "script_task",
    "businessRuleTask": "business_rule_task", "serviceTask": "service_task", "manualTask": "manual_task",
    "receiveTask": "receive_task", "task": "task", "subProcess": "sub_process", "callActivity": "call_activity",
    "startEvent": "start_event", "endEvent": "end_event", "intermediateCatchEvent": "intermediate_event",
    "intermediateThrowEvent": "intermediate_event", "boundaryEvent": "boundary_event",
    "exclusiveGateway": "exclusive_gateway", "parallelGateway": "parallel_gateway",
    "inclusiveGateway": "inclusive_gateway", "eventBasedGateway": "event_gateway",
    "complexGateway": "complex_gateway",
}
_TIMER_PARTS = {"timeDate": "date", "timeDuration": "duration", "timeCycle": "cycle"}


@dataclass(frozen=True)
class TimerOutline:
    timer_kind: str  # date, duration, cycle
    expression: str


@dataclass(frozen=True)
class StepOutline:
    """One flow node: what it is, who does it (its lane = a role code) and what Parcours reads on it."""

    element_id: str
    name: str
    kind: str
    lane: str | None
    properties: dict[str, str] = field(default_factory=dict)
    timer: TimerOutline | None = None
    script: str | None = None
    message: str | None = None
    attached_to: str | None = None
    documentation: str = ""

    @property
    def label(self) -> str:
        return self.name or self.element_id


@dataclass(frozen=True)
class FlowOutline:
    flow_id: str
    name: str
    source: str
    target: str
    condition: str | None = None


@dataclass
class DefinitionOutline:
    key: str
    title: str
    properties: dict[str, str] = field(default_factory=dict)  # on the process: anchors, param:NAME
    steps: dict[str, StepOutline] = field(default_factory=dict)  # in document order
    flows: dict[str, FlowOutline] = field(default_factory=dict)

    @property
    def anchors(self) -> list[str]:
        return [a.strip() for a in self.properties.get("anchors", "").split(",") if a.strip()]

    def step_label(self, element_id: str) -> str:
        step = self.steps.get(element_id)
        return step.label if step is not None else element_id


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1] if isinstance(tag, str) and tag.startswith(f"{{{BPMN_NS}}}") else ""


def _text(element: etree._Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def _lanes(process: etree._Element) -> dict[str, str]:
    """Flow node id -> the name of the innermost lane that lists it."""
    lanes: dict[str, str] = {}
    for lane in process.xpath(".//bpmn:lane", namespaces=NS):  # document order: outer lanes first
        for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
            if ref.text and ref.text.strip():
                lanes[ref.text.strip()] = (lane.get("name") or "").strip()
    return lanes


def _properties(node: etree._Element) -> dict[str, str]:
    props: dict[str, str] = {}
    for prop in node.xpath("./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
                           namespaces=NS):
        if prop.get("name"):
            props[str(prop.get("name"))] = str(prop.get("value", ""))
    return props


def _timer(node: etree._Element) -> TimerOutline | None:
    definition = node.find("bpmn:timerEventDefinition", namespaces=NS)
    if definition is None:
        return None
    for part, kind in _TIMER_PARTS.items():
        value = definition.find(f"bpmn:{part}", namespaces=NS)
        if value is not None:
            return TimerOutline(kind, _text(value))
    return TimerOutline("date", "")


def _message(node: etree._Element, messages: dict[str, str]) -> str | None:
    definition = node.find("bpmn:messageEventDefinition", namespaces=NS)
    if definition is None:
        return None
    ref = str(definition.get("messageRef") or "")
    return messages.get(ref, ref)


def _step(node: etree._Element, kind: str, lanes: dict[str, str], messages: dict[str, str]) -> StepOutline:
    element_id = str(node.get("id") or "")
    timer = _timer(node)
    message = _message(node, messages)
    if kind in ("intermediate_event", "boundary_event", "start_event") and timer is not None:
        kind = "timer_event"
    elif kind in ("intermediate_event", "boundary_event", "start_event") and message is not None:
        kind = "message_event"
    script = _text(node.find("bpmn:script", namespaces=NS)) if kind == "script_task" else None
    return StepOutline(element_id, (node.get("name") or "").strip(), kind, lanes.get(element_id) or None,
                       _properties(node), timer, script, message, node.get("attachedToRef"),
                       _text(node.find("bpmn:documentation", namespaces=NS)))


def _pathway_process(root: etree._Element) -> etree._Element | None:
    """The executable process (a draft may not be executable yet: then the first process)."""
    processes = executable_processes(root) or root.xpath("//bpmn:process", namespaces=NS)
    return processes[0] if processes else None


def outline_definition(bpmn: bytes | str, filename: str = "pathway.bpmn") -> DefinitionOutline:
    """The outline of a pathway's BPMN; PathwayDefinitionError when the XML itself is refused."""
    root = parse_xml(bpmn.encode("utf-8") if isinstance(bpmn, str) else bpmn, filename)
    process = _pathway_process(root)
    if process is None:
        return DefinitionOutline(key="", title="")
    outline = DefinitionOutline(str(process.get("id") or ""), (process.get("name") or "").strip(),
                                process_properties(process))
    lanes = _lanes(process)
    messages = {str(m.get("id")): str(m.get("name") or m.get("id"))
                for m in root.xpath("//bpmn:message", namespaces=NS)}
    for node in process.iter():
        local = _local(node.tag)
        if local in _KINDS and node.get("id"):
            step = _step(node, _KINDS[local], lanes, messages)
            outline.steps.setdefault(step.element_id, step)
        elif local == "sequenceFlow" and node.get("id"):
            condition = node.find("bpmn:conditionExpression", namespaces=NS)
            outline.flows[str(node.get("id"))] = FlowOutline(
                str(node.get("id")), (node.get("name") or "").strip(), str(node.get("sourceRef") or ""),
                str(node.get("targetRef") or ""), _text(condition) if condition is not None else None)
    return outline
