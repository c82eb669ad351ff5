"""Pathway drafts: BPMN being edited in the studio, with its forms and DMN tables; never runnable."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import db
from engine.models.types import UTCDateTime


class DraftStatus(enum.StrEnum):
    DRAFT = "draft"
    DEPLOYED = "deployed"


class PathwayDraft(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "pathway_draft"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120), index=True)  # the process id, as of the last save
    title: Mapped[str] = mapped_column(String(300))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # form key -> JSON Schema (or its text)
    dmn_files: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("pathway_version.id"))
    revision: Mapped[int] = mapped_column(Integer, default=1)  # optimistic lock: every save bumps it
    status: Mapped[str] = mapped_column(String(16), default=DraftStatus.DRAFT.value)
    deployed_version_id: Mapped[int | None] = mapped_column(ForeignKey("pathway_version.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("professional.id"))
    created_by_label: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("professional.id"))
    updated_by_label: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __mapper_args__ = {"version_id_col": revision}
