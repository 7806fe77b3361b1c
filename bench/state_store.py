"""Benchmark: stored records (deployments, processed events) on Azurite (Table storage) and in memory.

Run: ``.venv/bin/python bench/state_store.py [--ops 300]``. Starts its own in-memory Azurite on a free
loopback port. Prints a table, then one JSON object of the figures as the last line.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
from controlplane.adapters.storage.documents import DocumentTables
from controlplane.adapters.storage.stores import Stores, create_tables
from controlplane.bootstrap.azure import table_service
from controlplane.config import Settings
from controlplane.domain.deployment import Deployment, ServicePhase, ServiceProgress
from controlplane.ports import Deployments
from controlplane.testing.memory_documents import MemoryDocumentTables
from funchost.azurite import Azurite
from tests.builders import T0, deployment

WRITERS = 4


def rate(operations: int, action: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for number in range(operations):
        action(number)
    return operations / (time.perf_counter() - started)


def rolled_out(service: str, traffic_percent: int) -> Callable[[Deployment], Deployment]:
    """One writer's change: its service rolling out at ``traffic_percent``."""
    return lambda d: d.with_service(service, ServiceProgress(ServicePhase.ROLLING_OUT, None, traffic_percent))


def contended_rate(store: Deployments, operations: int) -> float:
    """WRITERS threads update one deployment; every update must survive (checked)."""
    store.create_deployment(deployment("contended", services=tuple(f"s{n}" for n in range(WRITERS))))
    per_writer = operations // WRITERS

    def write(writer: int) -> None:
        name = f"s{writer}"
        for number in range(per_writer):
            store.update_deployment("contended", rolled_out(name, number + 1))

    started = time.perf_counter()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, range(WRITERS)))
    elapsed = time.perf_counter() - started
    final = store.get_deployment("contended")
    assert all(final.services[f"s{n}"].traffic_percent == per_writer for n in range(WRITERS)), "lost update"
    return per_writer * WRITERS / elapsed


def touch(current: Deployment) -> Deployment:
    return current.with_service("orders", ServiceProgress(message="touched"))


def measure(tables: DocumentTables, operations: int) -> dict[str, float]:
    create_tables(tables)
    stores = Stores.over(tables)
    deployments, processed = stores.deployments, stores.processed_events
    return {
        "create_deployment_per_s": rate(operations, lambda n: deployments.create_deployment(deployment(f"d{n}"))),
        "get_deployment_per_s": rate(operations, lambda n: deployments.get_deployment(f"d{n}")),
        "update_deployment_per_s": rate(operations, lambda n: deployments.update_deployment(f"d{n}", touch)),
        "contended_update_per_s": contended_rate(deployments, operations),
        "mark_processed_per_s": rate(
            operations, lambda n: processed.mark_processed("c", f"e{n}", T0, T0, timedelta(hours=1))
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=300, help="operations per measurement")
    operations = parser.parse_args().ops
    with Azurite(Path(__file__).resolve().parents[1]) as azurite:
        service = table_service(Settings.from_environment({"CONTROLPLANE_STORAGE": azurite.connection_string}))
        azure = measure(AzureTableDocuments(service, "bench"), operations)
    memory = measure(MemoryDocumentTables(), operations)

    print(f"Stored records, {operations} operations each, {WRITERS} writers on one record for 'contended'")
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"{'operation':<28} {'Azurite ops/s':>14} {'memory ops/s':>14}")
    for name in azure:
        print(f"{name.removesuffix('_per_s'):<28} {azure[name]:>14.0f} {memory[name]:>14.0f}")
    figures = {f"azurite_{name}": round(value, 1) for name, value in azure.items()}
    figures |= {f"memory_{name}": round(value, 1) for name, value in memory.items()}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
