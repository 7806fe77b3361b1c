"""The embedded local Functions host: loads a v2 function app and serves it as the Functions host would.

Serves the app's HTTP triggers under ``/api`` with function keys, runs durable orchestrations on the embedded
engine, fires timer triggers and delivers Service Bus triggers from the emulator. State lives in the Table and
Blob storage of ``AzureWebJobsStorage`` (Azurite locally, started here when it is not running). An app's own
local wiring runs in ``HostOptions.startup`` (see ``HostContext``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from funchost.azurite import Azurite, emulator_ports
from funchost.azurite_record import start_or_adopt, stop_and_forget
from funchost.durable import rpc
from funchost.durable.backend_limits import backend_limits
from funchost.durable.blobs import BlobContainer
from funchost.durable.engine import DurableEngine
from funchost.durable.large_payloads import LargePayloads
from funchost.durable.store import DurableStore
from funchost.easy_auth import EasyAuth
from funchost.function_checks import FunctionAppRefused
from funchost.function_timeout import timespan_text
from funchost.functions import SERVICE_BUS, TIMER, FunctionIndex
from funchost.host_json import InvalidHostJson
from funchost.http_gateway import build_http_app
from funchost.invoker import Invoker
from funchost.keys import open_key_store
from funchost.servicebus.bus import LocalBus
from funchost.servicebus.message import Sender
from funchost.servicebus.options import ServiceBusOptions
from funchost.servicebus.processor import MAX_DELIVERY_COUNT
from funchost.settings import (
    DurableConcurrency,
    apply_local_settings,
    function_timeout,
    host_table_prefix,
    ignore_extended_sessions,
    state_directory,
    task_hub,
)
from funchost.storage.account import StorageAccount
from funchost.storage.azure_tables import AzureTables
from funchost.storage_provider import announce_stand_in, storage_provider
from funchost.timers import TimerScheduler, check_schedules
from funchost.worker_pool import WorkerPool

log = logging.getLogger("funchost.host")


@dataclass(frozen=True)
class HostContext:
    """What an app's local wiring gets from the host at start-up."""

    root: Path  # the app root
    app_settings: Mapping[str, str]  # the environment, local.settings.json applied
    service_bus: Sender  # the Service Bus emulator's sending API and the namespace's subscription rules


# Called once, in the host's process, after the function index is checked, storage opened and the Service Bus
# emulator built, and before the host serves HTTP, fires timers or delivers messages; what it returns (if
# anything) is called when the host stops, after it stopped delivering and firing.
Startup = Callable[[HostContext], Callable[[], None] | None]


@dataclass(frozen=True)
class HostOptions:
    """``state_dir``: where the host keeps its keys (``secrets/``; default ``root/.local``); ``task_hub``
    replaces host.json's ``hubName``; ``table_prefix`` prefixes the Service Bus emulator's and the timers'
    tables (None: the host id's, ``funchost.settings.host_table_prefix``); ``max_delivery_count``: the Service
    Bus entities' MaxDeliveryCount; ``name`` and ``key_command`` are what the start-up banner calls the host and
    the command that prints its keys."""

    port: int = 7071
    app: str = "function_app:app"
    root: Path = field(default_factory=Path.cwd)
    state_dir: Path | None = None
    task_hub: str | None = None
    table_prefix: str | None = None
    max_delivery_count: int = MAX_DELIVERY_COUNT
    startup: Startup | None = None
    name: str = "Functions local host"
    key_command: str = "python -m funchost key"


