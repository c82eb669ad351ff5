"""One instance's BPMN diagram for the viewer: the version's XML and which elements are done, active,
waiting or overdue — read from the tables (work items, due timers, reminders, audit), access-checked, audited.

- done: elements of completed work items, fired timers, caught messages, planned reminders (send tasks)
  and the start events (every instance passed them);
- active: open work items; overdue: open work items past their due time (shown as overdue, not active);
- waiting: pending timers and, for an active instance, the message catch events it waits on.
An element that is active, overdue or waiting now is not also marked done (a loop comes back to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from engine.bpmn.parser import NS
from engine.bpmn.runtime import PathwayRun
from engine.bpmn.xml_safety import parse_xml
from engine.clock import Clock
from engine.db import db
from engine.errors import NotFound, PathwayDefinitionError
from engine.models import (
    AuditEvent,
    DueTimer,
    InstanceStatus,
    PathwayInstance,
    PathwayVersion,
    Reminder,
    TimerStatus,
    WorkItem,
    WorkItemKind,
    WorkItemStatus,
)
from engine.models.work_item import OPEN_STATUSES
from engine.services import audit
from engine.services.pathways import compiled_for
from engine.services.patient_records import get_patient
from engine.types import Actor


@dataclass
class DiagramMarkers:
    done: set[str] = field(default_factory=set)
    active: set[str] = field(default_factory=set)
    waiting: set[str] = field(default_factory=set)
    overdue: set[str] = field(default_factory=set)

    def as_lists(self) -> dict[str, list[str]]:
        busy = self.active | self.waiting | self.overdue
        return {"done": sorted(self.done - busy), "active": sorted(self.active - self.overdue),
                "waiting": sorted(self.waiting - self.active - self.overdue), "overdue": sorted(self.overdue)}


@dataclass(frozen=True)
class InstanceDiagram:
    instance_id: int
    xml: str
    markers: dict[str, list[str]]


def version_xml(version_id: int) -> str:
    """The stored BPMN text of a pathway version (the deferred column, loaded on purpose)."""
    xml = db.session.scalar(select(PathwayVersion.bpmn_xml).where(PathwayVersion.id == version_id))
    if xml is None:
        raise NotFound(f"no pathway version {version_id}")
    return xml


def _message_catch_elements(xml: str, names: set[str]) -> tuple[set[str], set[str]]:
    """(start event ids, ids of the catch events waiting on one of the message ``names``) from the XML."""
    try:
        root = parse_xml(xml.encode("utf-8"), "stored")
    except PathwayDefinitionError:
        return set(), set()
    starts = {str(e) for e in root.xpath("//bpmn:process/bpmn:startEvent/@id", namespaces=NS)}
    by_ref = {str(m.get("id")): str(m.get("name") or m.get("id")) for m in root.xpath("//bpmn:message", namespaces=NS)}
    waiting = set()
    for definition in root.xpath("//bpmn:messageEventDefinition", namespaces=NS):
        parent = definition.getparent()
        if parent is None or not str(parent.tag).endswith(("intermediateCatchEvent", "boundaryEvent", "receiveTask")):
            continue
        if by_ref.get(str(definition.get("messageRef")), "") in names:
            waiting.add(str(parent.get("id")))
    return starts, waiting


def markers_for(instance: PathwayInstance, *, clock: Clock, xml: str) -> DiagramMarkers:
    """Compute the markers of one instance (no access check: the caller has done it)."""
    now = clock.now()
    m = DiagramMarkers()
    for element_id, status, due_at in db.session.execute(
            select(WorkItem.element_id, WorkItem.status, WorkItem.due_at)
            .where(WorkItem.instance_id == instance.id, WorkItem.kind == WorkItemKind.TASK.value)):
        if status == WorkItemStatus.COMPLETED.value:
            m.done.add(element_id)
        elif status in OPEN_STATUSES:
            (m.overdue if due_at is not None and due_at < now else m.active).add(element_id)
    for element_id, status in db.session.execute(
            select(DueTimer.element_id, DueTimer.status).where(DueTimer.instance_id == instance.id)):
        if status == TimerStatus.FIRED.value:
            m.done.add(element_id)
        elif status == TimerStatus.PENDING.value:
            m.waiting.add(element_id)
    m.done.update(e for e in db.session.scalars(select(Reminder.element_id).where(
        Reminder.instance_id == instance.id, Reminder.element_id.is_not(None))) if e)
    m.done.update(e for e in db.session.scalars(select(AuditEvent.object_id).where(
        AuditEvent.instance_id == instance.id, AuditEvent.action.in_(("timer.fired", "message.caught")),
        AuditEvent.object_type == "element")) if e)
    names: set[str] = set()
    if instance.status == InstanceStatus.ACTIVE.value and instance.state:
        names = set(PathwayRun.load(compiled_for(instance.version), instance.state, clock,
                                    instance_id=instance.id).waiting_messages())
    starts, message_waits = _message_catch_elements(xml, names)
    m.done.update(starts)
    m.waiting.update(message_waits)
    return m


def instance_diagram(actor: Actor, patient_id: int, instance_id: int, *, clock: Clock) -> InstanceDiagram:
    """The diagram of one of the patient's instances, with its markers (audited "instance.diagram_viewed")."""
    patient = get_patient(actor, patient_id, action="instance.diagram_viewed", clock=clock)
    instance = db.session.get(PathwayInstance, instance_id)
    if instance is None or instance.patient_id != patient.id:
        raise NotFound(f"no pathway instance {instance_id} for this patient")
    xml = version_xml(instance.version_id)
    markers = markers_for(instance, clock=clock, xml=xml).as_lists()
    audit.record(actor, "instance.diagram_viewed", at=clock.now(), patient_id=patient.id, instance_id=instance.id,
                 object_type="pathway_version", object_id=instance.version_id)
    return InstanceDiagram(instance.id, xml, markers)
