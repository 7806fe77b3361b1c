"""The StateStore contract: the Table-storage store on Azurite and the in-memory fake both pass it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest

from controlplane.domain.deployment import DeploymentState, ServicePhase, ServiceProgress
from controlplane.domain.findings import FindingStatus
from controlplane.domain.loops import LoopRecord, QuarantinedImage
from controlplane.errors import AlreadyExists, ConcurrencyConflict, NotFound
from controlplane.ports import StateStore
from tests.builders import T0, catalog_entry, deployment, finding, trace_event


class StateStoreContract:
    """Subclasses provide a ``store`` fixture: an empty StateStore with its tables created."""

    def test_a_created_deployment_reads_back_with_its_history(self, store: StateStore) -> None:
        created = store.create_deployment(deployment().advance(DeploymentState.PROVISIONING, T0, "started"))
        read = store.get_deployment("dep-1")
        assert read == created
        assert read.etag == created.etag
        assert [(t.source, t.target) for t in read.transitions] == [
            (None, DeploymentState.REQUESTED),
            (DeploymentState.REQUESTED, DeploymentState.PROVISIONING),
        ]
        assert read.transitions[1].at == T0
        assert read.release == deployment().release

    def test_creating_a_deployment_twice_is_refused(self, store: StateStore) -> None:
        store.create_deployment(deployment())
        with pytest.raises(AlreadyExists):
            store.create_deployment(deployment())

    def test_a_deleted_deployment_is_gone_and_deleting_again_is_fine(self, store: StateStore) -> None:
        store.create_deployment(deployment())
        store.delete_deployment("dep-1")
        store.delete_deployment("dep-1")
        with pytest.raises(NotFound):
            store.get_deployment("dep-1")
        assert store.list_deployments() == []

    def test_an_unknown_deployment_is_not_found(self, store: StateStore) -> None:
        with pytest.raises(NotFound):
            store.get_deployment("nope")

    def test_saving_a_stale_deployment_raises_conflict_and_keeps_the_winner(self, store: StateStore) -> None:
        store.create_deployment(deployment())
        first, second = store.get_deployment("dep-1"), store.get_deployment("dep-1")
        store.save_deployment(first.advance(DeploymentState.PROVISIONING, T0))
        with pytest.raises(ConcurrencyConflict):
            store.save_deployment(second.advance(DeploymentState.PROVISIONING, T0 + timedelta(seconds=1)))
        assert store.get_deployment("dep-1").transitions[-1].at == T0

    def test_two_concurrent_writers_never_lose_an_update(self, store: StateStore) -> None:
        store.create_deployment(deployment(services=("orders", "payments")))
        rounds = 15

        def write(service: str) -> None:
            for number in range(1, rounds + 1):
                store.update_deployment(
                    "dep-1",
                    lambda current, n=number: current.with_service(
                        service,
                        ServiceProgress(
                            ServicePhase.ROLLING_OUT,
                            f"{service}-r1",
                            n,
                            current.services[service].message + f"{n},",
                        ),
                    ),
                )

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(write, ["orders", "payments"]))
        final = store.get_deployment("dep-1")
        expected_log = "".join(f"{n}," for n in range(1, rounds + 1))
        for service in ("orders", "payments"):
            assert final.services[service].traffic_percent == rounds
            assert final.services[service].message == expected_log

    def test_deployments_list_newest_first_and_filter_by_environment_and_service(self, store: StateStore) -> None:
        store.create_deployment(deployment("d1", "dev", ("orders",), T0))
        store.create_deployment(deployment("d2", "dev", ("payments",), T0 + timedelta(minutes=1)))
        store.create_deployment(deployment("d3", "prod", ("orders",), T0 + timedelta(minutes=2)))
        assert [d.id for d in store.list_deployments()] == ["d3", "d2", "d1"]
        assert [d.id for d in store.list_deployments(environment="dev")] == ["d2", "d1"]
        assert [d.id for d in store.list_deployments(service="orders")] == ["d3", "d1"]
        assert [d.id for d in store.list_deployments(environment="dev", service="orders")] == ["d1"]

    def test_catalog_entries_are_replaced_per_environment_and_service(self, store: StateStore) -> None:
        store.put_catalog_entry(catalog_entry("dev", "orders", "orders-r1"))
        store.put_catalog_entry(catalog_entry("dev", "orders", "orders-r2"))
        store.put_catalog_entry(catalog_entry("dev", "payments"))
        store.put_catalog_entry(catalog_entry("prod", "orders"))
        assert store.get_catalog_entry("dev", "orders").revision == "orders-r2"
        assert [(e.environment, e.service) for e in store.list_catalog()] == [
            ("dev", "orders"),
            ("dev", "payments"),
            ("prod", "orders"),
        ]
        assert [e.service for e in store.list_catalog("dev")] == ["orders", "payments"]
        with pytest.raises(NotFound):
            store.get_catalog_entry("dev", "billing")

    def test_findings_are_listed_by_status_oldest_first(self, store: StateStore) -> None:
        store.create_finding(finding("f-2", age=5))
        store.create_finding(finding("f-1", age=0))
        store.create_finding(finding("f-3", FindingStatus.DISMISSED, age=1))
        assert [f.id for f in store.list_findings()] == ["f-1", "f-3", "f-2"]
        assert [f.id for f in store.list_findings(FindingStatus.OPEN)] == ["f-1", "f-2"]
        assert store.get_finding("f-2").diff == finding("f-2").diff

    def test_a_stale_finding_update_is_refused(self, store: StateStore) -> None:
        created = store.create_finding(finding())
        store.save_finding(created.with_status(FindingStatus.APPROVED, T0))
        with pytest.raises(ConcurrencyConflict):
            store.save_finding(created.with_status(FindingStatus.DISMISSED, T0))
        assert store.get_finding("f-1").status == FindingStatus.APPROVED
        with pytest.raises(AlreadyExists):
            store.create_finding(finding())

    def test_loop_state_is_versioned_so_two_writers_conflict(self, store: StateStore) -> None:
        assert store.get_loop_state("scaling", "dev/orders") is None
        first = store.put_loop_state(LoopRecord("scaling", "dev/orders", {"replicas": 2}))
        with pytest.raises(ConcurrencyConflict):
            store.put_loop_state(LoopRecord("scaling", "dev/orders", {"replicas": 9}))  # inserted meanwhile
        second = store.put_loop_state(replace(first, body={"replicas": 3}))
        with pytest.raises(ConcurrencyConflict):
            store.put_loop_state(replace(first, body={"replicas": 4}))  # read before the second write
        stored = store.get_loop_state("scaling", "dev/orders")
        assert stored is not None and stored.body == {"replicas": 3} and stored.etag == second.etag
        store.put_loop_state(LoopRecord("scaling", "dev/a", {}))
        store.put_loop_state(LoopRecord("monitor", "dev/orders", {}))
        assert [r.key for r in store.list_loop_states("scaling")] == ["dev/a", "dev/orders"]

    def test_quarantine_is_kept_per_service_and_image_until_lifted(self, store: StateStore) -> None:
        image = QuarantinedImage("dev", "orders", "example.azurecr.io/orders:3.0.0", "gate failed", T0, "dep-3")
        store.quarantine(image)
        store.quarantine(image)  # repeating is harmless
        store.quarantine(replace(image, environment="prod"))
        assert store.quarantined("dev") == [image]
        assert [q.environment for q in store.quarantined()] == ["dev", "prod"]
        assert store.lift_quarantine("dev", "orders", image.image) is True
        assert store.lift_quarantine("dev", "orders", image.image) is False
        assert store.quarantined("dev") == []

    def test_an_event_is_processed_once_until_its_ttl_passes(self, store: StateStore) -> None:
        ttl = timedelta(hours=1)
        assert store.mark_processed("scaling", "evt-1", T0, ttl) is True
        assert store.mark_processed("scaling", "evt-1", T0 + timedelta(minutes=5), ttl) is False
        assert store.mark_processed("drift", "evt-1", T0, ttl) is True
        assert store.mark_processed("scaling", "evt-1", T0 + timedelta(hours=2), ttl) is True

    def test_exactly_one_concurrent_consumer_wins_an_event(self, store: StateStore) -> None:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda _: store.mark_processed("c", "evt", T0, timedelta(hours=1)), range(8)))
        assert results.count(True) == 1

    def test_a_forgotten_event_is_processed_again(self, store: StateStore) -> None:
        ttl = timedelta(hours=1)
        store.mark_processed("scaling", "evt-1", T0, ttl)
        store.forget_processed("scaling", "evt-1")
        store.forget_processed("scaling", "never-seen")
        assert store.mark_processed("scaling", "evt-1", T0 + timedelta(minutes=5), ttl) is True

    def test_purge_forgets_only_expired_processed_events(self, store: StateStore) -> None:
        store.mark_processed("c", "old", T0, timedelta(minutes=1))
        store.mark_processed("c", "new", T0, timedelta(hours=1))
        assert store.purge_processed(T0 + timedelta(minutes=10)) == 1
        assert store.mark_processed("c", "new", T0 + timedelta(minutes=10), timedelta(hours=1)) is False
        assert store.mark_processed("c", "old", T0 + timedelta(minutes=10), timedelta(hours=1)) is True

    def test_a_deployment_keeps_its_etag_out_of_equality(self, store: StateStore) -> None:
        created = store.create_deployment(deployment())
        assert replace(created, etag=None) == created

    def test_one_deployment_at_a_time_claims_a_service(self, store: StateStore) -> None:
        """Claims are made by deployments already stored (a holder that is gone counts as finished)."""
        for deployment_id in ("d1", "d2", "d3", "d4"):
            store.create_deployment(deployment(deployment_id, services=("orders", "payments")))
        assert store.claim_services("dev", ["orders", "payments"], "d1") is None
        assert store.claim_services("dev", ["orders", "payments"], "d1") is None  # idempotent for its holder
        assert store.claim_services("dev", ["payments", "billing"], "d2") == "d1"
        assert store.claim_services("dev", ["billing"], "d3") is None, "a refused claim takes nothing"
        assert store.claim_services("prod", ["orders"], "d4") is None, "environments are separate"

    def test_a_finished_deployment_gives_way_and_a_release_frees_the_service(self, store: StateStore) -> None:
        finished = deployment("d1").advance(DeploymentState.PROVISIONING, T0).advance(DeploymentState.FAILED, T0)
        store.create_deployment(finished)
        store.create_deployment(deployment("d2"))
        store.create_deployment(deployment("d3"))
        store.claim_services("dev", ["orders"], "d1")
        assert store.claim_services("dev", ["orders"], "d2") is None
        store.release_services("dev", ["orders"], "d1")
        assert store.claim_services("dev", ["orders"], "d3") == "d2", "releasing someone else's claim does nothing"
        store.release_services("dev", ["orders"], "d2")
        assert store.claim_services("dev", ["orders"], "d3") is None

    def test_concurrent_claims_let_exactly_one_deployment_in(self, store: StateStore) -> None:
        for n in range(8):
            store.create_deployment(deployment(f"d{n}"))
        with ThreadPoolExecutor(max_workers=4) as pool:
            holders = list(pool.map(lambda n: store.claim_services("dev", ["orders"], f"d{n}"), range(8)))
        assert holders.count(None) == 1

    def test_an_idempotency_key_stays_bound_to_its_first_deployment(self, store: StateStore) -> None:
        assert store.remember_request("key-1", "d1") == "d1"
        assert store.remember_request("key-1", "d2") == "d1"
        assert store.remember_request("key-2", "d2") == "d2"

    def test_the_event_log_keeps_each_event_once_in_time_order(self, store: StateStore) -> None:
        first, second = trace_event("e-1", seconds=1), trace_event("e-2", seconds=2)
        store.append_events([second, first])
        store.append_events([first])
        assert [e.id for e in store.events_for_trace(first.traceid)] == ["e-1", "e-2"]
        assert store.events_for_trace("0af7651916cd43dd8448eb211c80319c") == []
