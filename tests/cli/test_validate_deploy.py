"""`parcours validate` / `parcours deploy`: exit 0, or exit 1 with one `FILE:ELEMENT_ID: reason` line per problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.helpers import (
    DATA,
    PROBLEM_LINE,
    SHIPPED_BPMN,
    SHIPPED_KEYS,
    Cli,
    Result,
    assert_ok,
    assert_readable_failure,
)

# file in tests/cli/data (or absent), the element the problem must be located on (None: any), a reason fragment
BAD_FILES = {
    "malformed_xml": ("malformed.bpmn", None, "xml"),
    "user_task_outside_lane": ("task_outside_lane.bpmn", "Task_Appel", "lane"),
    "unknown_lane_role": ("unknown_lane_role.bpmn", "Lane_Infirmiere", "Infirmiere"),
    "sandbox_escape_in_condition": ("sandbox_escape_condition.bpmn", "Flow_Evasion", ""),
    "missing_file": ("absent.bpmn", None, ""),
    "cycle_timer_start_campaign": ("campagne_mensuelle.bpmn", "Debut_Campagne", "timer start events are not supported"),
}

ESCAPING_TIMER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="Definitions_cli" targetNamespace="http://parcours.test/cli">
  <bpmn:process id="cli_evasion_minuteur" name="Evasion par un minuteur" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_infirmier" name="infirmier">
        <bpmn:flowNodeRef>Debut</bpmn:flowNodeRef><bpmn:flowNodeRef>Timer_J1</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Script_Calcul</bpmn:flowNodeRef><bpmn:flowNodeRef>Fin</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="Debut"/>
    <bpmn:intermediateCatchEvent id="Timer_J1" name="J+1">
      <bpmn:timerEventDefinition id="Timer_J1_def">
        <bpmn:timeDate>__import__('os').system('touch {marker}')</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="Script_Calcul" name="Calcul">
      <bpmn:script>open('{marker}', 'w').write('evasion')</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="Fin"/>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Debut" targetRef="Timer_J1"/>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Timer_J1" targetRef="Script_Calcul"/>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Script_Calcul" targetRef="Fin"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _problems(result: Result, given: str) -> list[tuple[str, str]]:
    """Exit 1, no traceback; every stderr line is `FILE:ELEMENT_ID: reason` with FILE as given; (element, reason)."""
    lines = assert_readable_failure(result)
    located = []
    for line in lines:
        match = PROBLEM_LINE.fullmatch(line)
        assert match, f"not a `FILE:ELEMENT_ID: reason` line: {line!r}\n{result}"
        assert match["file"] == given, f"FILE should be {given!r} as given on the command line: {line!r}"
        located.append((match["element"], match["reason"]))
    return located


def _copy_into(cli: Cli, name: str) -> str:
    """The data file copied into the CLI's working directory; the relative name to pass on the command line."""
    source = DATA / name
    if source.exists():
        shutil.copy(source, cli.workdir / name)
    return name


# ---------------------------------------------------------------- good files


def test_validate_exits_zero_when_every_file_is_good(init_cli: Cli) -> None:
    files = [str(path) for path in sorted(SHIPPED_BPMN.glob("*.bpmn"))] + [str(DATA / "good_appel.bpmn")]
    result = assert_ok(init_cli.run("validate", *files))
    assert not result.error_lines, str(result)


def test_deploy_exits_zero_and_lists_the_pathways_when_files_are_good(init_cli: Cli) -> None:
    files = [str(path) for path in sorted(SHIPPED_BPMN.glob("*.bpmn"))]
    assert_ok(init_cli.run("deploy", *files))
    rows = assert_ok(init_cli.run("pathways", "--json")).json()
    assert sorted(row["key"] for row in rows) == sorted(SHIPPED_KEYS)
    assert all(row["version"] == 1 for row in rows), rows


def test_deploy_creates_no_new_version_when_the_same_file_is_deployed_twice(any_cli: Cli, tmp_path: Path) -> None:
    assert_ok(any_cli.run("init"))
    file = str(DATA / "good_appel.bpmn")
    assert_ok(any_cli.run("deploy", file))
    assert_ok(any_cli.run("deploy", file))
    rows = {row["key"]: row for row in assert_ok(any_cli.run("pathways", "--json")).json()}
    assert rows["cli_appel"]["version"] == 1 and rows["cli_appel"]["versions"] == 1, rows
    # changed content does make a new version (the check above is not vacuous)
    changed = tmp_path / "good_appel.bpmn"
    changed.write_text((DATA / "good_appel.bpmn").read_text(encoding="utf-8").replace(
        "Appeler le patient (J+1)", "Appeler le patient le lendemain"), encoding="utf-8")
    assert_ok(any_cli.run("deploy", str(changed)))
    rows = {row["key"]: row for row in assert_ok(any_cli.run("pathways", "--json")).json()}
    assert rows["cli_appel"]["version"] == 2 and rows["cli_appel"]["versions"] == 2, rows


# ---------------------------------------------------------------- bad files


@pytest.mark.parametrize("command", ["validate", "deploy"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_check_exits_one_with_located_problems_when_file_is_bad(init_cli: Cli, command: str, case: str) -> None:
    name, element, fragment = BAD_FILES[case]
    given = _copy_into(init_cli, name)
    problems = _problems(init_cli.run(command, given), given)
    if element is None:
        assert all(found for found, _ in problems), problems
        matching = [reason for _, reason in problems]
    else:
        matching = [reason for found, reason in problems if found == element]
        assert matching, f"no problem located on {element}: {problems}"
    assert any(fragment.lower() in reason.lower() for reason in matching), (fragment, problems)
    if command == "deploy":
        assert assert_ok(init_cli.run("pathways", "--json")).json() == [], "a refused file was stored"


@pytest.mark.parametrize("command", ["validate", "deploy"])
def test_check_reports_only_the_bad_file_when_good_and_bad_files_are_mixed(init_cli: Cli, command: str) -> None:
    good, bad = _copy_into(init_cli, "good_appel.bpmn"), _copy_into(init_cli, "task_outside_lane.bpmn")
    problems = _problems(init_cli.run(command, good, bad), bad)
    assert [element for element, _ in problems] == ["Task_Appel"]
    if command == "deploy":  # the good file is deployed, the bad one is not
        keys = [row["key"] for row in assert_ok(init_cli.run("pathways", "--json")).json()]
        assert keys == ["cli_appel"]


@pytest.mark.parametrize("command", ["validate", "deploy"])
def test_check_refuses_and_runs_nothing_when_expressions_escape_the_sandbox(init_cli: Cli, command: str) -> None:
    marker = init_cli.workdir / "evasion.txt"
    given = "evasion.bpmn"
    (init_cli.workdir / given).write_text(ESCAPING_TIMER.replace("{marker}", str(marker)), encoding="utf-8")
    elements = {element for element, _ in _problems(init_cli.run(command, given), given)}
    assert {"Timer_J1", "Script_Calcul"} <= elements, elements
    assert not marker.exists(), "an expression of a refused file was run"
