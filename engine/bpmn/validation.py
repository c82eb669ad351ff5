"""Deploy-time validation of a pathway against the BPMN conventions (DESIGN.md §3), as a list of Problems."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition  # type: ignore[import-untyped]

from engine.bpmn import sandbox
from engine.bpmn.parser import NS, CompiledPathway, ElementInfo, compile_pathway, executable_processes
from engine.bpmn.validation_rules import (
    PathwayCheck,
    check_anchors,
    check_code,
    check_forms,
    check_lanes,
    check_properties,
    extension_scripts,
    stored_names,
)
from engine.bpmn.xml_safety import parse_xml
from engine.errors import PathwayDefinitionError, Problem, SandboxError

SAMPLE_DATE = datetime(2026, 1, 5, tzinfo=ZoneInfo("Europe/Paris"))
_BPMN = f"{{{NS['bpmn']}}}"
_MISSING_DECISION = re.compile(r'No DMN Diagram available with id "([^"]*)"(?:, Available DMN ids are: (.*))?')
_BARE_DURATION = re.compile(r"^P(?=\w)(\d+[YMWD])*(T(\d+[HMS])+)?$", re.IGNORECASE)
_CYCLE = re.compile(r"^R(\d+)/(P.+)$", re.IGNORECASE)
_DURATION_EXAMPLES = '"P3M", "P2D", "PT4H" or timedelta(days=3)'
_UNQUOTED_ISO = (
    ("repetition", re.compile(r"^R\d*/P[\dYMWDTHS.,]+$", re.IGNORECASE)),
    ("duration", re.compile(r"^P[\dYMWDTHS.,]+$", re.IGNORECASE)),
    ("date", re.compile(r"^\d{4}-\d{2}-\d{2}([T ][\d:.]+)?(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE)),
)
# SpiffWorkflow refusals worth saying in the care manager's words (the original follows in parentheses).
_REWORDED = (
    (re.compile(r"^A Service Task must have an operator"),
     "service tasks are not supported in care pathways: use a user task for people, a send task (template, "
     "recipient) for reminders, or a message event for results coming from outside"),
    (re.compile(r"^Data Store with name (?P<name>.+?) has no implementation", re.DOTALL),
     "data store '{name}' is not supported: keep pathway data in form fields and script variables"),
    (re.compile(r"^Exactly one start event is required in a SubWorkflow Task; found (?P<n>\d+)"),
     "this sub-process has {n} start events: give it exactly one plain start event"),
    (re.compile(r"^A multiinstance task must specify a cardinality or a loop input data reference"),
     "this multi-instance activity says neither how many times to run (loop cardinality) nor which collection "
     "to go through (loop input): set one of them"),
    (re.compile(r"^Non-default exclusive outgoing sequence flow without condition"),
     "a flow leaving this exclusive gateway has no condition and is not the default flow: add a condition "
     "(e.g. douleur_nrs >= 7) or mark it as the default"),
    (re.compile(r"^Multiple outgoing flows are not supported for tasks of type"),
     "this element has several outgoing flows: join them through a gateway (exclusive for a choice, parallel "
     "for branches that all run)"),
    (re.compile(r"^Time Specification Error"),
     "this timer says neither when nor how long: give it a timeDate (date_chirurgie + timedelta(days=1)) or a "
     'timeDuration ("P3M")'),
)


def validate_pathway(
    bpmn: bytes,
    filename: str,
    *,
    forms: Mapping[str, Any],
    dmn_files: Mapping[str, bytes],
    known_roles: set[str],
) -> tuple[CompiledPathway | None, list[Problem]]:
    """Check a pathway before deployment: returns (compiled, []) when it can be deployed, else its problems.

    Every refusal is a located, readable Problem; all of them are collected, except when the XML or the
    SpiffWorkflow parse itself fails (then those problems come back with no compiled pathway).
    """
    try:
        compiled = compile_pathway(bpmn, filename, dict(dmn_files))
    except PathwayDefinitionError as exc:
        return None, _explain_compile_problems(bpmn, filename, exc.problems)
    root = parse_xml(bpmn, filename)
    check = PathwayCheck(filename, compiled, root, executable_processes(root)[0], forms, set(known_roles))
    for rule in (check_lanes, check_timers, check_code, check_forms, check_properties, check_anchors):
        rule(check)
    return compiled, check.problems


def _explain_compile_problems(bpmn: bytes, filename: str, problems: list[Problem]) -> list[Problem]:
    """Reword SpiffWorkflow's missing-DMN message, and report every business rule task calling a missing one."""
    out: list[Problem] = []
    for problem in problems:
        match = _MISSING_DECISION.search(problem.reason)
        if not match:
            out.append(_reworded(problem))
            continue
        listed = re.sub(r"\s*\(line \d+\)\s*$", "", match.group(2) or "").strip().rstrip(".")
        available = {d.strip() for d in listed.split(",") if d.strip()}
        known = f" (decisions deployed: {', '.join(sorted(available))})" if available else ""
        calls = [(problem.element_id, match.group(1))]
        root = parse_xml(bpmn, filename)  # it parsed once already, so this cannot fail
        for task in root.xpath("//bpmn:businessRuleTask", namespaces=NS):
            called = task.xpath("string(.//spiffworkflow:calledDecisionId)", namespaces=NS).strip()
            if task.get("id") != problem.element_id and called not in available:
                calls.append((task.get("id") or "-", called or "None"))
        for task_id, decision in calls:
            if decision in ("", "None"):
                reason = (f"business rule task '{task_id}' calls no decision: set its called decision id to the id "
                          f"of a decision in a DMN file deployed with the pathway{known}")
            else:
                reason = (f"business rule task '{task_id}' calls decision '{decision}', which is in no DMN file "
                          f"deployed with the pathway: add the .dmn file that defines it, or fix the decision "
                          f"id{known}")
            out.append(Problem(problem.file, task_id, reason))
    return out


