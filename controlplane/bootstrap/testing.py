"""Ports over the in-memory fakes of ``controlplane.testing``, for tests; not published to Azure."""

from __future__ import annotations

from controlplane.adapters.storage.stores import Stores
from controlplane.bootstrap.container import Ports
from controlplane.config import Settings
from controlplane.ports import (
    AnalysisProvider,
    Compute,
    DesiredState,
    EventBus,
    HealthProbe,
    HookCaller,
    Metrics,
    Provisioner,
    WebhookPoster,
)
from controlplane.testing.analysis import ScriptedAnalysis
from controlplane.testing.fakes import RecordingEventBus, RecordingProvisioner, ScriptedHealthProbe, ScriptedMetrics
from controlplane.testing.hooks import ScriptedHooks
from controlplane.testing.memory_compute import MemoryCompute
from controlplane.testing.memory_desired_state import MemoryDesiredState
from controlplane.testing.memory_documents import memory_stores
from controlplane.testing.webhooks import ScriptedWebhooks

# Settings that name development storage: enough to load; nothing here reads storage through them.
TEST_SETTINGS = {"CONTROLPLANE_STORAGE": "UseDevelopmentStorage=true"}


def fake_ports(
    *,
    settings: Settings | None = None,
    store: Stores | None = None,
    events: EventBus | None = None,
    compute: Compute | None = None,
    health: HealthProbe | None = None,
    provisioner: Provisioner | None = None,
    desired_state: DesiredState | None = None,
    metrics: Metrics | None = None,
    webhooks: WebhookPoster | None = None,
    analysis: AnalysisProvider | None = None,
    hooks: HookCaller | None = None,
) -> Ports:
    """Every port configured: a fresh in-memory fake for each one not given by keyword (a test keeps the
    fakes it scripts or inspects and passes them in)."""
    return Ports(
        settings=Settings.from_environment(TEST_SETTINGS) if settings is None else settings,
        store=memory_stores() if store is None else store,
        events=RecordingEventBus() if events is None else events,
        compute=MemoryCompute() if compute is None else compute,
        health=ScriptedHealthProbe() if health is None else health,
        provisioner=RecordingProvisioner() if provisioner is None else provisioner,
        desired_state=MemoryDesiredState() if desired_state is None else desired_state,
        metrics=ScriptedMetrics() if metrics is None else metrics,
        webhooks=ScriptedWebhooks() if webhooks is None else webhooks,
        analysis=ScriptedAnalysis() if analysis is None else analysis,
        hooks=ScriptedHooks() if hooks is None else hooks,
    )
