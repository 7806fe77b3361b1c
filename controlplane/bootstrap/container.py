"""``Ports``: the adapters a function invocation works with, one attribute per port.

Built by keyword only: ``azure_ports`` (the Function App in Azure), ``fake_ports`` (tests, in-memory fakes) or
the local host's startup. A port whose settings are absent is left unconfigured (None), and reading it raises
``NotConfigured`` naming what to set, on Azure and on the local host alike: a half-configured app fails loudly
at the step that needs the missing piece, and only there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar, overload

from controlplane.adapters.storage.stores import Stores
from controlplane.config import Settings
from controlplane.errors import NotConfigured
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

AdapterT = TypeVar("AdapterT")


class Port(Generic[AdapterT]):
    """A field of ``Ports`` that may be unconfigured: it holds an adapter or None, and reading None raises.

    A data descriptor, so the frozen dataclass's ``__init__`` stores through ``__set__`` and its default is
    what ``__get__`` returns on the class: None, unconfigured.
    """

    def __init__(self, what: str, settings: str = "its settings") -> None:
        self.what = what  # the port as the error names it
        self.settings = settings  # the settings that configure it, as the error names them

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> None: ...

    @overload
    def __get__(self, instance: Ports, owner: type) -> AdapterT: ...

    def __get__(self, instance: Ports | None, owner: type) -> AdapterT | None:
        if instance is None:
            return None
        adapter: AdapterT | None = instance.__dict__[self.name]
        if adapter is None:
            raise NotConfigured(self.what, self.settings)
        return adapter

    def __set__(self, instance: Ports, adapter: AdapterT | None) -> None:
        instance.__dict__[self.name] = adapter


# eq and repr would read every port, and an unconfigured one raises: identity and the default repr instead.
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Ports:
    """The adapters behind each port, with the settings they were built from.

    ``dataclasses.replace`` reads every port, so it works on a fully configured ``Ports`` (tests swap one fake).
    """

    settings: Settings
    store: Stores
    events: Port[EventBus] = Port("event bus", "ServiceBusConnection__fullyQualifiedNamespace")
    compute: Port[Compute] = Port("compute")
    health: Port[HealthProbe] = Port("health probe")
    provisioner: Port[Provisioner] = Port("provisioner")
    desired_state: Port[DesiredState] = Port(
        "desired state", "CONTROLPLANE_DESIRED_STATE to the Git repository (URL or path) of the desired-state manifests"
    )
    metrics: Port[Metrics] = Port("metrics", "CONTROLPLANE_LOG_ANALYTICS_WORKSPACE_ID")
    webhooks: Port[WebhookPoster] = Port("webhook poster")
    analysis: Port[AnalysisProvider] = Port("analysis provider")
    hooks: Port[HookCaller] = Port("rollout webhook caller")
