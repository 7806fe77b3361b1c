"""The embedded local Functions host: ``python -m controlplane up``.

Loads the function app, serves its HTTP triggers under ``/api`` with function keys, runs durable
orchestrations on the embedded engine, fires timer triggers and delivers Service Bus triggers from the
local bus. State lives in Table storage (Azurite locally, started here when it is not running).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from controlplane.adapters.azure.monitor import telemetry as telemetry_setup
from controlplane.adapters.azure.servicebus.mapping import subscription_filters
from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
from controlplane.adapters.git.desired_state import GitDesiredState
from controlplane.adapters.http.health_probe import HttpHealthProbe
from controlplane.adapters.local.compute import LocalCompute
from controlplane.adapters.local.image_catalog import ImageCatalog
from controlplane.adapters.local.metrics import LocalMetrics
from controlplane.adapters.local.provisioner import LocalProvisioner
from controlplane.adapters.local.router import LocalRouter
from controlplane.bootstrap import Ports, use_ports
from controlplane.bootstrap.azure import table_service, table_stores
from controlplane.config import load_settings
from funchost.azurite import DEFAULT_BLOB_PORT, DEFAULT_TABLE_PORT, PROJECT_ROOT, Azurite, is_listening
from funchost.durable import rpc
from funchost.durable.blobs import BlobContainer
from funchost.durable.engine import DurableEngine
from funchost.durable.large_payloads import LargePayloads
from funchost.durable.store import DurableStore
from funchost.function_checks import FunctionAppRefused
from funchost.function_timeout import timespan_text
from funchost.functions import SERVICE_BUS, TIMER, FunctionIndex
from funchost.host_json import InvalidHostJson
from funchost.http_gateway import build_http_app
from funchost.invoker import Invoker
from funchost.keys import open_key_store
from funchost.servicebus.bus import DEFAULT_TOPIC, LocalBus, LocalEventBus
from funchost.servicebus.options import ServiceBusOptions
from funchost.servicebus.records import subscriptions_of
from funchost.settings import (
    DurableConcurrency,
    apply_local_settings,
    function_timeout,
    ignore_extended_sessions,
    task_hub,
)
from funchost.timers import TimerScheduler, check_schedules
from funchost.worker_pool import WorkerPool

log = logging.getLogger("controlplane.host")


@dataclass(frozen=True)
class HostOptions:
    port: int = 7071
    app: str = "function_app:app"
    root: Path = PROJECT_ROOT
    trace_console: bool = False


class LocalHost:
    """Everything ``up`` runs, started and stopped together."""

    def __init__(self, options: HostOptions) -> None:
        self.options = options
        apply_local_settings(options.root, os.environ)
        self.settings = load_settings()
        telemetry_setup.configure(self.settings, console=options.trace_console)
        module, _, attribute = options.app.partition(":")
        self.index = FunctionIndex.load(module, attribute or "app")  # before Azurite: a refused app starts nothing
        check_schedules(self.index.of_type(TIMER), os.environ)
        subscriptions_of(self.index.of_type(SERVICE_BUS), os.environ)  # entity names resolve, as the host indexes
        bus_options = ServiceBusOptions.from_host_json(options.root)
        concurrency = DurableConcurrency.from_host_json(options.root)
        timeout = function_timeout(options.root)
        # Every sync function of every trigger runs on this one pool, as on the Python worker; every invocation
        # is bounded by host.json's functionTimeout, as on the Functions host.
        self.worker = WorkerPool.from_app_settings(os.environ, timeout)
        log.info(
            "sync functions run on %d threads (PYTHON_THREADPOOL_THREAD_COUNT); at most %d activities and %d "
            "orchestrator episodes at once (host.json extensions.durableTask); functionTimeout %s",
            self.worker.max_workers,
            concurrency.activities,
            concurrency.orchestrators,
            "none" if timeout is None else timespan_text(timeout),
        )
        self.azurite = self._azurite_if_needed()
        self.keys = open_key_store(options.root, os.environ, self.settings.local_dir)
        self.keys.system_key()  # created at start, as the host does when the Durable extension registers its webhook
        self.hub = task_hub(options.root, os.environ)
        ignore_extended_sessions(options.root)
        service = table_service(self.settings)
        self.base_url = f"http://127.0.0.1:{options.port}"
        payloads = LargePayloads(BlobContainer.for_hub(self.settings, self.hub))
        store = DurableStore(AzureTableDocuments(service), self.hub, payloads)
        self.engine = DurableEngine(self.index, store, concurrency=concurrency, worker=self.worker)
        self.invoker = invoke = Invoker(self.client_binding, self.worker)
        documents = AzureTableDocuments(service, prefix=self.settings.table_prefix)
        self.bus = LocalBus(
            documents,
            self.index.of_type(SERVICE_BUS),
            invoke,
            app_settings=os.environ,
            max_delivery_count=self.settings.bus_max_deliveries,
            options=bus_options,
            filters=subscription_filters(DEFAULT_TOPIC),
        )
        local = Path(self.settings.local_dir or options.root / ".local")
        catalog = ImageCatalog.load(
            Path(self.settings.image_catalog or options.root / "examples" / "image-catalog.yaml")
        )
        self.router = LocalRouter(local / "router.json")
        self.compute = LocalCompute(
            local / "compute", catalog.command_for, self.router, local / "compute" / "state.json"
        )
        use_ports(
            Ports(
                settings=self.settings,
                store=table_stores(self.settings),
                events=LocalEventBus(self.bus),
                compute=self.compute,
                health=HttpHealthProbe(self.compute.endpoints),
                provisioner=LocalProvisioner(local / "environments"),
                desired_state=self._desired_state(local),
                metrics=LocalMetrics(self.compute, self.router),
            )
        )
        self.timers = TimerScheduler(
            self.index.of_type(TIMER),
            lambda entry, info: invoke(entry, info.to_request()),
            documents,
            lambda: datetime.now(UTC),
            os.environ,
        )

    def _desired_state(self, local: Path) -> GitDesiredState | None:
        """The drift loop's desired state (``CONTROLPLANE_DESIRED_STATE``); None leaves the drift loop unconfigured."""
        source = self.settings.desired_state
        if not source:
            return None
        return GitDesiredState(
            source, self.settings.desired_state_ref, self.settings.desired_state_path, local / "desired-state"
        )

    def client_binding(self, _function: str = "") -> str:
        return rpc.client_binding(self.base_url, self.hub, self.keys.system_key())

    def management_payload(self, instance_id: str) -> dict[str, str]:
        urls = json.loads(self.client_binding())["managementUrls"]
        return {name: url.replace("INSTANCEID", instance_id) for name, url in urls.items()}

    async def serve(self, stop: asyncio.Event) -> None:
        app = build_http_app(
            self.index,
            self.keys,
            self.client_binding,
            rpc.routes(self.engine, self.management_payload, self.keys),
            worker=self.worker,
            homepage=os.environ.get("AzureWebJobsDisableHomepage", "").lower() != "true",
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self.options.port)
        await site.start()
        port = runner.addresses[0][1]
        self.worker.loop = asyncio.get_running_loop()
        self.base_url = f"http://127.0.0.1:{port}"
        self.bus.create_tables()
        self.engine.start()
        self.bus.start()
        self.timers.start()
        self._banner(port)
        try:
            await stop.wait()
        finally:
            self.timers.stop()
            self.bus.stop()
            self.engine.stop()
            self.worker.shutdown()
            self.compute.shutdown()  # workloads stop with the host; the next start brings them back
            self.router.close()
            await runner.cleanup()
            if self.azurite:
                self.azurite.stop()

    def _azurite_if_needed(self) -> Azurite | None:
        """Azurite's Table and Blob services on their default ports, those not running already."""
        if not self.settings.uses_development_storage:
            return None
        ports = {"table": DEFAULT_TABLE_PORT, "blob": DEFAULT_BLOB_PORT}
        missing = tuple(service for service, port in ports.items() if not is_listening(port))
        if not missing:
            return None
        log.info("starting Azurite %s on 127.0.0.1 (data under .local/azurite)", " and ".join(missing))
        location = self.options.root / ".local" / "azurite"
        return Azurite(DEFAULT_TABLE_PORT, location, DEFAULT_BLOB_PORT, services=missing).start()

    def _banner(self, port: int) -> None:
        print(f"Control plane local host: {self.base_url} (task hub {self.hub})")
        for entry in sorted(self.index, key=lambda e: (e.trigger_type, e.name)):
            where = f"/api/{entry.trigger.get('route') or entry.name}" if entry.trigger_type == "httpTrigger" else ""
            print(f"  {entry.trigger_type:<22} {entry.name:<28} {where}")
        print("Keys: python -m controlplane key [--kind master|host|function --function NAME|system]")
        print(f"READY {self.base_url}", flush=True)


def run_host(options: HostOptions) -> int:
    """Run until SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("azure").setLevel(logging.WARNING)
    try:
        host = LocalHost(options)
    except FunctionAppRefused as refused:
        print(refused.for_app(options.app), file=sys.stderr)
        return 1
    except InvalidHostJson as invalid:  # the extensions refuse these settings when the host starts
        print(invalid, file=sys.stderr)
        return 1

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await host.serve(stop)

    asyncio.run(main())
    return 0
