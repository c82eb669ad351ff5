"""`--help` of every command, `parcours init`, and configuration errors (readable, never a traceback)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.cli.helpers import (
    DATA,
    ISSUE_COMMANDS,
    PARCOURS,
    PG_CLI_DATABASE,
    SHIPPED_KEYS,
    TIMEOUT,
    Cli,
    assert_no_traceback,
    assert_ok,
    assert_readable_failure,
)

LISTING_COMMANDS = ("pathways", "inbox")  # the issue: `--json` where it lists


def _listed_commands(help_text: str) -> set[str]:
    section = help_text.split("Commands:", 1)[1] if "Commands:" in help_text else ""
    return {match.group(1) for match in re.finditer(r"^\s{2}([a-z][a-z0-9_-]*)\s", section, re.MULTILINE)}


def _row_counts(cli: Cli) -> dict[str, int]:
    """Rows per table of the CLI's database (SQLite file or PostgreSQL), alembic's bookkeeping excluded."""
    if cli.database_url:
        with psycopg.connect(cli.database_url) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
            return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # type: ignore[index]
    with sqlite3.connect(cli.sqlite_file) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name <> 'alembic_version'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608


# ---------------------------------------------------------------- --help


# One interpreter for the whole sweep (interpreter start-up is most of a `parcours` call): it loads the
# `parcours` console-script entry point, exactly what .venv/bin/parcours runs, and calls it per command.
HELP_SWEEP = """
import contextlib, io, sys
from importlib.metadata import entry_points

main = entry_points(group="console_scripts")["parcours"].load()
for name in sys.argv[1:]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([name, "--help"], prog_name="parcours")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException as exc:  # reported as a failure of this command, the sweep goes on
            import traceback
            traceback.print_exc(file=err)
            code = 99
    print(f"=== {name} {code} {'usage' if 'Usage:' in out.getvalue() else 'no-usage'}", flush=True)
    if code or "Usage:" not in out.getvalue():
        print(out.getvalue() + err.getvalue(), flush=True)
"""


def test_help_exits_zero_when_asked_of_the_group_and_of_every_command(cli: Cli) -> None:
    group = assert_ok(cli.run("--help"))
    listed = _listed_commands(group.stdout)
    missing = [name for name in ISSUE_COMMANDS if name not in listed]
    assert not missing, f"commands missing from `parcours --help`: {missing}\n{group}"
    names = sorted(listed | set(ISSUE_COMMANDS))
    sweep = subprocess.run(  # noqa: S603 - the project's interpreter, a fixed script
        [str(Path(PARCOURS).parent / "python"), "-c", HELP_SWEEP, *names], cwd=cli.workdir, env=cli.env,
        capture_output=True, text=True, timeout=TIMEOUT, check=False)
    verdicts = dict(re.findall(r"^=== (\S+) (\d+ \S+)$", sweep.stdout, re.MULTILINE))
    assert set(verdicts) == set(names), sweep.stdout + sweep.stderr
    failing = {name: verdict for name, verdict in verdicts.items() if verdict != "0 usage"}
    assert not failing, f"`parcours COMMAND --help` failed for {failing}\n{sweep.stdout}"
    assert "Traceback" not in sweep.stdout + sweep.stderr, sweep.stdout + sweep.stderr


def test_help_offers_json_when_the_command_lists(cli: Cli) -> None:
    for name, result in zip(LISTING_COMMANDS, cli.run_many([(n, "--help") for n in LISTING_COMMANDS]), strict=True):
        assert_ok(result)
        assert "--json" in result.stdout, f"`parcours {name}` lists but has no --json\n{result}"


# ---------------------------------------------------------------- init


def test_init_is_idempotent_when_run_twice(any_cli: Cli) -> None:
    first = assert_ok(any_cli.run("init"))
    counts = _row_counts(any_cli)
    assert counts.get("role", 0) > 0, f"init created no role catalogue: {counts}\n{first}"
    assert_ok(any_cli.run("init"))
    assert _row_counts(any_cli) == counts
    assert assert_ok(any_cli.run("pathways", "--json")).json() == []
    # the role catalogue is usable: a pathway with an `infirmier` lane deploys
    assert_ok(any_cli.run("deploy", str(DATA / "good_appel.bpmn")))


def test_init_keeps_every_row_when_run_on_a_database_in_use(demo_cli: Cli) -> None:
    before = _row_counts(demo_cli)
    pathways = assert_ok(demo_cli.run("pathways", "--json")).json()
    assert_ok(demo_cli.run("init"))
    assert _row_counts(demo_cli) == before
    assert assert_ok(demo_cli.run("pathways", "--json")).json() == pathways


def test_demo_adds_no_version_when_run_twice(demo_cli: Cli) -> None:
    assert_ok(demo_cli.run("demo"))
    rows = assert_ok(demo_cli.run("pathways", "--json")).json()
    assert {row["key"]: row["versions"] for row in rows} == dict.fromkeys(SHIPPED_KEYS, 1)


# ---------------------------------------------------------------- configuration and state errors


def test_commands_fail_readably_when_the_database_is_not_initialised(cli: Cli) -> None:
    for args in (("pathways",), ("inbox", "--user", "infirmier"), ("deploy", str(DATA / "good_appel.bpmn")),
                 ("tick",), ("enrol", "--patient", "1", "--pathway", "rrac_epaule")):
        result = cli.run(*args)
        assert_readable_failure(result)
        assert "parcours init" in result.stderr, f"the error should say to run `parcours init`\n{result}"


@pytest.mark.parametrize("command", [("init",), ("pathways",)])
def test_command_fails_readably_when_database_url_is_malformed(cli: Cli, command: tuple[str, ...]) -> None:
    result = cli.run(*command, env={"DATABASE_URL": "pas-une-url"})
    assert_readable_failure(result, "DATABASE_URL", code=None)


def test_help_has_no_traceback_when_database_url_is_malformed(cli: Cli) -> None:
    assert_no_traceback(cli.run("--help", env={"DATABASE_URL": "pas-une-url"}))


@pytest.mark.parametrize("command", [("init",), ("demo",), ("pathways",), ("tick",)])
def test_command_fails_readably_when_postgresql_is_unreachable(cli: Cli, command: tuple[str, ...]) -> None:
    url = f"postgresql://postgres@127.0.0.1:1/{PG_CLI_DATABASE}"  # port 1: connection refused at once
    result = cli.run(*command, env={"DATABASE_URL": url})
    assert_readable_failure(result)
    assert "127.0.0.1" in result.stderr, f"the error should name the server it could not reach\n{result}"
