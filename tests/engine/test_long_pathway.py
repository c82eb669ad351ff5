"""Long-running pathways: loops keep working past SpiffWorkflow's depth limit, with flat stored state.

Bare SpiffWorkflow 3.2 keeps every finished task and its task iterator stops at depth 1,000: a
3-element loop stalls after ~333 cycles (and says it is complete), and its state grows every cycle.
``engine.bpmn.pruning`` splices finished history out of the task tree after every step; these tests
run loops well past the stall, with timers, boundary events and parallel branches inside the loop:

- ``boucle_simple``: merge → user task → decision, back (3 elements per cycle);
- ``boucle_suivi``: per cycle a parallel split — the patient's self-report (non-interrupting reminder
  timer at 2 h, interrupting "no answer" timer at 20 h) beside a one-hour timer — joined, then a script
  counts the cycle and the loop exits after ``nb_cycles``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow  # type: ignore[import-untyped]
from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]
from sqlalchemy import func, select

from engine.bpmn.parser import CompiledPathway, compile_pathway
from engine.bpmn.runtime import PathwayRun
from engine.bpmn.scripting import SCRIPT_ENGINE
from engine.bpmn.serializer import dump_state
from engine.clock import ManualClock
from engine.db import db
from engine.models import AuditEvent, DueTimer, PathwayInstance, Reminder, WorkItem
from engine.models.work_item import OPEN_STATUSES
from engine.services.inbox import complete_work_item
from engine.services.instances import enrol_patient
from engine.services.timers import fire_due_timers
from engine.types import Actor
from tests.conftest import BPMN_DIR
from tests.factories import deploy_test_bpmn, make_team

pytestmark = pytest.mark.slow

CLI = Actor.cli()
BODY_TIMERS = ["attente", "relance", "sans_reponse"]  # the one-hour wait and the self-report's two boundaries
SERVICE_CYCLES = 420  # past the ~333-cycle stall of bare SpiffWorkflow
BARE_CYCLES = 2_000


def _unanswered(cycle: int) -> bool:
    """Every 30th self-report gets no answer: the reminder fires, then the 'no answer' timer interrupts."""
    return cycle % 30 == 0


def _compiled(name: str) -> CompiledPathway:
    path: Path = BPMN_DIR / f"{name}.bpmn"
    return compile_pathway(path.read_bytes(), path.name)


# -- through the services (SQLite and PostgreSQL) ---------------------------------------------------------------

def _open_items(instance_id: int) -> list[WorkItem]:
    return list(db.session.scalars(select(WorkItem).where(WorkItem.instance_id == instance_id,
                                                          WorkItem.status.in_(OPEN_STATUSES))))


def _pending_timers(instance_id: int) -> dict[str, datetime]:
    rows = db.session.scalars(select(DueTimer).where(DueTimer.instance_id == instance_id,
                                                     DueTimer.status == "pending"))
    return {row.element_id: row.due_at for row in rows}


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_follow_up_loop_runs_420_cycles_through_the_services_with_flat_state(app, clock):
    deploy_test_bpmn("boucle_suivi", clock)
    patient, team = make_team(clock, ["infirmier"])
    outcome = enrol_patient(patient.identifier, "boucle_suivi", context={"nb_cycles": SERVICE_CYCLES},
                            actor=CLI, clock=clock)
    db.session.commit()
    instance_id = outcome.instance_id
    state_bytes: dict[int, int] = {}
    seen_items: set[int] = set()
    for cycle in range(1, SERVICE_CYCLES + 1):
        # every cycle opens the next self-report and its three timers: the loop never stalls
        (item,) = _open_items(instance_id)
        assert item.element_id == "auto_questionnaire" and item.id not in seen_items, f"cycle {cycle}"
        seen_items.add(item.id)
        timers = _pending_timers(instance_id)
        assert sorted(timers) == BODY_TIMERS, f"cycle {cycle}: {timers}"
        assert min(timers.values()) > clock.now()
        state_bytes[cycle] = db.session.get(PathwayInstance, instance_id).state_bytes
        if _unanswered(cycle):
            clock.set(timers["relance"])  # the hour has passed and the reminder is due
            assert fire_due_timers(clock=clock).errors == []
            db.session.commit()
            clock.set(timers["sans_reponse"])  # no answer: the self-report is withdrawn
            assert fire_due_timers(clock=clock).fired == 1
        else:
            clock.set(timers["attente"])
            assert fire_due_timers(clock=clock).fired == 1
            complete_work_item(item.id, {"valeur": cycle}, actor=CLI, clock=clock)
        db.session.commit()

    instance = db.session.get(PathwayInstance, instance_id)
    assert instance.status == "completed" and instance.error_message is None
    assert _open_items(instance_id) == [] and _pending_timers(instance_id) == {}
    assert state_bytes[SERVICE_CYCLES] <= 2 * state_bytes[10], state_bytes
    unanswered = sum(_unanswered(c) for c in range(1, SERVICE_CYCLES + 1))
    answered = SERVICE_CYCLES - unanswered
    assert _count(WorkItem, WorkItem.instance_id == instance_id, WorkItem.status == "completed") == answered
    assert _count(WorkItem, WorkItem.instance_id == instance_id, WorkItem.status == "cancelled") == unanswered
    assert _count(Reminder, Reminder.instance_id == instance_id) == unanswered
    assert _count(DueTimer, DueTimer.instance_id == instance_id, DueTimer.status == "fired") == \
        SERVICE_CYCLES + 2 * unanswered
    assert _count(DueTimer, DueTimer.instance_id == instance_id, DueTimer.status == "cancelled") == 2 * answered
    assert _count(AuditEvent, AuditEvent.instance_id == instance_id, AuditEvent.action == "work_item.opened") == \
        SERVICE_CYCLES
    assert _count(AuditEvent, AuditEvent.instance_id == instance_id, AuditEvent.action == "instance.completed") == 1


# -- on the engine alone (no database): PathwayRun, dumped and reloaded at every step like the services ----------

class _Bare:
    """One instance on PathwayRun: every step loads the stored state, acts, and stores the new state."""

    def __init__(self, name: str, data: dict) -> None:
        self.compiled = _compiled(name)
        self.clock = ManualClock(datetime(2026, 11, 16, 7, 0, tzinfo=UTC))
        self.run = PathwayRun.start(self.compiled, data, self.clock)
        self.state = self.run.dump()

    def step(self, action) -> None:
        self.run = PathwayRun.load(self.compiled, self.state, self.clock)
        action(self.run)
        self.state = self.run.dump()


def test_three_element_loop_runs_2000_cycles_on_the_engine_with_flat_state():
    bare = _Bare("boucle_simple", {})
    sizes: dict[int, int] = {}
    for cycle in range(1, BARE_CYCLES + 1):
        (task,) = bare.run.ready_tasks()  # never stalls
        assert task.element_id == "mesure", f"cycle {cycle}"
        sizes[cycle] = len(bare.state)
        bare.step(lambda run, t=task.task_id, c=cycle: run.complete_task(t, {"valeur": c, "arret": c == BARE_CYCLES}))
    assert bare.run.completed and bare.run.ready_tasks() == []
    assert sizes[BARE_CYCLES] <= 2 * sizes[10], (sizes[10], sizes[BARE_CYCLES])
    assert len(bare.run.workflow.tasks) == 1  # a completed instance keeps only its end


def test_follow_up_loop_runs_2000_cycles_on_the_engine_with_flat_state():
    bare = _Bare("boucle_suivi", {"nb_cycles": BARE_CYCLES})
    sizes: dict[int, int] = {}
    sends = 0
    for cycle in range(1, BARE_CYCLES + 1):
        (task,) = bare.run.ready_tasks()
        timers = {t.element_id: t.due_at for t in bare.run.waiting_timers()}
        assert task.element_id == "auto_questionnaire" and sorted(timers) == BODY_TIMERS, f"cycle {cycle}"
        sizes[cycle] = len(bare.state)
        if _unanswered(cycle):
            bare.clock.set(timers["relance"])
            bare.step(lambda run: run.fire_due_timers())
            sends += len(bare.run.log.sends)
            bare.clock.set(timers["sans_reponse"])
            bare.step(lambda run: run.fire_due_timers())
            assert bare.run.log.timers_fired == ["sans_reponse"]
        else:
            bare.clock.set(timers["attente"])
            bare.step(lambda run: run.fire_due_timers())
            assert bare.run.log.timers_fired == ["attente"]
            bare.step(lambda run, t=task.task_id, c=cycle: run.complete_task(t, {"valeur": c}))
    assert bare.run.completed and bare.run.ready_tasks() == [] and bare.run.waiting_timers() == []
    assert bare.run.workflow.data["cycle"] == BARE_CYCLES  # the loop exited on its counter
    assert sends == sum(_unanswered(c) for c in range(1, BARE_CYCLES + 1))
    assert sizes[BARE_CYCLES] <= 2 * sizes[10], (sizes[10], sizes[BARE_CYCLES])


def _fire_reminder_marking_its_branch(run: PathwayRun, cycle: int) -> None:
    """Fire the due timers, the reminder branch carrying a key of its own (as a script on that branch would):
    only the end join, merging every ended branch's data when the instance ends, brings it into the final data."""
    for task in run.workflow.tasks.values():
        if task.task_spec.name == "relance" and task.state == TaskState.WAITING:
            task.data[f"relance_{cycle}"] = cycle
    run.fire_due_timers()


