"""The command line: `python -m controlplane validate` and `schema` (a pipeline calls them), `compute` edits and
`explain`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controlplane.cli.explain import print_explanation
from controlplane.cli.main import main
from controlplane.domain import gate_events
from controlplane.domain.manifest import MAX_DOCUMENT_BYTES, MAX_NESTING, release_json_schema
from controlplane.testing.memory_documents import memory_stores
from tests.gate_story import STEP_1, Story

RELEASES = Path(__file__).resolve().parents[2] / "examples" / "releases"


def test_valid_releases_exit_zero_with_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(RELEASES / "v1-rolling.yaml"), str(RELEASES / "v2-canary.yaml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "v1-rolling.yaml: ok: release" in lines[0]
    assert "RollingHealthGated, services: orders, payments" in lines[0]


def test_an_invalid_release_exits_one_naming_each_bad_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(RELEASES / "v1-rolling.yaml"), str(RELEASES / "invalid" / "missing-tag.yaml")]) == 1
    captured = capsys.readouterr()
    assert "v1-rolling.yaml: ok" in captured.out
    assert "missing-tag.yaml: invalid (1 error(s))" in captured.err
    assert "spec.services[0].image: tag or digest required" in captured.err


def test_an_unreadable_file_exits_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "absent.yaml")]) == 1
    assert "absent.yaml: cannot read" in capsys.readouterr().err


def test_schema_prints_the_generated_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == release_json_schema()


def test_an_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as raised:
        main(["deploy-everything"])
    assert raised.value.code == 2


def test_compute_set_image_queues_one_request_in_the_local_compute_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = "example.azurecr.io/orders:2.0.0"
    assert main(["compute", "set-image", "dev", "orders", "orders-v1", image, "--local-dir", str(tmp_path)]) == 0
    [request] = (tmp_path / "compute" / "out-of-band").iterdir()
    assert json.loads(request.read_text()) == {
        "action": "set-image",
        "environment": "dev",
        "service": "orders",
        "revision": "orders-v1",
        "image": image,
    }
    out = capsys.readouterr().out
    assert f"queued set-image dev/orders revision orders-v1 -> {image}" in out and str(request) in out


def test_compute_run_and_remove_unmanaged_default_to_the_configured_local_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTROLPLANE_LOCAL_DIR", str(tmp_path))
    assert main(["compute", "run-unmanaged", "dev", "orders", "miner", "example.azurecr.io/orders:6.6.6"]) == 0
    assert main(["compute", "remove-unmanaged", "dev", "orders", "miner"]) == 0
    first, second = sorted((tmp_path / "compute" / "out-of-band").iterdir())
    assert json.loads(first.read_text())["replicas"] == 1
    assert json.loads(second.read_text()) == {
        "action": "remove-unmanaged",
        "environment": "dev",
        "service": "orders",
        "name": "miner",
    }


def test_compute_with_a_bad_argument_exits_two_naming_the_field_and_queues_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["compute", "run-unmanaged", "dev", "Orders!", "miner", "orders", "--replicas", "-1"]
    assert main([*arguments, "--local-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "service: must be a DNS-1123 label" in err
    assert 'image: tag or digest required (got "orders")' in err
    assert "replicas: must be an integer from 0 to 1000 (got -1)" in err
    assert not (tmp_path / "compute").exists()


def test_compute_exits_two_naming_a_local_settings_file_the_host_would_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "local.settings.json").write_text("{oops")
    monkeypatch.setattr("controlplane.cli.main.APP_ROOT", tmp_path)
    assert main(["compute", "remove-unmanaged", "dev", "orders", "miner"]) == 2
    assert "local.settings.json: not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / ".local").exists()


def test_validate_applies_the_api_limits_to_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_DOCUMENT_BYTES + 1))
    deep = tmp_path / "deep.yml"
    deep.write_text("a: " + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1) + "\n")
    as_json = tmp_path / "release.json"
    as_json.write_text((RELEASES / "v1-rolling.yaml").read_text())  # YAML text in a .json file
    leaky = tmp_path / "leaky.yaml"
    leaky.write_text((RELEASES / "v1-rolling.yaml").read_text().replace("LOG_LEVEL: info", "DB_PASSWORD: hunter2"))
    assert main(["validate", str(big), str(deep), str(as_json), str(leaky)]) == 1
    err = capsys.readouterr().err
    assert f"big.yaml: document is {MAX_DOCUMENT_BYTES + 1} bytes; the limit is {MAX_DOCUMENT_BYTES}" in err
    assert f"deep.yml: document nests deeper than {MAX_NESTING} levels" in err
    assert "release.json: JSON syntax error at line" in err
    assert "spec.services[0].configuration.DB_PASSWORD: looks like a credential" in err
    assert "hunter2" not in err


def test_the_timeline_names_who_acted_and_says_what_the_new_operator_events_mean() -> None:
    from controlplane.cli.timeline import describe

    actor = {"name": "ana", "objectId": "oid-ana", "roles": ["Approver"]}
    approved = {
        "type": "RuntimeDeploymentApproved",
        "data": {"for": "promotion to prod", "reason": "CHG-1", "actor": actor},
    }
    assert describe(approved) == "approved (promotion to prod): CHG-1  [by ana]"
    requested = {"type": "RuntimeDeploymentRequested", "data": {"release": "v1", "environment": "prod", "actor": None}}
    assert describe(requested) == "release v1 -> prod"
    unknown = {"type": "SomethingNew", "data": {"deploymentId": "d1", "x": 1, "actor": actor}}
    assert describe(unknown) == '{"x": 1}  [by ana]'


def test_explain_prints_the_gates_or_their_json_and_names_an_unknown_deployment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stores = memory_stores()
    story = Story().tell(
        gate_events.health_gate_completed(gate_events.gate_of("api", "api-2", 1, STEP_1), "passed", 2, 0, "2 Healthy")
    )
    stores.deployments.create_deployment(story.deployment)
    stores.event_log.append_events(story.envelopes)

    assert print_explanation(stores.deployments, stores.event_log, "dep-7", as_json=False) == 0
    text = capsys.readouterr().out
    assert text.startswith("deployment dep-7 of dev-1-0-0 to dev: RollingOut") and f"gate 1  {STEP_1}" in text
    assert print_explanation(stores.deployments, stores.event_log, "dep-7", as_json=True) == 0
    assert json.loads(capsys.readouterr().out)["services"][0]["gates"][0]["verdict"] == "passed"
    assert print_explanation(stores.deployments, stores.event_log, "dep-x", as_json=False) == 1
    assert capsys.readouterr().err == "explain: no deployment 'dep-x' in the local state\n"
