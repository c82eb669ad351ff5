"""The readable difference between two definitions of a pathway: what a care manager would notice, not XML.

Steps added, removed, renamed, moved to another lane (a role change), timers changed, Parcours properties
changed (form, due, priority, escalate_after, recipient, channel, template...), gateway conditions changed,
flows added or removed, process parameters and anchors changed, form fields added, removed or changed.
Works on two stored versions, or on raw XML + forms (a draft against the version it copies).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.bpmn.definition_outline import DefinitionOutline, FlowOutline, StepOutline, outline_definition
from engine.models import PathwayVersion
from engine.services.pathways import PathwaySource


class DiffCategory(StrEnum):
    STEPS = "steps"
    TIMERS = "timers"
    PROPERTIES = "properties"
    CONDITIONS = "conditions"
    FLOWS = "flows"
    PARAMETERS = "parameters"
    FORMS = "forms"


class Change(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    RENAMED = "renamed"
    MOVED = "moved"  # to another lane: another role does it
    CHANGED = "changed"


@dataclass(frozen=True)
class DiffEntry:
    """One difference: the element (id, name, kind), what changed (``field``: a property, parameter or form
    field name; ``attribute``: which part of a form field) and the value before and after (None: absent)."""

    category: DiffCategory
    change: Change
    element_id: str
    element_name: str
    kind: str
    before: str | None = None
    after: str | None = None
    field: str | None = None
    attribute: str | None = None
    details: dict[str, str] = dataclasses.field(default_factory=dict)  # an added/removed step's role, timer, properties


@dataclass
class VersionDiff:
    entries: list[DiffEntry] = dataclasses.field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.entries

    def of(self, category: DiffCategory) -> list[DiffEntry]:
        return [e for e in self.entries if e.category == category]

    def groups(self) -> list[tuple[DiffCategory, list[DiffEntry]]]:
        """The non-empty groups, in reading order (steps, timers, properties, conditions, flows, parameters, forms)."""
        return [(c, self.of(c)) for c in DiffCategory if self.of(c)]

    def diagram_markers(self) -> dict[str, list[str]]:
        """Elements to mark on the newer version's diagram: ``added`` and ``changed`` (removed ones are not in it;
        forms and parameters are no diagram element)."""
        added = {e.element_id for e in self.entries if e.change == Change.ADDED
                 and e.category in (DiffCategory.STEPS, DiffCategory.FLOWS)}
        changed = {e.element_id for e in self.entries if e.change != Change.REMOVED
                   and e.category not in (DiffCategory.FORMS, DiffCategory.PARAMETERS)} - added
        return {"added": sorted(added), "changed": sorted(changed)}


def diff_versions(old: PathwayVersion, new: PathwayVersion) -> VersionDiff:
    """What changed from version ``old`` to version ``new`` of a pathway (reads both stored definitions)."""
    return diff_definitions(old.bpmn_xml, old.forms or {}, new.bpmn_xml, new.forms or {},
                            old_filename=old.filename, new_filename=new.filename)


def diff_sources(old: PathwaySource, new: PathwaySource) -> VersionDiff:
    """What changed between two sources (e.g. a draft against the version it was copied from)."""
    return diff_definitions(old.bpmn, old.forms, new.bpmn, new.forms, old_filename=old.filename,
                            new_filename=new.filename)


def diff_definitions(old_bpmn: bytes | str, old_forms: dict[str, Any], new_bpmn: bytes | str,
                     new_forms: dict[str, Any], *, old_filename: str = "old.bpmn",
                     new_filename: str = "new.bpmn") -> VersionDiff:
    """The difference between two BPMN texts and their forms; PathwayDefinitionError if an XML is refused."""
    old, new = outline_definition(old_bpmn, old_filename), outline_definition(new_bpmn, new_filename)
    diff = VersionDiff()
    _diff_steps(old, new, diff.entries)
    _diff_flows(old, new, diff.entries)
    _diff_process(old, new, diff.entries)
    _diff_forms(old_forms or {}, new_forms or {}, diff.entries)
    return diff


# -- steps, timers, properties --------------------------------------------------------------------------------

def _step_details(step: StepOutline) -> dict[str, str]:
    details = {"lane": step.lane or ""} if step.lane else {}
    if step.timer is not None:
        details[f"timer_{step.timer.timer_kind}"] = step.timer.expression
    details.update(step.properties)
    return details


def _entry(category: DiffCategory, change: Change, step: StepOutline, before: str | None = None,
           after: str | None = None, **extra: Any) -> DiffEntry:
    return DiffEntry(category, change, step.element_id, step.label, step.kind, before, after, **extra)


def _diff_steps(old: DefinitionOutline, new: DefinitionOutline, out: list[DiffEntry]) -> None:
    for element_id, step in new.steps.items():
        before = old.steps.get(element_id)
        if before is None:
            out.append(_entry(DiffCategory.STEPS, Change.ADDED, step, after=step.lane, details=_step_details(step)))
            if step.timer is not None:
                out.append(_entry(DiffCategory.TIMERS, Change.ADDED, step, after=step.timer.expression,
                                  field=step.timer.timer_kind))
            continue
        _diff_common_step(old, new, before, step, out)
    for element_id, step in old.steps.items():
        if element_id not in new.steps:
            out.append(_entry(DiffCategory.STEPS, Change.REMOVED, step, before=step.lane, details=_step_details(step)))
            if step.timer is not None:
                out.append(_entry(DiffCategory.TIMERS, Change.REMOVED, step, before=step.timer.expression,
                                  field=step.timer.timer_kind))


def _diff_common_step(old: DefinitionOutline, new: DefinitionOutline, was: StepOutline, step: StepOutline,
                      out: list[DiffEntry]) -> None:
    if was.name != step.name:
        out.append(_entry(DiffCategory.STEPS, Change.RENAMED, step, was.label, step.label))
    if was.lane != step.lane:
        out.append(_entry(DiffCategory.STEPS, Change.MOVED, step, was.lane, step.lane, field="lane"))
    if was.kind != step.kind:
        out.append(_entry(DiffCategory.STEPS, Change.CHANGED, step, was.kind, step.kind, field="kind"))
    for name in ("script", "message", "documentation"):
        if getattr(was, name) != getattr(step, name):
            out.append(_entry(DiffCategory.STEPS, Change.CHANGED, step, getattr(was, name), getattr(step, name),
                              field=name))
    if was.attached_to != step.attached_to:
        out.append(_entry(DiffCategory.STEPS, Change.CHANGED, step,
                          old.step_label(was.attached_to) if was.attached_to else None,
                          new.step_label(step.attached_to) if step.attached_to else None, field="attached_to"))
    _diff_timer(was, step, out)
    for name in sorted(set(was.properties) | set(step.properties), key=_property_order):
        before, after = was.properties.get(name), step.properties.get(name)
        if before != after:
            change = Change.ADDED if before is None else Change.REMOVED if after is None else Change.CHANGED
            out.append(_entry(DiffCategory.PROPERTIES, change, step, before, after, field=name))


def _diff_timer(was: StepOutline, step: StepOutline, out: list[DiffEntry]) -> None:
    if was.timer == step.timer:
        return
    if was.timer is None or step.timer is None:
        change = Change.ADDED if was.timer is None else Change.REMOVED
        timer = step.timer or was.timer
        assert timer is not None
        out.append(_entry(DiffCategory.TIMERS, change, step, was.timer.expression if was.timer else None,
                          step.timer.expression if step.timer else None, field=timer.timer_kind))
        return
    kind = step.timer.timer_kind if was.timer.timer_kind == step.timer.timer_kind else (
        f"{was.timer.timer_kind}>{step.timer.timer_kind}")
    out.append(_entry(DiffCategory.TIMERS, Change.CHANGED, step, was.timer.expression, step.timer.expression,
                      field=kind))


# The properties a care manager sets, in the order the studio shows them; any other name after, alphabetically.
PROPERTY_ORDER = ("form", "due", "priority", "escalate_after", "recipient", "channel", "template", "appointment")


def _property_order(name: str) -> tuple[int, str]:
    return (PROPERTY_ORDER.index(name) if name in PROPERTY_ORDER else len(PROPERTY_ORDER), name)


# -- flows and conditions --------------------------------------------------------------------------------------

def _route(outline: DefinitionOutline, flow: FlowOutline) -> str:
    return f"{outline.step_label(flow.source)} → {outline.step_label(flow.target)}"


def _flow_entry(category: DiffCategory, change: Change, outline: DefinitionOutline, flow: FlowOutline,
                before: str | None, after: str | None, **extra: Any) -> DiffEntry:
    return DiffEntry(category, change, flow.flow_id, flow.name or _route(outline, flow), "sequence_flow", before,
                     after, **extra)


def _diff_flows(old: DefinitionOutline, new: DefinitionOutline, out: list[DiffEntry]) -> None:
    for flow_id, flow in new.flows.items():
        was = old.flows.get(flow_id)
        if was is None:
            details = {"condition": flow.condition} if flow.condition else {}
            out.append(_flow_entry(DiffCategory.FLOWS, Change.ADDED, new, flow, None, _route(new, flow),
                                   details=details))
            continue
        if (was.source, was.target) != (flow.source, flow.target):
            out.append(_flow_entry(DiffCategory.FLOWS, Change.CHANGED, new, flow, _route(old, was), _route(new, flow)))
        if was.name != flow.name:
            out.append(_flow_entry(DiffCategory.FLOWS, Change.RENAMED, new, flow, was.name or None, flow.name or None))
        if (was.condition or None) != (flow.condition or None):
            change = (Change.ADDED if not was.condition else Change.REMOVED if not flow.condition else Change.CHANGED)
            out.append(_flow_entry(DiffCategory.CONDITIONS, change, new, flow, was.condition or None,
                                   flow.condition or None, field=new.step_label(flow.source)))
    for flow_id, flow in old.flows.items():
        if flow_id not in new.flows:
            details = {"condition": flow.condition} if flow.condition else {}
            out.append(_flow_entry(DiffCategory.FLOWS, Change.REMOVED, old, flow, _route(old, flow), None,
                                   details=details))


# -- process: title, anchors, parameters ------------------------------------------------------------------------

def _diff_process(old: DefinitionOutline, new: DefinitionOutline, out: list[DiffEntry]) -> None:
    def add(change: Change, name: str, before: str | None, after: str | None) -> None:
        out.append(DiffEntry(DiffCategory.PARAMETERS, change, new.key or old.key, new.title or old.title, "process",
                             before, after, field=name))

    if old.title != new.title:
        add(Change.RENAMED, "title", old.title or None, new.title or None)
    if old.anchors != new.anchors:
        add(Change.CHANGED, "anchors", ", ".join(old.anchors) or None, ", ".join(new.anchors) or None)
    names = (set(old.properties) | set(new.properties)) - {"anchors"}
    for name in sorted(names):
        before, after = old.properties.get(name), new.properties.get(name)
        if before != after:
            change = Change.ADDED if before is None else Change.REMOVED if after is None else Change.CHANGED
            add(change, name.removeprefix("param:"), before, after)


# -- forms (JSON Schema) ----------------------------------------------------------------------------------------

FIELD_ATTRIBUTES = ("type", "title", "enum", "minimum", "maximum", "minLength", "maxLength", "format", "default",
                    "description")


def _schema(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return {}
    return raw if isinstance(raw, dict) else {}


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _field_details(spec: Any, required: bool) -> dict[str, str]:
    spec = spec if isinstance(spec, dict) else {}
    details = {name: str(_shown(spec[name])) for name in FIELD_ATTRIBUTES if name in spec and name != "description"}
    if required:
        details["required"] = "true"
    return details


def _diff_forms(old_forms: dict[str, Any], new_forms: dict[str, Any], out: list[DiffEntry]) -> None:
    for key in sorted(set(old_forms) | set(new_forms)):
        was, now = _schema(old_forms.get(key)), _schema(new_forms.get(key))
        title = str(now.get("title") or was.get("title") or key)

        def add(change: Change, before: str | None = None, after: str | None = None, *, name: str | None = None,
                attribute: str | None = None, details: dict[str, str] | None = None, title: str = title,
                key: str = key) -> None:
            out.append(DiffEntry(DiffCategory.FORMS, change, key, title, "form", before, after, field=name,
                                 attribute=attribute, details=details or {}))

        if key not in old_forms or key not in new_forms:
            fields = sorted((now or was).get("properties") or {})
            add(Change.ADDED if key not in old_forms else Change.REMOVED, details={"fields": ", ".join(fields)})
            continue
        if was.get("title") != now.get("title"):
            add(Change.CHANGED, _shown(was.get("title")), _shown(now.get("title")), attribute="title")
        _diff_fields(was, now, add)


def _diff_fields(was: dict[str, Any], now: dict[str, Any], add: Callable[..., None]) -> None:
    old_props, new_props = was.get("properties") or {}, now.get("properties") or {}
    old_required, new_required = set(was.get("required") or []), set(now.get("required") or [])
    for name, spec in new_props.items():
        label = str(spec.get("title") or name) if isinstance(spec, dict) else name
        if name not in old_props:
            add(Change.ADDED, None, label, name=name, details=_field_details(spec, name in new_required))
            continue
        before = old_props[name] if isinstance(old_props[name], dict) else {}
        after = spec if isinstance(spec, dict) else {}
        for attribute in FIELD_ATTRIBUTES:
            if before.get(attribute) != after.get(attribute):
                add(Change.CHANGED, _shown(before.get(attribute)), _shown(after.get(attribute)), name=name,
                    attribute=attribute)
        if (name in old_required) != (name in new_required):
            add(Change.CHANGED, str(name in old_required).lower(), str(name in new_required).lower(), name=name,
                attribute="required")
    for name, spec in old_props.items():
        if name not in new_props:
            label = str(spec.get("title") or name) if isinstance(spec, dict) else name
            add(Change.REMOVED, label, None, name=name, details=_field_details(spec, name in old_required))