def _final_data_of_follow_up_loop(cycles: int) -> dict:
    """boucle_suivi run to its end on PathwayRun, every 3rd self-report unanswered; the data it ends with."""
    bare = _Bare("boucle_suivi", {"nb_cycles": cycles, "liste": [0]})
    for cycle in range(1, cycles + 1):
        (task,) = bare.run.ready_tasks()
        timers = {t.element_id: t.due_at for t in bare.run.waiting_timers()}
        if cycle % 3 == 0:
            bare.clock.set(timers["relance"])
            bare.step(lambda run, c=cycle: _fire_reminder_marking_its_branch(run, c))
            bare.clock.set(timers["sans_reponse"])
            bare.step(lambda run: run.fire_due_timers())
        else:
            bare.clock.set(timers["attente"])
            bare.step(lambda run: run.fire_due_timers())
            answer = {"valeur": cycle, f"k{cycle}": cycle, "liste": list(range(cycle % 5))}
            bare.step(lambda run, t=task.task_id, a=answer: run.complete_task(t, a))
    assert bare.run.completed
    (end,) = [t for t in bare.run.workflow.tasks.values() if t.task_spec.name == "End"]
    return dict(end.data)


def test_end_join_fold_keeps_the_final_data_of_bare_spiffworkflow(monkeypatch):
    """Pruning keeps one end-join arrival and folds the older ones' data into it: the instance ends with
    exactly the data SpiffWorkflow alone gives it (every ended branch's data merged, oldest first)."""
    pruned = _final_data_of_follow_up_loop(20)
    monkeypatch.setattr("engine.bpmn.runtime.prune_finished_history", lambda workflow: 0)
    unpruned = _final_data_of_follow_up_loop(20)
    assert pruned == unpruned
    assert pruned["cycle"] == 20 and {"k1", "k20"} <= pruned.keys()
    assert {f"relance_{c}" for c in range(3, 21, 3)} <= pruned.keys()  # every reminder branch, not only the last