class LocalHost:
    """Everything the host runs, started and stopped together."""

    def __init__(self, options: HostOptions) -> None:
        self.options = options
        apply_local_settings(options.root, os.environ)
        account = StorageAccount.from_app_settings(os.environ)
        module, _, attribute = options.app.partition(":")
        self.index = FunctionIndex.load(module, attribute or "app")  # before Azurite: a refused app starts nothing
        check_schedules(self.index.of_type(TIMER), os.environ)
        bus_options = ServiceBusOptions.from_host_json(options.root)
        concurrency = DurableConcurrency.from_host_json(options.root)
        timeout = function_timeout(options.root)
        provider = storage_provider(options.root, os.environ)  # an unknown provider refuses start-up, as in Azure
        self.hub = options.task_hub or task_hub(options.root, os.environ)
        prefix = host_table_prefix(os.environ) if options.table_prefix is None else options.table_prefix
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
        service = account.table_service()  # no I/O until used: storage is first touched once serving
        tables = AzureTables(service, prefix=prefix)
        self.invoker = invoke = Invoker(self.client_binding, self.worker)
        # Built before Azurite starts: the bus resolves its entity names as the host indexes, and refuses the app
        # (FunctionAppRefused) if one does not resolve, so a refused app starts nothing.
        self.bus = LocalBus(
            tables,
            self.index.of_type(SERVICE_BUS),
            invoke,
            app_settings=os.environ,
            max_delivery_count=options.max_delivery_count,
            options=bus_options,
        )
        self.state_dir = state_directory(options.root, options.state_dir)
        self.azurite = self._azurite_if_needed(account)
        self.keys = open_key_store(options.root, os.environ, self.state_dir)
        self.easy_auth = EasyAuth.from_settings(os.environ, self.state_dir)
        self.keys.system_key()  # created at start, as the host does when the Durable extension registers its webhook
        ignore_extended_sessions(options.root)
        announce_stand_in(provider, self.hub, os.environ)
        self.base_url = f"http://127.0.0.1:{options.port}"
        self._rpc_secret = rpc.new_rpc_secret()
        self.rpc_base_url = ""  # known once serve() has bound the RPC listener
        payloads = LargePayloads(BlobContainer.for_hub(account, self.hub))
        store = DurableStore(AzureTables(service), self.hub, payloads)
        backend = backend_limits(provider.type)  # azureManaged: the scheduler's payload and instance-id limits
        self.engine = DurableEngine(self.index, store, concurrency=concurrency, worker=self.worker, backend=backend)
        self.timers = TimerScheduler(
            self.index.of_type(TIMER),
            lambda entry, info: invoke(entry, info.to_request()),
            tables,
            lambda: datetime.now(UTC),
            os.environ,
        )
        context = HostContext(options.root, os.environ, self.bus)
        self._shutdown = options.startup(context) if options.startup else None

    def client_binding(self, _function: str = "") -> str:
        return rpc.client_binding(self.base_url, self.hub, self.keys.system_key(), self.rpc_base_url)

    def management_payload(self, instance_id: str) -> dict[str, str]:
        urls = json.loads(self.client_binding())["managementUrls"]
        return {name: url.replace("INSTANCEID", instance_id) for name, url in urls.items()}

    async def serve(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set: the public listener on ``options.port`` and the Durable RPC listener,
        which only the client binding names (``rpc.rpc_app``), on an ephemeral loopback port."""
        app = build_http_app(
            self.index,
            self.keys,
            self.client_binding,
            rpc.webhook_routes(self.engine, self.management_payload, self.keys),
            worker=self.worker,
            homepage=os.environ.get("AzureWebJobsDisableHomepage", "").lower() != "true",
            easy_auth=self.easy_auth,
        )
        rpc_runner = web.AppRunner(rpc.rpc_app(self.engine, self.management_payload, self._rpc_secret), access_log=None)
        await rpc_runner.setup()
        await web.TCPSite(rpc_runner, "127.0.0.1", 0).start()
        rpc_port = rpc_runner.addresses[0][1]
        self.rpc_base_url = rpc.rpc_base_url(rpc_port, self._rpc_secret)
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
        self._banner(port, rpc_port)
        try:
            await stop.wait()
        finally:
            self.timers.stop()
            self.bus.stop()
            self.engine.stop()
            self.worker.shutdown()
            if self._shutdown is not None:
                self._shutdown()
            await runner.cleanup()
            await rpc_runner.cleanup()
            if self.azurite:
                stop_and_forget(self.azurite)

    def _azurite_if_needed(self, account: StorageAccount) -> Azurite | None:
        """Azurite's Table and Blob services on the ports the storage settings name (``UseDevelopmentStorage``:
        the default ones), those no one serves yet, data under ``<state dir>/azurite``.

        The host's Azurite runs outside the host's process group and is recorded, so it outlives a crash of the
        host (with every write it acknowledged) and the next start adopts it (``funchost.azurite_record``). On
        Azure the host starts no emulator: Table storage acknowledges a write only once it is durable.
        """
        ports = emulator_ports(account.connection_string or "")
        if ports is None:
            return None
        location = (self.state_dir / "azurite").resolve()
        return start_or_adopt(self.options.root, location, ports)

    def _banner(self, port: int, rpc_port: int) -> None:
        print(f"{self.options.name}: {self.base_url} (task hub {self.hub})")
        # The port only: the path's secret stays in the client binding.
        print(f"RPC http://127.0.0.1:{rpc_port}{rpc.RPC_PREFIX} (Durable client RPC; loopback, per-start secret)")
        for entry in sorted(self.index, key=lambda e: (e.trigger_type, e.name)):
            where = f"/api/{entry.trigger.get('route') or entry.name}" if entry.trigger_type == "httpTrigger" else ""
            print(f"  {entry.trigger_type:<22} {entry.name:<28} {where}")
        if self.easy_auth is not None:
            print(f"Sign in (App Service Authentication, emulated): {self.base_url}/.auth/login/aad")
        print(f"Keys: {self.options.key_command} [--kind master|host|function --function NAME|system]")
        print(f"READY {self.base_url}", flush=True)


def configure_logging() -> None:
    """INFO and up to stderr (the Azure SDKs' from WARNING); a no-op once logging is configured."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("azure").setLevel(logging.WARNING)


def run_host(options: HostOptions) -> int:
    """Run until SIGINT or SIGTERM."""
    configure_logging()
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
