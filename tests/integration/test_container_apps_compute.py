"""Container Apps compute over a real SDK client, against a fake resource provider in the HTTPS stub."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from azure.mgmt.appcontainers import ContainerAppsAPIClient

from controlplane.adapters.azure.container_apps.compute import (
    ContainerAppsCompute,
    ContainerAppsEnvironment,
    ContainerAppsSettings,
)
from controlplane.adapters.azure.container_apps.mapping import (
    aca_revision_name,
    control_plane_revision_name,
    secret_name,
)
from controlplane.domain.config_hash import config_hash
from controlplane.domain.manifest.service import ScalingPolicy
from controlplane.domain.runtime import LiveWorkload, RevisionSpec
from controlplane.errors import NotFound, PermanentError, TransientError
from tests.contracts.compute import VAULT, ComputeContract, live, spec
from tests.stubs.container_apps_rp import API_VERSION, DOMAIN, ContainerAppsRP
from tests.stubs.https_stub import StaticToken, StubServer

IDENTITY = "/subscriptions/sub/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-rt"
ENV_IDS = {
    name: f"/subscriptions/sub/resourceGroups/rg-{name}/providers/Microsoft.App/managedEnvironments/cae-{name}"
    for name in ("dev", "test")
}
SETTINGS = ContainerAppsSettings(
    environments={name: ContainerAppsEnvironment(f"rg-{name}", env_id) for name, env_id in ENV_IDS.items()},
    location="westeurope",
    identity=IDENTITY,
    registry_server="acrruntime.azurecr.io",
)
APPS = "/subscriptions/sub/resourceGroups/rg-dev/providers/Microsoft.App/containerApps"
ORDERS = f"{APPS}/orders"
DB_URI = f"{VAULT}/db-password"
RETRIES = 2
SERVICE_BUS = "sb-orders.servicebus.windows.net"


@pytest.fixture(scope="module")
def server() -> Iterator[StubServer]:
    with StubServer() as running:  # one per module: stopping a server takes half a second
        yield running


@pytest.fixture
def stub(server: StubServer) -> StubServer:
    """The module's server with an empty request log; each test's provider adds routes that shadow the last's."""
    server.requests.clear()
    return server


@pytest.fixture
def rp(stub: StubServer) -> ContainerAppsRP:
    return ContainerAppsRP(stub)


def client_for(stub: StubServer) -> ContainerAppsAPIClient:
    """A real client pointed at the stub: no wait between polls, quick retries (Retry-After is 0)."""
    return ContainerAppsAPIClient(
        StaticToken(),
        "sub",
        base_url=stub.url,
        connection_verify=stub.ca_file,
        polling_interval=0,
        retry_total=RETRIES,
        retry_backoff_factor=0,
        retry_backoff_max=0,
    )


@pytest.fixture
def compute(stub: StubServer, rp: ContainerAppsRP) -> ContainerAppsCompute:
    return ContainerAppsCompute(client_for(stub), SETTINGS)


@pytest.fixture
def autoscaling(stub: StubServer, rp: ContainerAppsRP) -> ContainerAppsCompute:
    """Compute whose settings name the Service Bus namespace that queue scale rules watch."""
    return ContainerAppsCompute(client_for(stub), replace(SETTINGS, service_bus_namespace=SERVICE_BUS))


def policy(**fields: Any) -> ScalingPolicy:
    return ScalingPolicy.model_validate(fields)


@pytest.fixture
def failing(rp: ContainerAppsRP) -> Callable[[RevisionSpec], RevisionSpec]:
    """The provider fails to provision the revision (its replicas crash), so the operation ends Failed."""

    def make(target: RevisionSpec) -> RevisionSpec:
        name = aca_revision_name(target.service, target.revision)
        assert name is not None
        rp.fail_provisioning(name, "container 'orders' exited with code 1 before its readiness probe passed")
        return target

    return make


