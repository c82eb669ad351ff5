"""PathwayRun: one instance's engine, loaded from stored state, stepped, and dumped back.

The only place that touches BpmnWorkflow objects at run time. It hands outward plain dataclasses
(ReadyTask, WaitingTimer, PlannedSend) and never a SpiffWorkflow object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent  # type: ignore[import-untyped]
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException  # type: ignore[import-untyped]
from SpiffWorkflow.spiff.specs.defaults import SendTask  # type: ignore[import-untyped]
from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]

from engine.bpmn import sandbox, warm_cache
from engine.bpmn.clock_bridge import engine_clock
from engine.bpmn.parser import CompiledPathway
from engine.bpmn.pruning import prune_finished_history
from engine.bpmn.scripting import SCRIPT_ENGINE
from engine.bpmn.serializer import dump_state, load_state
from engine.clock import Clock
from engine.errors import EngineStepError, InvalidTransition, SandboxError

# A run that completes this many automatic tasks without reaching a wait is a loop with no wait state.
MAX_AUTOMATIC_STEPS = 5_000


@dataclass(frozen=True)
class ReadyTask:
    task_id: str
    element_id: str
    title: str
    lane: str | None
    properties: dict[str, str]


@dataclass(frozen=True)
class WaitingTimer:
    task_id: str
    element_id: str
    title: str
    due_at: datetime


@dataclass(frozen=True)
class PlannedSend:
    task_id: str
    element_id: str
    recipient: str
    channel: str
    template: str
    appointment_at: datetime | None
    at: datetime


@dataclass
class StepLog:
    """What happened during the steps since the run was loaded (for audit, timeline, simulation)."""

    sends: list[PlannedSend] = field(default_factory=list)
    timers_fired: list[str] = field(default_factory=list)  # element ids
    messages_caught: list[str] = field(default_factory=list)
    automatic_steps: int = 0


def _element_id(task: Any) -> str:
    return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name


class _InclusiveClock:
    """SpiffWorkflow fires a timer only once ``due < now``; a pathway's timer due at 09:00 fires at 09:00."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return self._clock.now() + timedelta(microseconds=1)


def _definitions(definition: Any) -> list[Any]:
    """The event definitions a catching task waits on (an event-based gateway waits on several)."""
    if isinstance(definition, MultipleEventDefinition):
        return [d for inner in definition.event_definitions for d in _definitions(inner)]
    return [definition] if definition is not None else []


def _waits_for_timer(task: Any) -> bool:
    return any(isinstance(d, TimerEventDefinition) for d in _definitions(task.task_spec.event_definition))


def _waiting_message(task: Any, name: str) -> Any:
    """The message definition named ``name`` that ``task`` waits on, or None."""
    for definition in _definitions(task.task_spec.event_definition):
        if isinstance(definition, MessageEventDefinition) and definition.name == name:
            return definition
    return None


def _parse_due(value: Any) -> datetime | None:
    if isinstance(value, dict):
        value = value.get("next")
    if not isinstance(value, str):
        return None
    due = datetime.fromisoformat(value)
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    return due.astimezone(UTC)