def _reworded(problem: Problem) -> Problem:
    original = problem.reason.strip()
    for pattern, reason in _REWORDED:
        if found := pattern.match(original):
            names = {k: " ".join(v.split()) for k, v in found.groupdict().items()}  # names may span lines
            return Problem(problem.file, problem.element_id, f"{reason.format(**names)} ({' '.join(original.split())})")
    return problem


def _runtime_variables(check: PathwayCheck) -> set[str]:
    """Names that only exist once the instance runs: form fields, script variables, messages, DMN outputs."""
    names: set[str] = set()
    for schema in check.used_forms().values():
        properties = schema.get("properties")
        if isinstance(properties, dict):
            names.update(str(k) for k in properties)
    for info in check.elements("script_task"):
        names |= stored_names(info.expression or "")
    for _owner, _tag, code in extension_scripts(check):
        names |= stored_names(code)
    for info in check.elements("message"):
        if info.message_name:
            names.add(info.message_name)
    for spec in [check.compiled.spec, *check.compiled.subprocess_specs.values()]:
        for task_spec in getattr(spec, "task_specs", {}).values():
            table = getattr(getattr(task_spec, "dmnEngine", None), "decision_table", None)
            names.update(o.name for o in getattr(table, "outputs", []) if getattr(o, "name", None))
    return names


def check_timers(check: PathwayCheck) -> None:
    """Timer expressions are safe, use known names, and give a date, a duration or (boundary only) a cycle."""
    parameters = dict(check.compiled.parameters)
    anchors = set(check.compiled.anchors)
    runtime = _runtime_variables(check)
    builtins = set(sandbox.SAFE_GLOBALS)
    for info in check.elements("timer"):
        node = check.node(info.element_id)
        if node is not None and node.tag == f"{_BPMN}startEvent" and node.getparent() is check.process:
            # A pathway instance is one patient's run, started by enrolling that patient: a timer start event
            # (a campaign enrolling a cohort every month, timeCycle R/P1M) would start instances with no patient.
            what = "a repeating timer start event (timeCycle: a campaign)" if info.timer_kind == "cycle" else \
                "a timer start event"
            check.add(info.element_id, f"timer start events are not supported yet: {what} would start instances "
                                       f"with no patient; start the process with a plain start event and enrol "
                                       f"patients explicitly (parcours enrol, e.g. from a monthly cron job for a "
                                       f"cohort campaign)")
            continue
        label = f"timer '{info.name}'"
        expr = (info.expression or "").strip()
        if not expr:
            check.add(info.element_id, f"{label} has no expression: give it a date (timeDate, e.g. "
                                       f"date_chirurgie + timedelta(days=1)) or a duration (timeDuration, e.g. "
                                       f"{_DURATION_EXAMPLES})")
            continue
        literal = next((what for what, pattern in _UNQUOTED_ISO if pattern.match(expr)), None)
        if literal:
            check.add(info.element_id, f"{label} expression {expr} is an ISO 8601 {literal} written as code: "
                                       f'write the {literal} quoted: "{expr}"')
            continue
        boundary = node is not None and node.tag == f"{_BPMN}boundaryEvent"
        if info.timer_kind == "cycle" and not boundary:
            check.add(info.element_id, f"{label}: repeating timers (timeCycle) are only supported on boundary "
                                       f"events; draw a loop with a timeDuration timer instead")
            continue
        try:
            sandbox.check(expr, "eval")
        except SandboxError as exc:
            check.add(info.element_id, f"{label} expression is refused: {exc}")
            continue
        sample: dict[str, Any] = dict(parameters)
        unknown: list[str] = []
        deferred = False
        for name in sorted(sandbox.free_names(expr, "eval") - builtins):
            if name in anchors or name.startswith("date_"):
                sample[name] = SAMPLE_DATE
            elif name in runtime:
                deferred = True
            elif name not in parameters:
                unknown.append(name)
        for name in unknown:
            close = difflib.get_close_matches(name, sorted(anchors | set(parameters) | runtime), n=1)
            hint = f': write the duration quoted: "{name}"' if _BARE_DURATION.match(name) else (
                f": did you mean '{close[0]}'?" if close else
                ": declare it in the process anchors, add a param:NAME property, or fix the spelling")
            check.add(info.element_id, f"{label} expression uses '{name}', which is not an anchor date, parameter, "
                                       f"form field or script variable{hint}")
        if unknown or deferred:
            continue  # values only known at run time: compiling it is all we can check now
        _check_timer_value(check, info, label, expr, sample)


