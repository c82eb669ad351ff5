"""Long-running pathway: step cost and stored state at cycle 10 vs cycle 10,000, through the service layer.

Runs ``tests/bpmn/boucle_suivi.bpmn`` — per cycle a parallel split: the patient's self-report with a
non-interrupting reminder timer (2 h) and an interrupting "no answer" timer (20 h), beside a one-hour
timer; joined; a script counts the cycle; the loop exits after ``nb_cycles`` — for 10,000 cycles on one
patient: each cycle fires the hour's timer then completes the self-report (every 30th cycle the patient
does not answer: the reminder fires, then the "no answer" timer withdraws the self-report). Every step
goes through the services (claim or lock, engine, prune, save, project, audit, commit).

The ratio is taken side by side: the old instance's last 50 cycles alternate with cycles 10-59 of a
patient enrolled at that moment, in the same database, so the machine's other load and the size of the
tables weigh on both alike. The instance's own figures along its life are printed too.

Then, for comparison, the 3-element loop ``tests/bpmn/boucle_simple.bpmn`` on bare SpiffWorkflow with no
pruning, in memory, until it stalls (its task iterator stops at depth 1,000).

    .venv/bin/python bench/long_pathway.py [--cycles 10000]
        [--database-url postgresql://postgres@127.0.0.1:5432/parcours_bench]   (default: a fresh SQLite file)

Step cost at cycle N = median wall-clock time of one service step over the 50 cycles from N (cycles
N-49..N for the last), with this process's CPU time beside it (the engine and SQLite run in-process).
Stored state = the instance's ``state_bytes`` at the start of the cycle.
Targets (shared/DESIGN.md §5): never stalls; step cost at the end ≤ 1.5× the start; stored state ≤ 2×.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from SpiffWorkflow.bpmn import BpmnWorkflow  # type: ignore[import-untyped]  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from bench.common import (  # noqa: E402
    REPO,
    START,
    database_url,
    json_line,
    machine,
    make_app,
    make_patient,
    print_table,
)
from bench.common import deploy as deploy_source  # noqa: E402
from engine.bpmn.parser import compile_pathway  # noqa: E402
from engine.bpmn.scripting import SCRIPT_ENGINE  # noqa: E402
from engine.bpmn.serializer import dump_state  # noqa: E402
from engine.clock import ManualClock  # noqa: E402
from engine.db import db  # noqa: E402
from engine.models import DueTimer, PathwayInstance, TimerStatus, WorkItem  # noqa: E402
from engine.models.work_item import OPEN_STATUSES  # noqa: E402
from engine.services.inbox import complete_work_item  # noqa: E402
from engine.services.instances import enrol_patient  # noqa: E402
from engine.services.timers import fire_timer  # noqa: E402
from engine.types import Actor  # noqa: E402

LOOP = REPO / "tests" / "bpmn" / "boucle_suivi.bpmn"
SIMPLE_LOOP = REPO / "tests" / "bpmn" / "boucle_simple.bpmn"
WINDOW = 50
VACUUM_EVERY = 1000
BODY_TIMERS = ["attente", "relance", "sans_reponse"]
CLI = Actor.cli("bench")


class Stalled(RuntimeError):
    pass


def _unanswered(cycle: int) -> bool:
    return cycle % 30 == 0


def _timed(action: Any, samples: list[tuple[float, float]]) -> Any:
    started, cpu = time.perf_counter(), time.process_time()
    result = action()
    db.session.commit()
    samples.append((time.perf_counter() - started, time.process_time() - cpu))
    return result


@dataclass
class Looping:
    """One patient on the loop, with its own clock (two instances are stepped side by side)."""

    instance_id: int
    clock: ManualClock
    cycle: int = 0
    step_ms: dict[int, float] = field(default_factory=dict)
    cpu_ms: dict[int, float] = field(default_factory=dict)
    state_bytes: dict[int, int] = field(default_factory=dict)

    def next_cycle(self) -> None:
        """Fire the hour's timer and complete the self-report (or let the reminder and the 'no answer'
        timer fire): each step is the timer sweep's unit, ``fire_timer``, or ``complete_work_item``."""
        self.cycle += 1
        items = list(db.session.scalars(select(WorkItem).where(WorkItem.instance_id == self.instance_id,
                                                               WorkItem.status.in_(OPEN_STATUSES))))
        timers = {t.element_id: t for t in db.session.scalars(select(DueTimer).where(
            DueTimer.instance_id == self.instance_id, DueTimer.status == TimerStatus.PENDING.value))}
        self.state_bytes[self.cycle] = db.session.get(PathwayInstance, self.instance_id).state_bytes
        db.session.commit()
        if [i.element_id for i in items] != ["auto_questionnaire"] or sorted(timers) != BODY_TIMERS:
            raise Stalled(f"cycle {self.cycle}: open {[i.element_id for i in items]}, timers {sorted(timers)}")
        samples: list[tuple[float, float]] = []
        clock = self.clock
        if _unanswered(self.cycle):
            for name in ("relance", "sans_reponse"):
                clock.set(timers[name].due_at)
                _timed(lambda t=timers[name].id: fire_timer(t, clock=clock), samples)
        else:
            clock.set(timers["attente"].due_at)
            _timed(lambda: fire_timer(timers["attente"].id, clock=clock), samples)
            _timed(lambda: complete_work_item(items[0].id, {"valeur": self.cycle}, actor=CLI, clock=clock), samples)
        self.step_ms[self.cycle] = statistics.fmean(wall for wall, _cpu in samples) * 1000
        self.cpu_ms[self.cycle] = statistics.fmean(cpu for _wall, cpu in samples) * 1000


