"""The Deployments listing's contract (``page_deployments``): the Table-storage adapter on Azurite and the
in-memory fake pass it."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from controlplane.adapters.storage import listing_cache
from controlplane.adapters.storage.documents import Document, DocumentTables
from controlplane.adapters.storage.stores import Stores
from controlplane.domain.deployment import DeploymentState, ServicePhase, ServiceProgress
from controlplane.domain.deployment_summary import DeploymentPage, DeploymentQuery
from controlplane.ports import Deployments
from controlplane.testing.counting_documents import CountingDocumentTables
from tests.builders import T0, deployment


def page_of(deployments: Deployments, query: DeploymentQuery) -> DeploymentPage:
    """``page_deployments`` awaited, for a test that is not a coroutine."""
    return asyncio.run(deployments.page_deployments(query))


def _ids(page: DeploymentPage) -> list[str]:
    return [summary["id"] for summary in page.deployments]


def _every_page(deployments: Deployments, query: DeploymentQuery) -> list[list[str]]:
    pages = [page_of(deployments, query)]
    while pages[-1].next is not None:
        pages.append(page_of(deployments, DeploymentQuery(**{**vars(query), "start": pages[-1].next})))
    return [_ids(page) for page in pages]


class DeploymentPagesContract:
    """Subclasses provide ``tables`` (empty, every record's table created) and ``stores`` over them."""

    @pytest.fixture
    def deployments(self, stores: Stores) -> Deployments:
        return stores.deployments

    @pytest.fixture
    def five(self, deployments: Deployments) -> Deployments:
        """d0..d4 a minute apart: d0, d2, d4 in dev; d1, d3 in prod; orders in every one, payments in d3, d4."""
        for number in range(5):
            services = ("orders", "payments") if number >= 3 else ("orders",)
            environment = "dev" if number % 2 == 0 else "prod"
            at = T0 + timedelta(minutes=number)
            deployments.create_deployment(deployment(f"d{number}", environment, services, at))
        return deployments

    def test_pages_run_newest_first_and_the_last_says_there_is_no_next(self, five: Deployments) -> None:
        assert _every_page(five, DeploymentQuery(limit=2)) == [["d4", "d3"], ["d2", "d1"], ["d0"]]
        assert _every_page(five, DeploymentQuery(limit=5)) == [["d4", "d3", "d2", "d1", "d0"]]

    def test_environment_service_and_state_filter_the_pages(self, five: Deployments) -> None:
        assert _every_page(five, DeploymentQuery(environment="dev", limit=2)) == [["d4", "d2"], ["d0"]]
        assert _every_page(five, DeploymentQuery(service="payments", limit=1)) == [["d4"], ["d3"]]
        assert _every_page(five, DeploymentQuery(environment="prod", service="payments")) == [["d3"]]
        assert _every_page(five, DeploymentQuery(service="billing")) == [[]]
        five.update_deployment("d1", lambda current: current.advance(DeploymentState.PROVISIONING, T0))
        provisioning = DeploymentQuery(service="orders", state=DeploymentState.PROVISIONING)
        assert _every_page(five, provisioning) == [["d1"]]
        assert _every_page(five, DeploymentQuery(environment="prod", state=DeploymentState.REQUESTED)) == [["d3"]]

    def test_a_page_boundary_holds_while_newer_deployments_arrive(self, five: Deployments) -> None:
        first = page_of(five, DeploymentQuery(limit=2))
        five.create_deployment(deployment("d9", "dev", ("orders",), T0 + timedelta(hours=1)))
        assert _ids(page_of(five, DeploymentQuery(limit=2, start=first.next))) == ["d2", "d1"]

    def test_a_summary_keeps_the_records_keys_without_the_manifests_spec_or_probe_history(
        self, deployments: Deployments
    ) -> None:
        created = deployments.create_deployment(deployment("d1", "dev", ("orders",), T0))
        progress = ServiceProgress(ServicePhase.GATING, "orders-v2", 0, "gating", {"status": "Healthy"})
        deployments.save_deployment(created.with_service("orders", progress.with_traffic(20, T0)))
        [summary] = page_of(deployments, DeploymentQuery()).deployments
        full = deployments.get_deployment("d1").to_dict()
        assert set(summary) == set(full) | {"createdAt", "updatedAt"}
        assert {key: summary[key] for key in ("id", "state", "environment", "traceId", "transitions")} == {
            key: full[key] for key in ("id", "state", "environment", "traceId", "transitions")
        }
        assert summary["release"] == {key: full["release"][key] for key in ("apiVersion", "kind", "metadata")}
        assert summary["services"] == {
            "orders": {"phase": "Gating", "revision": "orders-v2", "trafficPercent": 20, "message": "gating"}
        }

    def test_every_save_reaches_the_summary_and_racing_writers_leave_the_newest(self, deployments: Deployments) -> None:
        deployments.create_deployment(deployment("d1", "dev", ("orders", "payments"), T0))
        rounds = 8

        def write(service: str) -> None:
            for number in range(1, rounds + 1):
                deployments.update_deployment(
                    "d1",
                    lambda current, n=number: current.with_service(  # type: ignore[misc]
                        service, ServiceProgress(ServicePhase.ROLLING_OUT, traffic_percent=n)
                    ),
                )

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(write, ["orders", "payments"]))
        for query in (DeploymentQuery(), DeploymentQuery(service="orders"), DeploymentQuery(service="payments")):
            [summary] = page_of(deployments, query).deployments
            assert {name: s["trafficPercent"] for name, s in summary["services"].items()} == {
                "orders": rounds,
                "payments": rounds,
            }

    def test_pages_read_window_by_window_from_now_reach_every_age(self, deployments: Deployments) -> None:
        ages = {"a": timedelta(minutes=5), "b": timedelta(hours=2), "c": timedelta(days=2), "d": timedelta(days=60)}
        ages |= {"e": timedelta(days=5000), "f": timedelta(minutes=-30)}  # f: another instance's clock runs ahead
        for name, age in ages.items():
            deployments.create_deployment(deployment(name, "dev", ("orders",), T0 - age))
        assert _every_page(deployments, DeploymentQuery(limit=2, now=T0)) == [["f", "a"], ["b", "c"], ["d", "e"]]
        assert _every_page(deployments, DeploymentQuery(limit=4, now=T0)) == [["f", "a", "b", "c"], ["d", "e"]]
        assert _every_page(deployments, DeploymentQuery(service="orders", limit=6, now=T0)) == [list("fabcde")]

    def test_a_deleted_deployment_leaves_every_listing(self, five: Deployments) -> None:
        five.delete_deployment("d3")
        assert _every_page(five, DeploymentQuery()) == [["d4", "d2", "d1", "d0"]]
        assert _every_page(five, DeploymentQuery(service="payments")) == [["d4"]]

    def test_a_page_another_instance_kept_shows_what_was_written_since(
        self, tables: DocumentTables, five: Deployments
    ) -> None:
        """Read-your-writes across instances: a pipeline creates through one, then lists through another that had
        the page in memory; so too a change of state and a deletion."""
        other = Stores.over(tables).deployments
        assert _ids(page_of(other, DeploymentQuery(limit=2))) == ["d4", "d3"]
        five.create_deployment(deployment("d5", "dev", ("orders",), T0 + timedelta(minutes=5)))
        assert _ids(page_of(other, DeploymentQuery(limit=2))) == ["d5", "d4"]
        five.update_deployment("d5", lambda current: current.advance(DeploymentState.PROVISIONING, T0))
        assert _every_page(other, DeploymentQuery(state=DeploymentState.PROVISIONING)) == [["d5"]]
        five.delete_deployment("d5")
        assert _ids(page_of(other, DeploymentQuery(limit=2))) == ["d4", "d3"]

    def test_a_page_is_read_once_while_nothing_listed_changes(self, tables: DocumentTables, five: Deployments) -> None:
        counting = CountingDocumentTables(tables)
        instance = Stores.over(counting).deployments
        first = page_of(instance, DeploymentQuery(limit=2))
        counting.reset()
        assert page_of(instance, DeploymentQuery(limit=2, now=T0)) == first
        assert counting.operations == {"get": 1}  # the listing's version row: nothing else
        five.create_deployment(deployment("d5", "dev", ("orders",), T0 + timedelta(minutes=5)))
        counting.reset()
        assert _ids(page_of(instance, DeploymentQuery(limit=2))) == ["d5", "d4"]
        assert counting.operations["scan"] >= 1

    def test_requests_arriving_together_share_one_read_of_the_version(
        self, tables: DocumentTables, five: Deployments
    ) -> None:
        """At rest, 50 concurrent requests cost two point reads: the first request's, which starts at once, and the
        one every other request waits for, which starts when the first ends (``listing_cache``)."""
        counting = CountingDocumentTables(tables)
        instance = Stores.over(counting).deployments
        first = page_of(instance, DeploymentQuery(limit=2))
        counting.reset()

        async def together() -> list[DeploymentPage]:
            return await asyncio.gather(*(instance.page_deployments(DeploymentQuery(limit=2)) for _ in range(50)))

        assert asyncio.run(together()) == [first] * 50
        assert counting.operations == {"get": 2}

    def test_requests_missing_a_page_after_a_change_share_one_read_of_it(
        self, tables: DocumentTables, five: Deployments
    ) -> None:
        counting = CountingDocumentTables(tables)
        instance = Stores.over(counting).deployments
        page_of(instance, DeploymentQuery(limit=2))
        counting.reset()
        five.create_deployment(deployment("d5", "dev", ("orders",), T0 + timedelta(minutes=5)))  # another instance

        async def together() -> list[DeploymentPage]:
            return await asyncio.gather(*(instance.page_deployments(DeploymentQuery(limit=2)) for _ in range(20)))

        assert {tuple(_ids(page)) for page in asyncio.run(together())} == {("d5", "d4")}
        one_read = CountingDocumentTables(tables)
        page_of(Stores.over(one_read).deployments, DeploymentQuery(limit=2))
        assert counting.operations["scan"] == one_read.operations["scan"]

    def test_a_request_arriving_during_a_version_read_waits_for_the_next_one(
        self, tables: DocumentTables, five: Deployments
    ) -> None:
        """A version read under way when another instance's write finishes may have missed it: a request arriving
        after the write shares the next read (and sees the write), never the one under way."""
        held = HeldVersionRead(tables)
        instance = Stores.over(held).deployments
        page_of(instance, DeploymentQuery(limit=2))
        held.hold()

        async def scenario() -> tuple[list[str], list[list[str]]]:
            early = asyncio.create_task(instance.page_deployments(DeploymentQuery(limit=2)))
            await asyncio.to_thread(held.reading.wait)  # the early request's read has the version as it was
            await asyncio.to_thread(  # a pipeline's write finishes on another instance
                five.create_deployment, deployment("d5", "dev", ("orders",), T0 + timedelta(minutes=5))
            )
            late = [asyncio.create_task(instance.page_deployments(DeploymentQuery(limit=2))) for _ in range(3)]
            await asyncio.sleep(0)  # the late requests are waiting (sharing the early read, they would end with it)
            held.release.set()
            return _ids(await early), [_ids(page) for page in await asyncio.gather(*late)]

        assert asyncio.run(scenario()) == (["d4", "d3"], [["d5", "d4"]] * 3)


class HeldVersionRead(CountingDocumentTables):
    """Tables whose next read of a listing's version row, once ``hold`` is called, returns only when ``release`` is
    set (``reading`` is set once it has read the row)."""

    def __init__(self, tables: DocumentTables) -> None:
        super().__init__(tables)
        self.reading, self.release, self._holding = threading.Event(), threading.Event(), False

    def hold(self) -> None:
        self._holding = True

    def get(self, table: str, partition: str, row: str) -> Document:
        document = super().get(table, partition, row)
        if table == listing_cache.TABLE and self._holding:
            self._holding = False
            self.reading.set()
            self.release.wait()
        return document