class PathwayRun:
    """A loaded instance. Use ``start`` or ``load``, call step methods, then ``dump``."""

    def __init__(self, compiled: CompiledPathway, workflow: BpmnWorkflow, clock: Clock) -> None:
        self.compiled = compiled
        self.workflow = workflow
        self.clock = clock
        self.log = StepLog()
        workflow.script_engine = SCRIPT_ENGINE

    @classmethod
    def start(cls, compiled: CompiledPathway, data: dict[str, Any], clock: Clock) -> PathwayRun:
        """Create the workflow, seed the start task's data, run to the first wait."""
        workflow = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=SCRIPT_ENGINE)
        run = cls(compiled, workflow, clock)
        workflow.task_tree.data.update(data)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data)
        run.advance()
        return run

    @classmethod
    def load(cls, compiled: CompiledPathway, state: str, clock: Clock, *, instance_id: int | None = None
             ) -> PathwayRun:
        """The workflow stored as ``state``; with ``instance_id``, the process's warm copy when it was dumped
        as exactly that state (see ``warm_cache``), else rebuilt from the text."""
        workflow = warm_cache.take(instance_id, state, compiled.spec) if instance_id is not None else None
        return cls(compiled, workflow if workflow is not None else load_state(compiled, state), clock)

    def dump(self, *, instance_id: int | None = None) -> str:
        """The state to store; with ``instance_id``, the workflow stays warm for that instance's next step."""
        state = dump_state(self.workflow)
        if instance_id is not None:
            warm_cache.put(instance_id, state, self.compiled.spec, self.workflow)
        return state

    def keep_warm(self, instance_id: int, state: str) -> None:
        """Give back an unchanged run loaded from ``state`` (read only) for the instance's next step."""
        warm_cache.put(instance_id, state, self.compiled.spec, self.workflow)

    @property
    def completed(self) -> bool:
        return bool(self.workflow.is_completed())

    # -- reading --------------------------------------------------------------------------------------
    def ready_tasks(self) -> list[ReadyTask]:
        out = []
        for task in self.workflow.get_tasks(state=TaskState.READY, manual=True):
            spec = task.task_spec
            props = dict((getattr(spec, "extensions", None) or {}).get("properties", {}))
            out.append(ReadyTask(str(task.id), _element_id(task), spec.bpmn_name or _element_id(task),
                                 getattr(spec, "lane", None), props))
        return out

    def waiting_timers(self) -> list[WaitingTimer]:
        out = []
        for task in self.workflow.event_manager.tasks.values():
            if not task.has_state(TaskState.WAITING) or not _waits_for_timer(task):
                continue
            due = _parse_due(task.internal_data.get("event_value"))
            if due is not None:
                name = task.task_spec.bpmn_name or _element_id(task)
                out.append(WaitingTimer(str(task.id), _element_id(task), name, due))
        return out

    def waiting_messages(self) -> list[str]:
        return sorted({d.name for t in self.workflow.event_manager.tasks.values() if t.has_state(TaskState.WAITING)
                       for d in _definitions(t.task_spec.event_definition)
                       if isinstance(d, MessageEventDefinition)})

    def task_data(self, task_id: str) -> dict[str, Any]:
        return dict(self._task(task_id).data)

    # -- stepping -------------------------------------------------------------------------------------
    def complete_task(self, task_id: str, data: dict[str, Any]) -> None:
        """Complete a READY user task with form data, then run to the next wait."""
        task = self._task(task_id)
        if not task.has_state(TaskState.READY) or not task.task_spec.manual:
            raise InvalidTransition(f"step {_element_id(task)} is not waiting for input")
        task.data.update(data)
        with engine_clock(self.clock):
            self._guarded(task, task.run)
        self.advance()

    def fire_due_timers(self) -> list[str]:
        """Fire every timer due at or before the clock's now and run on. Returns the element ids fired."""
        before = len(self.log.timers_fired)
        with engine_clock(_InclusiveClock(self.clock)):
            self._guarded(None, self.workflow.refresh_timers)
        self.advance()
        return self.log.timers_fired[before:]

    def deliver_message(self, name: str, payload: dict[str, Any]) -> bool:
        """Deliver a message to a waiting catch event of that name; False if nothing waits for it."""
        for task in list(self.workflow.event_manager.tasks.values()):
            definition = _waiting_message(task, name) if task.has_state(TaskState.WAITING) else None
            if definition is not None:
                with engine_clock(self.clock):
                    self._guarded(task, lambda d=definition: self.workflow.send_event(BpmnEvent(d, payload)))
                self.advance()
                return True
        return False

    def cancel(self) -> None:
        self.workflow.cancel()

    def advance(self) -> None:
        """Run automatic tasks until only user tasks and waits remain; prune finished history."""
        self.log.automatic_steps = 0  # the loop guard counts per step
        with engine_clock(self.clock):
            while True:
                self._guarded(None, lambda: self.workflow.do_engine_steps(
                    will_complete_task=self._will_complete, did_complete_task=self._did_complete))
                # do_engine_steps refreshes timers at its very end: a timer already due becomes READY
                # there and needs one more pass (SpiffWorkflow 3.2 pitfall).
                if not self.workflow.get_next_task(state=TaskState.READY, manual=False):
                    break
        prune_finished_history(self.workflow)

    # -- internals ------------------------------------------------------------------------------------
    def _task(self, task_id: str) -> Any:
        try:
            return self.workflow.get_task_from_id(UUID(task_id))
        except (TaskNotFoundException, ValueError) as exc:
            raise InvalidTransition(f"engine task {task_id} is no longer part of this instance") from exc

    def _will_complete(self, task: Any) -> None:
        self.log.automatic_steps += 1
        if self.log.automatic_steps > MAX_AUTOMATIC_STEPS:
            raise EngineStepError(
                f"more than {MAX_AUTOMATIC_STEPS} automatic steps without a wait: a loop with no user task, "
                f"timer or message in it", element_id=_element_id(task))

    def _did_complete(self, task: Any) -> None:
        spec = task.task_spec
        definition = getattr(spec, "event_definition", None)
        if isinstance(spec, SendTask):
            self._plan_send(task)
        elif isinstance(definition, MultipleEventDefinition) and isinstance(spec, CatchingEvent):
            # An event-based gateway (or a multiple event) completes on whichever of its events came first.
            for event in task.internal_data.get("seen_events", []):
                if isinstance(event.event_definition, TimerEventDefinition):
                    self.log.timers_fired.append(_element_id(task))
                elif isinstance(event.event_definition, MessageEventDefinition):
                    self.log.messages_caught.append(_element_id(task))
        elif isinstance(definition, TimerEventDefinition):
            self.log.timers_fired.append(_element_id(task))
        elif isinstance(definition, MessageEventDefinition) and isinstance(spec, CatchingEvent):
            self.log.messages_caught.append(_element_id(task))

    def _plan_send(self, task: Any) -> None:
        props = (getattr(task.task_spec, "extensions", None) or {}).get("properties", {})
        if "template" not in props:
            return
        appointment_at = None
        expression = props.get("appointment")
        if expression:
            try:
                value = sandbox.evaluate(expression, task.data)
            except SandboxError as exc:
                raise EngineStepError(f"appointment expression failed: {exc}", element_id=_element_id(task)) from exc
            if isinstance(value, datetime):
                appointment_at = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        self.log.sends.append(PlannedSend(
            str(task.id), _element_id(task), props.get("recipient", "patient"), props.get("channel", "preferred"),
            props["template"], appointment_at, self.clock.now()))

    def _guarded(self, task: Any, action: Any) -> Any:
        try:
            return action()
        except EngineStepError:
            raise
        except SpiffWorkflowException as exc:
            failed = getattr(exc, "task", None) or task
            element = _element_id(failed) if failed is not None else None
            raise EngineStepError(_readable(exc), element_id=element) from exc
        except SandboxError as exc:
            raise EngineStepError(str(exc), element_id=_element_id(task) if task is not None else None) from exc


def _readable(exc: Exception) -> str:
    """SpiffWorkflow's message plus the underlying cause ("Error evaluating expression ...: division by zero")."""
    text = str(exc).strip()
    inner = getattr(exc, "exception", None) or exc.__cause__ or exc.__context__
    if inner is not None and str(inner) and str(inner) not in text:
        text = f"{text.rstrip('. ')}: {inner}"
    return text
