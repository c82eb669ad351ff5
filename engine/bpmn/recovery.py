"""Getting an instance out of ``error``: run again what failed, or step over the failed element.

A failed step writes nothing of itself (engine/services/instances.py ``run_step``): the stored state is
the one before it, and what made it run is still there when it was a timer (its DueTimer stays pending)
or an automatic step. ``retry`` runs that again; ``skip_failed`` runs it too, but completes the failed
element without running it (a script not run, a send task that plans nothing, a gateway that takes its
default flow) and runs on.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]

from engine.bpmn.clock_bridge import engine_clock
from engine.bpmn.runtime import MAX_AUTOMATIC_STEPS, PathwayRun, _element_id, _InclusiveClock
from engine.errors import EngineStepError, InvalidTransition


def retry(run: PathwayRun) -> None:
    """Fire what is due (a timer whose step failed stays due) and run the automatic steps again."""
    run.fire_due_timers()


def _ready_automatic(run: PathwayRun) -> list[Any]:
    return [t for t in run.workflow.get_tasks(state=TaskState.READY) if not t.task_spec.manual]


def _complete_without_running(task: Any) -> None:
    spec = task.task_spec
    default = getattr(spec, "default_task_spec", None)
    if hasattr(spec, "cond_task_specs"):  # a gateway: no condition is evaluated, the default flow is taken
        if default is None:
            raise InvalidTransition(f"step {_element_id(task)} is a gateway without a default flow: skipping "
                                    f"it would leave the pathway with no way on")
        target = task.workflow.spec.get_task_spec_from_name(default)
        task._sync_children([target], TaskState.FUTURE)
        for child in task.children:
            child.task_spec._predict(child, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)
    task.complete()


def skip_failed(run: PathwayRun, element_id: str) -> None:
    """Run what was pending up to ``element_id``, complete it without running it, then run on.

    InvalidTransition when the element does not come up again: the step that led to it was a form or a
    message, whose data was not kept (the instance must be retried and the form submitted again).
    """
    with engine_clock(_InclusiveClock(run.clock)):
        run._guarded(None, run.workflow.refresh_timers)
    skipped = False
    with engine_clock(run.clock):
        for _ in range(MAX_AUTOMATIC_STEPS):
            ready = _ready_automatic(run)
            if not ready:
                break
            target = next((t for t in ready if _element_id(t) == element_id), None)
            if target is not None:
                _complete_without_running(target)
                skipped = True
                break
            task = ready[0]
            run._will_complete(task)
            run._guarded(task, task.run)
            run._did_complete(task)
        else:
            raise EngineStepError(f"more than {MAX_AUTOMATIC_STEPS} automatic steps without reaching "
                                  f"{element_id}", element_id=element_id)
    if not skipped:
        raise InvalidTransition(
            f"step {element_id} did not run again: it follows a form or a message whose data was not kept; "
            f"retry the instance and submit the form again")
    run.advance()
