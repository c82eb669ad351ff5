"""Convention rules a pathway must meet before deployment (lanes, code, forms, properties, anchors)."""

from __future__ import annotations

import ast
import difflib
import json
import keyword
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import isodate
from jsonschema.exceptions import SchemaError
from jsonschema.validators import Draft202012Validator, validator_for
from lxml import etree

from engine.bpmn import sandbox
from engine.bpmn.parser import NS, CompiledPathway, ElementInfo
from engine.errors import Problem, SandboxError

PRIORITIES = ("routine", "urgent", "asap", "stat")
CHANNELS = ("sms", "email", "preferred")
HUMAN_TAGS = {f"{{{NS['bpmn']}}}userTask": "user task", f"{{{NS['bpmn']}}}manualTask": "manual task"}


@dataclass
class PathwayCheck:
    """Everything the rules read (the compiled pathway and its XML), and the problems they found."""

    filename: str
    compiled: CompiledPathway
    root: etree._Element
    process: etree._Element
    forms: Mapping[str, Any]
    known_roles: set[str]
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        run = {self.compiled.key, *self.compiled.subprocess_specs}
        # The processes that can run: the pathway and the processes it calls in the same file.
        self.processes = [p for p in self.root.xpath("//bpmn:process", namespaces=NS) if p.get("id") in run]
        self.nodes: dict[str, etree._Element] = {}
        for node in self.root.iter(etree.Element):
            node_id = node.get("id")
            if node_id:
                self.nodes.setdefault(node_id, node)

    def add(self, element_id: str | None, reason: str) -> None:
        self.problems.append(Problem(self.filename, element_id or "-", reason))

    def node(self, element_id: str) -> etree._Element | None:
        return self.nodes.get(element_id)

    def elements(self, kind: str) -> Iterator[ElementInfo]:
        return (info for info in self.compiled.elements.values() if info.kind == kind)

    def roles_hint(self, wrong: str = "") -> str:
        close = difflib.get_close_matches(wrong.lower(), sorted(self.known_roles), n=1, cutoff=0.6) if wrong else []
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"use one of: {', '.join(sorted(self.known_roles))}{hint}"

    def used_forms(self) -> dict[str, Any]:
        """The forms referenced by this pathway's user tasks that exist and are JSON objects."""
        used = {}
        for info in self.elements("user_task"):
            key = info.properties.get("form") or ""
            schema = _load_form(self.forms.get(key)) if key in self.forms else None
            if isinstance(schema, dict):
                used[key] = schema
        return used


def _load_form(raw: Any) -> Any:
    if isinstance(raw, bytes | str):
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
    return raw


def stored_names(code: str) -> set[str]:
    """Variables a script assigns (its targets), or nothing when it does not parse."""
    try:
        tree = ast.parse(code, mode="exec")
    except (SyntaxError, ValueError):
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def extension_scripts(check: PathwayCheck) -> Iterator[tuple[str, str, str]]:
    """(element id, 'preScript'|'postScript', code) for every pre/post script in the processes that run."""
    for tag, process in ((t, p) for t in ("preScript", "postScript") for p in check.processes):
        for script in process.xpath(f".//spiffworkflow:{tag}", namespaces=NS):
            owner = script.getparent().getparent() if script.getparent() is not None else None
            owner_id = owner.get("id") if owner is not None else None
            if script.text and script.text.strip():
                yield owner_id or "-", tag, script.text


def check_lanes(check: PathwayCheck) -> None:
    """User and manual tasks sit in a lane, and every lane a flow node uses is named by a known role."""
    lane_of_ref: dict[str, etree._Element] = {}
    for ref in check.root.xpath("//bpmn:lane/bpmn:flowNodeRef", namespaces=NS):
        if ref.text:
            lane_of_ref[ref.text.strip()] = ref.getparent()
    reported: set[str] = set()
    for info in check.compiled.elements.values():
        if not (info.lane or "").strip():
            lane = lane_of_ref.get(info.element_id)
            node = check.node(info.element_id)
            what = HUMAN_TAGS.get(node.tag) if node is not None else None
            if lane is not None:
                lane_id = lane.get("id") or "-"
                if lane_id not in reported:
                    reported.add(lane_id)
                    check.add(lane_id, f"a lane has no name: name it with the role code of who does its tasks; "
                                       f"{check.roles_hint()}")
            elif what:
                check.add(info.element_id, f"{what} '{info.name}' is outside any lane: put it in the lane "
                                           f"of the role that does it")
        elif info.lane not in check.known_roles and info.lane not in reported:
            reported.add(info.lane)
            lanes = check.root.xpath("//bpmn:lane[@name=$n]", namespaces=NS, n=info.lane)
            lane_id = lanes[0].get("id") if lanes else None
            check.add(lane_id, f"lane '{info.lane}' is not a known role; rename the lane with a role code: "
                               f"{check.roles_hint(info.lane)}")


def _sandbox_check(check: PathwayCheck, element_id: str, what: str, code: str, mode: Literal["eval", "exec"]) -> None:
    try:
        sandbox.check(code, mode)
    except SandboxError as exc:
        check.add(element_id, f"{what} is refused: {exc}")