class TestContainerAppsContract(ComputeContract):
    @pytest.mark.skip(reason="Container Apps cannot change a revision's scale: see test_scale_only_toggles_*")
    def test_scale_to_zero_keeps_the_revision_and_scaling_up_restores_it(self, compute: Any) -> None: ...

    @pytest.mark.skip(reason="replicas are not addressable: see test_endpoints_are_the_revision_fqdn_once")
    def test_endpoints_give_one_url_per_replica(self, compute: Any) -> None: ...


def app_template(suffix: str, image: str, env: list[dict[str, str]], replicas: int = 1) -> dict[str, Any]:
    return {
        "revisionSuffix": suffix,
        "containers": [{"name": "main", "image": image, "env": env}],
        "scale": {"minReplicas": replicas, "maxReplicas": max(replicas, 1)},
    }


# -- requests on the wire ------------------------------------------------------------------------------------------
def test_a_new_app_is_one_put_polled_until_succeeded(stub: StubServer, compute: ContainerAppsCompute) -> None:
    compute.deploy_revision(spec("orders--a1b2c3", replicas=2, configuration={"MODE": "fast"}))
    sequence = [(r.method, "poll" if "OperationStatuses" in r.path else r.path) for r in stub.requests]
    assert sequence == [
        ("GET", ORDERS),  # 404: a new app
        ("PUT", ORDERS),
        ("GET", "poll"),  # InProgress
        ("GET", "poll"),  # Succeeded
        ("GET", ORDERS),  # the operation's final state
    ]
    assert {r.api_version for r in stub.requests} == {API_VERSION}
    body = stub.calls("PUT", ORDERS)[0].body
    assert (body["location"], body["tags"]) == ("westeurope", {"managed-by": "runtime-control-plane"})
    assert body["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}}
    properties = body["properties"]
    assert properties["environmentId"] == ENV_IDS["dev"]
    assert properties["configuration"] == {
        "activeRevisionsMode": "Multiple",
        "secrets": [],
        "registries": [{"server": "acrruntime.azurecr.io", "identity": IDENTITY}],
    }
    assert properties["template"] == {
        "revisionSuffix": "a1b2c3",
        "containers": [
            {
                "name": "orders",
                "image": "orders:1.0.0",
                "env": [{"name": "MODE", "value": "fast"}],
                "probes": [{"type": "Readiness", "httpGet": {"path": "/health", "port": 8080}}],
            }
        ],
        "scale": {"minReplicas": 2, "maxReplicas": 2},
    }


def test_secrets_are_key_vault_references_and_no_value_is_ever_sent(
    stub: StubServer, compute: ContainerAppsCompute
) -> None:
    compute.deploy_revision(spec("orders-v1", secret_refs={"DB_PASSWORD": DB_URI}))
    compute.deploy_revision(spec("orders-v2", secret_refs={"DB_PASSWORD": DB_URI, "API_KEY": f"{VAULT}/api-key"}))
    put, patch = stub.calls("PUT", ORDERS)[0].body, stub.calls("PATCH", ORDERS)[0].body
    reference = {"name": secret_name(DB_URI), "keyVaultUrl": DB_URI, "identity": IDENTITY}
    assert put["properties"]["configuration"]["secrets"] == [reference]
    assert put["properties"]["template"]["containers"][0]["env"] == [
        {"name": "DB_PASSWORD", "secretRef": secret_name(DB_URI)}
    ]
    # A PATCH replaces the secrets list: the old reference is sent back beside the new one, never re-pointed.
    api_key = {"name": secret_name(f"{VAULT}/api-key"), "keyVaultUrl": f"{VAULT}/api-key", "identity": IDENTITY}
    assert patch["properties"]["configuration"]["secrets"] == [reference, api_key]
    for request in stub.requests:
        secrets = (((request.body or {}).get("properties") or {}).get("configuration") or {}).get("secrets") or []
        assert all(set(secret) == {"name", "keyVaultUrl", "identity"} for secret in secrets)
    assert not [r for r in stub.requests if "listSecrets" in r.path]  # values are never even read


def test_a_new_revision_keeps_the_traffic_and_gets_none(stub: StubServer, compute: ContainerAppsCompute) -> None:
    compute.deploy_revision(spec("orders-v1"))
    compute.set_traffic("dev", "orders", {"orders-v1": 100})
    compute.deploy_revision(spec("orders-v2", image="orders:2.0.0"))
    patch = stub.calls("PATCH", ORDERS)[-1].body
    assert patch == {"properties": {"template": patch["properties"]["template"]}}  # traffic untouched
    assert patch["properties"]["template"]["revisionSuffix"] == "orders-v2"
    assert {name: w.traffic_percent for name, w in live(compute).items()} == {"orders-v1": 100, "orders-v2": 0}


def test_a_latest_revision_entry_is_pinned_in_the_same_patch(
    stub: StubServer, rp: ContainerAppsRP, compute: ContainerAppsCompute
) -> None:
    compute.deploy_revision(spec("orders-v1"))
    configuration = rp.apps[("rg-dev", "orders")]["properties"]["configuration"]
    follow_latest = [{"latestRevision": True, "weight": 100}]  # as the portal and Bicep samples set it
    configuration["ingress"] = {"external": True, "targetPort": 8080, "traffic": follow_latest}
    compute.deploy_revision(spec("orders-v2"))
    ingress = stub.calls("PATCH", ORDERS)[-1].body["properties"]["configuration"]["ingress"]
    assert ingress["traffic"] == [{"revisionName": "orders--orders-v1", "weight": 100}]
    assert {name: w.traffic_percent for name, w in live(compute).items()} == {"orders-v1": 100, "orders-v2": 0}


# -- errors --------------------------------------------------------------------------------------------------------
def test_throttling_is_retried_by_the_client_and_then_succeeds(
    stub: StubServer, rp: ContainerAppsRP, compute: ContainerAppsCompute
) -> None:
    compute.deploy_revision(spec("orders-v1"))
    rp.fault("GET", ORDERS, 429, times=1)
    rp.fault("PATCH", ORDERS, 429, times=1)
    before = len(stub.calls("GET", ORDERS))
    compute.set_traffic("dev", "orders", {"orders-v1": 100})
    assert len(stub.calls("GET", ORDERS)) - before == 3  # 429, the read, the operation's final state
    assert len(stub.calls("PATCH", ORDERS)) == 2
    assert live(compute)["orders-v1"].traffic_percent == 100


def test_a_persistent_503_is_a_transient_error_after_the_client_retries(
    stub: StubServer, rp: ContainerAppsRP, compute: ContainerAppsCompute
) -> None:
    rp.fault("GET", APPS, 503, times=None, retry_after=False)
    with pytest.raises(TransientError, match="503"):
        compute.inventory("dev")
    assert len(stub.calls("GET", APPS)) == 1 + RETRIES


def test_a_409_while_another_operation_runs_is_transient(rp: ContainerAppsRP, compute: ContainerAppsCompute) -> None:
    compute.deploy_revision(spec("orders-v1"))
    rp.fault("PATCH", ORDERS, 409, times=1, retry_after=False)
    with pytest.raises(TransientError, match="another operation is in progress"):
        compute.set_traffic("dev", "orders", {"orders-v1": 100})
    compute.set_traffic("dev", "orders", {"orders-v1": 100})
    assert live(compute)["orders-v1"].traffic_percent == 100


def test_a_404_is_not_found(rp: ContainerAppsRP, compute: ContainerAppsCompute) -> None:
    with pytest.raises(NotFound, match="no container app orders"):
        compute.scale("dev", "orders", "orders-v1", 1)
    compute.deploy_revision(spec("orders-v1"))
    rp.fault("GET", f"{ORDERS}/revisions", 404, times=1, retry_after=False)
    with pytest.raises(NotFound, match="list revisions: not found"):
        compute.endpoints("dev", "orders", "orders-v1")


def test_a_failed_provisioning_names_the_reason_and_leaves_the_revision_inactive(
    rp: ContainerAppsRP, compute: ContainerAppsCompute, failing: Callable[[RevisionSpec], RevisionSpec]
) -> None:
    compute.deploy_revision(spec("orders-v1"))
    with pytest.raises(PermanentError, match=r"orders-v2 failed to provision \(Failed to provision.*exited with code"):
        compute.deploy_revision(failing(spec("orders-v2")))
    assert rp.revision("rg-dev", "orders", "orders--orders-v2")["properties"]["active"] is False
    assert rp.apps[("rg-dev", "orders")]["tags"]["removed-revisions"] == "orders-v2"


def test_a_name_container_apps_cannot_take_is_refused_before_any_request(
    stub: StubServer, compute: ContainerAppsCompute
) -> None:
    for name in ("v1", "orders--orders-v1", "orders--Has-Caps", "orders--" + "x" * 50):
        with pytest.raises(PermanentError, match="cannot be a Container Apps revision"):
            compute.deploy_revision(spec(name))
    with pytest.raises(PermanentError, match="cannot name a container app"):
        compute.deploy_revision(spec("Orders--v1", service="Orders"))
    assert stub.requests == []


def test_environments_sharing_a_resource_group_are_refused(stub: StubServer, compute: ContainerAppsCompute) -> None:
    compute.deploy_revision(spec("orders-v1"))
    staging = ContainerAppsEnvironment("rg-dev", ENV_IDS["dev"].replace("cae-dev", "cae-staging"))
    shared = ContainerAppsCompute(client_for(stub), ContainerAppsSettings({"staging": staging}, "westeurope", IDENTITY))
    with pytest.raises(PermanentError, match="runs on another managed environment"):
        shared.deploy_revision(spec("orders-v2", environment="staging"))
    assert shared.inventory("staging") == []


# -- replicas, removal, endpoints, preview -------------------------------------------------------------------------
def test_scale_only_toggles_the_revision_at_the_count_it_was_created_with(
    stub: StubServer, compute: ContainerAppsCompute
) -> None:
    compute.deploy_revision(spec(replicas=2))
    with pytest.raises(PermanentError, match=r"created with 2 replica.*cannot change a revision's scale"):
        compute.scale("dev", "orders", "orders-v1", 3)
    with pytest.raises(PermanentError, match="cannot change a revision's scale"):
        compute.deploy_revision(spec(replicas=1))
    compute.scale("dev", "orders", "orders-v1", 0)
    assert live(compute)["orders-v1"].replicas == 0
    compute.scale("dev", "orders", "orders-v1", 2)
    assert live(compute)["orders-v1"].replicas == 2
    actions = [r.path.rsplit("/", 1)[-1] for r in stub.requests if r.method == "POST"]
    assert actions == ["deactivate", "activate"]


def test_removal_deactivates_and_hides_and_redeploying_restores(
    rp: ContainerAppsRP, compute: ContainerAppsCompute
) -> None:
    compute.deploy_revision(spec("orders-v1"))
    compute.deploy_revision(spec("orders-v2"))
    compute.remove_revision("dev", "orders", "orders-v1")
    assert rp.revision("rg-dev", "orders", "orders--orders-v1")["properties"]["active"] is False
    assert list(live(compute)) == ["orders-v2"]
    with pytest.raises(NotFound, match="orders-v1"):
        compute.scale("dev", "orders", "orders-v1", 1)
    compute.deploy_revision(spec("orders-v1"))
    assert live(compute)["orders-v1"].replicas == 1
    assert rp.apps[("rg-dev", "orders")]["tags"]["removed-revisions"] == ""


def test_endpoints_are_the_revision_fqdn_once_over_https(compute: ContainerAppsCompute) -> None:
    compute.deploy_revision(spec(replicas=2))
    assert compute.endpoints("dev", "orders", "orders-v1") == []  # no ingress before the first traffic
    compute.set_traffic("dev", "orders", {"orders-v1": 100})
    assert compute.endpoints("dev", "orders", "orders-v1") == [f"https://orders--orders-v1.{DOMAIN}"]
    compute.deploy_revision(spec("orders-v2"))
    compute.scale("dev", "orders", "orders-v2", 0)
    assert compute.endpoints("dev", "orders", "orders-v2") == []


def test_preview_labels_the_revision_without_weight_and_survives_traffic_changes(
    rp: ContainerAppsRP, compute: ContainerAppsCompute
) -> None:
    def traffic() -> list[dict[str, Any]]:
        return rp.apps[("rg-dev", "orders")]["properties"]["configuration"]["ingress"]["traffic"]

    compute.deploy_revision(spec("orders-v1"))
    compute.set_traffic("dev", "orders", {"orders-v1": 100})
    compute.deploy_revision(spec("orders-v2"))
    compute.set_preview("dev", "orders", "orders-v2")
    assert traffic() == [
        {"revisionName": "orders--orders-v1", "weight": 100},
        {"revisionName": "orders--orders-v2", "weight": 0, "label": "preview"},
    ]
    assert live(compute)["orders-v2"].traffic_percent == 0
    compute.set_traffic("dev", "orders", {"orders-v2": 100})
    assert traffic() == [{"revisionName": "orders--orders-v2", "weight": 100, "label": "preview"}]
    compute.set_preview("dev", "orders", None)
    assert traffic() == [{"revisionName": "orders--orders-v2", "weight": 100}]
    compute.set_preview("dev", "orders", "orders-v1")
    compute.remove_revision("dev", "orders", "orders-v1")  # the label goes with it
    assert traffic() == [{"revisionName": "orders--orders-v2", "weight": 100}]


def test_a_preview_before_any_traffic_creates_the_ingress_on_the_probe_port(
    stub: StubServer, compute: ContainerAppsCompute
) -> None:
    compute.deploy_revision(spec("orders-v1"))
    compute.set_preview("dev", "orders", "orders-v1")
    ingress = stub.calls("PATCH", ORDERS)[-1].body["properties"]["configuration"]["ingress"]
    assert ingress == {
        "external": True,
        "targetPort": 8080,
        "transport": "auto",
        "allowInsecure": False,
        "traffic": [{"revisionName": "orders--orders-v1", "weight": 100, "label": "preview"}],
    }


# -- inventory -----------------------------------------------------------------------------------------------------
def test_apps_without_the_tag_are_unmanaged_and_left_alone(rp: ContainerAppsRP, compute: ContainerAppsCompute) -> None:
    secrets = [{"name": "db", "keyVaultUrl": DB_URI, "identity": "System"}]
    env = [{"name": "MODE", "value": "fast"}, {"name": "DB_PASSWORD", "secretRef": "db"}]
    legacy = {"name": "legacy", "tags": {"owner": "team-x"}, "properties": {
        "environmentId": ENV_IDS["dev"], "configuration": {"activeRevisionsMode": "Multiple", "secrets": secrets}}}
    rp.seed_app("rg-dev", legacy, app_template("v7", "legacy:7", env))
    rp.out_of_band_update("rg-dev", "legacy", app_template("v6", "legacy:6", env), weight_to_new=False)
    rp.revisions[("rg-dev", "legacy")]["legacy--v6"]["properties"]["active"] = False
    elsewhere = {"name": "other-env", "properties": {
        "environmentId": ENV_IDS["test"], "configuration": {"activeRevisionsMode": "Multiple"}}}
    rp.seed_app("rg-dev", elsewhere, app_template("v1", "other:1", []))
    compute.deploy_revision(spec("orders-v1"))
    legacy_hash = config_hash({"MODE": "fast"}, {"DB_PASSWORD": DB_URI})
    assert compute.inventory("dev") == [
        LiveWorkload("dev", "legacy", "legacy--v7", "legacy:7", 1, legacy_hash, 0, managed=False),
        LiveWorkload("dev", "orders", "orders-v1", "orders:1.0.0", 1, spec().config_hash(), 0),
    ]
    with pytest.raises(PermanentError, match="legacy: container app lacks the tag managed-by"):
        compute.scale("dev", "legacy", "legacy--v7", 0)
    compute.remove_revision("dev", "legacy", "legacy--v7")  # an approved prune: deactivated, tags untouched
    assert [w.service for w in compute.inventory("dev")] == ["orders"]
    assert rp.apps[("rg-dev", "legacy")]["tags"] == {"owner": "team-x"}


def test_config_hash_is_recomputed_from_the_live_template(rp: ContainerAppsRP, compute: ContainerAppsCompute) -> None:
    compute.deploy_revision(spec("orders-v1", configuration={"MODE": "fast"}, secret_refs={"DB_PASSWORD": DB_URI}))
    compute.set_traffic("dev", "orders", {"orders-v1": 100})
    template = rp.revision("rg-dev", "orders", "orders--orders-v1")["properties"]["template"]
    template["revisionSuffix"] = "hotfix"
    template["containers"][0]["env"][0] = {"name": "MODE", "value": "slow"}  # az containerapp update --set-env-vars
    rp.out_of_band_update("rg-dev", "orders", template, weight_to_new=True)
    workloads = live(compute)
    assert workloads["orders--hotfix"].config_hash == config_hash({"MODE": "slow"}, {"DB_PASSWORD": DB_URI})
    assert workloads["orders--hotfix"].traffic_percent == 100
    assert workloads["orders-v1"].config_hash == config_hash({"MODE": "fast"}, {"DB_PASSWORD": DB_URI})


@pytest.mark.parametrize(
    ("revision", "aca_name"),
    [
        ("orders--a1b2c3d4e5f6", "orders--a1b2c3d4e5f6"),
        ("orders-v1", "orders--orders-v1"),
        ("orders--orders-v1", None),
        ("v1", None),
        ("orders--V1", None),
        ("orders-", None),
        ("orders--a--b", None),
    ],
)
def test_revision_names_map_one_to_one(revision: str, aca_name: str | None) -> None:
    assert aca_revision_name("orders", revision) == aca_name
    if aca_name is not None:
        assert control_plane_revision_name("orders", aca_name) == revision


# -- scale rules from a ScalingPolicy -----------------------------------------------------------------------------
def test_a_scaling_policy_becomes_the_revisions_scale_rules(
    stub: StubServer, autoscaling: ContainerAppsCompute
) -> None:
    rules = [{"metric": "rps", "target": 50.5}, {"metric": "cpu", "target": 70}, {"metric": "queue", "target": 10}]
    scaling = policy(minReplicas=2, maxReplicas=10, rules=rules)
    autoscaling.deploy_revision(replace(spec(replicas=4, configuration={"QUEUE_NAME": "orders-in"}), scaling=scaling))
    properties = stub.calls("PUT", ORDERS)[0].body["properties"]
    assert properties["template"]["scale"] == {
        "minReplicas": 2,
        "maxReplicas": 10,
        "rules": [
            {"name": "rps", "http": {"metadata": {"concurrentRequests": "50"}}},
            {"name": "cpu", "custom": {"type": "cpu", "metadata": {"type": "Utilization", "value": "70"}}},
            {
                "name": "queue",
                "custom": {
                    "type": "azure-servicebus",
                    "metadata": {"queueName": "orders-in", "namespace": "sb-orders", "messageCount": "10"},
                    "identity": IDENTITY,  # the app's managed identity: no connection string, no auth secret
                },
            },
        ],
    }
    assert properties["configuration"]["secrets"] == []


def test_scale_to_zero_lets_the_revision_go_to_zero_after_the_stabilization_window(
    stub: StubServer, rp: ContainerAppsRP
) -> None:
    settings = replace(SETTINGS, identity="System", service_bus_namespace="sb-orders")
    compute = ContainerAppsCompute(client_for(stub), settings)
    scaling = policy(
        maxReplicas=5,
        scaleToZero=True,
        target="event-driven",
        activationThreshold=3,
        stabilizationWindowSeconds=120,
        rules=[{"metric": "queue", "target": 10}],
    )
    compute.deploy_revision(replace(spec(), scaling=scaling))
    body = stub.calls("PUT", ORDERS)[0].body
    assert body["identity"] == {"type": "SystemAssigned"}
    assert body["properties"]["template"]["scale"] == {
        "minReplicas": 0,
        "maxReplicas": 5,
        "cooldownPeriod": 120,
        "rules": [
            {
                "name": "queue",
                "custom": {
                    "type": "azure-servicebus",
                    "metadata": {
                        "queueName": "orders",  # no QUEUE_NAME in the configuration: the service's name
                        "namespace": "sb-orders",
                        "messageCount": "10",
                        "activationMessageCount": "2",  # KEDA wakes above 2, the policy at 3 or more
                    },
                    "identity": "system",
                },
            }
        ],
    }
    assert live(compute)["orders-v1"].replicas == 0  # an empty queue: KEDA keeps it at zero
    rp.autoscale("rg-dev", "orders", "orders--orders-v1", 3)
    assert live(compute)["orders-v1"].replicas == 3


def test_an_autoscaled_revision_reports_live_replicas_and_runs_any_count_within_its_bounds(
    stub: StubServer, rp: ContainerAppsRP, autoscaling: ContainerAppsCompute
) -> None:
    scaling = policy(minReplicas=2, maxReplicas=10, rules=[{"metric": "cpu", "target": 70}])
    autoscaling.deploy_revision(replace(spec(replicas=4), scaling=scaling))
    assert live(autoscaling)["orders-v1"].replicas == 2  # at rest: its minimum
    rp.autoscale("rg-dev", "orders", "orders--orders-v1", 7)
    assert live(autoscaling)["orders-v1"].replicas == 7  # what KEDA runs now, not the spec's 4

    autoscaling.scale("dev", "orders", "orders-v1", 0)
    assert live(autoscaling)["orders-v1"].replicas == 0
    autoscaling.scale("dev", "orders", "orders-v1", 4)  # a rollback restores it at the catalog's count
    assert rp.revision("rg-dev", "orders", "orders--orders-v1")["properties"]["active"] is True
    autoscaling.deploy_revision(replace(spec(replicas=3), scaling=scaling))  # a retried deploy: same revision
    with pytest.raises(PermanentError, match="scales itself between 2 and 10 replicas by its scale rules"):
        autoscaling.scale("dev", "orders", "orders-v1", 11)
    narrower = policy(minReplicas=2, maxReplicas=8, rules=[{"metric": "cpu", "target": 70}])
    for other in (replace(spec(replicas=4), scaling=narrower), spec()):  # another policy; none at all
        with pytest.raises(PermanentError, match="different image, configuration or scaling policy"):
            autoscaling.deploy_revision(other)
    assert len(stub.calls("PUT", ORDERS)) == 1 and not stub.calls("PATCH", ORDERS)


def test_a_queue_rule_without_a_service_bus_namespace_is_refused_before_any_request(
    stub: StubServer, compute: ContainerAppsCompute
) -> None:
    scaling = policy(maxReplicas=3, rules=[{"metric": "queue", "target": 5}])
    with pytest.raises(PermanentError, match=r"orders: its scaling rule on metric queue .* set service_bus_namespace"):
        compute.deploy_revision(replace(spec(), scaling=scaling))
    assert stub.requests == []
