"""The OpenAPI document: valid OpenAPI 3, complete, browsable; and fuzzed with schemathesis (no 5xx)."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from engine.db import db
from engine.services.api_tokens import ensure_service_account
from engine.types import Actor
from tests.factories import deploy_test_bpmn
from tests.webapp.api.conftest import ApiClient, token_for

# Examples per operation: with the ward's real ids (the code behind the 404s), then with generated ids.
EXAMPLES = {GenerationMode.POSITIVE: (15, 5), GenerationMode.NEGATIVE: (10, 0)}


def _document(app) -> dict:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_valid_openapi_3_with_every_route(app):
    document = _document(app)
    schemathesis.openapi.from_dict(document).validate()  # the OpenAPI 3.0 meta-schema (raises when invalid)
    assert document["openapi"].startswith("3.")
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.") and rule.endpoint not in ("api.openapi_document", "api.docs")}
    assert routes == set(document["paths"])
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "An API token (parcours token create)."}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["summary"], (method, path)
            assert "401" in operation["responses"], (method, path)
            if "{" in path:
                assert "404" in operation["responses"], (method, path)
            if "requestBody" in operation:
                assert {"415", "422"} <= set(operation["responses"]), (method, path)
    problem = document["components"]["responses"]["NotFound"]["content"]
    assert list(problem) == ["application/problem+json"]


def test_the_docs_page_lists_the_operations_without_any_script(app):
    response = app.test_client().get("/api/v1/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "/api/v1/work-items/{work_item_id}/complete" in page and "If-Match" in page
    assert "<script" not in page  # the CSP allows only the app's own script files


@pytest.fixture
def fuzz_tokens(app, clock, ward):
    deploy_test_bpmn("message_result", clock)
    ensure_service_account("sms-gateway", clock=clock, actor=Actor.cli())
    db.session.commit()
    return {"nurse": token_for("infirmier", clock), "provider": token_for("sms-gateway", clock)}


def _fuzz(operation, mode: GenerationMode, token: str, path_parameters: dict[str, int], examples: int,
          statuses: list[int]) -> None:
    wanted = {p.name for p in operation.path_parameters}
    fixed = {k: v for k, v in path_parameters.items() if k in wanted}
    if examples == 0 or (not path_parameters and not wanted):
        return

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
    def run(case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        statuses.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    run()


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda m: m.value)
def test_fuzzing_every_operation_never_gets_a_server_error(app, clock, ward, fuzz_tokens, mode):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    real_ids = {"patient_id": ward.patient.id, "instance_id": ward.instance_id, "work_item_id": ward.work_item_id}
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: list[int] = []
    assert len(operations) == sum(len(ops) for ops in _document(app)["paths"].values())
    for operation in operations:
        token = fuzz_tokens["provider" if operation.path.endswith("/callback") else "nurse"]
        with_real_ids, with_generated_ids = EXAMPLES[mode]
        _fuzz(operation, mode, token, real_ids, with_real_ids, statuses)
        _fuzz(operation, mode, token, {}, with_generated_ids, statuses)
    assert 200 in statuses and 404 in statuses  # the examples reached the resources, not only the guards
    # The API still works after the storm.
    assert ApiClient(app, fuzz_tokens["nurse"]).get("/api/v1/patients").status_code == 200
