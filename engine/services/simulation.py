"""Dry runs of a pathway on a virtual clock: the calendar of what would happen, day by day.

The same engine (``PathwayRun``), sandbox, form validation and projection rules as production (due dates on
the patient's calendar, one reminder per send task, timers fired when due), run in memory: nothing is
stored, nothing is sent, no real patient is involved. Ten years of a daily loop take seconds: a step is the
engine's step, without the database round trips and state round trip a persisted step pays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.bpmn.runtime import PathwayRun, ReadyTask
from engine.clock import ManualClock
from engine.errors import EngineStepError, PathwayDefinitionError
from engine.services.fast_forward import MAX_COMPLETIONS_PER_MOMENT, Answers
from engine.services.forms import form_defaults, validate_form_data
from engine.services.instances import build_start_data
from engine.services.pathways import PathwaySource, validate_source
from engine.services.projection import plan_work_item

SIMULATED_PATIENT_ZONE = ZoneInfo("Europe/Paris")


@dataclass
class SimulationReport:
    key: str
    start: datetime
    end: datetime
    status: str
    summary: dict[str, Any]
    calendar: list[dict[str, Any]] = field(default_factory=list)
    defaulted_anchors: dict[str, str] = field(default_factory=dict)  # anchors not given: the start day


@dataclass
class _OpenItem:
    task: ReadyTask
    entry: dict[str, Any]  # its calendar fields (element, title, role, due date)


class _Simulation:
    """One synthetic patient's instance stepped in memory; each step adds its calendar entries in the order
    production audits them (completion, reminders planned, timers fired, messages, end, work items opened)."""

    def __init__(self, source: PathwaySource, start: datetime, answers: Answers) -> None:
        self.forms = source.forms or {}
        self.start = start
        self.answers = answers
        self.clock = ManualClock(start)
        self.calendar: list[dict[str, Any]] = []
        self.counts = {"work_items_completed": 0, "timers_fired": 0, "reminders_planned": 0, "work_items_opened": 0}
        self.open: dict[str, _OpenItem] = {}
        self.planned: set[str] = set()  # send tasks already planned (production's reminder de-duplication)
        self.run: PathwayRun | None = None
        self.status = "active"
        self.error: EngineStepError | None = None

    def _entry(self, kind: str, **fields: Any) -> dict[str, Any]:
        now = self.clock.now()
        entry = {"day": (now - self.start).days, "at": now.isoformat(), "kind": kind, **fields}
        self.calendar.append(entry)
        return entry

    def step(self, action: Callable[[], PathwayRun], completed: dict[str, Any] | None = None) -> bool:
        """Run one engine step; False once the instance stopped (error)."""
        try:
            self.run = action()
        except EngineStepError as exc:
            self.status, self.error = "error", exc
            self._entry("erreur", element_id=exc.element_id, message=str(exc)[:500])
            return False
        if completed is not None:
            self.calendar.append(completed)
            self.counts["work_items_completed"] += 1
        self._project(self.run)
        return True

    def _project(self, run: PathwayRun) -> None:
        for send in run.log.sends:
            if send.task_id not in self.planned:
                self.planned.add(send.task_id)
                self.counts["reminders_planned"] += 1
                self._entry("rappel", template=send.template, channel=send.channel, recipient=send.recipient,
                            send_element_id=send.element_id)  # not "element_id": calendars compare by template
        for element_id in run.log.timers_fired:
            self.counts["timers_fired"] += 1
            self._entry("minuteur", element_id=element_id)
        for element_id in run.log.messages_caught:
            self._entry("message", element_id=element_id)
        run.log.sends.clear()
        run.log.timers_fired.clear()
        run.log.messages_caught.clear()
        if run.completed:
            self.status = "completed"
            self._entry("fin")
        ready = {task.task_id: task for task in run.ready_tasks()}
        for task_id in [t for t in self.open if t not in ready]:  # interrupted, or the instance ended
            del self.open[task_id]
        for task_id, task in ready.items():
            if task_id not in self.open:
                plan = plan_work_item(task, self.clock.now(), SIMULATED_PATIENT_ZONE)
                fields = {"element_id": task.element_id, "title": task.title[:300], "role": plan.role,
                          "due_at": plan.due_at.isoformat() if plan.due_at else None}
                self.open[task_id] = _OpenItem(task, fields)
                self.counts["work_items_opened"] += 1
                self._entry("ouverture", **fields)

    def complete_open_items(self) -> None:
        """Answer every open work item, oldest first, as many rounds as completions open new ones."""
        for _ in range(MAX_COMPLETIONS_PER_MOMENT):
            if not self.open or self.status != "active":
                return
            task_id, item = next(iter(self.open.items()))
            form_key = item.task.properties.get("form")
            schema = self.forms.get(form_key) if form_key else None
            data = validate_form_data(form_key, schema, self.answers.for_element(
                item.task.element_id, form_defaults(schema)))
            del self.open[task_id]
            completed = {"day": (self.clock.now() - self.start).days, "at": self.clock.now().isoformat(),
                         "kind": "fait", **item.entry, "data": data}
            run = self.run
            assert run is not None  # noqa: S101

            def complete(run: PathwayRun = run, task_id: str = task_id, data: dict[str, Any] = data) -> PathwayRun:
                run.complete_task(task_id, data)
                return run

            if not self.step(complete, completed):
                return

    def next_due(self) -> datetime | None:
        assert self.run is not None  # noqa: S101
        dues = [t.due_at for t in self.run.waiting_timers()]
        return min(dues) if dues else None

    def fire_timers(self) -> int:
        run = self.run
        assert run is not None  # noqa: S101
        before = self.counts["timers_fired"]

        def fire(run: PathwayRun = run) -> PathwayRun:
            run.fire_due_timers()
            return run

        self.step(fire)
        return self.counts["timers_fired"] - before


def simulate_pathway(source: PathwaySource, *, start: datetime, days: int, context: dict[str, Any] | None = None,
                     answers: dict[str, Any] | None = None, progress: Callable[[int], None] | None = None
                     ) -> SimulationReport:
    """Run ``source`` for a synthetic patient for ``days`` days: auto-complete work items (form defaults or
    ``answers`` per element id), fire timers when due, plan reminders. Missing anchor dates: the start day.

    Raises PathwayDefinitionError when the pathway does not validate, InvalidInput for a bad context or
    answers that the form refuses. An engine error ends the run with status ``error`` (in the report).
    """
    compiled, problems = validate_source(source)
    if compiled is None:
        raise PathwayDefinitionError(problems)
    defaulted = sorted(set(compiled.anchors) - set(context or {}))
    ctx = {anchor: start.date().isoformat() for anchor in compiled.anchors}
    ctx.update(context or {})
    data = build_start_data(compiled, ctx, SIMULATED_PATIENT_ZONE)
    sim = _Simulation(source, start, Answers(answers))
    end = start + timedelta(days=days)
    last_day = 0
    if sim.step(lambda: PathwayRun.start(compiled, data, sim.clock)):
        while True:
            sim.complete_open_items()
            if sim.status != "active":
                break
            due = sim.next_due()
            if due is None or due > end:
                break
            sim.clock.set(max(due, sim.clock.now()))
            if sim.fire_timers() == 0 and sim.status == "active" and sim.next_due() == due:
                break  # the engine refused to fire it: never spin
            day = (sim.clock.now() - start).days
            if progress is not None and day > last_day:
                progress(day - last_day)
                last_day = day
    if progress is not None and days > last_day:
        progress(days - last_day)
    if sim.status == "active":
        sim.clock.set(max(end, sim.clock.now()))
    summary = {**sim.counts, "state_bytes": len(sim.run.dump()) if sim.run is not None else 0, "status": sim.status,
               "days_simulated": (min(sim.clock.now(), end) - start).days,
               "error_element": sim.error.element_id if sim.error else None,
               "error_message": str(sim.error)[:2000] if sim.error else None}
    return SimulationReport(compiled.key, start, end, sim.status, summary, sim.calendar,
                            {name: ctx[name] for name in defaulted})
