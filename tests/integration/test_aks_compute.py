"""AKS Compute against a fake Kubernetes API server and ARM route over TLS, with the real SDK clients."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import certifi
import pytest
from azure.core.credentials import AccessToken
from azure.mgmt.containerservice import ContainerServiceClient

from controlplane.adapters.azure.aks.compute import AksCompute
from controlplane.adapters.azure.aks.credentials import AKS_SERVER_SCOPE, AksClusterAccess
from controlplane.adapters.azure.aks.objects import GatewayRoute, route_weights
from controlplane.adapters.azure.aks.rollout import rollout_done
from controlplane.adapters.azure.aks.secrets import SecretsStoreIdentity
from controlplane.domain.runtime import RevisionSpec
from controlplane.errors import ConcurrencyConflict, NotFound, PermanentError, TransientError
from tests.contracts.compute import VAULT, ComputeContract, live, spec
from tests.stubs.https_stub import Reply, StaticToken, StubServer
from tests.stubs.kube_api import FakeKubeApi, serve_cluster_credentials

SUBSCRIPTION, RESOURCE_GROUP, CLUSTER = "00000000-0000-0000-0000-00000000000a", "rg-platform", "aks-dev"
GATEWAY = GatewayRoute("shared", "gateways", "{service}.{environment}.apps.contoso.com")
IDENTITY = SecretsStoreIdentity("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222")
MANAGED = {"app.kubernetes.io/managed-by": "runtime-control-plane"}


class RecordingCredential:
    """Tokens ``aks-1``, ``aks-2``, ... each valid ``lifetime`` seconds from the injected clock; records scopes."""

    def __init__(self, clock: Callable[[], float], lifetime: float = 600) -> None:
        self.scopes: list[tuple[str, ...]] = []
        self._clock = clock
        self._lifetime = lifetime

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(f"aks-{len(self.scopes)}", int(self._clock() + self._lifetime))


@pytest.fixture(scope="module")
def server() -> Iterator[StubServer]:
    """One TLS server for the module (stopping one takes half a second); each test's fake shadows the last."""
    with StubServer() as started:
        yield started


@pytest.fixture
def stub(server: StubServer) -> StubServer:
    server.requests.clear()
    return server


@pytest.fixture
def kube(stub: StubServer) -> FakeKubeApi:
    return FakeKubeApi(stub)


@pytest.fixture
def access(stub: StubServer) -> Iterator[Callable[..., AksClusterAccess]]:
    made: list[AksClusterAccess] = []

    def make(credential: Any = None, **options: Any) -> AksClusterAccess:
        serve_cluster_credentials(stub, SUBSCRIPTION, RESOURCE_GROUP, CLUSTER)
        arm = ContainerServiceClient(StaticToken(), SUBSCRIPTION, base_url=stub.url, connection_verify=stub.ca_file)
        made.append(AksClusterAccess(arm, credential or StaticToken(), RESOURCE_GROUP, CLUSTER, **options))
        return made[-1]

    yield make
    for item in made:
        item.invalidate()


def aks(access: Callable[..., AksClusterAccess], **options: Any) -> AksCompute:
    defaults = {"secrets_identity": IDENTITY, "poll_seconds": 0.01, "rollout_timeout_seconds": 5.0}
    return AksCompute(access(), **{**defaults, **options})


def failing_spec(kube: FakeKubeApi) -> Callable[[RevisionSpec], RevisionSpec]:
    def fail(wanted: RevisionSpec) -> RevisionSpec:
        kube.fail_image("orders:doomed", "ImagePullBackOff", 'Back-off pulling image "orders:doomed": not found')
        return replace(wanted, image="orders:doomed")

    return fail


class TestAksComputeOnGatewayApi(ComputeContract):
    @pytest.fixture
    def compute(self, access: Callable[..., AksClusterAccess], kube: FakeKubeApi) -> AksCompute:
        return aks(access, gateway=GATEWAY)

    @pytest.fixture
    def failing(self, kube: FakeKubeApi) -> Callable[[RevisionSpec], RevisionSpec]:
        return failing_spec(kube)


