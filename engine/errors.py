"""Engine errors: one tree rooted at EngineError, with structured fields and no HTTP codes."""

from __future__ import annotations

from dataclasses import dataclass


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class NotFound(EngineError):
    """The object does not exist, or the actor may not know it exists."""


class NotPermitted(EngineError):
    """The actor may not do this (role, care team, assignment)."""


class InvalidTransition(EngineError):
    """The object is not in a state that allows this (already completed, instance suspended...)."""


class ConcurrencyConflict(InvalidTransition):
    """Someone else changed the instance first; nothing was written."""


class InvalidInput(EngineError):
    """Input data is malformed or fails validation (form data, context, ISO dates)."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


@dataclass(frozen=True)
class Problem:
    """One located problem in a pathway file: `FILE:ELEMENT_ID: reason`."""

    file: str
    element_id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.element_id}: {self.reason}"


class PathwayDefinitionError(EngineError):
    """A BPMN file (or its forms / DMN) was refused; `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class SandboxError(EngineError):
    """Untrusted BPMN code (expression, condition, script) was refused or failed."""

    def __init__(self, message: str, *, expression: str = "", line: int | None = None) -> None:
        super().__init__(message)
        self.expression = expression
        self.line = line


class EngineStepError(EngineError):
    """The engine failed while running an instance (a failing expression...)."""

    def __init__(self, message: str, *, element_id: str | None = None) -> None:
        super().__init__(message)
        self.element_id = element_id


class AccessDenied(NotFound):
    """The actor may not see this patient's data. Answered as 'not found' so existence is not revealed.

    Entry points roll back the transaction, then record the denial (``audit.record_denial``).
    """

    def __init__(self, message: str, *, actor_label: str, actor_kind: str, actor_id: int | None, action: str,
                 patient_id: int | None) -> None:
        super().__init__(message)
        self.actor_label = actor_label
        self.actor_kind = actor_kind
        self.actor_id = actor_id
        self.action = action
        self.patient_id = patient_id
