"""Engine overhead: one pathway walked through the service layer (SQLite, PostgreSQL) and on bare SpiffWorkflow.

A persisted step is what a professional's "complete" costs: load the work item, check the care team, lock
the instance, validate the form, load the engine state, complete the task and run to the next wait,
prune, save the state, project work items / timers / reminders, audit, commit. The bare step is the
same completion on an in-memory SpiffWorkflow instance: complete the task, run the engine to the next
wait, list the ready tasks. Both sides walk the same patients through the same pathway (every form
answered with its defaults, every timer fired when due), side by side in one run.

    .venv/bin/python bench/engine_overhead.py [--patients 60] [--pathway workflows/bpmn/rrac_epaule.bpmn]
        [--backends sqlite,postgresql] [--database-url postgresql://postgres@127.0.0.1:5432/parcours_bench]

Targets (shared/DESIGN.md §5): persisted ÷ bare ≤ 2.0× on SQLite and PostgreSQL; ≥ 500 completions/s
on PostgreSQL. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from SpiffWorkflow.bpmn import BpmnWorkflow  # type: ignore[import-untyped]  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench.common import (  # noqa: E402
    PARIS,
    REPO,
    START,
    database_url,
    machine,
    make_app,
    make_patient,
    mean_ms,
    median_ms,
    print_table,
)
from bench.common import deploy as deploy_source  # noqa: E402
from bench.common import json_line as print_json  # noqa: E402
from bench.completion_throughput import Throughput, enrol_many, measure  # noqa: E402
from engine.bpmn.clock_bridge import engine_clock  # noqa: E402
from engine.bpmn.parser import CompiledPathway  # noqa: E402
from engine.bpmn.runtime import PathwayRun, _InclusiveClock  # noqa: E402
from engine.bpmn.scripting import SCRIPT_ENGINE  # noqa: E402
from engine.clock import ManualClock  # noqa: E402
from engine.db import db  # noqa: E402
from engine.models import (  # noqa: E402
    DueTimer,
    InstanceStatus,
    PathwayInstance,
    Professional,
    TimerStatus,
    WorkItem,
)
from engine.models.work_item import OPEN_STATUSES  # noqa: E402
from engine.services.forms import form_defaults  # noqa: E402
from engine.services.inbox import complete_work_item  # noqa: E402
from engine.services.instances import build_start_data, enrol_patient  # noqa: E402
from engine.services.pathways import compiled_for, latest_version  # noqa: E402
from engine.services.people import actor_for  # noqa: E402
from engine.services.roles import ROLE_CODES  # noqa: E402
from engine.services.timers import fire_due_timers  # noqa: E402
from engine.types import Actor  # noqa: E402

TEAM = sorted(ROLE_CODES - {"patient"})


@dataclass
class Walk:
    completions: list[float] = field(default_factory=list)  # wall-clock seconds per completion step
    completions_cpu: list[float] = field(default_factory=list)  # this process's CPU seconds per completion step
    timer_steps: list[float] = field(default_factory=list)
    completed_instances: int = 0

    @contextmanager
    def completion(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.completions.append(time.perf_counter() - wall)
        self.completions_cpu.append(time.process_time() - cpu)


def _anchor_context(anchors: list[str]) -> dict[str, str]:
    return {anchor: "2026-12-01" for anchor in anchors}


# -- through the service layer ----------------------------------------------------------------------------
def walk_service(url: str, pathway: Path, patients: int) -> Walk:
    clock = ManualClock(START)
    app = make_app(url, clock)
    walk = Walk()
    with app.app_context():
        source = deploy_source(pathway, clock)
        version = latest_version(_key(pathway))
        ids = []
        for n in range(patients):
            patient = make_patient(f"B-{n:05d}", TEAM, clock)
            outcome = enrol_patient(patient.id, version.key, context=_anchor_context(version.anchors),
                                    actor=Actor.cli("bench"), clock=clock)
            db.session.commit()
            ids.append(outcome.instance_id)
        actors = {next(iter(p.role_codes)): actor_for(p) for p in db.session.scalars(select(Professional))}
        while True:
            while True:
                open_items = db.session.execute(select(WorkItem.id, WorkItem.role_code, WorkItem.form_key).where(
                    WorkItem.status.in_(OPEN_STATUSES)).order_by(WorkItem.id)).all()
                db.session.commit()
                if not open_items:
                    break
                for item_id, role, form_key in open_items:
                    data = form_defaults((source.forms or {}).get(form_key or ""))
                    actor = actors.get(role, Actor.cli("bench"))
                    with walk.completion():
                        complete_work_item(item_id, data, actor=actor, clock=clock)
                        db.session.commit()
            due = db.session.scalar(select(func.min(DueTimer.due_at)).where(
                DueTimer.status == TimerStatus.PENDING.value))
            db.session.commit()
            if due is None:
                break
            clock.set(max(due, clock.now()))
            started = time.perf_counter()
            report = fire_due_timers(clock=clock)
            if report.fired:
                walk.timer_steps.extend([(time.perf_counter() - started) / report.fired] * report.fired)
        walk.completed_instances = db.session.scalar(select(func.count(PathwayInstance.id)).where(
            PathwayInstance.status == InstanceStatus.COMPLETED.value)) or 0
        db.session.remove()
    with app.app_context():
        db.engine.dispose()
    return walk


def _key(pathway: Path) -> str:
    from engine.services.pathways import read_pathway_source, validate_source

    compiled, _problems = validate_source(read_pathway_source(pathway))
    assert compiled is not None, f"{pathway} does not validate"
    return compiled.key


# -- on bare, in-memory SpiffWorkflow ---------------------------------------------------------------------
def _run_engine(workflow: BpmnWorkflow) -> None:
    workflow.do_engine_steps()
    while workflow.get_next_task(state=TaskState.READY, manual=False):  # timers due at the very end of a pass
        workflow.do_engine_steps()


def _next_due(workflow: BpmnWorkflow) -> Any:
    from engine.bpmn.runtime import _parse_due, _waits_for_timer

    dues = [_parse_due(t.internal_data.get("event_value")) for t in workflow.event_manager.tasks.values()
            if t.has_state(TaskState.WAITING) and _waits_for_timer(t)]
    dues = [d for d in dues if d is not None]
    return min(dues) if dues else None


def walk_bare(compiled: CompiledPathway, start_data: dict[str, Any], forms: dict[str, Any], patients: int) -> Walk:
    walk = Walk()
    for _ in range(patients):
        clock = ManualClock(START)
        with engine_clock(clock):
            workflow = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=SCRIPT_ENGINE)
            workflow.task_tree.data.update(start_data)
            for task in workflow.get_tasks(state=TaskState.READY):
                task.data.update(start_data)
            _run_engine(workflow)
        while True:
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            while ready:
                task = ready[0]
                form_key = (getattr(task.task_spec, "extensions", None) or {}).get("properties", {}).get("form")
                data = form_defaults(forms.get(form_key or ""))
                with walk.completion(), engine_clock(clock):
                    task.data.update(data)
                    task.run()
                    _run_engine(workflow)
                    ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            due = _next_due(workflow)
            if due is None:
                break
            clock.set(max(due, clock.now()))
            started = time.perf_counter()
            with engine_clock(_InclusiveClock(clock)):
                workflow.refresh_timers()
                _run_engine(workflow)
            walk.timer_steps.append(time.perf_counter() - started)
        walk.completed_instances += bool(workflow.is_completed())
    return walk


def walk_engine_only(compiled: CompiledPathway, start_data: dict[str, Any], forms: dict[str, Any],
                     patients: int) -> Walk:
    """The same walks on Parcours's engine without a database: each step loads the stored state, acts,
    prunes and dumps the state again (what a persisted step does besides SQL)."""
    walk = Walk()
    for _ in range(patients):
        clock = ManualClock(START)
        state = PathwayRun.start(compiled, start_data, clock).dump()
        while True:
            ready = PathwayRun.load(compiled, state, clock).ready_tasks()
            while ready:
                data = form_defaults(forms.get(ready[0].properties.get("form") or ""))
                with walk.completion():
                    run = PathwayRun.load(compiled, state, clock)
                    run.complete_task(ready[0].task_id, data)
                    ready = run.ready_tasks()
                    run.waiting_timers()
                    state = run.dump()
            run = PathwayRun.load(compiled, state, clock)
            dues = [t.due_at for t in run.waiting_timers()]
            if not dues:
                walk.completed_instances += run.completed
                break
            clock.set(max(min(dues), clock.now()))
            started = time.perf_counter()
            run.fire_due_timers()
            state = run.dump()
            walk.timer_steps.append(time.perf_counter() - started)
    return walk


def bare_inputs(url: str, pathway: Path) -> tuple[CompiledPathway, dict[str, Any], dict[str, Any]]:
    clock = ManualClock(START)
    app = make_app(url, clock)
    with app.app_context():
        source = deploy_source(pathway, clock)
        version = latest_version(_key(pathway))
        data = build_start_data(version, _anchor_context(version.anchors), PARIS)
        compiled = compiled_for(version)
        db.session.remove()
        db.engine.dispose()
    return compiled, data, source.forms or {}


def throughput_run(pathway: Path, pg_url: str | None, workers: int, patients: int) -> Throughput:
    url = database_url("postgresql", pg_url)
    clock = ManualClock(START)
    app = make_app(url, clock)
    with app.app_context():
        source = deploy_source(pathway, clock)
        version = latest_version(_key(pathway))
        ids = enrol_many(version.key, patients, TEAM, clock, _anchor_context(version.anchors))
        db.session.remove()
        db.engine.dispose()
    return measure(url, ids, workers, source.forms or {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=60)
    parser.add_argument("--pathway", type=Path, default=REPO / "workflows" / "bpmn" / "rrac_epaule.bpmn")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,2", help="worker processes for the PostgreSQL throughput runs")
    parser.add_argument("--throughput-patients", type=int, default=300)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL server or database URL (dropped and recreated); default "
                             "postgresql://postgres@127.0.0.1:5432/parcours_bench")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    compiled, start_data, forms = bare_inputs(database_url("sqlite"), args.pathway)
    walk_bare(compiled, start_data, forms, min(5, args.patients))  # warm up
    bare = walk_bare(compiled, start_data, forms, args.patients)
    engine_only = walk_engine_only(compiled, start_data, forms, args.patients)
    walks: dict[str, Walk] = {}
    for backend in backends:
        walks[backend] = walk_service(database_url(backend, args.database_url), args.pathway, args.patients)

    print(f"engine overhead — {args.pathway.name}, {args.patients} patients walked end to end; {machine()}")
    labelled = [("bare SpiffWorkflow (memory)", "bare", bare), ("engine + state, no database", "engine_state",
                                                                engine_only)]
    labelled += [(f"service layer, {backend}", backend, walk) for backend, walk in walks.items()]
    bare_wall, bare_cpu = statistics.fmean(bare.completions), statistics.fmean(bare.completions_cpu)
    result: dict[str, Any] = {"bench": "engine_overhead", "pathway": compiled.key, "patients": args.patients}
    rows: list[list[Any]] = []
    for label, key, walk in labelled:
        wall, cpu = statistics.fmean(walk.completions), statistics.fmean(walk.completions_cpu)
        rows.append([label, len(walk.completions), mean_ms(walk.completions), median_ms(walk.completions),
                     f"{wall / bare_wall:.2f}", mean_ms(walk.completions_cpu), f"{cpu / bare_cpu:.2f}",
                     round(1 / wall), walk.completed_instances])
        result[f"{key}_step_ms"] = mean_ms(walk.completions)
        result[f"{key}_cpu_ms"] = mean_ms(walk.completions_cpu)
        if key != "bare":
            result[f"{key}_ratio"] = round(wall / bare_wall, 2)
            result[f"{key}_cpu_ratio"] = round(cpu / bare_cpu, 2)
        if key in walks:
            result[f"{key}_completions_per_s"] = round(1 / wall)
            result[f"{key}_timer_step_ms"] = mean_ms(walk.timer_steps)
        if len(walk.completions) != len(bare.completions):
            print(f"warning: {label} walked {len(walk.completions)} completions, bare {len(bare.completions)}")
    print_table(["completion step", "steps", "mean ms", "median ms", "× bare", "CPU ms", "× bare CPU", "per s",
                 "instances done"], rows)
    print("CPU ms: this process only (SQLite runs in-process; PostgreSQL's own work is not in it)")
    if "postgresql" in backends:
        runs = [throughput_run(args.pathway, args.database_url, int(w), args.throughput_patients)
                for w in args.workers.split(",") if w.strip()]
        print(f"\nPostgreSQL throughput: {args.throughput_patients} patients enrolled, every work item that opens "
              f"without a timer completed by W worker processes")
        print_table(["workers", "completions", "seconds", "completions/s"],
                    [[t.workers, t.completions, round(t.seconds, 2), round(t.per_second)] for t in runs])
        for t in runs:
            result[f"postgresql_completions_per_s_{t.workers}_workers"] = round(t.per_second)
    print("targets: persisted ÷ bare ≤ 2.0× (SQLite, PostgreSQL); ≥ 500 completions/s on PostgreSQL")
    print_json(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
