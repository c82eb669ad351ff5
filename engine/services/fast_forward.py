"""Drive one instance forward on a virtual clock: fire its timers, auto-complete its work items.

Used by the simulation (a throw-away database) and by the demo (patients enrolled weeks ago, replayed up
to today). It goes through the same services as production: locks, sandbox, projection, audit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from engine.clock import ManualClock
from engine.db import db
from engine.models import DueTimer, InstanceStatus, PathwayInstance, TimerStatus, WorkItem
from engine.models.work_item import OPEN_STATUSES
from engine.services.forms import form_defaults
from engine.services.inbox import complete_work_item
from engine.services.pathways import version_forms
from engine.services.timers import fire_timer
from engine.types import Actor

# A completion may open the next work item at once; a pathway that keeps doing so is a loop with no wait.
MAX_COMPLETIONS_PER_MOMENT = 1000


class Answers:
    """Form answers per BPMN element id: one dict, or a list consumed occurrence by occurrence."""

    def __init__(self, answers: dict[str, Any] | None) -> None:
        self._answers = answers or {}
        self._used: dict[str, int] = {}

    def for_element(self, element_id: str, defaults: dict[str, Any]) -> dict[str, Any]:
        given = self._answers.get(element_id)
        if isinstance(given, list) and given:
            index = self._used.get(element_id, 0)
            self._used[element_id] = index + 1
            given = given[min(index, len(given) - 1)]
        return {**defaults, **(given if isinstance(given, dict) else {})}


def complete_open_items(instance_id: int, answers: Answers, clock: ManualClock, *,
                        keep_open: Callable[[WorkItem], bool] | None = None,
                        actor_for_item: Callable[[WorkItem], Actor] | None = None) -> int:
    """Complete the instance's open work items, except those ``keep_open`` says to leave. Commits each."""
    instance = db.session.get(PathwayInstance, instance_id)
    forms = version_forms(instance.version) if instance is not None else {}
    left: set[int] = set()
    done = 0
    for _ in range(MAX_COMPLETIONS_PER_MOMENT):
        query = select(WorkItem).where(WorkItem.instance_id == instance_id, WorkItem.status.in_(OPEN_STATUSES))
        if left:
            query = query.where(WorkItem.id.not_in(left))
        item = db.session.scalar(query.order_by(WorkItem.id))
        if item is None:
            break
        if keep_open is not None and keep_open(item):
            left.add(item.id)
            continue
        data = answers.for_element(item.element_id, form_defaults(forms.get(item.form_key or "")))
        actor = actor_for_item(item) if actor_for_item is not None else Actor.cli("simulation")
        outcome = complete_work_item(item.id, data, actor=actor, clock=clock)
        db.session.commit()
        done += 1
        if outcome.error_message:
            break
    return done


def next_due(instance_id: int) -> datetime | None:
    return db.session.scalar(select(func.min(DueTimer.due_at)).where(
        DueTimer.instance_id == instance_id, DueTimer.status == TimerStatus.PENDING.value))


def fire_instance_timers(instance_id: int, clock: ManualClock, actor: Actor) -> int:
    """Fire this instance's timers due at the clock's now, oldest first (commits each)."""
    ids = list(db.session.scalars(select(DueTimer.id).where(
        DueTimer.instance_id == instance_id, DueTimer.status == TimerStatus.PENDING.value,
        DueTimer.due_at <= clock.now()).order_by(DueTimer.due_at, DueTimer.id)))
    db.session.commit()
    fired = 0
    for timer_id in ids:
        outcome = fire_timer(timer_id, clock=clock, actor=actor)
        fired += outcome is not None and outcome.error_message is None
        db.session.commit()
    return fired


def play_until(instance_id: int, until: datetime, *, clock: ManualClock, answers: Answers, actor: Actor,
               keep_open: Callable[[WorkItem], bool] | None = None,
               actor_for_item: Callable[[WorkItem], Actor] | None = None,
               progress: Callable[[datetime], None] | None = None) -> None:
    """Move the instance from the clock's now to ``until``: at each due time fire the timers, then complete
    the work items they opened, except those ``keep_open`` says to leave (an inbox as of today).
    Leaves the clock at ``until`` (or where the instance stopped: completed, error).
    """
    while True:
        complete_open_items(instance_id, answers, clock, keep_open=keep_open, actor_for_item=actor_for_item)
        instance = db.session.get(PathwayInstance, instance_id)
        if instance is None or instance.status != InstanceStatus.ACTIVE.value:
            return
        due = next_due(instance_id)
        if due is None or due > until:
            break
        clock.set(max(due, clock.now()))
        if fire_instance_timers(instance_id, clock, actor) == 0 and next_due(instance_id) == due:
            break  # the engine refused to fire it (instance in error...): never spin
        if progress is not None:
            progress(clock.now())
    clock.set(max(until, clock.now()))
