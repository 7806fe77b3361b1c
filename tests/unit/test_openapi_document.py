"""The OpenAPI document: valid OpenAPI 3.1, committed as generated, and covering exactly the HTTP triggers of
function_app.py (every route and method, each operation named for its function)."""

from __future__ import annotations

import json
import re

import schemathesis
from jsonschema import Draft202012Validator

from controlplane.config import APP_ROOT
from controlplane.domain import gate_events
from controlplane.domain.explain import explain
from controlplane.domain.health import HealthStatus
from controlplane.domain.hooks import HookCall, HookOutcome
from controlplane.domain.idempotency import key_error
from funchost.functions import FunctionIndex
from tests import product_app
from tests.gate_story import ALICE, STEP_1, Story
from triggers.openapi import api_document
from triggers.openapi.paths import ERRORS

COMMITTED = APP_ROOT / "schemas" / "openapi.json"


def served_routes(index: FunctionIndex) -> dict[tuple[str, str], str]:
    """(method, path) -> function name of every httpTrigger; paths as clients see them (routePrefix api)."""
    return {
        (method.lower(), f"/api/{entry.trigger['route']}"): entry.name
        for entry in index.of_type("httpTrigger")
        for method in entry.trigger["methods"]
    }


def documented_routes(document: dict) -> dict[tuple[str, str], str]:
    return {
        (method, path): described["operationId"]
        for path, operations in document["paths"].items()
        for method, described in operations.items()
    }


def test_the_committed_document_is_the_generated_one() -> None:
    generated = json.dumps(api_document(), indent=2, sort_keys=True) + "\n"
    assert COMMITTED.read_text() == generated, (
        "schemas/openapi.json is out of date; regenerate it with "
        "`python -m controlplane openapi > schemas/openapi.json`"
    )


def test_the_document_is_valid_openapi_3_1() -> None:
    schema = schemathesis.openapi.from_dict(api_document())
    schema.validate()  # against the OpenAPI 3.1 meta-schema; raises naming the bad member
    assert api_document()["openapi"] == "3.1.0"
    assert all(result.ok() for result in schema.get_all_operations())  # every $ref resolves


def test_every_http_trigger_is_documented_under_its_function_name_and_nothing_else_is() -> None:
    served = served_routes(product_app.index())
    documented = documented_routes(api_document())
    assert served.keys() == documented.keys()
    assert {route: documented[route] for route in served} == served


def test_every_operation_needs_a_caller_and_documents_401_403_503_and_its_errors_as_problem_details() -> None:
    document = api_document()
    schemes = document["components"]["securitySchemes"]
    assert schemes["entraBearer"]["scheme"] == "bearer"
    assert (schemes["easyAuthSession"]["in"], schemes["easyAuthSession"]["name"]) == ("cookie", "AppServiceAuthSession")
    assert "x-functions-key" not in json.dumps(document)
    assert document["security"] == [{name: []} for name in schemes]
    responses = document["components"]["responses"]
    for name in [name for name, _ in ERRORS.values()] + ["Unauthorized", "Forbidden"]:
        assert set(responses[name]["content"]) == {"application/problem+json"}
    assert responses["ServiceUnavailable"]["headers"]["Retry-After"]["required"] is True
    for operations in document["paths"].values():
        for described in operations.values():
            statuses = set(described["responses"])
            assert {"401", "403", "503"} <= statuses, described["operationId"]
            assert any(status.startswith("2") for status in statuses), described["operationId"]


def test_a_manifest_is_json_or_yaml_under_a_yaml_type_with_the_release_schema() -> None:
    document = api_document()
    body = document["paths"]["/api/deployments"]["post"]["requestBody"]
    assert set(body["content"]) == {"application/json", "application/yaml", "application/x-yaml", "text/yaml"}
    assert {media["schema"]["$ref"] for media in body["content"].values()} == {"#/components/schemas/Release"}
    assert "SecretBinding" in document["components"]["schemas"]
    assert "$defs" not in json.dumps(document)


def test_the_idempotency_key_pattern_is_the_rule_the_trigger_applies() -> None:
    header = api_document()["paths"]["/api/deployments"]["post"]["parameters"][0]
    assert header["name"] == "Idempotency-Key"
    schema = header["schema"]
    for key in ["a", "run-7", "a b", " a", "a ", "é", "tab\there", "x" * 255, "x" * 256]:
        documented = re.fullmatch(schema["pattern"], key) is not None and len(key) <= schema["maxLength"]
        assert documented == (key_error(key) is None), key


def test_a_deployment_detail_with_its_explanation_matches_the_documented_schema() -> None:

    gate = gate_events.gate_of("api", "api-2", 1, STEP_1)
    story = Story().measured(gate, "request-success-rate", 0.99, None)
    hook = HookCall("smoke", "pre-rollout", "https://hooks.example/smoke", "d-1", 10, 2, None)
    story.tell(gate_events.webhook_called(hook, HookOutcome(None, 3, "timed out"), "rolls back"))
    story.tell(gate_events.analysis_hold_resolved(gate, "aborted", "rollback", ALICE))
    story.tell(gate_events.wave_started(1, 1, ["api"], []), gate_events.promotion_held("api", "cw", "not yet"))
    older = Story().probes("api", "api-2", HealthStatus.HEALTHY, HealthStatus.UNHEALTHY)  # no gate events
    validator = Draft202012Validator({**api_document(), "$ref": "#/components/schemas/DeploymentDetail"})
    for told in (story, older):
        detail = {**told.deployment.to_dict(), "explanation": explain("dep-7", told.envelopes).to_dict()}
        assert [error.message for error in validator.iter_errors(detail)] == []
