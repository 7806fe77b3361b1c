"""The product on the embedded local host (``python -m controlplane up``): its settings' defaults, the host's
options, and the start-up hook that builds the local ports and installs them.

The host (``funchost``) knows nothing of the product: it calls ``start_local`` once it has loaded the app,
opened storage and built its Service Bus emulator, and the shutdown ``start_local`` returns when it stops.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from pathlib import Path

from controlplane.adapters.azure.monitor.prometheus import PrometheusAnalysis, PrometheusSettings
from controlplane.adapters.azure.servicebus.mapping import SUBSCRIPTION_FILTERS
from controlplane.adapters.by_provider import AnalysisByProvider
from controlplane.adapters.git.desired_state import GitDesiredState
from controlplane.adapters.http.health_probe import HttpHealthProbe
from controlplane.adapters.http.hooks import SignedHookCaller
from controlplane.adapters.http.webhook import HttpWebhookPoster
from controlplane.adapters.local.analysis import RouterAnalysis
from controlplane.adapters.local.compute import LocalCompute
from controlplane.adapters.local.event_bus import TOPIC, LocalEventBus
from controlplane.adapters.local.image_catalog import ImageCatalog
from controlplane.adapters.local.metrics import LocalMetrics
from controlplane.adapters.local.orphans import reap_unowned_revisions
from controlplane.adapters.local.provisioner import LocalProvisioner
from controlplane.adapters.local.router import LocalRouter
from controlplane.bootstrap import Ports, use_ports
from controlplane.bootstrap.azure import table_stores
from controlplane.config import SCHEDULE_DEFAULTS, Settings
from funchost.host import HostContext, HostOptions
from funchost.private_files import private_directory
from funchost.settings import apply_local_settings
from funchost.storage.account import STORAGE


def prepare_environment(root: Path, environ: MutableMapping[str, str]) -> None:
    """``local.settings.json`` applied as the host applies it, then the product's defaults: the host keeps its
    durable hub and bus in the product's storage (``CONTROLPLANE_STORAGE``, when set), and the loop schedules
    not set get theirs (``SCHEDULE_DEFAULTS``: the timer triggers' ``%NAME%`` must resolve)."""
    apply_local_settings(root, environ)
    if environ.get("CONTROLPLANE_STORAGE"):
        environ[STORAGE] = environ["CONTROLPLANE_STORAGE"]
    for name, schedule in SCHEDULE_DEFAULTS.items():
        environ.setdefault(name, schedule)


def host_options(root: Path, settings: Settings, port: int, app: str) -> HostOptions:
    """The host's options for the product: its keys under ``CONTROLPLANE_LOCAL_DIR``, its task hub
    (``CONTROLPLANE_TASK_HUB``), the bus and timer tables under the state tables' prefix, and ``start_local``."""
    return HostOptions(
        port=port,
        app=app,
        root=root,
        state_dir=Path(settings.local_dir) if settings.local_dir else None,
        task_hub=settings.task_hub,
        table_prefix=settings.table_prefix,
        max_delivery_count=settings.bus_max_deliveries,
        startup=start_local,
        name="Control plane local host",
        key_command="python -m controlplane key",
    )


def start_local(context: HostContext) -> Callable[[], None]:
    """Declare the event topic's subscription filters, build the local ports and install them; the shutdown
    stops the local workloads (the next start brings them back) and closes the router.

    The local folder (``CONTROLPLANE_LOCAL_DIR``, default ``.local``) is made private (0700): it holds the
    release configuration in state files and workload logs. Local workloads no record accounts for are reaped
    here, before anything serves (``adapters.local.orphans``): the compute's own recovery reaps processes its
    state file does not name, then revisions whose deployment has no record are removed."""
    settings = Settings.from_environment(context.app_settings)
    for subscription, sql_filter in SUBSCRIPTION_FILTERS.items():
        context.service_bus.add_subscription_rule(TOPIC, subscription, sql_filter)
    local = private_directory(Path(settings.local_dir or context.root / ".local"))
    catalog = ImageCatalog.load(Path(settings.image_catalog or context.root / "examples" / "image-catalog.yaml"))
    store = table_stores(settings)
    router = LocalRouter(local / "router.json")
    compute = LocalCompute(local / "compute", catalog.command_for, router, local / "compute" / "state.json")
    reap_unowned_revisions(compute, store.deployments)
    use_ports(
        Ports(
            settings=settings,
            store=store,
            events=LocalEventBus(context.service_bus, fault_file=_fault_file(settings.local_bus_fault_file)),
            compute=compute,
            health=HttpHealthProbe(compute.endpoints),
            provisioner=LocalProvisioner(local / "environments"),
            desired_state=_desired_state(settings, local),
            metrics=LocalMetrics(compute, router),
            webhooks=HttpWebhookPoster(),
            analysis=local_analysis(router),
            hooks=SignedHookCaller(context.app_settings),
        )
    )

    def shutdown() -> None:
        compute.shutdown()
        router.close()

    return shutdown


def local_analysis(router: LocalRouter) -> AnalysisByProvider:
    """Metric analysis on the local host: provider router reads the local router's per-revision counters;
    provider prometheus queries a Prometheus HTTP API without a token (a Prometheus on loopback: an Azure
    Monitor workspace's endpoint needs the Function App's identity, so it answers no data here, saying why)."""
    return AnalysisByProvider(
        {"router": RouterAnalysis(router), "prometheus": PrometheusAnalysis(PrometheusSettings())},
        missing={
            "applicationInsights": "provider applicationInsights reads a Log Analytics workspace, which exists only "
            "in Azure: on the local host use provider router (the local router's counters of the revision)",
        },
    )


def _fault_file(setting: str | None) -> Path | None:
    return Path(setting) if setting else None


def _desired_state(settings: Settings, local: Path) -> GitDesiredState | None:
    """The drift loop's desired state (``CONTROLPLANE_DESIRED_STATE``); None leaves the drift loop unconfigured."""
    if not settings.desired_state:
        return None
    return GitDesiredState(
        settings.desired_state, settings.desired_state_ref, settings.desired_state_path, local / "desired-state"
    )
