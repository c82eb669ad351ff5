"""Helpers for the CLI tests: the real `parcours` console script run as a subprocess, bound to one database."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parents[2]
PARCOURS = str(Path(sys.executable).parent / "parcours")
if not Path(PARCOURS).exists():  # pytest run by another interpreter: fall back on the project's venv
    PARCOURS = str(REPO / ".venv" / "bin" / "parcours")
DATA = Path(__file__).resolve().parent / "data"
SHIPPED_BPMN = REPO / "workflows" / "bpmn"
FORMS_DIR = REPO / "workflows" / "forms"
SHIPPED_KEYS = ("rrac_epaule", "diabete_t2", "insuffisance_cardiaque")
# Demo logins are the role codes (README: `parcours inbox --user infirmier`); the patient role has no login.
ROLE_LOGINS = ("medecin_traitant", "chirurgien", "anesthesiste", "infirmier", "kinesitherapeute", "pharmacien",
               "dieteticien", "podologue", "cardiologue", "ophtalmologue", "coordinateur")
# The commands the issue asks for; `--help` also discovers the others.
ISSUE_COMMANDS = ("init", "demo", "validate", "deploy", "pathways", "enrol", "inbox", "claim", "complete",
                  "message", "tick", "simulate")

PG_SERVER = os.environ.get("PARCOURS_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
# Derived from the in-process suite's database name, so that parallel runs with their own
# PARCOURS_TEST_PG_DATABASE never drop each other's CLI database (default: parcours_test_cli).
PG_CLI_DATABASE = os.environ.get("PARCOURS_TEST_PG_DATABASE", "parcours_test") + "_cli"
BACKENDS = [b.strip() for b in os.environ.get("PARCOURS_TEST_DATABASES", "sqlite,postgresql").split(",")
            if b.strip()]
TIMEOUT = 180
# `FILE:ELEMENT_ID: reason` (element ids are XML NCNames: no colon, no space; "-" when there is none).
PROBLEM_LINE = re.compile(r"(?P<file>[^:]+):(?P<element>[^:\s]+): (?P<reason>\S.*)")
_LOG_LINE = re.compile(r"^(INFO|DEBUG)\s+\[")  # alembic's migration log (init, demo)


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (f"$ parcours {' '.join(self.args)}\nexit code {self.returncode}\n"
                f"--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}")

    @property
    def error_lines(self) -> list[str]:
        """Non-empty stderr lines, without the migration log."""
        return [line for line in self.stderr.splitlines() if line.strip() and not _LOG_LINE.match(line)]

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"stdout is not one JSON document ({exc})\n{self}") from None


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, str(result)


def assert_ok(result: Result) -> Result:
    assert_no_traceback(result)
    assert result.returncode == 0, str(result)
    return result


def assert_readable_failure(result: Result, *fragments: str, code: int | None = 1) -> list[str]:
    """Exit code 1 (`code`; None: any failure), no traceback, at least one readable stderr line;
    each fragment appears in stderr."""
    assert_no_traceback(result)
    assert result.returncode == code if code is not None else result.returncode != 0, str(result)
    lines = result.error_lines
    assert lines, f"no error message on stderr\n{result}"
    for line in lines:
        assert len(line) < 2000, f"unreadable error line\n{result}"
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in stderr\n{result}"
    return lines


class Cli:
    """The `parcours` console script bound to one database (environment)."""

    def __init__(self, workdir: Path, database_url: str | None = None) -> None:
        self.workdir = workdir
        self.database_url = database_url
        workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if k != "DATABASE_URL" and not k.startswith(("PARCOURS_", "FLASK_"))}
        env.update(PARCOURS_INSTANCE_PATH=str(workdir), COLUMNS="120")
        if database_url:
            env["DATABASE_URL"] = database_url
        self.env = env

    @property
    def sqlite_file(self) -> Path:
        return self.workdir / "parcours.sqlite3"

    def run(self, *args: str, timeout: float = TIMEOUT, env: dict[str, str] | None = None,
            **popen: Any) -> Result:
        completed = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
            [PARCOURS, *args], cwd=self.workdir, env={**self.env, **(env or {})}, capture_output=True, text=True,
            timeout=timeout, check=False, **popen)
        return Result(tuple(args), completed.returncode, completed.stdout, completed.stderr)

    def run_many(self, commands: Sequence[Sequence[str]]) -> list[Result]:
        """Independent commands in parallel (interpreter start-up dominates each call)."""
        with ThreadPoolExecutor(max_workers=min(4, len(commands) or 1)) as pool:
            return list(pool.map(lambda args: self.run(*args), commands))

    def inboxes(self, logins: Sequence[str] = ROLE_LOGINS) -> dict[str, list[dict[str, Any]]]:
        """`inbox --user LOGIN --json` for every login, in parallel."""
        results = self.run_many([("inbox", "--user", login, "--json") for login in logins])
        inboxes = {}
        for login, result in zip(logins, results, strict=True):
            assert_ok(result)
            rows = result.json()
            assert isinstance(rows, list), str(result)
            inboxes[login] = rows
        return inboxes


# ---------------------------------------------------------------- work items


def db_rows(cli: Cli, query: str) -> list[tuple[Any, ...]] | None:
    """Rows of a read-only query on the CLI's database, or None if the database cannot answer it.

    Only to find out cheaply which inboxes to look at (one `parcours inbox` per role is slow); what the
    tests assert is what the CLI prints. A schema change makes callers fall back on asking every inbox.
    """
    try:
        if cli.database_url:
            with psycopg.connect(cli.database_url) as conn:
                return [tuple(row) for row in conn.execute(query)]  # type: ignore[arg-type]
        with closing(sqlite3.connect(cli.sqlite_file)) as conn:
            return [tuple(row) for row in conn.execute(query)]
    except (psycopg.Error, sqlite3.Error):
        return None


def roles_with_work_items(cli: Cli) -> tuple[str, ...]:
    """Logins worth asking for their inbox: the roles that hold any work item (every role if unknown)."""
    rows = db_rows(cli, "SELECT DISTINCT role_code FROM work_item")
    if rows is None:
        return ROLE_LOGINS
    found = {row[0] for row in rows}
    return tuple(login for login in ROLE_LOGINS if login in found)


def last_work_item_id(cli: Cli) -> int | None:
    rows = db_rows(cli, "SELECT max(id) FROM work_item")
    return None if rows is None else int(rows[0][0] or 0)


def roles_of_work_items_after(cli: Cli, last_id: int | None) -> tuple[str, ...]:
    """Logins of the roles of the work items created after `last_id` (every role if unknown)."""
    if last_id is None:
        return ROLE_LOGINS
    rows = db_rows(cli, f"SELECT DISTINCT role_code FROM work_item WHERE id > {int(last_id)}")  # noqa: S608
    if rows is None:
        return ROLE_LOGINS
    found = {row[0] for row in rows}
    return tuple(login for login in ROLE_LOGINS if login in found)


# ---------------------------------------------------------------- forms


def form_schema(form_key: str | None) -> dict[str, Any]:
    if not form_key:
        return {}
    path = FORMS_DIR / f"{form_key}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def form_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    """What a form filled with its defaults sends (the shipped pathways' normal path)."""
    return {name: spec["default"] for name, spec in (schema.get("properties") or {}).items()
            if isinstance(spec, dict) and "default" in spec}


def invalid_value_for(spec: dict[str, Any]) -> Any | None:
    """A value of the wrong type or outside the enum for a property, or None if we cannot make one."""
    kind = spec.get("type")
    if "enum" in spec:
        return "valeur_inconnue_cli"
    if kind in ("integer", "number"):
        return "pas un nombre"
    if kind == "boolean":
        return "peut-etre"
    if kind == "string":
        return 12345
    return None