class TestAksComputeOnServiceSelector(ComputeContract):
    """Without a Gateway, traffic goes 100% to one revision; a split is refused, not approximated."""

    @pytest.fixture
    def compute(self, access: Callable[..., AksClusterAccess], kube: FakeKubeApi) -> AksCompute:
        return aks(access)

    @pytest.fixture
    def failing(self, kube: FakeKubeApi) -> Callable[[RevisionSpec], RevisionSpec]:
        return failing_spec(kube)

    def test_traffic_weights_show_in_inventory_and_unnamed_revisions_get_none(self, compute: Any) -> None:
        for name in ("orders-v1", "orders-v2", "orders-v3"):
            compute.deploy_revision(spec(name))
        with pytest.raises(PermanentError, match=r"weighted split.*Gateway API"):
            compute.set_traffic("dev", "orders", {"orders-v1": 20, "orders-v2": 80})
        compute.set_traffic("dev", "orders", {"orders-v1": 0, "orders-v2": 100})
        assert {name: w.traffic_percent for name, w in live(compute).items()} == {
            "orders-v1": 0,
            "orders-v2": 100,
            "orders-v3": 0,
        }


# -- credentials --------------------------------------------------------------------------------------------------
def test_cluster_credentials_come_from_arm_and_requests_carry_an_aks_scoped_token(
    access: Callable[..., AksClusterAccess], stub: StubServer, kube: FakeKubeApi
) -> None:
    credential = RecordingCredential(time.time)
    compute = AksCompute(access(credential), poll_seconds=0.01)
    compute.deploy_revision(spec())
    [exchange] = stub.calls("POST", r"/subscriptions/.*/listClusterUserCredential")
    assert exchange.path == (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.ContainerService"
        f"/managedClusters/{CLUSTER}/listClusterUserCredential"
    )
    assert exchange.api_version == "2026-08-01"
    assert exchange.headers["authorization"] == "Bearer stub-token"
    assert credential.scopes == [(AKS_SERVER_SCOPE,)]
    kube_calls = [r for r in stub.requests if not r.path.startswith("/subscriptions/")]
    assert kube_calls and {r.headers["authorization"] for r in kube_calls} == {"Bearer aks-1"}


def test_the_token_is_refreshed_before_it_expires(access: Callable[..., AksClusterAccess], stub: StubServer) -> None:
    now = [1_000_000.0]
    credential = RecordingCredential(lambda: now[0], lifetime=600)
    FakeKubeApi(stub)
    compute = AksCompute(access(credential, refresh_margin_seconds=300, clock=lambda: now[0]))
    compute.inventory("dev")
    now[0] += 200  # 400 s left: still good
    compute.inventory("dev")
    now[0] += 150  # 250 s left: inside the margin
    compute.inventory("dev")
    assert [r.headers["authorization"] for r in stub.calls("GET", r"/apis/.*")][-3:] == [
        "Bearer aks-1",
        "Bearer aks-1",
        "Bearer aks-2",
    ]


def test_a_tls_failure_is_transient_and_the_retry_fetches_the_cluster_ca_again(
    access: Callable[..., AksClusterAccess], stub: StubServer, kube: FakeKubeApi
) -> None:
    cluster = access()
    other_ca = Path(certifi.where()).read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    serve_cluster_credentials(stub, SUBSCRIPTION, RESOURCE_GROUP, CLUSTER, ca_pem=other_ca.encode())
    compute = AksCompute(cluster)
    with pytest.raises(TransientError, match="cannot reach the API server"):
        compute.inventory("dev")
    serve_cluster_credentials(stub, SUBSCRIPTION, RESOURCE_GROUP, CLUSTER)  # the CA the server really has
    assert compute.inventory("dev") == []
    assert len(stub.calls("POST", r".*/listClusterUserCredential")) == 2


def test_an_unknown_cluster_is_not_found(stub: StubServer) -> None:
    missing = "The Resource 'Microsoft.ContainerService/managedClusters/aks-gone' was not found."
    stub.route(
        "POST",
        r".*/managedClusters/aks-gone/.*",
        Reply(404, {"error": {"code": "ResourceNotFound", "message": missing}}),
    )
    arm = ContainerServiceClient(StaticToken(), SUBSCRIPTION, base_url=stub.url, connection_verify=stub.ca_file)
    compute = AksCompute(AksClusterAccess(arm, StaticToken(), RESOURCE_GROUP, "aks-gone"))
    with pytest.raises(NotFound, match="aks-gone"):
        compute.inventory("dev")


