"""`parcours simulate`: a dry run on a virtual clock and an in-memory database, with its calendar."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import (
    DATA,
    PARCOURS,
    PROBLEM_LINE,
    SHIPPED_BPMN,
    SHIPPED_KEYS,
    Cli,
    Result,
    assert_ok,
    assert_readable_failure,
)

SUMMARY_KEYS = {"work_items_completed", "timers_fired", "reminders_planned", "state_bytes", "status"}
START = "2026-11-16T08:00:00+01:00"  # a Monday, fixed: the calendars do not depend on today
SURGERY = "2026-12-16"  # J0 of RRAC, a month after the start: the whole pre-operative part is simulated


def _summary(result: Result) -> dict[str, Any]:
    assert_ok(result)
    payload = result.json()
    assert isinstance(payload, dict) and isinstance(payload.get("summary"), dict), payload
    summary = payload["summary"]
    assert SUMMARY_KEYS <= set(summary), f"summary lacks {SUMMARY_KEYS - set(summary)}: {summary}"
    assert summary["status"] in ("completed", "active"), summary
    for key in SUMMARY_KEYS - {"status"}:
        assert isinstance(summary[key], int) and summary[key] >= 0, summary
    assert summary["state_bytes"] > 0, summary
    return payload  # type: ignore[no-any-return]


def _element_ids(payload: dict[str, Any]) -> set[str]:
    return {entry.get("element_id") for entry in payload.get("calendar") or [] if entry.get("element_id")}


# ---------------------------------------------------------------- shipped pathways, files


@pytest.mark.parametrize("key", SHIPPED_KEYS)
def test_simulate_prints_a_json_summary_when_given_a_deployed_pathway_key(demo_cli: Cli, key: str) -> None:
    payload = _summary(demo_cli.run("simulate", key, "--json"))
    assert payload["summary"]["work_items_completed"] > 0, payload["summary"]
    assert payload["calendar"], "empty calendar"


def test_simulate_reads_the_pathway_from_postgresql_when_given_a_key(pg_cli: Cli) -> None:
    assert_ok(pg_cli.run("demo"))
    _summary(pg_cli.run("simulate", "rrac_epaule", "--json"))


@pytest.mark.parametrize("file", [*sorted(p.name for p in SHIPPED_BPMN.glob("*.bpmn")), "good_appel.bpmn"])
def test_simulate_prints_a_json_summary_when_given_a_file(cli: Cli, file: str) -> None:
    path = SHIPPED_BPMN / file if (SHIPPED_BPMN / file).exists() else DATA / file
    payload = _summary(cli.run("simulate", str(path), "--json", "--start", START))
    assert payload["summary"]["work_items_completed"] > 0, payload["summary"]


def test_simulate_completes_a_short_pathway_when_days_cover_it(cli: Cli) -> None:
    payload = _summary(cli.run("simulate", str(DATA / "good_appel.bpmn"), "--json", "--start", START,
                               "--days", "10", "--context", '{"date_chirurgie": "2026-11-20"}'))
    assert payload["summary"]["status"] == "completed", payload["summary"]
    assert payload["summary"]["timers_fired"] >= 1 and payload["summary"]["work_items_completed"] == 1
    days = {entry["day"] for entry in payload["calendar"] if entry.get("element_id") == "Task_Appel"}
    assert days == {5}, payload["calendar"]  # J+1 10:00 after a surgery on day 4


def test_simulate_prints_the_calendar_day_by_day_when_json_is_not_asked(cli: Cli) -> None:
    result = assert_ok(cli.run("simulate", str(DATA / "good_appel.bpmn"), "--start", START, "--days", "10",
                               "--context", '{"date_chirurgie": "2026-11-20"}'))
    assert "Appeler le patient (J+1)" in result.stdout, str(result)
    assert "work_items_completed" in result.stdout, str(result)


def test_simulate_says_which_anchor_dates_it_assumed_when_the_context_leaves_them_out(cli: Cli) -> None:
    path = str(DATA / "good_appel.bpmn")
    assumed = assert_ok(cli.run("simulate", path, "--start", START, "--days", "3"))
    assert "date_chirurgie = 2026-11-16 (not given: the start day" in assumed.stdout, str(assumed)
    given = assert_ok(cli.run("simulate", path, "--start", START, "--days", "3",
                              "--context", '{"date_chirurgie": "2026-11-20"}'))
    assert "not given" not in given.stdout, str(given)
    payload = cli.run("simulate", path, "--start", START, "--days", "3", "--json").json()
    assert payload["defaulted_anchors"] == {"date_chirurgie": "2026-11-16"}, payload


def test_simulate_takes_the_urgent_branch_when_answers_give_a_severe_pain(cli: Cli, tmp_path: Path) -> None:
    args = ("simulate", str(SHIPPED_BPMN / "rrac_epaule.bpmn"), "--json", "--start", START, "--days", "120",
            "--context", json.dumps({"date_chirurgie": SURGERY}))
    normal = _summary(cli.run(*args))
    assert "Task_AppelJ1" in _element_ids(normal), "the J+1 call never came: the answers could not matter"
    assert "Task_AvisChirurgienUrgent" not in _element_ids(normal)
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"Task_AppelJ1": {"douleur_nrs": 8}}), encoding="utf-8")
    urgent = _summary(cli.run(*args, "--answers", str(answers)))
    assert "Task_AvisChirurgienUrgent" in _element_ids(urgent), urgent["calendar"]
    surgeon = [e for e in urgent["calendar"] if e.get("element_id") == "Task_AvisChirurgienUrgent"]
    assert all(e.get("role") == "chirurgien" for e in surgeon), surgeon


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(("case", "extra", "fragment"), [
    ("context_not_json", ("--context", "{date_chirurgie: demain}"), "--context"),
    ("context_not_object", ("--context", "[1, 2]"), "--context"),
    ("bad_start", ("--start", "lundi prochain"), ""),
    ("days_zero", ("--days", "0"), "--days"),
])
def test_simulate_fails_readably_when_an_option_is_bad(cli: Cli, case: str, extra: tuple[str, ...],
                                                        fragment: str) -> None:
    result = cli.run("simulate", str(DATA / "good_appel.bpmn"), "--json", *extra)
    assert result.returncode != 0 and "Traceback" not in result.stderr, str(result)
    assert fragment in result.stderr and result.error_lines, str(result)


@pytest.mark.parametrize(("case", "content"), [("not_json", "{Task_Appel: 1"), ("not_an_object", "[1, 2]")])
def test_simulate_fails_readably_when_the_answers_file_is_bad(cli: Cli, tmp_path: Path, case: str,
                                                               content: str) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(content, encoding="utf-8")
    result = cli.run("simulate", str(DATA / "good_appel.bpmn"), "--answers", str(answers))
    assert_readable_failure(result)


def test_simulate_fails_readably_when_the_key_is_not_deployed(init_cli: Cli) -> None:
    assert_readable_failure(init_cli.run("simulate", "parcours_inexistant", "--json"), "parcours_inexistant")


def test_simulate_prints_located_problems_when_the_file_is_bad(cli: Cli) -> None:
    file = str(DATA / "task_outside_lane.bpmn")
    lines = assert_readable_failure(cli.run("simulate", file, "--json"))
    assert all(PROBLEM_LINE.fullmatch(line) for line in lines), lines
    # FILE as given (like validate) or its base name
    given_or_base = (f"{file}:Task_Appel: ", "task_outside_lane.bpmn:Task_Appel: ")
    assert any(line.startswith(given_or_base) for line in lines), lines


def test_simulate_fails_readably_when_the_file_is_missing(cli: Cli) -> None:
    assert_readable_failure(cli.run("simulate", str(cli.workdir / "absent.bpmn"), "--json"), "absent.bpmn")


# ---------------------------------------------------------------- long runs, terminal


def test_simulate_runs_ten_years_of_a_daily_loop_with_flat_state_when_asked(cli: Cli) -> None:
    # How long it takes is measured by bench/simulate_daily_loop.py, not asserted here.
    loop = str(DATA / "daily_loop.bpmn")
    short = _summary(cli.run("simulate", loop, "--json", "--start", START, "--days", "30"))["summary"]
    result = cli.run("simulate", loop, "--json", "--start", START, "--days", "3650", timeout=600)
    summary = _summary(result)["summary"]
    assert summary["status"] == "active" and summary["timers_fired"] >= 3649, summary
    assert summary["work_items_completed"] >= 3650, summary
    assert summary["state_bytes"] <= 2 * short["state_bytes"], (short, summary)  # flat state


def _drain(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the pty closes when the child exits
            return
        if not chunk:
            return
        into.append(chunk)


def test_simulate_shows_a_progress_bar_when_run_on_a_terminal(cli: Cli) -> None:
    out_master, out_slave = os.openpty()
    err_master, err_slave = os.openpty()
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [threading.Thread(target=_drain, args=(out_master, out), daemon=True),
               threading.Thread(target=_drain, args=(err_master, err), daemon=True)]
    for reader in readers:
        reader.start()
    try:
        process = subprocess.run(  # noqa: S603 - our own console script
            [PARCOURS, "simulate", str(DATA / "daily_loop.bpmn"), "--start", START, "--days", "60"],
            cwd=cli.workdir, env=cli.env, stdin=subprocess.DEVNULL, stdout=out_slave, stderr=err_slave,
            timeout=120, check=False)
    finally:
        os.close(out_slave)
        os.close(err_slave)
        for reader in readers:
            reader.join(timeout=10)
        os.close(out_master)
        os.close(err_master)
    stdout, stderr = b"".join(out).decode(errors="replace"), b"".join(err).decode(errors="replace")
    assert process.returncode == 0 and "Traceback" not in stderr, (stdout, stderr)
    assert "100%" in stderr, f"no progress bar on the terminal: {stderr!r}"
    assert "Noter le poids du jour" in stdout, stdout
