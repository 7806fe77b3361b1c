"""cpctl (client/controlplane_client) against a scripted HTTPS stub of the public API on 127.0.0.1."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from controlplane_client.api import Api, ApiError, Unreachable, entra_credentials, retry_delay, token_credentials
from controlplane_client.cli import ci_idempotency_key, main

from tests.stubs.https_stub import Recorded, Reply, StubServer

TOKEN = "cli-unit-token"
TRACE = "0af7651916cd43dd8448eb211c80319c"
DEPLOYMENT = "dep-1"
YAML = b"apiVersion: controlplane.azure/v1\nkind: Release\nmetadata:\n  name: orders-v1\n"


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    with StubServer() as server:
        monkeypatch.setenv("SSL_CERT_FILE", server.ca_file)  # urllib's default context trusts the stub's certificate
        yield server


def run(stub: StubServer, *argv: str, **env: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), {"CONTROLPLANE_URL": stub.url, "CONTROLPLANE_TOKEN": TOKEN, **env}, out)
    return code, out.getvalue()


def event(number: int, kind: str, **data: Any) -> dict[str, Any]:
    return {"id": f"e{number}", "type": kind, "time": f"2026-12-06T10:00:0{number}Z", "data": data}


def script_deployment(stub: StubServer, states: list[str], final_reason: str = "") -> None:
    """Each status read advances the deployment one state; the events grow with it, the closing one last."""
    reads = {"count": 0}
    closing = {"Completed": "RuntimeDeploymentCompleted", "RolledBack": "RuntimeDeploymentRolledBack"}

    def status(_request: Recorded, _match: object) -> Reply:
        state = states[min(reads["count"], len(states) - 1)]
        reads["count"] += 1
        transitions = [{"from": None, "to": "Requested", "at": "t0", "reason": "requested"}]
        transitions.append({"from": "Requested", "to": state, "at": "t1", "reason": final_reason})
        return Reply(200, {"id": DEPLOYMENT, "state": state, "traceId": TRACE, "transitions": transitions})

    def events(request: Recorded, _match: object) -> Reply:
        assert request.query == {"traceId": TRACE}
        shown = [event(0, "RuntimeDeploymentRequested")]
        for number, state in enumerate(states[: reads["count"]], start=1):
            shown.append(event(number, "RuntimeDeploymentStateChanged", **{"from": "x", "to": state}))
        if shown[-1]["data"].get("to") in closing:
            ending = closing[shown[-1]["data"]["to"]]
            shown.append(event(9, ending, reason=final_reason, restoredDeploymentId="dep-0", services={"orders": "r1"}))
        return Reply(200, {"traceId": TRACE, "events": shown})

    accepted = {"deploymentId": DEPLOYMENT, "traceId": TRACE, "state": "Requested", "statusQueryGetUri": "x"}
    stub.route("POST", "/api/deployments", Reply(202, accepted))
    stub.route("GET", f"/api/deployments/{DEPLOYMENT}", status)
    stub.route("GET", "/api/events", events)


def test_deploy_wait_posts_yaml_with_the_token_and_a_ci_key_prints_each_event_once_and_exits_0_on_completed(
    stub: StubServer, tmp_path: Path
) -> None:
    release = tmp_path / "release.yaml"
    release.write_bytes(YAML)
    script_deployment(stub, ["Provisioning", "RollingOut", "Completed"])
    github = {"GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "2"}
    code, out = run(stub, "deploy", str(release), "--wait", "--interval", "0", **github)
    assert code == 0, out
    (post,) = stub.calls("POST", "/api/deployments")
    assert post.headers["content-type"] == "application/yaml" and post.body == YAML
    assert post.headers["authorization"] == f"Bearer {TOKEN}" and "x-functions-key" not in post.headers
    assert post.headers["idempotency-key"] == ci_idempotency_key(github, YAML)
    assert post.headers["idempotency-key"].startswith("gh-77-2-")
    lines = out.splitlines()
    assert lines[0] == f"deployment {DEPLOYMENT} Requested (traceId {TRACE})"
    timeline = [line.split("  ")[1] for line in lines[1:-1]]
    changes = ["RuntimeDeploymentStateChanged"] * 3
    assert timeline == ["RuntimeDeploymentRequested", *changes, "RuntimeDeploymentCompleted"]
    assert lines[-3] == "2026-12-06T10:00:03Z  RuntimeDeploymentStateChanged  x -> Completed"
    assert lines[-1] == f"deployment {DEPLOYMENT} ended Completed"


def test_a_rolled_back_deployment_exits_1_naming_the_reason(stub: StubServer, tmp_path: Path) -> None:
    script_deployment(stub, ["HealthGating", "RolledBack"], final_reason="health gate failed")
    code, out = run(stub, "watch", DEPLOYMENT, "--interval", "0")
    assert code == 1
    assert out.splitlines()[-1] == f"deployment {DEPLOYMENT} ended RolledBack: health gate failed"
    assert "RuntimeDeploymentRolledBack  restored dep-0: health gate failed" in out


def test_a_refused_manifest_exits_2_and_names_each_field(
    stub: StubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release = tmp_path / "release.json"
    release.write_text('{"kind": "Release"}')
    errors = [{"path": "spec.services[0].image", "reason": "tag or digest required"}]
    refusal = {"title": "Invalid manifest", "detail": "1 error", "errors": errors}
    stub.route("POST", "/api/deployments", Reply(422, refusal))
    code, _ = run(stub, "deploy", str(release), "--wait")
    assert code == 2
    assert stub.calls("POST", "/api/deployments")[0].headers["content-type"] == "application/json"
    assert "idempotency-key" not in stub.calls("POST", "/api/deployments")[0].headers  # no CI run: no key
    err = capsys.readouterr().err
    assert "422 Invalid manifest: 1 error" in err and "spec.services[0].image: tag or digest required" in err
    assert not stub.calls("GET", ".*")  # nothing followed


def test_a_missing_manifest_file_is_refused_before_any_request(stub: StubServer, tmp_path: Path) -> None:
    code, _ = run(stub, "deploy", str(tmp_path / "absent.yaml"))
    assert code == 2 and not stub.requests


def test_other_errors_exit_3_busy_no_credentials_and_an_unreachable_app(
    stub: StubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release = tmp_path / "release.yaml"
    release.write_bytes(YAML)
    stub.route("POST", "/api/deployments", Reply(409, {"title": "A deployment is already running", "detail": "orders"}))
    assert run(stub, "deploy", str(release))[0] == 3
    assert "409 A deployment is already running: orders" in capsys.readouterr().err
    assert main(["get", DEPLOYMENT], {"CONTROLPLANE_URL": stub.url}, io.StringIO()) == 3
    assert "no credentials" in capsys.readouterr().err
    assert main(["get", DEPLOYMENT], {"CONTROLPLANE_TOKEN": TOKEN}, io.StringIO()) == 3
    assert "no app URL" in capsys.readouterr().err
    # A POST without an Idempotency-Key is sent once: a network error ends the command.
    closed = main(["deploy", str(release)], {"CONTROLPLANE_URL": "http://127.0.0.1:9", "CONTROLPLANE_TOKEN": TOKEN})
    assert closed == 3 and "http://127.0.0.1:9/api/deployments" in capsys.readouterr().err


def test_a_get_is_sent_again_after_network_errors_with_back_off() -> None:
    slept: list[float] = []
    with pytest.raises(Unreachable):
        Api("http://127.0.0.1:9", token_credentials(TOKEN), retries=3, sleep=slept.append).get("/api/drift/findings")
    assert slept == [1, 2, 4]


def test_503_is_retried_after_its_retry_after_until_the_retries_run_out(stub: StubServer) -> None:
    answers = iter([Reply(503, {"title": "Busy"}, {"Retry-After": "7"}), Reply(200, {"findings": []})])
    stub.route("GET", "/api/drift/findings", lambda _request, _match: next(answers))
    slept: list[float] = []
    api = Api(stub.url, token_credentials(TOKEN), sleep=slept.append)
    assert api.get("/api/drift/findings") == {"findings": []}
    assert slept == [7.0]
    stub.route("GET", "/api/drift/findings", Reply(503, {"title": "Down"}))
    with pytest.raises(ApiError) as down:
        Api(stub.url, token_credentials(TOKEN), retries=2, sleep=slept.append).get("/api/drift/findings")
    assert down.value.status == 503 and len(stub.calls("GET", "/api/drift/findings")) == 2 + 3


def test_retry_delay_reads_seconds_and_http_dates_and_caps_them() -> None:
    now = datetime(2026, 12, 6, 10, 0, 0, tzinfo=UTC)
    assert retry_delay("3", 0, now) == 3
    assert retry_delay("Sun, 06 Dec 2026 10:00:10 GMT", 0, now) == 10
    assert retry_delay("Sun, 06 Dec 2026 09:00:00 GMT", 0, now) == 0
    assert retry_delay("600", 0, now) == 60
    assert [retry_delay(None, attempt, now) for attempt in range(3)] == [1, 2, 4]
    assert retry_delay("soon", 1, now) == 2


def test_approve_and_abort_send_only_the_reason_the_actor_is_the_tokens_caller(stub: StubServer) -> None:
    actor = {"name": "ana@contoso.com", "objectId": "0a1b", "roles": ["Approver"]}
    for signal in ("approve", "abort"):
        answer = {"deploymentId": DEPLOYMENT, "signal": signal, "actor": actor, "reason": "checked"}
        stub.route("POST", f"/api/deployments/{DEPLOYMENT}/{signal}", Reply(202, answer))
        code, out = run(stub, signal, DEPLOYMENT, "--reason", "checked")
        assert code == 0 and out == f"{signal} sent to deployment {DEPLOYMENT} by ana@contoso.com\n"
        (sent,) = stub.calls("POST", f"/api/deployments/{DEPLOYMENT}/{signal}")
        assert sent.body == {"reason": "checked"} and sent.headers["authorization"] == f"Bearer {TOKEN}"
    stub.route("POST", f"/api/deployments/{DEPLOYMENT}/approve", Reply(409, {"title": "Deployment finished"}))
    assert run(stub, "approve", DEPLOYMENT, "--reason", "late")[0] == 3
    assert stub.calls("POST", f"/api/deployments/{DEPLOYMENT}/approve")[-1].body == {"reason": "late"}


def test_401_and_403_exit_4_with_the_problems_detail_naming_the_roles_needed(
    stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    detail = "approve needs the app role Approver; ci has Deployer"
    forbidden = {"title": "Forbidden", "detail": detail, "requiredRoles": ["Approver"], "roles": ["Deployer"]}
    stub.route("POST", f"/api/deployments/{DEPLOYMENT}/approve", Reply(403, forbidden))
    assert run(stub, "approve", DEPLOYMENT, "--reason", "ship it")[0] == 4
    assert f"cpctl: 403 Forbidden: {detail}" in capsys.readouterr().err
    stub.route("GET", "/api/drift/findings", Reply(401, None))  # App Service's answer to a refused token: no body
    assert run(stub, "findings")[0] == 4
    err = capsys.readouterr().err
    assert err.startswith("cpctl: 401 Unauthorized\n") and "not issued for the app's audience" in err
    signed_out = {"title": "Sign-in required", "detail": "sign in at /.auth/login/aad, or send a bearer token"}
    stub.route("GET", "/api/drift/findings", Reply(401, signed_out))  # the app's own 401 says what to do itself
    assert run(stub, "findings")[0] == 4
    assert capsys.readouterr().err == f"cpctl: 401 Sign-in required: {signed_out['detail']}\n"


def test_a_token_is_sent_stripped_and_one_with_whitespace_inside_is_refused_before_any_request(
    stub: StubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.route("GET", "/api/drift/findings", Reply(200, {"findings": []}))
    assert run(stub, "findings", CONTROLPLANE_TOKEN=f"  {TOKEN}\n")[0] == 0
    assert stub.calls("GET", "/api/drift/findings")[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert run(stub, "--token", "two words", "findings")[0] == 2
    assert "--token (CONTROLPLANE_TOKEN): a bearer token is one word" in capsys.readouterr().err
    assert len(stub.requests) == 1
    # A function key is what cpctl took before tokens: it is not sent, and the message says why.
    env = {"CONTROLPLANE_URL": stub.url, "CONTROLPLANE_KEY": "a-host-key"}
    assert main(["findings"], env, io.StringIO()) == 3
    assert "CONTROLPLANE_KEY is not used: a function key names no one" in capsys.readouterr().err
    assert len(stub.requests) == 1


def test_rollback_posts_its_reason_with_a_key_and_follows_the_new_deployment(stub: StubServer) -> None:
    script_deployment(stub, ["Completed"])
    accepted = {"deploymentId": DEPLOYMENT, "traceId": TRACE, "state": "Requested", "rollbackOf": "dep-0"}
    stub.route("POST", "/api/deployments/dep-0/rollback", Reply(202, accepted))
    arguments = ("--reason", "bad release", "--wait", "--interval", "0", "--idempotency-key", "rb-1")
    code, out = run(stub, "rollback", "dep-0", *arguments)
    assert code == 0 and out.splitlines()[-1] == f"deployment {DEPLOYMENT} ended Completed"
    (posted,) = stub.calls("POST", "/api/deployments/dep-0/rollback")
    assert posted.headers["idempotency-key"] == "rb-1" and posted.body == {"reason": "bad release"}


def test_get_prints_state_transitions_and_services(stub: StubServer) -> None:
    body = {
        "id": DEPLOYMENT,
        "state": "Completed",
        "environment": "dev",
        "traceId": TRACE,
        "release": {"metadata": {"name": "orders-v1"}},
        "transitions": [{"from": None, "to": "Requested", "at": "t0", "reason": "requested"}],
        "services": {"orders": {"phase": "Promoted", "revision": "orders-r1", "trafficPercent": 100}},
    }
    stub.route("GET", f"/api/deployments/{DEPLOYMENT}", Reply(200, body))
    code, out = run(stub, "get", DEPLOYMENT)
    assert code == 0
    assert "state        Completed" in out and "release      orders-v1" in out
    assert "  t0  - -> Requested  (requested)" in out and "  orders  Promoted  orders-r1  100%" in out
    stub.route("GET", f"/api/deployments/{DEPLOYMENT}", Reply(404, {"title": "Deployment not found"}))
    assert run(stub, "get", DEPLOYMENT)[0] == 3


def test_explain_prints_each_gates_verdict_and_why_from_the_apis_explanation(stub: StubServer) -> None:
    measured = {"number": 1, "value": 0.8, "verdict": "failed", "query": "router: ...", "error": None, "samples": 40}
    metric = {"metric": "request-success-rate", "provider": "router", "threshold": ">= 0.95", "verdict": "failed"}
    gate = {
        "number": 1,
        "step": "canary step 1: 20% traffic on 1 replicas",
        "verdict": "failed",
        "why": "analysis failed: request-success-rate 0.8 < min 0.95",
        "hooks": [{"hook": "load", "type": "rollout", "status": 200, "times": 1, "effect": "passed"}],
        "analysis": {"verdict": "failed", "metrics": [{**metric, "measurements": [measured]}]},
    }
    explanation = {
        "deploymentId": DEPLOYMENT,
        "release": "shop",
        "environment": "dev",
        "state": "RolledBack",
        "reason": "analysis failed for api at gate 1",
        "services": [{"name": "api", "revision": "api-2", "gates": [gate]}],
        "approvals": [{"for": "promotion to prod", "service": None, "by": None, "reason": None}],
        "complete": False,
        "events": 1000,
    }
    stub.route("GET", f"/api/deployments/{DEPLOYMENT}", Reply(200, {"id": DEPLOYMENT, "explanation": explanation}))
    code, out = run(stub, "explain", DEPLOYMENT)
    assert code == 0
    assert out.splitlines() == [
        f"deployment {DEPLOYMENT} of shop to dev: RolledBack — analysis failed for api at gate 1",
        "approval of promotion to prod: waiting",
        "api (api-2)",
        "  gate 1  canary step 1: 20% traffic on 1 replicas  FAILED",
        "    analysis failed: request-success-rate 0.8 < min 0.95",
        "    webhook load (rollout) HTTP 200: passed",
        "    request-success-rate (router) >= 0.95: failed: #1 0.8 failed",
        "(explained from the first 1000 events only)",
    ]
    assert run(stub, "explain", DEPLOYMENT, "--json")[1].startswith('{\n  "deploymentId"')
    stub.route("GET", f"/api/deployments/{DEPLOYMENT}", Reply(200, {"id": DEPLOYMENT}))
    assert run(stub, "explain", DEPLOYMENT)[0] == 3


def test_findings_list_and_decisions_carry_the_reason(stub: StubServer) -> None:
    finding = {
        "id": "f1", "status": "Open", "environment": "dev", "service": "orders", "kind": "image",
        "remedy": "AutoRemediable", "diff": {"/image": {}},
    }  # fmt: skip
    stub.route("GET", "/api/drift/findings", Reply(200, {"findings": [finding]}))
    code, out = run(stub, "findings", "--status", "Open")
    assert code == 0 and out.splitlines() == ["f1  Open  dev  orders  image  AutoRemediable  /image", "1 finding(s)"]
    assert stub.calls("GET", "/api/drift/findings")[0].query == {"top": "200", "status": "Open"}
    approved = {**finding, "status": "Approved", "remediation": "a drift run started"}
    stub.route("POST", "/api/drift/findings/f1/approve", Reply(202, approved))
    stub.route("POST", "/api/drift/findings/f1/dismiss", Reply(200, {**finding, "status": "Dismissed"}))
    code, out = run(stub, "approve-finding", "f1", "--reason", "fix it now")
    assert code == 0 and out == "finding f1 Approved; a drift run started\n"
    assert run(stub, "dismiss-finding", "f1", "--reason", "known")[1] == "finding f1 Dismissed\n"
    assert stub.calls("POST", "/api/drift/findings/f1/approve")[0].body == {"reason": "fix it now"}
    assert stub.calls("POST", "/api/drift/findings/f1/dismiss")[0].body == {"reason": "known"}


def test_the_ci_key_is_per_run_attempt_and_manifest_and_absent_outside_ci() -> None:
    github = {"GITHUB_RUN_ID": "5", "GITHUB_RUN_ATTEMPT": "1"}
    assert ci_idempotency_key(github, b"a") != ci_idempotency_key(github, b"b")
    assert ci_idempotency_key(github, b"a") != ci_idempotency_key({**github, "GITHUB_RUN_ATTEMPT": "2"}, b"a")
    assert (ci_idempotency_key({"BUILD_BUILDID": "9", "SYSTEM_JOBATTEMPT": "3"}, b"a") or "").startswith("ado-9-3-")
    assert ci_idempotency_key({}, b"a") is None


class FakeDefaultAzureCredential:
    """azure-identity's DefaultAzureCredential as cpctl uses it: ``get_token(scope)``; records the scopes asked."""

    scopes: list[str] = []
    lifetime = 3600.0

    def get_token(self, scope: str) -> SimpleNamespace:
        self.scopes.append(scope)
        return SimpleNamespace(token=f"token-{len(self.scopes)}", expires_on=time.time() + self.lifetime)


