"""Care-team membership: who cares for which patient in which role, and for how long."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import db
from engine.models.professional import Professional
from engine.models.types import UTCDateTime


class CareTeamMember(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "care_team_member"
    __table_args__ = (
        Index("ix_care_team_patient_role", "patient_id", "role_code"),
        # Migration e4c2a7b9d1f3: the inbox reads a professional's memberships from the index alone.
        Index("ix_care_team_professional", "professional_id", "patient_id", "role_code", "period_start", "period_end"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"))
    role_code: Mapped[str] = mapped_column(ForeignKey("role.code"))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Loaded on access: membership checks read only this row's columns (joining the professional pulled
    # their roles with it, one more query per check).
    professional: Mapped[Professional] = relationship(lazy="select")

    def is_active(self, at: datetime) -> bool:
        return self.period_start <= at and (self.period_end is None or at < self.period_end)
