"""The app served for real to the browser tests: a database of its own, the demo data, gunicorn on a free port.

The same gunicorn command line as `parcours run` (webapp/cli/web_server.py), started and stopped through the
same child-process code (it dies with the test run, even on SIGKILL). The server reads the system clock, so
the data are built relative to now: `parcours demo`'s data, and scenario patients replayed to today.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from flask import Flask

from engine.db import db
from tests.conftest import PG_DATABASE, PG_SERVER
from tests.live_http import free_port
from webapp.cli.processes import Child, Supervisor
from webapp.cli.web_server import gunicorn_argv

# Never the suite's own database (tests/conftest.py truncates it between tests while this server reads it).
PG_BROWSER_DATABASE = f"{PG_DATABASE}_browser"
START_TIMEOUT = 90.0
START_ATTEMPTS = 3  # a free port can be taken between the probe and gunicorn's bind: try another one


def _pg_url(database: str) -> str:
    return f"{PG_SERVER}/{database}"


def fresh_pg_database() -> str:
    """The browser tests' PostgreSQL database, dropped and created empty."""
    with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_BROWSER_DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_BROWSER_DATABASE}"')
    return _pg_url(PG_BROWSER_DATABASE)


def drop_pg_database() -> None:
    with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_BROWSER_DATABASE}" WITH (FORCE)')


def seeded_app(database_url: str) -> Flask:
    """The app in this process, on the server's database: schema, shipped pathways, demo professionals and
    patients (`parcours demo`), on the system clock like the server."""
    from webapp import create_app
    from webapp.cli.demo import load_demo

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        load_demo()
        db.session.remove()
    return app


def _server_env(database_url: str, instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "WEB_CONCURRENCY")
           and not k.startswith(("PARCOURS_", "FLASK_"))}
    env.update(DATABASE_URL=database_url, PARCOURS_INSTANCE_PATH=str(instance),
               PARCOURS_SECRET_KEY=secrets.token_hex(32),
               PARCOURS_LOGIN_RATE_LIMIT="1000 per minute")  # every test signs in, several times
    return env


@dataclass
class LiveServer:
    """A running server: its URL, its log, and the app (in this process) to seed and read its database."""

    backend: str
    url: str
    app: Flask
    child: Child

    @property
    def log_path(self) -> Path:
        return self.child.log_path

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    @contextmanager
    def database(self) -> Iterator[None]:
        """An app context on the server's database, closed on exit (never held while the browser acts)."""
        with self.app.app_context():
            try:
                yield
            finally:
                db.session.rollback()
                db.session.remove()


def _start(database_url: str, instance: Path) -> tuple[Child, Supervisor, str]:
    logs = instance / "logs"
    problems = []
    for attempt in range(START_ATTEMPTS):
        port = free_port()
        child = Child("web", gunicorn_argv("127.0.0.1", port, workers=1), logs / f"web-{attempt}.log")
        supervisor = Supervisor([child])
        supervisor.start(_server_env(database_url, instance), Path.cwd())
        url = f"http://127.0.0.1:{port}"
        if supervisor.wait_for_url(child, f"{url}/healthz", START_TIMEOUT):
            return child, supervisor, url
        supervisor.stop(grace=5)
        problems.append(f"port {port}: {child.log_path.read_text(encoding='utf-8', errors='replace')[-1500:]}")
    raise RuntimeError("the web server did not answer /healthz:\n" + "\n".join(problems))


@contextmanager
def running_server(backend: str, database_url: str, instance: Path) -> Iterator[LiveServer]:
    """Seed the database, serve it with gunicorn until the block ends; the server is always stopped."""
    app = seeded_app(database_url)
    try:
        child, supervisor, url = _start(database_url, instance)
        try:
            yield LiveServer(backend, url, app, child)
        finally:
            supervisor.stop(grace=10)
    finally:
        with app.app_context():
            db.engine.dispose()


@contextmanager
def server_of_its_own(backend: str, instance: Path, name: str) -> Iterator[LiveServer]:
    """A server on a database of its own (PostgreSQL ``<browser db>_<name>``), for a test module that changes
    what the session's shared server must keep (it deploys a version of a shipped pathway, migrates patients)."""
    if backend == "sqlite":
        with running_server("sqlite", "sqlite:///" + str(instance / "parcours.sqlite3"), instance) as server:
            yield server
        return
    database = f"{PG_BROWSER_DATABASE}_{name}"

    def drop() -> None:
        with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    drop()
    with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        with running_server("postgresql", _pg_url(database), instance) as server:
            yield server
    finally:
        drop()