# -- objects ------------------------------------------------------------------------------------------------------
def test_every_object_is_labelled_managed_and_the_namespace_is_created_once(
    access: Callable[..., AksClusterAccess], stub: StubServer, kube: FakeKubeApi
) -> None:
    compute = aks(access, gateway=GATEWAY)
    compute.deploy_revision(spec("orders-v1", secret_refs={"DB": f"{VAULT}/db"}))
    compute.deploy_revision(spec("orders-v2"))
    compute.set_traffic("dev", "orders", {"orders-v1": 100})
    compute.set_preview("dev", "orders", "orders-v2")
    assert [r.body["metadata"]["name"] for r in stub.calls("POST", "/api/v1/namespaces")] == ["dev"]
    assert kube.namespaces["dev"]["metadata"]["labels"] == MANAGED
    created = [r.body for r in stub.requests if r.method == "POST" and "/namespaces/dev/" in r.path]
    assert sorted(b["kind"] for b in created) == [
        "Deployment",
        "Deployment",
        "HTTPRoute",
        "SecretProviderClass",
        "Service",
        "Service",
        "Service",
    ]
    assert all(MANAGED.items() <= b["metadata"]["labels"].items() for b in created)
    deployment = kube.get("deployments", "dev", "orders-v1")
    assert deployment["metadata"]["labels"] == {
        "app.kubernetes.io/name": "orders",
        "controlplane.azure/revision": "orders-v1",
        **MANAGED,
    }
    assert (
        deployment["metadata"]["annotations"]["controlplane.azure/config-hash"]
        == spec(secret_refs={"DB": f"{VAULT}/db"}).config_hash()
    )
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["httpGet"] == {"path": "/health", "port": "http"}


def test_an_existing_namespace_is_used_as_it_is(access: Callable[..., AksClusterAccess], stub: StubServer) -> None:
    kube = FakeKubeApi(stub)
    kube.namespaces["dev"] = {"metadata": {"name": "dev", "labels": {"team": "orders"}}}
    aks(access).deploy_revision(spec())
    assert stub.calls("POST", "/api/v1/namespaces") == []
    assert kube.namespaces["dev"]["metadata"]["labels"] == {"team": "orders"}


def test_secrets_are_key_vault_references_mounted_by_the_csi_driver_never_values(
    access: Callable[..., AksClusterAccess], stub: StubServer, kube: FakeKubeApi
) -> None:
    refs = {"DB_PASSWORD": f"{VAULT}/db-password", "API_KEY": f"{VAULT}/api-key/0123456789abcdef0123456789abcdef"}
    aks(access).deploy_revision(spec(secret_refs=refs, configuration={"MODE": "fast"}))
    [provider] = [r.body for r in stub.calls("POST", r".*/secretproviderclasses")]
    parameters = provider["spec"]["parameters"]
    assert (parameters["keyvaultName"], parameters["tenantId"]) == ("kv-orders", IDENTITY.tenant_id)
    assert parameters["userAssignedIdentityID"] == IDENTITY.client_id
    assert "objectName: db-password" in parameters["objects"] and "objectVersion: 0123456789" in parameters["objects"]
    assert "secretObjects" not in provider["spec"]  # no sync into a Kubernetes Secret
    container = kube.get("deployments", "dev", "orders-v1")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["DB_PASSWORD_SECRET_URI"] == refs["DB_PASSWORD"]
    assert env["DB_PASSWORD_SECRET_FILE"] == "/mnt/secrets/kv-orders/DB_PASSWORD"
    assert "DB_PASSWORD" not in env and all("valueFrom" not in e for e in container["env"])
    bodies = json.dumps([r.body for r in stub.requests if r.body is not None])
    assert "/secrets/" not in "".join(r.path for r in stub.requests if not r.path.startswith("/subscriptions/"))
    assert '"kind": "Secret"' not in bodies and "secretKeyRef" not in bodies and "aks-" not in bodies


def test_secrets_without_a_csi_identity_are_refused_before_anything_is_written(
    access: Callable[..., AksClusterAccess], stub: StubServer, kube: FakeKubeApi
) -> None:
    compute = aks(access, secrets_identity=None)
    with pytest.raises(PermanentError, match=r"DB.*Secrets Store CSI identity"):
        compute.deploy_revision(spec(secret_refs={"DB": f"{VAULT}/db"}))
    with pytest.raises(PermanentError, match=r"\['PORT'\].*rename"):
        compute.deploy_revision(spec(configuration={"PORT": "9090"}))
    assert [r for r in stub.requests if r.method != "GET"] == []


# -- inventory ----------------------------------------------------------------------------------------------------
def test_inventory_reports_deployments_we_did_not_create_as_unmanaged(
    access: Callable[..., AksClusterAccess], kube: FakeKubeApi
) -> None:
    compute = aks(access)
    compute.deploy_revision(spec("orders-v1", configuration={"MODE": "fast"}))
    kube.add("deployments", "dev", _foreign_deployment("legacy-cron", "cron:7", {"SCHEDULE": "hourly"}))
    workloads = live(compute)
    assert workloads["orders-v1"].managed is True
    assert workloads["orders-v1"].config_hash == spec(configuration={"MODE": "fast"}).config_hash()
    legacy = workloads["legacy-cron"]
    assert (legacy.service, legacy.image, legacy.replicas, legacy.managed) == ("legacy-cron", "cron:7", 3, False)
    assert legacy.config_hash == spec(configuration={"SCHEDULE": "hourly"}).config_hash()


