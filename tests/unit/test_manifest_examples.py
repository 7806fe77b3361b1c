"""The example manifests under examples/releases and the committed JSON Schema stay true to the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controlplane.domain.manifest import (
    Canary,
    Release,
    RollingHealthGated,
    load_release,
    release_json_schema,
)
from controlplane.errors import InvalidManifest

ROOT = Path(__file__).resolve().parents[2]
RELEASES = ROOT / "examples" / "releases"
INVALID = RELEASES / "invalid"
SCHEMA = ROOT / "schemas" / "release.schema.json"
EXPECT = "# expect-error:"

VALID_EXAMPLES = sorted(RELEASES.glob("*.yaml"))
INVALID_EXAMPLES = sorted(p for p in INVALID.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


def expected_paths(example: Path) -> list[str]:
    """``# expect-error: <path>`` lines of a YAML file, or the lines of a JSON file's ``.expect`` sibling."""
    if example.suffix == ".json":
        lines = example.with_name(example.name + ".expect").read_text().splitlines()
        return [line.strip() for line in lines if line.strip()]
    lines = example.read_text().splitlines()
    return [line.removeprefix(EXPECT).strip() for line in lines if line.startswith(EXPECT)]


def load(example: Path) -> Release:
    return load_release(example.read_bytes(), source=str(example.relative_to(ROOT)))


def test_there_are_valid_and_invalid_examples() -> None:
    names = ["v1-rolling.yaml", "v2-canary.yaml", "v3-unhealthy.yaml", "v4-degrades.yaml", "v5-failing-canary.yaml"]
    assert [p.name for p in VALID_EXAMPLES] == names
    assert 8 <= len(INVALID_EXAMPLES) <= 16


@pytest.mark.parametrize("example", VALID_EXAMPLES, ids=lambda p: p.name)
def test_every_valid_example_parses(example: Path) -> None:
    release = load(example)
    assert release.spec.environment.name == "dev"
    assert release.spec.environment.compute == "local"


@pytest.mark.parametrize("example", INVALID_EXAMPLES, ids=lambda p: p.name)
def test_every_invalid_example_fails_at_the_paths_it_declares(example: Path) -> None:
    expected = expected_paths(example)
    assert expected, f"{example.name} declares no '{EXPECT} <path>' line (or .expect file)"
    with pytest.raises(InvalidManifest) as caught:
        load(example)
    reported = [error.path for error in caught.value.errors]
    missing = [path for path in expected if path not in reported]
    assert not missing, f"{example.name}: expected errors at {missing}; got:\n{caught.value}"


def test_v1_rolls_out_orders_and_an_event_driven_payments_service() -> None:
    release = load(RELEASES / "v1-rolling.yaml")
    assert isinstance(release.spec.strategy, RollingHealthGated)
    orders, payments = release.service("orders"), release.service("payments")
    assert (orders.image, orders.replicas) == ("example.azurecr.io/orders:1.0.0", 2)
    assert orders.scaling is not None and orders.scaling.target == "http"
    assert {rule.metric for rule in orders.scaling.rules} == {"cpu", "rps"}
    assert (payments.image, payments.replicas) == ("example.azurecr.io/payments:1.0.0", 1)
    assert [secret.name for secret in payments.secrets] == ["DB_PASSWORD"]
    assert payments.scaling is not None and payments.scaling.scale_to_zero
    assert (payments.scaling.target, [r.metric for r in payments.scaling.rules]) == (
        "event-driven",
        ["queue"],
    )


def test_v2_is_a_canary_of_orders_2() -> None:
    release = load(RELEASES / "v2-canary.yaml")
    assert isinstance(release.spec.strategy, Canary)
    steps = [(s.weight, s.pause.duration_seconds if s.pause else None) for s in release.spec.strategy.steps]
    assert steps == [(20, 10), (50, 10), (100, None)]
    assert release.service("orders").image == "example.azurecr.io/orders:2.0.0"


def test_v3_tells_the_sample_workload_to_turn_unhealthy() -> None:
    orders = load(RELEASES / "v3-unhealthy.yaml").service("orders")
    assert orders.image == "example.azurecr.io/orders:3.0.0"
    assert orders.configuration["SAMPLE_HEALTH_MODE"] == "unhealthy-after"
    assert orders.configuration["SAMPLE_UNHEALTHY_AFTER_SECONDS"] == "3"


def test_committed_json_schema_matches_the_code() -> None:
    generated = json.dumps(release_json_schema(), indent=2, sort_keys=True) + "\n"
    assert SCHEMA.read_text() == generated, (
        "schemas/release.schema.json is out of date; regenerate it with "
        "`python -m controlplane schema > schemas/release.schema.json`"
    )