def _enrol(identifier: str, cycles: int, clock: ManualClock) -> Looping:
    patient = make_patient(identifier, ["infirmier"], clock)
    outcome = enrol_patient(patient.id, "boucle_suivi", context={"nb_cycles": cycles}, actor=CLI, clock=clock)
    db.session.commit()
    return Looping(outcome.instance_id, clock)


def _autovacuum_off() -> bool:
    return db.engine.dialect.name == "postgresql" and db.session.scalar(text("SHOW autovacuum")) == "off"


def _vacuum() -> None:
    """What PostgreSQL's autovacuum does with these tables' dead row versions (every timer and work item
    row is updated once, the instance row at every step)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) pathway_instance, work_item, due_timer"))


def run_service(url: str, cycles: int, progress: bool) -> dict[str, Any]:
    """The old instance runs ``cycles`` cycles; its last WINDOW cycles alternate with cycles 10.. of a new one."""
    clock = ManualClock(START)
    app = make_app(url, clock)
    with app.app_context():
        deploy_source(LOOP, clock)
        old = _enrol("LONG-0001", cycles, clock)
        vacuum = _autovacuum_off()
        db.session.commit()
        started = time.perf_counter()
        while old.cycle < cycles - WINDOW:
            old.next_cycle()
            if vacuum and old.cycle % VACUUM_EVERY == 0:
                _vacuum()
            if progress and old.cycle % 1000 == 0:
                print(f"  … cycle {old.cycle}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        young = _enrol("LONG-0002", cycles, ManualClock(old.clock.now()))
        while young.cycle < 9:
            young.next_cycle()
        for k in range(WINDOW):  # side by side: cycle 10+k of the new instance, cycle N-WINDOW+1+k of the old
            for looping in ((young, old) if k % 2 == 0 else (old, young)):
                looping.next_cycle()
        instance = db.session.get(PathwayInstance, old.instance_id)
        result = {"status": instance.status, "final_state_bytes": instance.state_bytes, "old": old, "vacuum": vacuum,
                  "young": young, "seconds": time.perf_counter() - started, "dialect": db.engine.dialect.name}
        db.session.remove()
        db.engine.dispose()
    return result


def window_ms(samples: dict[int, float], first: int) -> float:
    return round(statistics.median(samples[c] for c in range(first, first + WINDOW)), 3)


def run_bare_unpruned(limit: int = 1000) -> tuple[list[list[Any]], int | None]:
    """The 3-element loop on SpiffWorkflow alone, in memory, no pruning: rows (cycle, step ms, bytes, tasks)."""
    compiled = compile_pathway(SIMPLE_LOOP.read_bytes(), SIMPLE_LOOP.name)
    workflow = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=SCRIPT_ENGINE)
    workflow.do_engine_steps()
    rows: list[list[Any]] = []
    times: list[float] = []
    checkpoints = {10, 100, 200, 300, 330}
    for cycle in range(1, limit + 1):
        started = time.perf_counter()
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            rows.append([cycle, "stalled", len(dump_state(workflow)), len(workflow.tasks)])
            return rows, cycle
        ready[0].data.update({"valeur": cycle, "arret": False})
        ready[0].run()
        workflow.do_engine_steps()
        times.append(time.perf_counter() - started)
        if cycle in checkpoints:
            rows.append([cycle, round(statistics.median(times[-10:]) * 1000, 3), len(dump_state(workflow)),
                         len(workflow.tasks)])
    return rows, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL server or database URL (dropped and recreated); default: a fresh SQLite file")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.cycles < 2 * WINDOW + 10:
        parser.error(f"--cycles must be at least {2 * WINDOW + 10} (two windows of {WINDOW} cycles from cycle 10)")
    url = database_url("postgresql", args.database_url) if args.database_url else database_url("sqlite")
    try:
        service = run_service(url, args.cycles, progress=not args.quiet)
    except Stalled as exc:
        print(f"STALLED: {exc}")
        return 1
    last = args.cycles
    old, young = service["old"], service["young"]
    print(f"long pathway — boucle_suivi.bpmn, {last} cycles through the service layer "
          f"({service['dialect']}, {service['seconds']:.0f} s); {machine()}")
    print(f"\nthe instance along its life (median of the {WINDOW} cycles from each checkpoint; the machine's other "
          f"load and the database's growth show here too)")
    checkpoints = sorted({c for c in (10, 100, 333, 1000, 2500, 5000, 7500, last - WINDOW + 1)
                          if c <= last - WINDOW + 1})
    print_table(["cycle", "step ms", "of which CPU ms", "state bytes"],
                [[c, window_ms(old.step_ms, c), window_ms(old.cpu_ms, c), old.state_bytes[c]] for c in checkpoints])
    print(f"instance: {service['status']}, final state {service['final_state_bytes']} bytes")
    if service["vacuum"]:
        print(f"autovacuum is off on this PostgreSQL server: the bench ran VACUUM (ANALYZE) on the instance, work "
              f"item and timer tables every {VACUUM_EVERY} cycles, as autovacuum would")
    first_old = last - WINDOW + 1
    at_10, at_last = window_ms(young.step_ms, 10), window_ms(old.step_ms, first_old)
    cpu_10, cpu_last = window_ms(young.cpu_ms, 10), window_ms(old.cpu_ms, first_old)
    print(f"\nside by side, alternating: cycles 10-{9 + WINDOW} of a new instance and cycles {first_old}-{last} of "
          f"the old one (median step)")
    print_table(["instance", "cycles", "step ms", "of which CPU ms", "state bytes"],
                [["new", f"10-{9 + WINDOW}", at_10, cpu_10, young.state_bytes[10]],
                 ["old", f"{first_old}-{last}", at_last, cpu_last, old.state_bytes[last]],
                 ["ratio", "", round(at_last / at_10, 2), round(cpu_last / cpu_10, 2),
                  round(old.state_bytes[last] / old.state_bytes[10], 2)]])
    rows, stalled_at = run_bare_unpruned()
    print("\nbare SpiffWorkflow 3.2, no pruning, in memory — boucle_simple.bpmn (3 elements per cycle)")
    print_table(["cycle", "step ms (median of 10)", "state bytes", "tasks in tree"], rows)
    print(f"targets: step at cycle {last} ≤ 1.5× step at cycle 10; state ≤ 2×; never stalls")
    json_line({"bench": "long_pathway", "backend": service["dialect"], "cycles": last,
               "completed": service["status"] == "completed",
               "step_ms_at_10": at_10, f"step_ms_at_{last}": at_last, "step_ratio": round(at_last / at_10, 2),
               "cpu_ms_at_10": cpu_10, f"cpu_ms_at_{last}": cpu_last, "cpu_ratio": round(cpu_last / cpu_10, 2),
               "state_bytes_at_10": old.state_bytes[10], f"state_bytes_at_{last}": old.state_bytes[last],
               "state_ratio": round(old.state_bytes[last] / old.state_bytes[10], 2),
               "sequential_step_ratio": round(window_ms(old.step_ms, first_old) / window_ms(old.step_ms, 10), 2),
               "bare_unpruned_stalled_at_cycle": stalled_at, "manual_vacuum": service["vacuum"]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