def test_bare_spiffworkflow_without_pruning_stalls_after_333_cycles_and_grows():
    """Why pruning exists: the same 3-element loop on SpiffWorkflow alone."""
    compiled = _compiled("boucle_simple")
    workflow = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=SCRIPT_ENGINE)
    workflow.do_engine_steps()
    sizes: dict[int, int] = {}
    stalled_at = None
    for cycle in range(1, 500):
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            stalled_at = cycle
            break
        if cycle in (10, 300):
            sizes[cycle] = len(dump_state(workflow))
        ready[0].data.update({"valeur": cycle, "arret": False})
        ready[0].run()
        workflow.do_engine_steps()
    assert stalled_at is not None and 330 <= stalled_at <= 340
    # the loop's next step is READY, but below depth 1,000 where SpiffWorkflow's task iterator stops:
    # do_engine_steps never runs it, no user task is ever created again
    hidden = [t for t in workflow.tasks.values() if t.state == TaskState.READY]
    assert [t.task_spec.name for t in hidden] == ["boucle"]
    assert workflow.is_completed()  # ...and SpiffWorkflow wrongly reports the instance as finished
    assert len(workflow.tasks) > 3 * 333  # every finished task is kept
    assert sizes[300] > 15 * sizes[10]  # state grows ~1 KB per cycle
