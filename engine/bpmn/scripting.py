"""SpiffWorkflow's script engine, with every expression, condition and script run in the sandbox."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.script_engine.python_environment import (  # type: ignore[import-untyped]
    BasePythonScriptEngineEnvironment,
)
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition  # type: ignore[import-untyped]

from engine.bpmn import sandbox

PARIS = ZoneInfo("Europe/Paris")


class SandboxEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """Evaluates and executes BPMN code through ``engine.bpmn.sandbox`` (never plain eval/exec)."""

    def __init__(self) -> None:
        super().__init__({})

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        return sandbox.evaluate(expression, context, extra=external_context)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        sandbox.execute(script, context, extra=external_context)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise NotImplementedError("service tasks are not supported in care pathways")


def iso_duration(delta: timedelta) -> str:
    """ISO 8601 duration for a timedelta (``P1DT2H``); SpiffWorkflow parses that for duration timers."""
    total = int(delta.total_seconds())
    if total < 0:
        total = 0
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = f"P{days}D" if days else "P"
    if hours or minutes or seconds or not days:
        out += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + f"{seconds}S"
    return out


def timer_value(value: Any) -> Any:
    """Turn what a timer expression returned into the ISO string SpiffWorkflow expects."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=PARIS)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=PARIS).astimezone(UTC).isoformat()
    if isinstance(value, timedelta):
        return iso_duration(value)
    return value


class PathwayScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """Script engine for pathways: sandboxed, and timer expressions may return datetimes or timedeltas."""

    def __init__(self) -> None:
        super().__init__(environment=SandboxEnvironment())

    def evaluate(self, task: Any, expression: str, external_context: dict[str, Any] | None = None) -> Any:
        value = super().evaluate(task, expression, external_context)
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition) and definition.expression == expression:
            return timer_value(value)
        return value


SCRIPT_ENGINE = PathwayScriptEngine()
