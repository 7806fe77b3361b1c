"""The Compute contract: every implementation (local processes, memory) passes it.

Subclasses provide a ``compute`` fixture (empty) and a ``failing`` fixture: a function that takes a spec
and returns one whose replicas will fail to start on that compute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from controlplane.domain.manifest.service import ServiceSpec
from controlplane.domain.runtime import LiveWorkload, RevisionSpec
from controlplane.errors import NotFound, PermanentError

VAULT = "https://kv-orders.vault.azure.net/secrets"


def spec(
    revision: str = "orders-v1",
    *,
    environment: str = "dev",
    service: str = "orders",
    image: str = "orders:1.0.0",
    replicas: int = 1,
    configuration: Mapping[str, str] | None = None,
    secret_refs: Mapping[str, str] | None = None,
) -> RevisionSpec:
    return RevisionSpec(
        environment=environment,
        service=service,
        revision=revision,
        image=image,
        replicas=replicas,
        port=8080,
        health_path="/health",
        configuration=configuration or {},
        secret_refs=secret_refs or {},
    )


def live(compute: Any, environment: str = "dev") -> dict[str, LiveWorkload]:
    return {workload.revision: workload for workload in compute.inventory(environment)}


class ComputeContract:
    def test_a_deployed_revision_is_live_with_its_replicas_and_no_traffic(self, compute: Any) -> None:
        compute.deploy_revision(spec(replicas=2, image="orders:1.0.0"))
        [workload] = compute.inventory("dev")
        assert (workload.service, workload.revision, workload.image) == ("orders", "orders-v1", "orders:1.0.0")
        assert (workload.replicas, workload.traffic_percent, workload.managed) == (2, 0, True)

    def test_deploying_the_same_spec_again_changes_nothing(self, compute: Any) -> None:
        compute.deploy_revision(spec(replicas=2))
        before = compute.inventory("dev")
        compute.deploy_revision(spec(replicas=2))
        assert compute.inventory("dev") == before

    def test_a_revision_cannot_change_image_or_configuration(self, compute: Any) -> None:
        compute.deploy_revision(spec())
        with pytest.raises(PermanentError, match=r"orders-v1.*immutable"):
            compute.deploy_revision(spec(image="orders:2.0.0"))
        with pytest.raises(PermanentError, match="immutable"):
            compute.deploy_revision(spec(configuration={"MODE": "other"}))
        assert live(compute)["orders-v1"].image == "orders:1.0.0"

    def test_traffic_weights_show_in_inventory_and_unnamed_revisions_get_none(self, compute: Any) -> None:
        for name in ("orders-v1", "orders-v2", "orders-v3"):
            compute.deploy_revision(spec(name))
        compute.set_traffic("dev", "orders", {"orders-v1": 20, "orders-v2": 80})
        compute.set_traffic("dev", "orders", {"orders-v2": 100})
        assert {name: w.traffic_percent for name, w in live(compute).items()} == {
            "orders-v1": 0,
            "orders-v2": 100,
            "orders-v3": 0,
        }

    def test_weights_must_sum_to_100_and_a_refusal_changes_nothing(self, compute: Any) -> None:
        compute.deploy_revision(spec("orders-v1"))
        compute.deploy_revision(spec("orders-v2"))
        compute.set_traffic("dev", "orders", {"orders-v1": 100})
        with pytest.raises(PermanentError, match="sum to 100"):
            compute.set_traffic("dev", "orders", {"orders-v1": 50, "orders-v2": 40})
        with pytest.raises(PermanentError, match=r"0\.\.100"):
            compute.set_traffic("dev", "orders", {"orders-v1": 120, "orders-v2": -20})
        assert live(compute)["orders-v1"].traffic_percent == 100

    def test_traffic_to_an_unknown_revision_raises_not_found(self, compute: Any) -> None:
        compute.deploy_revision(spec("orders-v1"))
        with pytest.raises(NotFound, match="orders-v9"):
            compute.set_traffic("dev", "orders", {"orders-v1": 50, "orders-v9": 50})

    def test_scale_to_zero_keeps_the_revision_and_scaling_up_restores_it(self, compute: Any) -> None:
        compute.deploy_revision(spec(replicas=1))
        compute.scale("dev", "orders", "orders-v1", 2)
        assert live(compute)["orders-v1"].replicas == 2
        compute.scale("dev", "orders", "orders-v1", 0)
        assert live(compute)["orders-v1"].replicas == 0
        assert compute.endpoints("dev", "orders", "orders-v1") == []
        compute.scale("dev", "orders", "orders-v1", 1)
        assert live(compute)["orders-v1"].replicas == 1

    def test_deploying_a_revision_scaled_to_zero_restores_its_replicas(self, compute: Any) -> None:
        compute.deploy_revision(spec(replicas=2))
        compute.scale("dev", "orders", "orders-v1", 0)
        compute.deploy_revision(spec(replicas=2))
        assert live(compute)["orders-v1"].replicas == 2

    def test_scaling_an_unknown_revision_raises_not_found(self, compute: Any) -> None:
        with pytest.raises(NotFound, match="orders-v9"):
            compute.scale("dev", "orders", "orders-v9", 1)

    def test_negative_replicas_are_refused(self, compute: Any) -> None:
        compute.deploy_revision(spec())
        with pytest.raises(PermanentError, match="replicas"):
            compute.scale("dev", "orders", "orders-v1", -1)

    def test_remove_revision_deletes_it_and_tolerates_absence(self, compute: Any) -> None:
        compute.deploy_revision(spec("orders-v1"))
        compute.deploy_revision(spec("orders-v2"))
        compute.remove_revision("dev", "orders", "orders-v1")
        compute.remove_revision("dev", "orders", "orders-v1")
        compute.remove_revision("dev", "orders", "never-deployed")
        assert list(live(compute)) == ["orders-v2"]
        with pytest.raises(NotFound):
            compute.endpoints("dev", "orders", "orders-v1")

    def test_a_revision_with_traffic_cannot_be_removed(self, compute: Any) -> None:
        compute.deploy_revision(spec("orders-v1"))
        compute.set_traffic("dev", "orders", {"orders-v1": 100})
        with pytest.raises(PermanentError, match="100% of traffic"):
            compute.remove_revision("dev", "orders", "orders-v1")
        assert live(compute)["orders-v1"].replicas == 1

    def test_inventory_lists_only_the_environment_asked_for(self, compute: Any) -> None:
        compute.deploy_revision(spec("orders-v1", environment="dev"))
        compute.deploy_revision(spec("orders-v1", environment="test"))
        compute.deploy_revision(spec("payments-v1", environment="dev", service="payments"))
        assert sorted((w.environment, w.service) for w in compute.inventory("dev")) == [
            ("dev", "orders"),
            ("dev", "payments"),
        ]

    def test_config_hash_is_the_manifest_services_hash(self, compute: Any) -> None:
        secrets = {"DB_PASSWORD": f"{VAULT}/db-password", "API_KEY": f"{VAULT}/api-key"}
        compute.deploy_revision(spec(configuration={"MODE": "fast", "LEVEL": "2"}, secret_refs=secrets))
        service = ServiceSpec.model_validate(
            {
                "name": "orders",
                "image": "orders:1.0.0",
                "configuration": {"LEVEL": "2", "MODE": "fast"},
                "secrets": [{"name": n, "keyVaultSecretUri": u} for n, u in sorted(secrets.items())],
            }
        )
        assert live(compute)["orders-v1"].config_hash == service.config_hash()

    def test_endpoints_give_one_url_per_replica(self, compute: Any) -> None:
        compute.deploy_revision(spec(replicas=2))
        urls = compute.endpoints("dev", "orders", "orders-v1")
        assert len(urls) == len(set(urls)) == 2
        assert all(url.startswith("http://") for url in urls)

    def test_a_failed_start_is_permanent_and_leaves_no_revision(
        self, compute: Any, failing: Callable[[RevisionSpec], RevisionSpec]
    ) -> None:
        compute.deploy_revision(spec("orders-v1"))
        doomed = failing(spec("orders-v2", replicas=2))
        with pytest.raises(PermanentError, match="orders-v2"):
            compute.deploy_revision(doomed)
        assert list(live(compute)) == ["orders-v1"]
        with pytest.raises(PermanentError, match="orders-v2"):
            compute.deploy_revision(doomed)

    def test_a_failed_scale_up_is_permanent(
        self, compute: Any, failing: Callable[[RevisionSpec], RevisionSpec]
    ) -> None:
        target = failing(spec("orders-v2", replicas=0))
        compute.deploy_revision(target)
        with pytest.raises(PermanentError, match="orders-v2"):
            compute.scale("dev", "orders", "orders-v2", 1)
        assert live(compute)["orders-v2"].replicas == 0

    def test_a_preview_points_at_a_revision_and_can_be_cleared(self, compute) -> None:
        compute.deploy_revision(spec(revision="orders-2", replicas=1))
        compute.set_preview("dev", "orders", "orders-2")
        compute.set_preview("dev", "orders", None)
        with pytest.raises(NotFound):
            compute.set_preview("dev", "orders", "orders-404")