def check_code(check: PathwayCheck) -> None:
    """Gateway conditions, scripts, pre/post scripts and appointment expressions pass the sandbox check."""
    flows = (f for p in check.processes for f in p.xpath(".//bpmn:sequenceFlow[bpmn:conditionExpression]",
                                                            namespaces=NS))
    for flow in flows:
        text = "".join(flow.find("bpmn:conditionExpression", namespaces=NS).itertext()).strip()
        if text:
            label = flow.get("name") or flow.get("id")
            _sandbox_check(check, flow.get("id") or "-", f"the condition of flow '{label}'", text, "eval")
    for info in check.elements("script_task"):
        if not (info.expression or "").strip():
            check.add(info.element_id, f"script task '{info.name}' has no script: write one, or make it a plain task")
        else:
            _sandbox_check(check, info.element_id, f"the script of script task '{info.name}'", info.expression or "",
                           "exec")
    for owner_id, tag, code in extension_scripts(check):
        _sandbox_check(check, owner_id, f"the {tag} of '{owner_id}'", code, "exec")
    for info in check.elements("send_task"):
        expr = info.properties.get("appointment", "").strip()
        if expr:
            _sandbox_check(check, info.element_id, f"the appointment expression of '{info.name}'", expr, "eval")


def check_forms(check: PathwayCheck) -> None:
    """Every form a user task names exists and is a JSON Schema of an object."""
    seen: set[str] = set()
    for info in check.elements("user_task"):
        key = info.properties.get("form") or ""  # read as the runtime reads it: not stripped
        if not key or key in seen:
            continue
        seen.add(key)
        if key not in check.forms:
            check.add(info.element_id, f"form '{key}' not found: add workflows/forms/{key}.json")
            continue
        schema = _load_form(check.forms[key])
        if not isinstance(schema, dict):
            check.add(info.element_id, f"form '{key}' is not a JSON Schema object: write it as "
                                       f'{{"type": "object", "properties": {{...}}}}')
            continue
        try:
            validator_for(schema, default=Draft202012Validator).check_schema(schema)
        except SchemaError as exc:
            where = "/".join(str(p) for p in exc.path) or "top level"
            check.add(info.element_id, f"form '{key}' is not a valid JSON Schema ({where}: {exc.message}): "
                                       f"fix workflows/forms/{key}.json")
            continue
        except (TypeError, ValueError, LookupError) as exc:  # e.g. an unhashable "$schema"
            check.add(info.element_id, f"form '{key}' is not a valid JSON Schema ({exc}): "
                                       f"fix workflows/forms/{key}.json")
            continue
        if schema.get("type") != "object":
            check.add(info.element_id, f"form '{key}' must describe an object: set \"type\": \"object\" at the top "
                                       f"of workflows/forms/{key}.json")


def _iso_duration_problem(value: str) -> str | None:
    try:
        isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError, TypeError):
        return f"'{value}' is not an ISO 8601 duration (write e.g. PT4H, P2D, P1W or P3M)"
    return None


def check_properties(check: PathwayCheck) -> None:
    """User-task due/escalate_after/priority and send-task recipient/channel take allowed values.

    Values are read exactly as the runtime reads them (not stripped); an empty due/escalate_after means none.
    """
    for info in check.elements("user_task"):
        for prop in ("due", "escalate_after"):
            value = info.properties.get(prop)
            if value and (bad := _iso_duration_problem(value)):
                check.add(info.element_id, f"user task '{info.name}' property {prop}: {bad}")
        if info.properties.get("escalate_after") and not info.properties.get("due"):
            check.add(info.element_id, f"user task '{info.name}' has escalate_after but no due: escalation counts "
                                       f"from the due date, so add a due (e.g. P2D) or remove escalate_after")
        priority = info.properties.get("priority")
        if priority is not None and priority not in PRIORITIES:
            check.add(info.element_id, f"user task '{info.name}' priority '{priority}' is not allowed: "
                                       f"use one of {', '.join(PRIORITIES)}")
    for info in check.elements("send_task"):
        if "template" not in info.properties:
            continue
        recipient = info.properties.get("recipient", "patient")  # the runtime's default
        if recipient != "patient" and recipient not in check.known_roles:
            check.add(info.element_id, f"send task '{info.name}' recipient '{recipient}' is neither patient nor a "
                                       f"known role; {check.roles_hint(recipient)}")
        channel = info.properties.get("channel", "preferred")
        if channel not in CHANNELS:
            check.add(info.element_id, f"send task '{info.name}' channel '{channel}' is not allowed: use one of "
                                       f"{', '.join(CHANNELS)} (preferred = the patient's choice)")


def check_anchors(check: PathwayCheck) -> None:
    """Anchor dates declared on the process are usable variable names."""
    for anchor in check.compiled.anchors:
        if not anchor.isidentifier() or keyword.iskeyword(anchor) or anchor.startswith("_"):
            check.add(check.process.get("id"), f"anchor '{anchor}' is not a valid variable name: use letters, "
                                               f"digits and underscores, e.g. date_chirurgie")
