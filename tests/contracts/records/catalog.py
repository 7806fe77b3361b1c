"""The Catalog contract (the service catalog): the Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.domain.deployment import Deployment
from controlplane.domain.manifest import parse_release
from controlplane.domain.shards import Shard
from controlplane.errors import NotFound
from controlplane.ports import Catalog
from tests.builders import T0, catalog_entry, completed, promoted, release_document


class CatalogContract:
    """Subclasses provide a ``stores`` fixture: every stored record over empty tables, their tables created."""

    @pytest.fixture
    def catalog(self, stores: Stores) -> Catalog:
        return stores.catalog

    def test_catalog_entries_are_replaced_per_environment_and_service(self, catalog: Catalog) -> None:
        catalog.put_catalog_entry(catalog_entry("dev", "orders", "orders-r1"))
        catalog.put_catalog_entry(catalog_entry("dev", "orders", "orders-r2"))
        catalog.put_catalog_entry(catalog_entry("dev", "payments"))
        catalog.put_catalog_entry(catalog_entry("prod", "orders"))
        assert catalog.get_catalog_entry("dev", "orders").revision == "orders-r2"
        assert [(e.environment, e.service) for e in catalog.list_catalog()] == [
            ("dev", "orders"),
            ("dev", "payments"),
            ("prod", "orders"),
        ]
        assert [e.service for e in catalog.list_catalog("dev")] == ["orders", "payments"]
        with pytest.raises(NotFound):
            catalog.get_catalog_entry("dev", "billing")

    def test_an_entry_keeps_what_the_loops_need_of_its_release(self, catalog: Catalog) -> None:
        document = release_document(services=("orders",))
        document["spec"]["healthGate"] = {"path": "/healthz", "allowDegraded": True}
        document["spec"]["services"][0]["scaling"] = {"maxReplicas": 6, "rules": [{"metric": "cpu", "target": 50}]}
        requested = Deployment.request("dep-1", parse_release(document), "a" * 32, T0)
        entry = promoted(completed(requested, {}), "orders", "r1")
        catalog.put_catalog_entry(entry)
        stored = catalog.get_catalog_entry("dev", "orders")
        assert stored.loops == entry.loops and stored.loops is not None
        loops = (stored.loops.health_path, stored.loops.allow_degraded, stored.loops.compute)
        assert loops == ("/healthz", True, "local")
        assert stored.loops.scaling is not None and stored.loops.scaling.max_replicas == 6
        catalog.put_catalog_entry(catalog_entry("dev", "billing"))  # as entries were stored before they kept it
        assert catalog.get_catalog_entry("dev", "billing").loops is None

    def test_a_shard_lists_its_environment_from_its_first_service_to_its_stop(self, catalog: Catalog) -> None:
        for environment, service in (("dev", "a"), ("dev", "b"), ("dev", "c"), ("dev-eu", "a"), ("prod", "b")):
            catalog.put_catalog_entry(catalog_entry(environment, service))

        def listed(shard: Shard) -> list[str]:
            return [f"{entry.environment}/{entry.service}" for entry in catalog.list_shard(shard)]

        assert listed(Shard("dev", "a", "c")) == ["dev/a", "dev/b"]
        assert listed(Shard("dev", "b")) == ["dev/b", "dev/c"]
        assert listed(Shard("prod", "a")) == ["prod/b"]

    def test_the_catalog_pages_by_environment_then_service(self, catalog: Catalog) -> None:
        for environment, service in (("prod", "orders"), ("dev", "payments"), ("dev", "orders"), ("qa", "orders")):
            catalog.put_catalog_entry(catalog_entry(environment, service))

        def pages(environment: str | None, limit: int) -> list[list[str]]:
            found = [catalog.page_catalog(environment, limit)]
            while found[-1].next is not None:
                found.append(catalog.page_catalog(environment, limit, found[-1].next))
            return [[f"{e.environment}/{e.service}" for e in page.entries] for page in found]

        assert pages(None, 3) == [["dev/orders", "dev/payments", "prod/orders"], ["qa/orders"]]
        assert pages(None, 1) == [["dev/orders"], ["dev/payments"], ["prod/orders"], ["qa/orders"]]
        assert pages("dev", 1) == [["dev/orders"], ["dev/payments"]]
        assert pages("staging", 5) == [[]]
