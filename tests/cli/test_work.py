"""After `parcours demo`: pathways, enrol, inbox, claim, complete, message and tick, as a user would run them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.cli.helpers import (
    DATA,
    ROLE_LOGINS,
    SHIPPED_KEYS,
    Cli,
    assert_ok,
    assert_readable_failure,
    form_defaults,
    form_schema,
    invalid_value_for,
    last_work_item_id,
    roles_of_work_items_after,
    roles_with_work_items,
)

INBOX_FIELDS = {"id", "title", "element_id", "role", "status", "due_at", "patient_id", "instance_id"}


def _all_items(inboxes: dict[str, list[dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for rows in inboxes.values() for row in rows}


def _first_item(inboxes: dict[str, list[dict[str, Any]]]) -> tuple[str, dict[str, Any]]:
    found = [(login, row) for login, rows in inboxes.items() for row in rows]
    assert found, f"the demo opened no work item in any role's inbox: {inboxes}"
    return found[0]


def _snapshot(cli: Cli) -> dict[str, list[dict[str, Any]]]:
    """The inboxes of every role that holds a work item."""
    return cli.inboxes(roles_with_work_items(cli))


def _pathway_counts(cli: Cli) -> dict[str, tuple[int, int]]:
    return {row["key"]: (row["versions"], row["active_instances"])
            for row in assert_ok(cli.run("pathways", "--json")).json()}


def _fired(stdout: str) -> int:
    match = re.search(r"(\d+)\s+timer", stdout)
    assert match, f"tick does not say how many timers fired: {stdout!r}"
    return int(match.group(1))


# ---------------------------------------------------------------- pathways and inbox


def test_pathways_json_lists_the_three_shipped_pathways_when_demo_has_run(any_demo_cli: Cli) -> None:
    rows = assert_ok(any_demo_cli.run("pathways", "--json")).json()
    assert isinstance(rows, list)
    assert sorted(row["key"] for row in rows) == sorted(SHIPPED_KEYS)
    for row in rows:
        assert row["version"] >= 1 and row["title"], row
    assert sum(row["active_instances"] for row in rows) > 0, "demo enrolled no patient"


def test_pathways_prints_a_table_when_json_is_not_asked(demo_cli: Cli) -> None:
    result = assert_ok(demo_cli.run("pathways"))
    for key in SHIPPED_KEYS:
        assert key in result.stdout, str(result)


def test_inbox_json_lists_only_the_role_s_items_when_demo_has_run(
        demo_inboxes: dict[str, list[dict[str, Any]]]) -> None:
    inboxes = demo_inboxes
    assert any(inboxes.values()), f"no work item in any role's inbox after demo: {inboxes}"
    for login, rows in inboxes.items():
        for row in rows:
            assert INBOX_FIELDS <= set(row), row
            assert row["role"] == login, f"{login}'s inbox shows an item for role {row['role']}: {row}"
            assert row["status"] not in ("completed", "cancelled"), row


def test_inbox_fails_readably_when_the_login_is_unknown(demo_cli: Cli) -> None:
    assert_readable_failure(demo_cli.run("inbox", "--user", "personne_inconnue", "--json"), "personne_inconnue")


# ---------------------------------------------------------------- enrol


@pytest.mark.parametrize(("case", "context"), [
    ("not_json", '{"date_chirurgie": 2026-12-01'),
    ("not_an_object", '["2026-12-01"]'),
])
def test_enrol_fails_readably_when_context_is_bad_json(demo_cli: Cli, demo_inboxes: dict[str, list[dict[str, Any]]],
                                                      case: str, context: str) -> None:
    before = _pathway_counts(demo_cli)
    patient = str(_first_item(demo_inboxes)[1]["patient_id"])
    result = demo_cli.run("enrol", "--patient", patient, "--pathway", "rrac_epaule", "--context", context)
    assert_readable_failure(result, "--context")
    assert _pathway_counts(demo_cli) == before


def test_enrol_fails_readably_when_the_patient_is_unknown(demo_cli: Cli) -> None:
    before = _pathway_counts(demo_cli)
    result = demo_cli.run("enrol", "--patient", "PATIENT-INCONNU-999", "--pathway", "rrac_epaule",
                          "--context", '{"date_chirurgie": "2030-01-15"}')
    assert_readable_failure(result, "PATIENT-INCONNU-999")
    assert _pathway_counts(demo_cli) == before


def test_enrol_fails_readably_when_the_pathway_is_unknown(demo_cli: Cli,
                                                         demo_inboxes: dict[str, list[dict[str, Any]]]) -> None:
    before = _pathway_counts(demo_cli)
    patient = str(_first_item(demo_inboxes)[1]["patient_id"])
    result = demo_cli.run("enrol", "--patient", patient, "--pathway", "parcours_inexistant",
                          "--context", '{"date_chirurgie": "2030-01-15"}')
    assert_readable_failure(result, "parcours_inexistant")
    assert _pathway_counts(demo_cli) == before


def test_enrolled_patient_s_item_opens_on_tick_and_completion_ends_the_pathway_when_enrolled(
        any_demo_cli: Cli) -> None:
    cli = any_demo_cli
    assert_ok(cli.run("deploy", str(DATA / "good_appel.bpmn")))  # a pathway no demo patient is on yet
    login, item = _first_item(_snapshot(cli))
    patient = str(item["patient_id"])
    enrolled = assert_ok(cli.run("enrol", "--patient", patient, "--pathway", "cli_appel",
                                 "--context", '{"date_chirurgie": "2030-01-15"}'))
    assert _pathway_counts(cli)["cli_appel"] == (1, 1), enrolled
    nurse = [row for row in cli.inboxes(["infirmier"])["infirmier"] if row["element_id"] == "Task_Appel"]
    assert nurse == [], "the J+1 call opened before its timer"

    assert_ok(cli.run("tick", "--now", "2030-01-16T12:00:00+01:00"))
    nurse = [row for row in cli.inboxes(["infirmier"])["infirmier"] if row["element_id"] == "Task_Appel"]
    assert len(nurse) == 1 and str(nurse[0]["patient_id"]) == patient, nurse
    assert_ok(cli.run("claim", str(nurse[0]["id"]), "--user", "infirmier"))
    assert_ok(cli.run("complete", str(nurse[0]["id"]), "--user", "infirmier"))
    assert _pathway_counts(cli)["cli_appel"] == (1, 0), "the pathway did not end after its last task"


@pytest.mark.parametrize(("case", "context"), [
    ("anchor_missing", None),
    ("anchor_not_a_date", '{"date_chirurgie": "demain"}'),
])
def test_enrol_fails_readably_when_the_anchor_date_is_missing_or_bad(
        demo_cli: Cli, demo_inboxes: dict[str, list[dict[str, Any]]], case: str, context: str | None) -> None:
    assert_ok(demo_cli.run("deploy", str(DATA / "good_appel.bpmn")))
    patient = str(_first_item(demo_inboxes)[1]["patient_id"])
    result = demo_cli.run("enrol", "--patient", patient, "--pathway", "cli_appel",
                          *(("--context", context) if context else ()))
    assert_readable_failure(result, "date_chirurgie")
    assert _pathway_counts(demo_cli)["cli_appel"] == (1, 0)


# ---------------------------------------------------------------- claim and complete


def _fillable_items(inboxes: dict[str, list[dict[str, Any]]]) -> list[tuple[str, dict[str, Any], str, Any]]:
    """(login, item, field, wrong value) for items whose form has a field we can fill wrongly."""
    found = []
    for login, rows in inboxes.items():
        for row in rows:
            schema = form_schema(row.get("form"))
            for field, spec in (schema.get("properties") or {}).items():
                wrong = invalid_value_for(spec) if isinstance(spec, dict) else None
                if wrong is not None and "default" in spec:
                    found.append((login, row, field, wrong))
                    break
    return found


def test_claim_and_refused_completion_keep_the_item_when_data_is_invalid(any_demo_cli: Cli) -> None:
    cli = any_demo_cli
    candidates = _fillable_items(_snapshot(cli))
    assert candidates, "no open work item with a form after demo"
    login, item, field, wrong = candidates[0]
    assert_ok(cli.run("claim", str(item["id"]), "--user", login))
    defaults = form_defaults(form_schema(item["form"]))
    refused = cli.run("complete", str(item["id"]), "--user", login, "--data", json.dumps({**defaults, field: wrong}))
    assert_readable_failure(refused, field)  # the error names the field
    mine = {row["id"]: row for row in cli.inboxes([login])[login]}
    assert item["id"] in mine, "a refused completion lost the work item"
    assert mine[item["id"]]["assigned_to_me"] is True, f"claimed, yet not assigned: {mine[item['id']]}"


def test_completion_opens_the_next_items_in_the_right_inboxes_when_data_is_valid(any_demo_cli: Cli) -> None:
    cli = any_demo_cli
    candidates = _fillable_items(_snapshot(cli))
    assert candidates, "no open work item with a form after demo"
    for login, item, _, _ in candidates[:4]:
        assert_ok(cli.run("claim", str(item["id"]), "--user", login))
        last_id = last_work_item_id(cli)
        known = set(_all_items(cli.inboxes())) if last_id is None else set()  # the database cannot tell
        defaults = form_defaults(form_schema(item["form"]))
        assert_ok(cli.run("complete", str(item["id"]), "--user", login, "--data", json.dumps(defaults)))
        roles = roles_of_work_items_after(cli, last_id)
        after = cli.inboxes(tuple(dict.fromkeys((login, *roles))))
        assert item["id"] not in {row["id"] for row in after[login]}, "the completed item is still in the inbox"
        opened = {row["id"]: row for rows in after.values() for row in rows
                  if (row["id"] > last_id if last_id is not None else row["id"] not in known)}
        for owner, rows in after.items():
            for row in rows:
                assert row["role"] == owner, f"{owner}'s inbox shows an item for role {row['role']}: {row}"
        if opened:  # the pathway moved on to new work items, each in its role's inbox
            assert all(row["instance_id"] == item["instance_id"] for row in opened.values()), opened
            return
    pytest.fail("no completion (with form defaults) opened a next work item in any inbox")


def test_complete_fails_readably_when_data_is_not_json(demo_cli: Cli,
                                                      demo_inboxes: dict[str, list[dict[str, Any]]]) -> None:
    login, item = _first_item(demo_inboxes)
    result = demo_cli.run("complete", str(item["id"]), "--user", login, "--data", "{douleur_nrs: 8}")
    assert_readable_failure(result, "--data")
    assert item["id"] in {row["id"] for row in demo_cli.inboxes([login])[login]}


def test_claim_fails_readably_when_the_user_does_not_hold_the_role(
        demo_cli: Cli, demo_inboxes: dict[str, list[dict[str, Any]]]) -> None:
    login, item = _first_item(demo_inboxes)
    other = next(code for code in ROLE_LOGINS if code != login)
    assert_readable_failure(demo_cli.run("claim", str(item["id"]), "--user", other))
    assert item["id"] in {row["id"] for row in demo_cli.inboxes([login])[login]}


@pytest.mark.parametrize("command", ["claim", "complete"])
def test_work_item_command_fails_readably_when_the_item_does_not_exist(demo_cli: Cli, command: str) -> None:
    assert_readable_failure(demo_cli.run(command, "987654", "--user", "infirmier"), "987654")


@pytest.mark.parametrize("command", ["claim", "complete"])
def test_work_item_command_fails_readably_when_the_id_is_not_a_number(demo_cli: Cli, command: str) -> None:
    result = demo_cli.run(command, "abc", "--user", "infirmier")
    assert result.returncode != 0 and "Traceback" not in result.stderr, str(result)
    assert "abc" in result.stderr, str(result)


# ---------------------------------------------------------------- message


def test_message_fails_readably_when_no_pathway_of_the_patient_waits_for_it(
        demo_cli: Cli, demo_inboxes: dict[str, list[dict[str, Any]]]) -> None:
    before_counts = _pathway_counts(demo_cli)
    login, item = _first_item(demo_inboxes)
    patient = str(item["patient_id"])
    result = demo_cli.run("message", "--patient", patient, "--name", "message_que_personne_n_attend",
                          "--data", '{"valeur": 1}')
    assert_readable_failure(result, "message_que_personne_n_attend")
    assert _pathway_counts(demo_cli) == before_counts
    assert demo_cli.inboxes([login])[login] == demo_inboxes[login]


def test_message_fails_readably_when_the_patient_is_unknown(demo_cli: Cli) -> None:
    result = demo_cli.run("message", "--patient", "PATIENT-INCONNU-999", "--name", "resultat_hba1c")
    assert_readable_failure(result, "PATIENT-INCONNU-999")


def test_message_fails_readably_when_data_is_not_json(demo_cli: Cli,
                                                     demo_inboxes: dict[str, list[dict[str, Any]]]) -> None:
    patient = str(_first_item(demo_inboxes)[1]["patient_id"])
    result = demo_cli.run("message", "--patient", patient, "--name", "resultat_hba1c", "--data", "hba1c=7.2")
    assert_readable_failure(result, "--data")


# ---------------------------------------------------------------- tick


@pytest.mark.parametrize("now", ["demain", "2026-13-45T10:00:00+01:00", "2026-12-01T10:00:00"])
def test_tick_fails_readably_when_now_is_not_an_iso_datetime_with_offset(demo_cli: Cli, now: str) -> None:
    assert_readable_failure(demo_cli.run("tick", "--now", now), "--now")


def test_tick_fires_nothing_due_when_run_at_the_current_time(demo_cli: Cli) -> None:
    result = assert_ok(demo_cli.run("tick"))
    _fired(result.stdout)


def test_tick_fires_due_timers_once_when_now_is_far_in_the_future(any_demo_cli: Cli) -> None:
    far = (datetime.now(UTC) + timedelta(days=400)).isoformat(timespec="seconds")
    first = assert_ok(any_demo_cli.run("tick", "--now", far))
    assert _fired(first.stdout) > 0, f"no timer due {far} fired after demo\n{first}"
    again = assert_ok(any_demo_cli.run("tick", "--now", far))
    assert _fired(again.stdout) == 0, f"timers fired twice\n{again}"