def _check_timer_value(check: PathwayCheck, info: ElementInfo, label: str, expr: str, sample: dict[str, Any]) -> None:
    """Evaluate a timer on sample anchor dates and parameters; the value must suit its timer type."""
    try:
        value = sandbox.evaluate(expr, sample)
    except SandboxError as exc:
        name = re.search(r"name '([^']+)' is not defined", str(exc))
        hint = f': write the duration quoted: "{name.group(1)}"' if name and _BARE_DURATION.match(name.group(1)) else ""
        hint = hint or ("; anchor dates are date-times: add or subtract a timedelta, e.g. "
                        "date_chirurgie + timedelta(days=1)")
        check.add(info.element_id, f"{label} expression fails with sample anchor dates "
                                   f"({SAMPLE_DATE.date().isoformat()}): {exc}{hint}")
        return
    reason = _timer_value_problem(info.timer_kind, value)
    if reason:
        check.add(info.element_id, f"{label} {reason}")


def _spiff_duration_ok(text: str) -> bool:
    try:
        return bool(TimerEventDefinition.parse_iso_duration(text))
    except Exception:  # SpiffWorkflow raises a bare Exception('Invalid duration')
        return False


def _timer_value_problem(kind: str | None, value: Any) -> str | None:
    """Why a sample timer value would not work at run time, or None when it would."""
    shown = repr(value) if isinstance(value, str | int | float) else f"a {type(value).__name__}"
    if kind == "date":
        if isinstance(value, date):
            return None
        if isinstance(value, str):
            try:
                naive = datetime.fromisoformat(value).tzinfo is None
                TimerEventDefinition.get_datetime(value)
            except (ValueError, TypeError):
                naive = None
            if naive:  # SpiffWorkflow would read it in the server's time zone
                return (f"(timeDate) gives {shown}, which has no time zone: write the offset, e.g. "
                        f'"2026-03-01T09:00:00+01:00", or compute it from an anchor date')
            if naive is False:
                return None
        tip = "; for a delay, make it a timeDuration timer" if isinstance(value, timedelta) or (
            isinstance(value, str) and _spiff_duration_ok(value)) else ""
        return (f"(timeDate) gives {shown}, not a date: write e.g. date_chirurgie + timedelta(days=1) or "
                f'"2026-03-01T09:00:00+01:00"{tip}')
    if kind == "duration":
        if isinstance(value, timedelta) or (isinstance(value, str) and _spiff_duration_ok(value)):
            return None
        tip = "; for a fixed date, make it a timeDate timer" if isinstance(value, date) else ""
        return f"(timeDuration) gives {shown}, not an ISO 8601 duration: write e.g. {_DURATION_EXAMPLES}{tip}"
    if kind == "cycle":
        match = _CYCLE.match(value) if isinstance(value, str) else None
        if match and _spiff_duration_ok(match.group(2)):
            return None
        return (f'(timeCycle) gives {shown}, not a repetition: write "R<times>/<duration>", e.g. "R3/P1D" '
                f"(three times, one day apart)")
    return f"has an unsupported timer type ({kind}): use a timeDate, timeDuration or timeCycle"
