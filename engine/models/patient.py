"""Patients: identity, contact preferences and identity status (the INS never leaves the database)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import db
from engine.models.types import UTCDateTime


class Patient(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True)  # local file number (IPP)
    family_name: Mapped[str] = mapped_column(String(120))
    given_name: Mapped[str] = mapped_column(String(120))
    birth_date: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    preferred_channel: Mapped[str] = mapped_column(String(10), default="sms")
    opt_out_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    opt_out_email: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    language: Mapped[str] = mapped_column(String(8), default="fr")
    ins: Mapped[str | None] = mapped_column(String(40))
    ins_qualified: Mapped[bool] = mapped_column(Boolean, default=False)
    site: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Migration c5a1e7d2b4f6: the patient's own quiet window ("21:00-08:00"), else the site default.
    quiet_hours: Mapped[str | None] = mapped_column(String(20))

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"
