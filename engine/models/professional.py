"""Roles of the catalogue and the professionals (users) who hold them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import db
from engine.models.types import UTCDateTime


class Role(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "role"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label_fr: Mapped[str] = mapped_column(String(120))
    label_en: Mapped[str] = mapped_column(String(120))
    snomed_code: Mapped[str | None] = mapped_column(String(20))


class Professional(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "professional"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    site: Mapped[str | None] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    oidc_subject: Mapped[str | None] = mapped_column(String(200), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Migration d2b6f1a4c8e0: the user's interface language and timezone (dates shown in it).
    locale: Mapped[str] = mapped_column(String(8), default="fr", server_default="fr")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris", server_default="Europe/Paris")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    roles: Mapped[list[ProfessionalRole]] = relationship(
        back_populates="professional", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def role_codes(self) -> set[str]:
        return {r.role_code for r in self.roles}


class ProfessionalRole(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "professional_role"

    professional_id: Mapped[int] = mapped_column(ForeignKey("professional.id"), primary_key=True)
    role_code: Mapped[str] = mapped_column(ForeignKey("role.code"), primary_key=True)

    professional: Mapped[Professional] = relationship(back_populates="roles")