@pytest.fixture
def fake_identity(monkeypatch: pytest.MonkeyPatch) -> type[FakeDefaultAzureCredential]:
    monkeypatch.setattr(FakeDefaultAzureCredential, "scopes", [])
    module = ModuleType("azure.identity")
    module.DefaultAzureCredential = FakeDefaultAzureCredential  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.identity", module)
    return FakeDefaultAzureCredential


def test_without_a_token_an_entra_token_for_the_audience_is_sent_and_reused_until_near_expiry(
    stub: StubServer, fake_identity: type[FakeDefaultAzureCredential], monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.route("GET", "/api/drift/findings", Reply(200, {"findings": []}))
    env = {"CONTROLPLANE_URL": stub.url, "CONTROLPLANE_AUDIENCE": "api://control-plane/"}
    credentials = entra_credentials("api://control-plane/")
    api = Api(stub.url, credentials)
    api.get("/api/drift/findings")
    api.get("/api/drift/findings")
    assert fake_identity.scopes == ["api://control-plane/.default"]  # one token for both requests
    monkeypatch.setattr(FakeDefaultAzureCredential, "lifetime", 120.0)  # inside the five-minute margin
    fresh = Api(stub.url, entra_credentials("api://control-plane"))
    fresh.get("/api/drift/findings")
    fresh.get("/api/drift/findings")
    assert len(fake_identity.scopes) == 3
    assert main(["findings"], env, io.StringIO()) == 0
    sent = [request.headers.get("authorization") for request in stub.calls("GET", "/api/drift/findings")]
    assert sent == ["Bearer token-1", "Bearer token-1", "Bearer token-2", "Bearer token-3", "Bearer token-4"]
    assert all("x-functions-key" not in request.headers for request in stub.requests)


def test_the_entra_path_without_the_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # as if azure-identity were not installed
    env = {"CONTROLPLANE_URL": "http://127.0.0.1:9", "CONTROLPLANE_AUDIENCE": "api://control-plane"}
    assert main(["findings"], env, io.StringIO()) == 3
    assert "pip install 'controlplane-client[entra]'" in capsys.readouterr().err


def test_bad_usage_exits_2_before_any_request(stub: StubServer, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["watch", DEPLOYMENT, "--interval", "-1"], ["approve", DEPLOYMENT], ["deploy"], ["rollback", "d"]):
        with pytest.raises(SystemExit) as usage:
            run(stub, *argv)
        assert usage.value.code == 2
    assert "--interval" in capsys.readouterr().err and not stub.requests
