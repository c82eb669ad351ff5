"""The studio's simulation of a version or a draft: the questions whose answers choose branches, and the
calendar of ``simulation.simulate_pathway`` (same engine and sandbox, virtual clock, in memory) as a timeline
grouped by ISO week, counted in days from the pathway's main anchor date.

Nothing is stored and nothing is sent; the only row written is the audit event of the simulation itself.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from engine.bpmn.definition_outline import DefinitionOutline, outline_definition
from engine.clock import Clock
from engine.services import audit
from engine.services.care_managers import require_care_manager
from engine.services.pathways import PathwaySource
from engine.services.projection import add_duration
from engine.services.simulation import SIMULATED_PATIENT_ZONE, SimulationReport, simulate_pathway
from engine.types import Actor

MAX_MONTHS = 36
SHOWN_KINDS = ("ouverture", "minuteur", "rappel", "message", "fin", "erreur")  # "fait": the answers, not shown


@dataclass(frozen=True)
class QuestionField:
    """A form field that a gateway condition or a timer reads: its answer chooses a branch or a date."""

    name: str
    title: str
    type: str  # string, integer, number, boolean
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class BranchQuestion:
    element_id: str
    element_name: str
    lane: str | None
    form_key: str
    fields: tuple[QuestionField, ...]


def _names_read(expression: str | None) -> set[str]:
    if not expression:
        return set()
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def branch_questions(source: PathwaySource, outline: DefinitionOutline | None = None) -> list[BranchQuestion]:
    """Per user task with a form (document order), the form fields a gateway condition or a timer reads."""
    outline = outline or outline_definition(source.bpmn, source.filename)
    read: set[str] = set()
    for flow in outline.flows.values():
        read |= _names_read(flow.condition)
    for step in outline.steps.values():
        read |= _names_read(step.timer.expression if step.timer else None)
    questions = []
    for step in outline.steps.values():
        form_key = step.properties.get("form")
        schema = source.forms.get(form_key) if step.kind == "user_task" and form_key else None
        if not isinstance(schema, dict):
            continue
        fields = tuple(_question_field(name, spec) for name, spec in (schema.get("properties") or {}).items()
                       if name in read and isinstance(spec, dict))
        if fields:
            questions.append(BranchQuestion(step.element_id, step.label, step.lane, str(form_key), fields))
    return questions


def _question_field(name: str, spec: dict[str, Any]) -> QuestionField:
    kind = spec.get("type") if spec.get("type") in ("string", "integer", "number", "boolean") else "string"
    choices = tuple(str(c) for c in spec.get("enum") or ())
    return QuestionField(name, str(spec.get("title") or name), str(kind), spec.get("default"), choices,
                         spec.get("minimum"), spec.get("maximum"))


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime  # on the simulated patient's calendar (Europe/Paris)
    day: int  # J+N from the main anchor date (or from the start when the pathway has none)
    kind: str  # ouverture (a work item opens), minuteur, rappel, message, fin, erreur
    element_id: str | None
    title: str
    role: str | None = None  # who does the work item; the reminder's recipient
    due_at: datetime | None = None
    channel: str | None = None
    template: str | None = None


@dataclass
class TimelineWeek:
    monday: date
    iso_year: int
    iso_week: int
    day: int  # J+N of the Monday
    entries: list[TimelineEntry] = field(default_factory=list)


@dataclass
class StudioSimulation:
    report: SimulationReport
    main_anchor: str | None
    anchor_day: date
    weeks: list[TimelineWeek]
    counts: dict[str, int]


def months_later(start: datetime, months: int) -> datetime:
    """``start`` plus whole calendar months (31 January + 1 month = 28 or 29 February)."""
    later = add_duration(start, f"P{months}M", SIMULATED_PATIENT_ZONE)
    assert later is not None
    return later


def _entry(raw: dict[str, Any], outline: DefinitionOutline, anchor_day: date) -> TimelineEntry:
    at = datetime.fromisoformat(raw["at"]).astimezone(SIMULATED_PATIENT_ZONE)
    element_id = raw.get("element_id") or raw.get("send_element_id")
    kind = raw["kind"]
    title = raw.get("title") or (outline.step_label(element_id) if element_id else "")
    if kind == "rappel":
        title = title or str(raw.get("template") or "")
    due = datetime.fromisoformat(raw["due_at"]).astimezone(SIMULATED_PATIENT_ZONE) if raw.get("due_at") else None
    if kind == "erreur":
        title = str(raw.get("message") or "")
    return TimelineEntry(at, (at.date() - anchor_day).days, kind, element_id, title,
                         raw.get("role") or raw.get("recipient"), due, raw.get("channel"), raw.get("template"))


def group_by_week(report: SimulationReport, outline: DefinitionOutline, anchor_day: date) -> list[TimelineWeek]:
    """The calendar's work items, timers, reminders and messages, by ISO week (Monday first), in time order."""
    weeks: dict[tuple[int, int], TimelineWeek] = {}
    for raw in report.calendar:
        if raw.get("kind") not in SHOWN_KINDS:
            continue
        entry = _entry(raw, outline, anchor_day)
        year, week, weekday = entry.at.isocalendar()
        monday = date.fromordinal(entry.at.date().toordinal() - weekday + 1)
        group = weeks.setdefault((year, week), TimelineWeek(monday, year, week, (monday - anchor_day).days))
        group.entries.append(entry)
    return [weeks[k] for k in sorted(weeks)]


def simulate_for_studio(actor: Actor, source: PathwaySource, *, start_day: date, months: int,
                        context: dict[str, Any], answers: dict[str, Any], clock: Clock,
                        version_id: int | None = None) -> StudioSimulation:
    """Simulate ``source`` for a synthetic patient from ``start_day`` (08:00) for ``months`` months.

    Care managers only. ``context``: anchor dates (ISO); ``answers``: per element id, as ``simulate_pathway``
    takes them. Raises InvalidInput (bad anchors, answers a form refuses), PathwayDefinitionError (a draft that
    does not validate). Stores nothing but the audit event "pathway.simulated".
    """
    require_care_manager(actor)
    start = datetime.combine(start_day, time(8, 0), SIMULATED_PATIENT_ZONE)
    days = (months_later(start, months) - start).days
    outline = outline_definition(source.bpmn, source.filename)
    report = simulate_pathway(source, start=start, days=days, context=context, answers=answers)
    main_anchor = outline.anchors[0] if outline.anchors else None
    anchor_value = context.get(main_anchor) if main_anchor else None
    anchor_day = date.fromisoformat(str(anchor_value)[:10]) if anchor_value else start_day
    weeks = group_by_week(report, outline, anchor_day)
    counts = {k: int(v) for k, v in report.summary.items() if isinstance(v, int) and not isinstance(v, bool)}
    audit.record(actor, "pathway.simulated", at=clock.now(), object_type="pathway_version" if version_id else "pathway",
                 object_id=version_id or outline.key,
                 details={"key": outline.key, "sha256": source.sha256, "start": start_day.isoformat(),
                          "months": months, "context": context, "status": report.status})
    return StudioSimulation(report, main_anchor, anchor_day, weeks, counts)