def test_an_out_of_band_env_change_shows_in_the_config_hash(
    access: Callable[..., AksClusterAccess], kube: FakeKubeApi
) -> None:
    compute = aks(access)
    compute.deploy_revision(spec(configuration={"MODE": "fast"}))
    key = ("deployments", "dev", "orders-v1")
    env = kube.objects[key]["spec"]["template"]["spec"]["containers"][0]["env"]
    next(e for e in env if e["name"] == "MODE")["value"] = "slow"  # kubectl set env MODE=slow
    assert live(compute)["orders-v1"].config_hash == spec(configuration={"MODE": "slow"}).config_hash()


def test_the_gateway_route_splits_by_weight_across_revision_services(
    access: Callable[..., AksClusterAccess], kube: FakeKubeApi
) -> None:
    compute = aks(access, gateway=GATEWAY)
    for name in ("orders-v1", "orders-v2"):
        compute.deploy_revision(spec(name))
    compute.set_traffic("dev", "orders", {"orders-v1": 90, "orders-v2": 10})
    route = kube.get("httproutes", "dev", "orders")["spec"]
    assert route["hostnames"] == ["orders.dev.apps.contoso.com"]
    assert route["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "shared", "namespace": "gateways"}
    ]
    assert [(b["name"], b["port"], b["weight"]) for b in route["rules"][0]["backendRefs"]] == [
        ("orders-v1", 80, 90),
        ("orders-v2", 80, 10),
    ]
    assert kube.get("services", "dev", "orders-v2")["spec"]["selector"] == {
        "app.kubernetes.io/name": "orders",
        "controlplane.azure/revision": "orders-v2",
    }


def test_without_gateway_api_crds_gateway_traffic_is_a_clear_permanent_error(
    access: Callable[..., AksClusterAccess], stub: StubServer
) -> None:
    FakeKubeApi(stub, gateway_api=False)
    compute = aks(access, gateway=GATEWAY)
    compute.deploy_revision(spec())
    with pytest.raises(PermanentError, match=r"HTTPRoute.*does not serve.*CRDs"):
        compute.set_traffic("dev", "orders", {"orders-v1": 100})


def test_the_production_service_selects_the_revision_with_all_traffic_and_preview_its_own(
    access: Callable[..., AksClusterAccess], kube: FakeKubeApi
) -> None:
    compute = aks(access)
    compute.deploy_revision(spec("orders-v1"))
    compute.deploy_revision(spec("orders-v2"))
    compute.set_traffic("dev", "orders", {"orders-v1": 100})
    compute.set_preview("dev", "orders", "orders-v2")
    selected = {n: kube.get("services", "dev", n)["spec"]["selector"] for n in ("orders", "orders-preview")}
    assert {n: s["controlplane.azure/revision"] for n, s in selected.items()} == {
        "orders": "orders-v1",
        "orders-preview": "orders-v2",
    }
    compute.set_preview("dev", "orders", None)
    assert kube.get("services", "dev", "orders-preview") is None


def test_a_service_of_that_name_we_do_not_own_is_not_taken_over(
    access: Callable[..., AksClusterAccess], kube: FakeKubeApi
) -> None:
    compute = aks(access)
    compute.deploy_revision(spec())
    kube.add("services", "dev", {"metadata": {"name": "orders"}, "spec": {"selector": {"app": "orders"}}})
    with pytest.raises(PermanentError, match="not managed by the control plane"):
        compute.set_traffic("dev", "orders", {"orders-v1": 100})
    assert kube.get("services", "dev", "orders")["spec"]["selector"] == {"app": "orders"}


# -- rollout and removal --------------------------------------------------------------------------------------
def test_a_failed_rollout_names_the_pod_reason_and_leaves_nothing(
    access: Callable[..., AksClusterAccess], kube: FakeKubeApi
) -> None:
    kube.fail_image("orders:9.9", "ImagePullBackOff", 'Back-off pulling image "orders:9.9"')
    with pytest.raises(PermanentError, match=r"orders-v1: cannot start: pod orders-v1-\S+: container orders ImagePull"):
        aks(access).deploy_revision(spec(image="orders:9.9", secret_refs={"DB": f"{VAULT}/db"}))
    assert [kube.names(kind, "dev") for kind in ("deployments", "services", "pods", "secretproviderclasses")] == [
        [],
        [],
        [],
        [],
    ]


