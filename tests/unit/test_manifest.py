"""Behaviour of the release manifest: validation rules, error paths and reasons, loading, helpers."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from controlplane.domain.manifest import (
    API_VERSION,
    MAX_DOCUMENT_BYTES,
    MAX_NESTING,
    MAX_YAML_ALIASES,
    Canary,
    HealthEndpoint,
    Release,
    RollingHealthGated,
    ScalingPolicy,
    ScalingRule,
    ServiceSpec,
    Syntax,
    load_release,
    parse_release,
)
from controlplane.domain.manifest.config_rules import credential_error, reserved_name_error
from controlplane.errors import FieldError, InvalidManifest, NotFound

KV_URI = "https://orders-kv.vault.azure.net/secrets/db-password"


def document(*services: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A valid manifest; keyword arguments replace whole spec sections."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Release",
        "metadata": {"name": "orders-2026-11-26", "labels": {"team": "payments"}},
        "spec": {
            "environment": {"name": "dev", "tier": "nonprod", "compute": "local"},
            "strategy": {"type": "RollingHealthGated"},
            "services": list(services) or [service()],
            **spec,
        },
    }


def service(name: str = "orders", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": f"example.azurecr.io/{name}:1.0.0", **fields}


def scaling(**fields: Any) -> dict[str, Any]:
    return {"minReplicas": 1, "maxReplicas": 10, "rules": [{"metric": "cpu", "target": 70}], **fields}


def errors_of(doc: Any) -> list[FieldError]:
    with pytest.raises(InvalidManifest) as caught:
        parse_release(doc)
    return caught.value.errors


def reason_at(doc: Any, path: str) -> str:
    errors = errors_of(doc)
    reasons = [error.reason for error in errors if error.path == path]
    assert reasons, f"no error at {path}; got {[str(e) for e in errors]}"
    return reasons[0]


# --- the happy path and defaults ----------------------------------------------------------------


def test_parses_a_minimal_release_and_fills_defaults() -> None:
    release = parse_release(document())

    orders = release.service("orders")
    assert (orders.replicas, orders.port, orders.configuration, orders.secrets) == (1, 8080, {}, [])
    assert release.spec.environment.region == "local"
    assert release.spec.strategy == RollingHealthGated(type="RollingHealthGated", max_surge=1, max_unavailable=0)
    gate = release.spec.health_gate
    assert (gate.path, gate.interval_seconds, gate.timeout_seconds) == ("/health", 5, 2)
    assert (gate.success_threshold, gate.failure_threshold) == (3, 3)
    assert (gate.progress_deadline_seconds, gate.allow_degraded) == (600, False)


def test_to_dict_is_camel_case_with_defaults_and_without_unset_optionals() -> None:
    wire = parse_release(document()).to_dict()

    assert wire["spec"]["healthGate"]["progressDeadlineSeconds"] == 600
    assert wire["spec"]["services"][0] == {
        "name": "orders",
        "image": "example.azurecr.io/orders:1.0.0",
        "replicas": 1,
        "port": 8080,
        "configuration": {},
        "secrets": [],
        "ignoreDifferences": [],
        "dependsOn": [],
    }
    assert json.loads(json.dumps(wire)) == wire


def test_release_is_immutable() -> None:
    release = parse_release(document())
    with pytest.raises(ValidationError):
        release.spec.services[0].replicas = 5  # type: ignore[misc]


def test_service_lookup_raises_not_found_for_an_unknown_name() -> None:
    with pytest.raises(NotFound, match='no service "billing"'):
        parse_release(document()).service("billing")


def test_health_endpoint_falls_back_to_gate_path_and_service_port() -> None:
    release = parse_release(
        document(
            service("orders", port=9000),
            service("payments", health={"path": "/healthz", "port": 9100}),
            healthGate={"path": "/ready"},
        )
    )
    assert release.health_endpoint("orders") == HealthEndpoint("/ready", 9000)
    assert release.health_endpoint("payments") == HealthEndpoint("/healthz", 9100)


# --- every error, each with a path and a reason --------------------------------------------------


def test_lists_every_failing_field_including_cross_field_rules_next_to_type_errors() -> None:
    doc = document(
        service("orders", image="orders", replicas=20, scaling=scaling()),
        service("orders", port=0),
        environment={"name": "dev", "tier": "production", "compute": "aks"},
    )
    paths = {error.path for error in errors_of(doc)}
    assert {
        "spec.services[0].image",
        "spec.services[0].replicas",
        "spec.services[1].port",
        "spec.services[1].name",
        "spec.environment.tier",
        "spec.environment.region",
    } <= paths


def test_rejects_image_without_tag_or_digest() -> None:
    doc = document(service(image="orders"))
    assert reason_at(doc, "spec.services[0].image") == 'tag or digest required (got "orders")'


def test_rejects_the_mutable_latest_tag() -> None:
    reason = reason_at(document(service(image="example.azurecr.io/orders:latest")), "spec.services[0].image")
    assert 'tag "latest" is mutable' in reason


@pytest.mark.parametrize(
    "image",
    [
        "orders:1.0.0",
        "localhost:5000/team/orders:1.0.0-rc.1",
        "example.azurecr.io/orders@sha256:" + "a" * 64,
        "example.azurecr.io/orders:latest@sha256:" + "0" * 64,
    ],
)
def test_accepts_images_pinned_by_tag_or_digest(image: str) -> None:
    assert parse_release(document(service(image=image))).service("orders").image == image


@pytest.mark.parametrize(
    ("image", "words"),
    [
        ("example.azurecr.io/orders@sha256:abc", "digest must be sha256"),
        ("Example/Orders:1.0", "not an image reference"),
        ("orders:1.0:2", "tag must be"),
    ],
)
def test_rejects_malformed_image_references(image: str, words: str) -> None:
    assert words in reason_at(document(service(image=image)), "spec.services[0].image")


def test_rejects_values_outside_a_closed_set_listing_the_choices() -> None:
    doc = document(environment={"name": "dev", "tier": "production", "compute": "local"})
    assert reason_at(doc, "spec.environment.tier") == 'must be one of prod, nonprod (got "production")'


def test_rejects_wrong_kind_and_api_version() -> None:
    doc = {**document(), "apiVersion": "controlplane.azure/v2", "kind": "Deployment"}
    assert reason_at(doc, "apiVersion") == 'must be controlplane.azure/v1 (got "controlplane.azure/v2")'
    assert reason_at(doc, "kind") == 'must be Release (got "Deployment")'


def test_rejects_unknown_fields_and_reports_missing_ones() -> None:
    doc = document(service(imagePullPolicy="Always"))
    del doc["metadata"]["name"]
    assert reason_at(doc, "spec.services[0].imagePullPolicy") == "unknown field"
    assert reason_at(doc, "metadata.name") == "required"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Orders", "DNS-1123 label"),
        ("orders_api", "DNS-1123 label"),
        ("-orders", "DNS-1123 label"),
        ("orders.", "DNS-1123 label"),
        ("a" * 64, "must be at most 63 characters (got 64)"),
    ],
)
def test_rejects_service_names_that_are_not_dns_labels(name: str, words: str) -> None:
    assert words in reason_at(document(service(name)), "spec.services[0].name")


def test_rejects_duplicate_service_names_pointing_at_the_first() -> None:
    doc = document(service("orders"), service("payments"), service("orders"))
    assert reason_at(doc, "spec.services[2].name") == 'duplicate service name "orders" (also services[0])'


def test_strict_types_refuse_numeric_strings_and_booleans() -> None:
    doc = document(service(replicas="2", port=True))
    assert reason_at(doc, "spec.services[0].replicas") == 'must be an integer (got "2")'
    assert reason_at(doc, "spec.services[0].port") == "must be an integer (got true)"


def test_rejects_a_document_that_is_not_a_mapping() -> None:
    assert errors_of(["not", "a", "mapping"]) == [FieldError("", "a release manifest must be a mapping (got a list)")]


# --- environment --------------------------------------------------------------------------------


@pytest.mark.parametrize("region", [None, "local"])
def test_cloud_compute_needs_an_azure_region(region: str | None) -> None:
    environment = {"name": "prod", "tier": "prod", "compute": "containerapps"}
    if region:
        environment["region"] = region
    reason = reason_at(document(environment=environment), "spec.environment.region")
    assert 'needs an Azure region such as "westeurope"' in reason


def test_cloud_compute_with_a_region_parses() -> None:
    environment = {"name": "prod", "tier": "prod", "compute": "aks", "region": "westeurope"}
    assert parse_release(document(environment=environment)).spec.environment.region == "westeurope"


# --- configuration, secrets and labels ----------------------------------------------------------


def test_configuration_values_must_be_strings_and_the_error_says_to_quote() -> None:
    doc = document(service(configuration={"RETRIES": 3}))
    reason = reason_at(doc, "spec.services[0].configuration.RETRIES")
    assert reason == 'must be a string (got 3); quote it in YAML: "3"'


def test_rejects_configuration_keys_that_are_not_variable_like() -> None:
    doc = document(service(configuration={"1BAD": "x", "Logging.Level": "info"}))
    assert reason_at(doc, 'spec.services[0].configuration["1BAD"]').startswith("invalid key:")


def test_rejects_configuration_with_too_many_keys() -> None:
    doc = document(service(configuration={f"K{i}": "v" for i in range(201)}))
    assert reason_at(doc, "spec.services[0].configuration") == "must have at most 200 entries (got 201)"


def test_rejects_a_secret_value_without_echoing_it() -> None:
    secret = {"name": "DB_PASSWORD", "value": "hunter2", "keyVaultSecretUri": KV_URI}
    errors = errors_of(document(service(secrets=[secret])))
    reason = next(e.reason for e in errors if e.path == "spec.services[0].secrets[0].value")
    assert "secret values are never accepted" in reason
    assert "keyVaultSecretUri" in reason
    assert all("hunter2" not in str(error) for error in errors)


@pytest.mark.parametrize(
    "uri",
    [
        KV_URI,
        KV_URI + "/0123456789abcdef0123456789abcdef",
        "https://orders-kv.vault.azure.cn/secrets/db",
        "https://orders-kv.vault.usgovcloudapi.net/secrets/db",
        "https://orders-kv.vault.microsoftazure.de/secrets/db",
    ],
)
def test_accepts_key_vault_secret_uris_of_every_cloud(uri: str) -> None:
    release = parse_release(document(service(secrets=[{"name": "DB", "keyVaultSecretUri": uri}])))
    assert release.service("orders").secrets[0].key_vault_secret_uri == uri


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("http://orders-kv.vault.azure.net/secrets/db", "must use https"),
        ("https://orders-kv.example.com/secrets/db", "Key Vault endpoint"),
        ("https://orders-kv.vault.azure.net/keys/db", "must look like"),
        (KV_URI + "/not-a-version", "must look like"),
    ],
)
def test_rejects_anything_but_an_https_key_vault_secret_uri(uri: str, words: str) -> None:
    doc = document(service(secrets=[{"name": "DB", "keyVaultSecretUri": uri}]))
    assert words in reason_at(doc, "spec.services[0].secrets[0].keyVaultSecretUri")


def test_secret_names_are_unique_and_do_not_clash_with_configuration() -> None:
    secrets = [{"name": "DB", "keyVaultSecretUri": KV_URI}, {"name": "DB", "keyVaultSecretUri": KV_URI}]
    doc = document(service(configuration={"DB": "x"}, secrets=secrets))
    errors = errors_of(doc)
    assert FieldError("spec.services[0].secrets[1].name", 'duplicate secret name "DB" (also secrets[0])') in errors
    assert any(e.path == "spec.services[0].secrets[0].name" and "clashes" in e.reason for e in errors)


def test_labels_follow_kubernetes_syntax() -> None:
    doc = document()
    doc["metadata"]["labels"] = {"app.kubernetes.io/name": "orders", "bad key": "x", "team": "-x"}
    errors = errors_of(doc)
    assert {e.path for e in errors} == {'metadata.labels["bad key"]', "metadata.labels.team"}


def test_rejects_more_than_32_labels() -> None:
    doc = document()
    doc["metadata"]["labels"] = {f"l{i}": "v" for i in range(33)}
    assert reason_at(doc, "metadata.labels") == "must have at most 32 entries (got 33)"


# --- strategies ---------------------------------------------------------------------------------


def test_rolling_update_accepts_counts_and_percentages() -> None:
    strategy = {"type": "RollingHealthGated", "maxSurge": "25%", "maxUnavailable": 1}
    parsed = parse_release(document(strategy=strategy)).spec.strategy
    assert isinstance(parsed, RollingHealthGated)
    assert (parsed.max_surge, parsed.max_unavailable) == ("25%", 1)


@pytest.mark.parametrize("surge", [-1, "150%", "25", 1.5])
def test_rolling_update_rejects_malformed_surge(surge: Any) -> None:
    doc = document(strategy={"type": "RollingHealthGated", "maxSurge": surge})
    assert "percentage" in reason_at(doc, "spec.strategy.maxSurge")


def test_rolling_update_cannot_have_zero_surge_and_zero_unavailable() -> None:
    doc = document(strategy={"type": "RollingHealthGated", "maxSurge": "0%", "maxUnavailable": 0})
    assert "cannot both be zero" in reason_at(doc, "spec.strategy.maxUnavailable")


def test_canary_weights_must_strictly_increase() -> None:
    steps = [{"weight": 10}, {"weight": 50}, {"weight": 50}, {"weight": 40}]
    errors = errors_of(document(strategy={"type": "Canary", "steps": steps}))
    assert errors == [
        FieldError("spec.strategy.steps[2].weight", "weights must strictly increase (got 50 after 50 at steps[1])"),
        FieldError("spec.strategy.steps[3].weight", "weights must strictly increase (got 40 after 50 at steps[2])"),
    ]


def test_canary_reports_field_errors_without_discriminator_noise() -> None:
    steps = [{"weight": 10}, {"weight": 101}, {"weight": "50"}]
    paths = [e.path for e in errors_of(document(strategy={"type": "Canary", "steps": steps}))]
    assert paths == ["spec.strategy.steps[1].weight", "spec.strategy.steps[2].weight"]


@pytest.mark.parametrize("pause", [{}, {"durationSeconds": 60, "untilApproved": True}, {"untilApproved": False}])
def test_a_canary_pause_is_either_timed_or_manual(pause: dict[str, Any]) -> None:
    doc = document(strategy={"type": "Canary", "steps": [{"weight": 10, "pause": pause}, {"weight": 100}]})
    assert "exactly one of durationSeconds" in reason_at(doc, "spec.strategy.steps[0].pause")


def test_canary_parses_timed_and_manual_pauses() -> None:
    steps = [
        {"weight": 10, "pause": {"durationSeconds": 60}},
        {"weight": 50, "pause": {"untilApproved": True}},
        {"weight": 100},
    ]
    canary = parse_release(document(strategy={"type": "Canary", "steps": steps})).spec.strategy
    assert isinstance(canary, Canary)
    assert [(s.weight, s.pause and s.pause.duration_seconds) for s in canary.steps] == [
        (10, 60),
        (50, None),
        (100, None),
    ]
    assert canary.steps[1].pause is not None and canary.steps[1].pause.until_approved is True


def test_canary_allows_at_most_20_steps() -> None:
    steps = [{"weight": weight} for weight in range(1, 22)]
    assert "at most 20" in reason_at(document(strategy={"type": "Canary", "steps": steps}), "spec.strategy.steps")


def test_unknown_or_missing_strategy_type_names_the_choices() -> None:
    unknown = document(strategy={"type": "Recreate"})
    assert reason_at(unknown, "spec.strategy.type") == (
        'must be one of RollingHealthGated, Canary, BlueGreen (got "Recreate")'
    )
    missing = document(strategy={"maxSurge": 1})
    assert reason_at(missing, "spec.strategy.type") == "required: one of RollingHealthGated, Canary, BlueGreen"


def test_blue_green_waits_for_approval_unless_auto_promotion_is_set() -> None:
    wire = parse_release(document(strategy={"type": "BlueGreen"})).to_dict()
    assert wire["spec"]["strategy"] == {"type": "BlueGreen", "scaleDownDelaySeconds": 30}
    doc = document(strategy={"type": "BlueGreen", "autoPromotionSeconds": 86401})
    assert reason_at(doc, "spec.strategy.autoPromotionSeconds") == "must be <= 86400 (got 86401)"


# --- scaling ------------------------------------------------------------------------------------


def test_replicas_must_lie_within_the_scaling_range() -> None:
    doc = document(service(replicas=12, scaling=scaling(minReplicas=2)))
    assert reason_at(doc, "spec.services[0].replicas") == "must lie within scaling range [2, 10] (got 12)"


def test_scale_to_zero_only_for_event_driven_targets() -> None:
    doc = document(service(scaling=scaling(minReplicas=0, scaleToZero=True, target="http")))
    assert "needs target event-driven" in reason_at(doc, "spec.services[0].scaling.scaleToZero")


def test_scale_to_zero_with_an_event_driven_target_parses() -> None:
    policy = scaling(
        minReplicas=0, scaleToZero=True, target="event-driven", activationThreshold=5,
        rules=[{"metric": "queue", "target": 20}],
    )  # fmt: skip
    parsed = parse_release(document(service(replicas=0, scaling=policy))).service("orders").scaling
    assert parsed is not None and parsed.scale_to_zero and parsed.activation_threshold == 5


@pytest.mark.parametrize(
    ("fields", "path", "words"),
    [
        ({"minReplicas": 5, "maxReplicas": 2}, "maxReplicas", "must be >= minReplicas (got 2 < 5)"),
        ({"minReplicas": 0}, "minReplicas", "may be 0 only with scaleToZero"),
        ({"activationThreshold": 2}, "activationThreshold", "only allowed with scaleToZero"),
        ({"maxReplicas": 1001}, "maxReplicas", "must be <= 1000"),
        ({"cooldownSeconds": 3601}, "cooldownSeconds", "must be <= 3600"),
        ({"rules": []}, "rules", "at least 1 entry"),
        ({"rules": [{"metric": "cpu", "target": 150}]}, "rules[0].target", "cpu target is a percentage"),
        ({"rules": [{"metric": "memory", "target": 1}]}, "rules[0].metric", "must be one of cpu, queue, rps"),
        ({"rules": [{"metric": "rps", "target": 0}]}, "rules[0].target", "must be > 0"),
        (
            {"rules": [{"metric": "rps", "target": 5}, {"metric": "rps", "target": 9}]},
            "rules[1].metric",
            'duplicate metric "rps" (also rules[0])',
        ),
    ],
)
def test_scaling_policy_rules(fields: dict[str, Any], path: str, words: str) -> None:
    doc = document(service(scaling=scaling(**fields)))
    assert words in reason_at(doc, f"spec.services[0].scaling.{path}")


def test_models_built_in_code_keep_their_invariants() -> None:
    with pytest.raises(ValidationError, match="must be >= minReplicas"):
        ScalingPolicy(min_replicas=5, max_replicas=2, rules=[ScalingRule(metric="cpu", target=50)])
    with pytest.raises(ValidationError, match="tag or digest required"):
        ServiceSpec(name="orders", image="orders")


# --- config hash --------------------------------------------------------------------------------


def test_config_hash_ignores_key_and_secret_order_but_not_content() -> None:
    secrets = [{"name": "A", "keyVaultSecretUri": KV_URI}, {"name": "B", "keyVaultSecretUri": KV_URI + "-2"}]

    def hashed(configuration: dict[str, str], secrets: list[dict[str, str]]) -> str:
        return (
            parse_release(document(service(configuration=configuration, secrets=secrets)))
            .service("orders")
            .config_hash()
        )

    base = hashed({"X": "1", "Y": "2"}, secrets)
    assert base == hashed({"Y": "2", "X": "1"}, list(reversed(secrets)))
    assert len(base) == 64
    assert base != hashed({"X": "1", "Y": "3"}, secrets)
    assert base != hashed({"X": "1", "Y": "2"}, [secrets[0], {"name": "B", "keyVaultSecretUri": KV_URI}])


def test_config_hash_does_not_depend_on_image_or_replicas() -> None:
    one = parse_release(document(service(replicas=1))).service("orders")
    other = parse_release(document(service(replicas=3, image="example.azurecr.io/orders:9.9.9"))).service("orders")
    assert one.config_hash() == other.config_hash()


# --- loading text -------------------------------------------------------------------------------


def test_loads_json_and_yaml_to_the_same_release() -> None:
    doc = document(service(configuration={"LOG_LEVEL": "info"}))
    assert load_release(json.dumps(doc)) == load_release(yaml.safe_dump(doc)) == parse_release(doc)


def test_loads_utf8_bytes_with_a_byte_order_mark() -> None:
    assert load_release(b"\xef\xbb\xbf" + json.dumps(document()).encode()) == parse_release(document())


def test_rejects_duplicate_yaml_keys_naming_path_and_lines() -> None:
    text = yaml.safe_dump(document(), sort_keys=False) + "metadata: {name: again}\n"
    with pytest.raises(InvalidManifest) as caught:
        load_release(text)
    [error] = caught.value.errors
    assert error.path == "metadata"
    assert error.reason.startswith('duplicate key "metadata" (first at line ')


def test_rejects_duplicate_keys_inside_a_flow_mapping() -> None:
    text = yaml.safe_dump(document(), sort_keys=False).replace(
        "  - name: orders\n", "  - {name: a, name: b}\n  - name: orders\n"
    )
    with pytest.raises(InvalidManifest) as caught:
        load_release(text)
    assert [e.path for e in caught.value.errors] == ["spec.services[0].name"]


def test_rejects_duplicate_json_keys_naming_the_path() -> None:
    text = json.dumps(document()).replace('"image": ', '"image": "x:1", "image": ', 1)
    with pytest.raises(InvalidManifest) as caught:
        load_release(text)
    assert caught.value.errors == [
        FieldError("spec.services[0].image", 'duplicate key "image"; each key may appear once')
    ]


def test_rejects_more_than_one_yaml_document() -> None:
    text = yaml.safe_dump(document()) + "---\n" + yaml.safe_dump(document())
    with pytest.raises(InvalidManifest, match="one YAML document per manifest"):
        load_release(text)


def test_rejects_control_characters_in_yaml_as_invalid_not_a_crash() -> None:
    with pytest.raises(InvalidManifest, match=r"request body: YAML error: unacceptable character #x0004") as caught:
        load_release(b"\x04", source="request body")  # found by the API fuzz: was a 500
    assert caught.value.errors[0].path == ""


def test_rejects_documents_over_256_kib() -> None:
    text = yaml.safe_dump(document()) + "#" * MAX_DOCUMENT_BYTES
    with pytest.raises(InvalidManifest, match="the limit is 262144") as caught:
        load_release(text, source="big.yaml")
    assert caught.value.errors[0].path == ""
    assert caught.value.errors[0].reason.startswith("big.yaml: ")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("apiVersion: x\nkind: [Release\n", "line 3, column 1"),
        ('{"apiVersion": "x",\n  "kind" "Release"}', "line 2, column 10"),
    ],
)
def test_syntax_errors_report_line_and_column(text: str, where: str) -> None:
    with pytest.raises(InvalidManifest) as caught:
        load_release(text, source="release.yaml")
    [error] = caught.value.errors
    assert error.path == ""
    assert error.reason.startswith("release.yaml: ")
    assert where in error.reason


@pytest.mark.parametrize(
    "text",
    [
        "", "  \n", "!!python/object/apply:os.system ['echo hi']\n", "- a\n- b\n",
        "{\"a\": NaN}", b"\xff\xfe not utf-8",
    ],
)  # fmt: skip
def test_rejects_unreadable_or_unsafe_documents(text: str | bytes) -> None:
    with pytest.raises(InvalidManifest) as caught:
        load_release(text)
    assert [e.path for e in caught.value.errors] == [""]


def test_rejects_yaml_alias_expansion_bombs() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    with pytest.raises(InvalidManifest, match="YAML aliases"):
        load_release("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1),
        "a:\n" + "".join("  " * depth + "- \n" for depth in range(1, MAX_NESTING + 2)),
        '{"a": ' + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1) + "}",
        "[" * 5000,  # libyaml's own cap (1000) is met while it scans ahead
        "x: &x " + "[" * 20 + "]" * 20 + "\ny: " + "[" * 20 + "*x" + "]" * 20,  # an alias nests its anchor deeper
    ],
)
def test_rejects_documents_nested_deeper_than_the_limit(text: str) -> None:
    with pytest.raises(InvalidManifest, match=f"nests deeper than {MAX_NESTING} levels"):
        load_release(text)


def test_nesting_up_to_the_limit_is_only_a_field_error() -> None:
    doc = document(service(configuration={"A": "b"}))
    doc["metadata"]["extra"] = json.loads("[" * (MAX_NESTING - 2) + "]" * (MAX_NESTING - 2))
    with pytest.raises(InvalidManifest) as caught:
        load_release(json.dumps(doc))
    assert [e.path for e in caught.value.errors] == ["metadata.extra"]


def test_rejects_more_yaml_aliases_than_the_limit() -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * (MAX_YAML_ALIASES + 1)) + "]\n"
    with pytest.raises(InvalidManifest, match=f"more than {MAX_YAML_ALIASES} YAML aliases"):
        load_release(text)


@pytest.mark.parametrize(
    ("syntax", "text", "reason"),
    [("json", "apiVersion: x\n", "JSON syntax error"), ("yaml", '{"a": 1}\n---\n{"b": 2}', "one YAML document")],
)
def test_the_named_syntax_is_the_only_one_tried(syntax: Syntax, text: str, reason: str) -> None:
    with pytest.raises(InvalidManifest, match=reason):
        load_release(text, syntax=syntax)


# --- properties ---------------------------------------------------------------------------------

_names = st.from_regex(r"[a-z]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_variables = st.from_regex(r"[A-Z_][A-Z0-9_]{0,10}", fullmatch=True)
_tags = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,8}", fullmatch=True).filter(lambda tag: tag != "latest")
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
_counts = st.integers(0, 10) | st.integers(0, 100).map(lambda percent: f"{percent}%")
_durations = st.integers(1, 86400)


@st.composite
def _images(draw: st.DrawFn, name: str) -> str:
    repository = f"{draw(st.sampled_from(['', 'example.azurecr.io/', 'localhost:5000/team/']))}{name}"
    digest = "@sha256:" + draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True))
    return draw(st.sampled_from([f"{repository}:{draw(_tags)}", repository + digest]))


@st.composite
def _scaling_policies(draw: st.DrawFn) -> dict[str, Any]:
    target = draw(st.sampled_from(["http", "event-driven"]))
    to_zero = target == "event-driven" and draw(st.booleans())
    low = draw(st.integers(0 if to_zero else 1, 5))
    metrics = draw(st.lists(st.sampled_from(["cpu", "queue", "rps"]), min_size=1, max_size=3, unique=True))
    rules = [{"metric": m, "target": draw(st.integers(1, 100) if m == "cpu" else st.floats(0.5, 1e6))} for m in metrics]
    policy = {"minReplicas": low, "maxReplicas": draw(st.integers(low, 20)), "target": target, "rules": rules}
    if to_zero:
        policy |= {"scaleToZero": True, "activationThreshold": draw(st.floats(0.5, 100))}
    return policy | draw(st.fixed_dictionaries({}, optional={"cooldownSeconds": st.integers(0, 3600)}))


def _plain(configuration: dict[str, str]) -> bool:
    """Configuration the credential and reserved-name rules (tests/unit/test_config_rules.py) let through."""
    return not any(reserved_name_error(k) or credential_error(k, v) for k, v in configuration.items())


@st.composite
def _services(draw: st.DrawFn, name: str) -> dict[str, Any]:
    configuration = draw(st.dictionaries(_variables, _text, max_size=4).filter(_plain))
    secret_names = draw(st.lists(_variables.filter(lambda v: v not in configuration), max_size=3, unique=True))
    vault = draw(st.sampled_from(["vault.azure.net", "vault.azure.cn", "vault.usgovcloudapi.net"]))
    secrets = [
        {
            "name": s,
            "keyVaultSecretUri": f"https://kv-{name}.{vault}/secrets/{s.lower().replace('_', '-')}",
        }
        for s in secret_names
    ]
    policy = draw(st.none() | _scaling_policies())
    replicas = draw(st.integers(policy["minReplicas"], policy["maxReplicas"]) if policy else st.integers(0, 1000))
    result = {
        "name": name,
        "image": draw(_images(name)),
        "replicas": replicas,
        "configuration": configuration,
    }
    optional = {
        "port": st.integers(1, 65535),
        "health": st.fixed_dictionaries({"port": st.integers(1, 65535)}),
    }
    result |= draw(st.fixed_dictionaries({}, optional=optional))
    return result | ({"secrets": secrets} if secrets else {}) | ({"scaling": policy} if policy else {})


_pauses = st.none() | st.builds(lambda s: {"durationSeconds": s}, _durations) | st.just({"untilApproved": True})
_strategies = st.one_of(
    st.builds(
        lambda surge, unavailable: {
            "type": "RollingHealthGated",
            "maxSurge": surge,
            "maxUnavailable": unavailable,
        },
        _counts,
        _counts,
    ).filter(lambda s: {s["maxSurge"], s["maxUnavailable"]} - {0, "0%"}),
    st.lists(st.integers(1, 100), min_size=1, max_size=20, unique=True).flatmap(
        lambda weights: st.tuples(*[_pauses for _ in weights]).map(
            lambda pauses: {
                "type": "Canary",
                "steps": [
                    {"weight": w} | ({"pause": p} if p else {}) for w, p in zip(sorted(weights), pauses, strict=True)
                ],
            }
        )
    ),
    st.fixed_dictionaries({"type": st.just("BlueGreen")}, optional={"autoPromotionSeconds": st.integers(0, 86400)}),
)


@st.composite
def release_documents(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(_names, min_size=1, max_size=4, unique=True))
    compute = draw(st.sampled_from(["local", "aks", "containerapps"]))
    environment = {
        "name": draw(_names),
        "tier": draw(st.sampled_from(["prod", "nonprod"])),
        "compute": compute,
    }
    if compute != "local" or draw(st.booleans()):
        environment["region"] = draw(st.sampled_from(["westeurope", "eastus2", "swedencentral"]))
    gate = draw(
        st.fixed_dictionaries({}, optional={"path": st.just("/healthz"), "intervalSeconds": st.integers(1, 300)})
    )
    doc = document(*[draw(_services(name)) for name in names], environment=environment, strategy=draw(_strategies))
    doc["metadata"]["labels"] = draw(st.dictionaries(_names, _names | st.just(""), max_size=3))
    return doc | ({"spec": doc["spec"] | {"healthGate": gate}} if gate else {})


@settings(max_examples=60, deadline=None)
@given(release_documents())
def test_round_trips_through_to_dict_json_and_yaml(doc: dict[str, Any]) -> None:
    release = parse_release(doc)
    wire = release.to_dict()

    assert parse_release(wire) == release
    assert parse_release(json.loads(json.dumps(wire))).to_dict() == wire
    assert load_release(json.dumps(doc)) == load_release(yaml.safe_dump(doc)) == release
    assert Release.from_dict(wire) == release


@settings(max_examples=30, deadline=None)
@given(release_documents(), st.data())
def test_an_unpinned_image_is_reported_at_its_own_service(doc: dict[str, Any], data: st.DataObject) -> None:
    broken = copy.deepcopy(doc)
    index = data.draw(st.integers(0, len(broken["spec"]["services"]) - 1))
    broken["spec"]["services"][index]["image"] = "example.azurecr.io/unpinned"

    assert FieldError(
        f"spec.services[{index}].image", 'tag or digest required (got "example.azurecr.io/unpinned")'
    ) in errors_of(broken)
