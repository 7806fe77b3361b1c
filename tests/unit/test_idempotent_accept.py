"""Accepting a deployment with an Idempotency-Key: the key's deployment id is derived from the key, so the stored
deployment is the key's record and a key never names a deployment that does not exist."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.domain.deployment import Deployment, DeploymentState
from controlplane.domain.idempotency import MAX_KEY_LENGTH, key_error, keyed_deployment_id
from controlplane.errors import NotFound, TransientError
from controlplane.ports import Deployments
from controlplane.services.deployments import KeyReused, ServiceBusy, accept
from controlplane.testing.memory_documents import memory_stores
from tests.builders import COMPLETED_PATH, T0, release, walked


@pytest.fixture
def stores() -> Stores:
    return memory_stores()


def test_a_repeated_key_returns_the_deployment_it_started(stores: Stores) -> None:
    first = accept(stores.deployments, stores.claims, release(), T0, "run-42")
    again = accept(stores.deployments, stores.claims, release(), T0, "run-42")
    assert first.created and not again.created
    assert again.deployment.id == first.deployment.id == keyed_deployment_id("run-42", "dev", ["orders"])


def test_a_key_reused_with_another_release_is_refused_and_changes_nothing(stores: Stores) -> None:
    first = accept(stores.deployments, stores.claims, release(tag="1.0.0"), T0, "run-42")
    with pytest.raises(KeyReused, match="different manifest") as refused:
        accept(stores.deployments, stores.claims, release(tag="2.0.0"), T0, "run-42")
    assert refused.value.deployment_id == first.deployment.id
    assert stores.deployments.get_deployment(first.deployment.id).release == release(tag="1.0.0")


def test_one_key_in_other_environments_or_for_other_services_names_other_deployments(stores: Stores) -> None:
    ids = {
        accept(stores.deployments, stores.claims, release(environment, services), T0, "build-1").deployment.id
        for environment, services in [("dev", ("orders",)), ("prod", ("orders",)), ("dev", ("payments",))]
    }
    assert len(ids) == 3


def test_a_refused_claim_keeps_nothing_and_the_key_can_be_used_again(stores: Stores) -> None:
    running = accept(stores.deployments, stores.claims, release(tag="1.0.0"), T0).deployment
    with pytest.raises(ServiceBusy) as busy:
        accept(stores.deployments, stores.claims, release(tag="2.0.0"), T0, "run-43")
    assert busy.value.holder == running.id
    keyed = keyed_deployment_id("run-43", "dev", ["orders"])
    with pytest.raises(NotFound):
        stores.deployments.get_deployment(keyed)
    stores.deployments.update_deployment(running.id, lambda d: walked(d, COMPLETED_PATH))
    stores.claims.release_services("dev", ["orders"], running.id)
    assert accept(stores.deployments, stores.claims, release(tag="2.0.0"), T0, "run-43").deployment.id == keyed


def test_concurrent_requests_with_one_key_store_one_deployment_that_all_of_them_name(stores: Stores) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(lambda _: accept(stores.deployments, stores.claims, release(), T0, "k"), range(50)))
    assert sum(outcome.created for outcome in outcomes) == 1
    assert {outcome.deployment.id for outcome in outcomes} == {stores.deployments.list_deployments()[0].id}
    assert len(stores.deployments.list_deployments()) == 1


@dataclass
class FailingInsert:
    """Deployments whose inserts fail as a storage outage would; reads go to the real records."""

    records: Deployments
    inserts: list[str] = field(default_factory=list)

    def create_deployment(self, deployment: Deployment) -> Deployment:
        self.inserts.append(deployment.id)
        raise TransientError("storage unavailable")

    def get_deployment(self, deployment_id: str) -> Deployment:
        return self.records.get_deployment(deployment_id)


def test_a_failed_insert_gives_the_claims_back(stores: Stores) -> None:
    failing = FailingInsert(stores.deployments)
    with pytest.raises(TransientError):
        accept(failing, stores.claims, release(), T0, "run-44")  # type: ignore[arg-type]
    assert failing.inserts == [keyed_deployment_id("run-44", "dev", ["orders"])]
    assert accept(stores.deployments, stores.claims, release(tag="2.0.0"), T0).created, "the service is free"


@dataclass
class LateWinner:
    """A concurrent request with the same key stored (and finished) the deployment after this one looked."""

    records: Deployments
    looked: bool = False

    def get_deployment(self, deployment_id: str) -> Deployment:
        if not self.looked:
            self.looked = True
            raise NotFound(deployment_id)
        return self.records.get_deployment(deployment_id)

    def create_deployment(self, deployment: Deployment) -> Deployment:
        return self.records.create_deployment(deployment)


def test_losing_the_insert_to_a_finished_winner_answers_it_and_frees_the_services(stores: Stores) -> None:
    keyed = keyed_deployment_id("run-45", "dev", ["orders"])
    finished = walked(Deployment.request(keyed, release(), "4bf92f3577b34da6a3ce929d0e0e4736", T0), COMPLETED_PATH)
    stores.deployments.create_deployment(finished)
    outcome = accept(LateWinner(stores.deployments), stores.claims, release(), T0, "run-45")  # type: ignore[arg-type]
    assert (outcome.deployment.id, outcome.created, outcome.deployment.state) == (
        keyed,
        False,
        DeploymentState.COMPLETED,
    )
    assert accept(stores.deployments, stores.claims, release(tag="2.0.0"), T0).created, "its claim was given back"


@pytest.mark.parametrize(
    ("key", "fine"),
    [
        ("gh-123-1", True), ("8e03978e-40d5-43e8-bc93-6894a57f9324", True), ("a b", True),
        ("x" * MAX_KEY_LENGTH, True), ("", False), ("x" * (MAX_KEY_LENGTH + 1), False), (" lead", False),
        ("trail ", False), ("nul\x00", False), ("tab\tkey", False), ("é", False),
    ],
)  # fmt: skip
def test_keys_are_1_to_255_printable_ascii_characters(key: str, fine: bool) -> None:
    assert (key_error(key) is None) is fine


def test_every_stored_deployment_is_one_that_accept_returned(stores: Stores) -> None:
    """No path of accept stores a deployment it then takes back (the old bug: a key bound before its deployment)."""
    accept(stores.deployments, stores.claims, release(tag="1.0.0"), T0, "a")
    for tag, key in [("2.0.0", "b"), ("1.0.0", "a")]:
        with contextlib.suppress(ServiceBusy):
            accept(stores.deployments, stores.claims, release(tag=tag), T0, key)
    assert [d.id for d in stores.deployments.list_deployments()] == [keyed_deployment_id("a", "dev", ["orders"])]