def test_a_rollout_that_never_becomes_available_times_out_naming_the_pods(
    access: Callable[..., AksClusterAccess], stub: StubServer
) -> None:
    FakeKubeApi(stub, status_lag=10_000)
    with pytest.raises(PermanentError, match=r"orders-v1: not available after 0.2s: no pods yet"):
        aks(access, rollout_timeout_seconds=0.2).deploy_revision(spec())


def test_endpoints_are_pod_ips_on_the_container_port(
    access: Callable[..., AksClusterAccess], kube: FakeKubeApi
) -> None:
    compute = aks(access)
    compute.deploy_revision(spec(replicas=2))
    pods = [kube.get("pods", "dev", name) for name in kube.names("pods", "dev")]
    assert compute.endpoints("dev", "orders", "orders-v1") == [f"http://{p['status']['podIP']}:8080" for p in pods]


def test_removing_a_revision_deletes_its_deployment_service_and_secret_classes(
    access: Callable[..., AksClusterAccess], kube: FakeKubeApi
) -> None:
    compute = aks(access)
    compute.deploy_revision(spec("orders-v1", secret_refs={"DB": f"{VAULT}/db"}))
    compute.deploy_revision(spec("orders-v2"))
    compute.remove_revision("dev", "orders", "orders-v1")
    assert kube.names("deployments", "dev") == ["orders-v2"]
    assert kube.names("services", "dev") == ["orders-v2"]
    assert kube.names("secretproviderclasses", "dev") == []


def test_an_unmanaged_deployment_can_be_removed(access: Callable[..., AksClusterAccess], kube: FakeKubeApi) -> None:
    kube.add("deployments", "dev", _foreign_deployment("legacy-cron", "cron:7", {}))
    aks(access).remove_revision("dev", "legacy-cron", "legacy-cron")
    assert kube.names("deployments", "dev") == []


# -- error translation ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "reason", "error"),
    [
        (404, "NotFound", NotFound),
        (429, "TooManyRequests", TransientError),
        (503, "ServiceUnavailable", TransientError),
        (409, "Conflict", ConcurrencyConflict),
        (403, "Forbidden", PermanentError),
        (422, "Invalid", PermanentError),
    ],
)
def test_api_errors_are_translated(
    access: Callable[..., AksClusterAccess], kube: FakeKubeApi, code: int, reason: str, error: type[Exception]
) -> None:
    kube.fail_next("GET", r"/apis/apps/v1/namespaces/dev/deployments", code, reason, f"injected {reason}")
    with pytest.raises(error, match=f"Deployment dev: list: .*injected {reason}") as raised:
        aks(access).inventory("dev")
    assert type(raised.value) is error


def _foreign_deployment(name: str, image: str, env: dict[str, str]) -> dict[str, Any]:
    """A Deployment someone applied with kubectl: no control-plane labels or annotations."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": name, "image": image, "env": [{"name": k, "value": v} for k, v in env.items()]}
                    ]
                },
            },
        },
    }


# -- reading objects back -------------------------------------------------------------------------------------
def test_hand_edited_route_weights_are_read_as_percentages() -> None:
    route = {"spec": {"rules": [{"backendRefs": [{"name": "orders-v1", "weight": 3}, {"name": "orders-v2"}]}]}}
    assert route_weights(route) == {"orders-v1": 75, "orders-v2": 25}
    assert route_weights({"spec": {"rules": [{"backendRefs": [{"name": "orders-v1", "weight": 0}]}]}}) == {}


@pytest.mark.parametrize(
    ("generation", "observed", "wanted", "available", "running", "done"),
    [
        (2, 1, 2, 2, 2, False),
        (2, 2, 2, 1, 2, False),
        (2, 2, 2, 2, 2, True),
        (3, 3, 0, 0, 1, False),
        (3, 3, 0, 0, 0, True),
    ],
)
def test_a_rollout_is_done_when_the_controller_caught_up_and_exactly_the_wanted_replicas_are_available(
    generation: int, observed: int, wanted: int, available: int, running: int, done: bool
) -> None:
    status = {"observedGeneration": observed, "updatedReplicas": wanted, "availableReplicas": available}
    deployment = {"metadata": {"generation": generation}, "spec": {"replicas": wanted}, "status": status}
    assert rollout_done({**deployment, "status": {**status, "replicas": running}}) is done
