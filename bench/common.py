"""Shared bench plumbing: an app on a fresh database, a care team, timing and table helpers."""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import platform
import shutil
import statistics
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from flask import Flask

from engine.clock import ManualClock
from engine.db import db
from engine.models import Patient, Professional
from engine.services.pathways import PathwaySource, deploy_pathway, read_pathway_source
from engine.services.people import add_care_team_member, create_patient, create_professional
from engine.types import Actor

REPO = Path(__file__).resolve().parent.parent
PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 11, 16, 8, 0, tzinfo=PARIS)
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
PG_BENCH_DATABASE = "parcours_bench"


def fresh_postgres(server: str = PG_SERVER, name: str = PG_BENCH_DATABASE) -> str:
    """Drop and recreate the bench's own PostgreSQL database; returns its URL."""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def fresh_sqlite() -> str:
    """A new SQLite file in a temporary folder removed when the bench exits."""
    folder = Path(tempfile.mkdtemp(prefix="parcours-bench-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return "sqlite:///" + str(folder / "bench.sqlite3")


def database_url(backend: str, pg_url: str | None = None) -> str:
    """A fresh database for ``backend`` (sqlite, postgresql); ``pg_url`` is a server URL or a database URL."""
    if backend == "sqlite":
        return fresh_sqlite()
    if pg_url is None:
        return fresh_postgres()
    server, _, name = pg_url.rstrip("/").rpartition("/")
    if "://" not in server:  # a server URL with no database: use the bench's own
        return fresh_postgres(pg_url.rstrip("/"))
    return fresh_postgres(server, name or PG_BENCH_DATABASE)


def make_app(url: str, clock: ManualClock) -> Flask:
    """The Parcours app on ``url``, schema migrated and role catalogue loaded."""
    from webapp import create_app
    from webapp.cli.pathways import init_database

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PARCOURS_CLOCK": clock})
    with app.app_context(), contextlib.redirect_stderr(io.StringIO()):  # alembic's INFO lines
        init_database()
    return app


def deploy(path: Path, clock: ManualClock) -> PathwaySource:
    source = read_pathway_source(path)
    deploy_pathway(source, actor=Actor.cli("bench"), clock=clock)
    db.session.commit()
    return source


def make_patient(identifier: str, roles: Sequence[str], clock: ManualClock) -> Patient:
    """A patient with one professional per role in their care team (professionals shared between patients)."""
    now = clock.now()
    patient = create_patient(identifier, "Banc", "Patient", at=now, phone="+33600000000", site="MSP Bench")
    for role in roles:
        pro = db.session.query(Professional).filter_by(login=f"bench-{role}").one_or_none()
        if pro is None:
            pro = create_professional(f"bench-{role}", f"Bench {role}", [role], at=now, site="MSP Bench")
        if role != "patient":
            add_care_team_member(patient, pro, role, start=now)
    db.session.commit()
    return patient


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def median_ms(samples: Sequence[float]) -> float:
    return ms(statistics.median(samples)) if samples else 0.0


def mean_ms(samples: Sequence[float]) -> float:
    return ms(statistics.fmean(samples)) if samples else 0.0


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        padded = (c.rjust(w) if n and i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        print("  ".join(padded))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def machine() -> str:
    import os

    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def json_line(payload: dict[str, Any]) -> None:
    print(json.dumps(payload, separators=(",", ":")))
