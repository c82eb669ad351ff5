"""Fixtures of the CLI tests: each test runs the real `parcours` console script on a database of its own.

SQLite: PARCOURS_INSTANCE_PATH points at the test's tmp_path (one SQLite file per test); `init` and
`demo` run once per module and tests get a copy of the SQLite file. PostgreSQL: the database
`parcours_test_cli` (never `parcours_test`, which the in-process suite uses) is dropped and created per test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.cli.helpers import BACKENDS, PG_CLI_DATABASE, PG_SERVER, Cli, assert_ok

# ---------------------------------------------------------------- SQLite


def _copy_database(source: Path, target: Cli) -> Cli:
    for file in source.glob("parcours.sqlite3*"):
        shutil.copy2(file, target.workdir / file.name)
    return target


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A fresh, empty SQLite instance folder (nothing initialised)."""
    return Cli(tmp_path / "instance")


@pytest.fixture(scope="module")
def init_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`parcours init` once per module; tests get a copy of its SQLite file."""
    template = Cli(tmp_path_factory.mktemp("init-template"))
    assert_ok(template.run("init"))
    return template.workdir


@pytest.fixture
def init_cli(init_template: Path, tmp_path: Path) -> Cli:
    """An initialised, empty SQLite database of the test's own."""
    return _copy_database(init_template, Cli(tmp_path / "instance"))


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`parcours demo` once per module; tests get a copy of its SQLite file."""
    template = Cli(tmp_path_factory.mktemp("demo-template"))
    assert_ok(template.run("demo"))
    return template.workdir


@pytest.fixture(scope="module")
def demo_inboxes(demo_template: Path) -> dict[str, list[dict[str, Any]]]:
    """Every role's `inbox --json` right after the demo (the same in each test's copy of the database)."""
    return Cli(demo_template).inboxes()


@pytest.fixture
def demo_cli(demo_template: Path, tmp_path: Path) -> Cli:
    """A copy of the module's demo database."""
    return _copy_database(demo_template, Cli(tmp_path / "instance"))


# ---------------------------------------------------------------- PostgreSQL


def _pg_url(database: str) -> str:
    return f"{PG_SERVER}/{database}"


def _recreate_pg_database() -> str:
    assert PG_CLI_DATABASE != "parcours_test"  # noqa: S101 - the in-process suite's database is not ours
    with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_CLI_DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_CLI_DATABASE}"')
    return _pg_url(PG_CLI_DATABASE)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    if "postgresql" not in BACKENDS:
        pytest.skip("PostgreSQL not in PARCOURS_TEST_DATABASES")
    try:
        with psycopg.connect(_pg_url("postgres"), autocommit=True, connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_SERVER} is not reachable (bash tests/run starts it): {exc}")
    yield PG_SERVER
    with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_CLI_DATABASE}" WITH (FORCE)')


@pytest.fixture
def pg_cli(pg_server: str, tmp_path: Path) -> Cli:
    """A fresh, empty PostgreSQL database `parcours_test_cli` (nothing initialised)."""
    return Cli(tmp_path / "instance-pg", database_url=_recreate_pg_database())


# ---------------------------------------------------------------- both backends


@pytest.fixture(params=["sqlite", "postgresql"])
def any_cli(request: pytest.FixtureRequest) -> Cli:
    """A fresh, empty database on each backend (key flows run on both)."""
    if request.param == "sqlite":
        return request.getfixturevalue("cli")  # type: ignore[no-any-return]
    return request.getfixturevalue("pg_cli")  # type: ignore[no-any-return]


@pytest.fixture(params=["sqlite", "postgresql"])
def any_demo_cli(request: pytest.FixtureRequest) -> Cli:
    """The demo database on each backend (SQLite: a copy of the module's; PostgreSQL: demo run afresh)."""
    if request.param == "sqlite":
        return request.getfixturevalue("demo_cli")  # type: ignore[no-any-return]
    pg: Cli = request.getfixturevalue("pg_cli")
    assert_ok(pg.run("demo"))
    return pg
