"""The Deployments contract: the Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.domain.access import Actor
from controlplane.domain.deployment import Deployment, DeploymentState, Origin, ServicePhase, ServiceProgress
from controlplane.errors import AlreadyExists, ConcurrencyConflict, NotFound
from controlplane.ports import Deployments
from tests.builders import T0, deployment


class DeploymentsContract:
    """Subclasses provide a ``stores`` fixture: every stored record over empty tables, their tables created."""

    @pytest.fixture
    def deployments(self, stores: Stores) -> Deployments:
        return stores.deployments

    def test_a_created_deployment_reads_back_with_its_history(self, deployments: Deployments) -> None:
        created = deployments.create_deployment(deployment().advance(DeploymentState.PROVISIONING, T0, "started"))
        read = deployments.get_deployment("dep-1")
        assert read == created
        assert read.etag == created.etag
        assert [(t.source, t.target) for t in read.transitions] == [
            (None, DeploymentState.REQUESTED),
            (DeploymentState.REQUESTED, DeploymentState.PROVISIONING),
        ]
        assert read.transitions[1].at == T0
        assert read.release == deployment().release

    def test_the_requester_and_the_operators_who_moved_it_read_back(self, deployments: Deployments) -> None:
        ana, ben = Actor("ana", "oid-ana", ("Deployer",)), Actor("ben", "oid-ben", ("Approver", "Operator"))
        requested = Deployment.request(
            "dep-1", deployment().release, deployment().traceid, T0, Origin(ana, rollback_of="dep-0", four_eyes=True)
        )
        created = deployments.create_deployment(requested)
        moved = deployments.update_deployment(
            "dep-1", lambda current: current.advance(DeploymentState.FAILED, T0, "aborted by ben: x", ben)
        )
        read = deployments.get_deployment("dep-1")
        assert read == moved and (read.requested_by, read.rollback_of, read.four_eyes) == (ana, "dep-0", True)
        assert [t.actor for t in read.transitions] == [ana, ben] and created.requested_by == ana

    def test_creating_a_deployment_twice_is_refused(self, deployments: Deployments) -> None:
        deployments.create_deployment(deployment())
        with pytest.raises(AlreadyExists):
            deployments.create_deployment(deployment())

    def test_a_deleted_deployment_is_gone_and_deleting_again_is_fine(self, deployments: Deployments) -> None:
        deployments.create_deployment(deployment())
        deployments.delete_deployment("dep-1")
        deployments.delete_deployment("dep-1")
        with pytest.raises(NotFound):
            deployments.get_deployment("dep-1")
        assert deployments.list_deployments() == []

    def test_an_unknown_deployment_is_not_found(self, deployments: Deployments) -> None:
        with pytest.raises(NotFound):
            deployments.get_deployment("nope")

    def test_saving_a_stale_deployment_raises_conflict_and_keeps_the_winner(self, deployments: Deployments) -> None:
        deployments.create_deployment(deployment())
        first, second = deployments.get_deployment("dep-1"), deployments.get_deployment("dep-1")
        deployments.save_deployment(first.advance(DeploymentState.PROVISIONING, T0))
        with pytest.raises(ConcurrencyConflict):
            deployments.save_deployment(second.advance(DeploymentState.PROVISIONING, T0 + timedelta(seconds=1)))
        assert deployments.get_deployment("dep-1").transitions[-1].at == T0

    def test_two_concurrent_writers_never_lose_an_update(self, deployments: Deployments) -> None:
        deployments.create_deployment(deployment(services=("orders", "payments")))
        rounds = 15

        def write(service: str) -> None:
            for number in range(1, rounds + 1):
                deployments.update_deployment(
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
        final = deployments.get_deployment("dep-1")
        expected_log = "".join(f"{n}," for n in range(1, rounds + 1))
        for service in ("orders", "payments"):
            assert final.services[service].traffic_percent == rounds
            assert final.services[service].message == expected_log

    def test_deployments_list_newest_first_and_filter_by_environment_and_service(
        self, deployments: Deployments
    ) -> None:
        deployments.create_deployment(deployment("d1", "dev", ("orders",), T0))
        deployments.create_deployment(deployment("d2", "dev", ("payments",), T0 + timedelta(minutes=1)))
        deployments.create_deployment(deployment("d3", "prod", ("orders",), T0 + timedelta(minutes=2)))
        assert [d.id for d in deployments.list_deployments()] == ["d3", "d2", "d1"]
        assert [d.id for d in deployments.list_deployments(environment="dev")] == ["d2", "d1"]
        assert [d.id for d in deployments.list_deployments(service="orders")] == ["d3", "d1"]
        assert [d.id for d in deployments.list_deployments(environment="dev", service="orders")] == ["d1"]
        ended = deployments.get_deployment("d2").advance(DeploymentState.PROVISIONING, T0 + timedelta(minutes=3))
        deployments.save_deployment(ended)
        assert [d.id for d in deployments.list_deployments(state=DeploymentState.PROVISIONING)] == ["d2"]
        assert [d.id for d in deployments.list_deployments(environment="dev", state=DeploymentState.REQUESTED)] == [
            "d1"
        ]

    def test_a_deployment_keeps_its_etag_out_of_equality(self, deployments: Deployments) -> None:
        created = deployments.create_deployment(deployment())
        assert replace(created, etag=None) == created

    def test_the_release_of_a_deployment_is_the_one_it_was_requested_with(self, deployments: Deployments) -> None:
        requested = deployments.create_deployment(deployment())
        assert deployments.get_release("dep-1") == requested.release
        deployments.update_deployment(
            "dep-1", lambda held: held.advance(DeploymentState.PROVISIONING, T0).advance(DeploymentState.FAILED, T0)
        )
        assert deployments.get_release("dep-1") == deployments.get_release("dep-1") == requested.release
        with pytest.raises(NotFound):
            deployments.get_release("nope")

    def test_the_release_of_an_unfinished_deployment_deleted_and_requested_again_is_the_new_one(
        self, deployments: Deployments
    ) -> None:
        deployments.create_deployment(deployment())
        deployments.get_release("dep-1")
        deployments.delete_deployment("dep-1")
        again = deployments.create_deployment(deployment(services=("payments",)))
        assert deployments.get_release("dep-1") == again.release
