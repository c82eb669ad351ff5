"""Plain values handed across the engine boundary (actors, outcomes)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    """Who performs a service call: a professional, the command line operator, or the system (jobs)."""

    kind: str  # professional, cli, system
    label: str
    professional_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    site: str | None = None
    patient_id: int | None = None  # kind "patient": the patient acting through a one-time link

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls("system", label)

    @classmethod
    def cli(cls, label: str = "cli") -> Actor:
        return cls("cli", label)

    @classmethod
    def patient(cls, patient_id: int) -> Actor:
        return cls("patient", f"patient:{patient_id}", patient_id=patient_id, roles=frozenset({"patient"}))

    @property
    def is_professional(self) -> bool:
        return self.kind == "professional" and self.professional_id is not None

    @property
    def is_trusted_operator(self) -> bool:
        """The local operator (CLI) and the system act on every patient; professionals are checked."""
        return self.kind in ("cli", "system")


@dataclass(frozen=True)
class StepOutcome:
    """What an engine step did to an instance."""

    instance_id: int
    status: str
    opened_work_items: tuple[int, ...] = ()
    error_element: str | None = None
    error_message: str | None = None
