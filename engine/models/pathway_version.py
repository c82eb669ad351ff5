"""Deployed pathway versions: immutable, content-hashed BPMN with its forms and DMN tables."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import db
from engine.models.types import UTCDateTime


class VersionStatus(enum.StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class PathwayVersion(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "pathway_version"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_pathway_version_key_version"),
        Index("ix_pathway_version_key_sha", "key", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(300))
    # The definition itself (tens of KB) loads only when read: running an instance needs only id + sha256
    # (the compiled spec and the forms are cached per version, see engine.services.pathways).
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    dmn_files: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, deferred=True)
    forms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, deferred=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    anchors: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=VersionStatus.ACTIVE.value)
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("professional.id"))
    deployed_by_label: Mapped[str] = mapped_column(String(120), default="cli")
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime())
