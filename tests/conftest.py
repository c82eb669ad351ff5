"""Test fixtures: the app on SQLite and on PostgreSQL (every test runs on both), a manual clock, factories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from flask import Flask
from sqlalchemy import text

from engine.clock import ManualClock
from engine.db import db

REPO = Path(__file__).resolve().parent.parent
BPMN_DIR = Path(__file__).resolve().parent / "bpmn"
PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 11, 16, 8, 0, tzinfo=PARIS)  # a Monday
PG_SERVER = os.environ.get("PARCOURS_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
PG_DATABASE = os.environ.get("PARCOURS_TEST_PG_DATABASE", "parcours_test")
BACKENDS = [b.strip() for b in os.environ.get("PARCOURS_TEST_DATABASES", "sqlite,postgresql").split(",") if b.strip()]


def _ensure_pg_database() -> str:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        else:  # start from an empty schema: migrations must build it from scratch
            with psycopg.connect(f"{PG_SERVER}/{PG_DATABASE}", autocommit=True) as db_conn:
                db_conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return f"postgresql://{PG_SERVER.split('://', 1)[1]}/{PG_DATABASE}"


def make_app(url: str, clock: ManualClock, **config: object) -> Flask:
    from webapp import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "PARCOURS_CLOCK": clock, "TESTING": True,
                       "PARCOURS_LOGIN_RATE_LIMIT": "1000 per minute", **config})


_APPS: dict[str, Flask] = {}


def _app_for(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    if backend in _APPS:
        return _APPS[backend]
    clock = ManualClock(START)
    if backend == "sqlite":
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "parcours.sqlite3")
    elif backend == "postgresql":
        url = _ensure_pg_database()
    else:
        raise ValueError(f"unknown test backend {backend}")
    app = make_app(url, clock)
    app.config["TEST_BACKEND"] = backend
    with app.app_context():
        from webapp.cli.pathways import init_database

        init_database()
    _APPS[backend] = app
    return app


@pytest.fixture(scope="session", autouse=True)
def _close_database_connections() -> Iterator[None]:
    """Close the session apps' pooled connections at the end (else psycopg warns at interpreter exit)."""
    yield
    for app in _APPS.values():
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return _app_for(request.param, tmp_path_factory)


TABLES_TO_CLEAR = ["pathway_draft", "audit_event", "api_token", "saved_filter", "outbox_message", "delivery_receipt",
                   "patient_link", "work_item_comment", "reminder", "work_item", "due_timer", "pathway_instance",
                   "pathway_version", "care_team_member", "professional_role", "professional", "patient"]


def _fresh(backend_app: Flask) -> Iterator[Flask]:
    clock: ManualClock = backend_app.extensions["parcours_clock"]
    clock.set(START)
    with backend_app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(f"TRUNCATE {', '.join(TABLES_TO_CLEAR)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES_TO_CLEAR:
                db.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names
        db.session.commit()
        yield backend_app
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def app(backend_app: Flask) -> Iterator[Flask]:
    yield from _fresh(backend_app)


@pytest.fixture
def pg_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """PostgreSQL only (row locks, SKIP LOCKED, concurrent sessions): not parametrized over backends."""
    yield from _fresh(_app_for("postgresql", tmp_path_factory))


@pytest.fixture
def clock(app: Flask) -> ManualClock:
    return app.extensions["parcours_clock"]  # type: ignore[no-any-return]


