"""The in-memory Compute fake passes the same contract as local processes, and records what it was asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from controlplane.domain.runtime import LiveWorkload, RevisionSpec
from controlplane.testing.memory_compute import MemoryCompute
from tests.contracts.compute import ComputeContract, spec


class TestMemoryCompute(ComputeContract):
    @pytest.fixture
    def compute(self) -> MemoryCompute:
        return MemoryCompute()

    @pytest.fixture
    def failing(self, compute: MemoryCompute) -> Callable[[RevisionSpec], RevisionSpec]:
        def make(target: RevisionSpec) -> RevisionSpec:
            compute.fail_start(target.revision)
            return target

        return make


def test_records_calls_in_order() -> None:
    compute = MemoryCompute()
    compute.deploy_revision(spec())
    compute.set_traffic("dev", "orders", {"orders-v1": 100})
    compute.scale("dev", "orders", "orders-v1", 3)
    assert [call[0] for call in compute.calls] == ["deploy_revision", "set_traffic", "scale"]
    assert compute.calls[1] == ("set_traffic", "dev", "orders", {"orders-v1": 100})


def test_unmanaged_workloads_show_in_inventory_as_unmanaged() -> None:
    compute = MemoryCompute()
    stranger = LiveWorkload("dev", "legacy", "legacy-1", "legacy:0.9", 1, "", 100)
    compute.add_unmanaged(stranger)
    assert compute.inventory("dev") == [replace(stranger, managed=False)]
    assert compute.inventory("prod") == []
