"""Where an environment's container apps live, and the calls to the Microsoft.App resource provider.

Every call goes through ``translated``: 404 is NotFound, 429/5xx TransientError (after the client's own
retries), others PermanentError; a 409 (another operation still runs on the app) is TransientError too.
Writes are long-running operations (PUT creates an app, PATCH changes one) polled to their end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from azure.mgmt.appcontainers import ContainerAppsAPIClient, models

from controlplane.adapters.azure.container_apps.mapping import LiveApp
from controlplane.adapters.azure.errors import translated
from controlplane.errors import AlreadyExists, NotFound, PermanentError, TransientError


@dataclass(frozen=True)
class ContainerAppsEnvironment:
    """Where one environment's apps live. Environments need resource groups of their own: apps are named
    after services, so two environments in one resource group would share (and fight over) one app."""

    resource_group: str
    managed_environment_id: str  # /subscriptions/.../providers/Microsoft.App/managedEnvironments/<name>


@dataclass(frozen=True)
class ContainerAppsSettings:
    """``identity``: ``"System"`` or a user-assigned identity's resource id; it resolves the Key Vault
    references, authenticates queue scale rules and, with ``registry_server``, pulls images.
    ``external_ingress``: reachable from outside the managed environment (the health probe runs in the
    Functions app: internal ingress needs VNet integration). ``service_bus_namespace``: the namespace (name or
    ``<name>.servicebus.windows.net``) of the queues that ``queue`` scaling rules watch, whose lengths KEDA
    reads as ``identity`` (granting it a Service Bus data role there is provisioning's job)."""

    environments: Mapping[str, ContainerAppsEnvironment]
    location: str
    identity: str
    registry_server: str | None = None
    external_ingress: bool = True
    service_bus_namespace: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "environments", MappingProxyType(dict(self.environments)))


class ContainerAppsProvider:
    """The resource provider as the Compute adapter needs it, for the environments of ``settings``."""

    def __init__(self, client: ContainerAppsAPIClient, settings: ContainerAppsSettings) -> None:
        self._client = client
        self.settings = settings

    def where(self, environment: str) -> ContainerAppsEnvironment:
        where = self.settings.environments.get(environment)
        if where is None:
            raise PermanentError(
                f"environment {environment!r} has no Container Apps settings (resource group, managed environment); "
                f"configured: {sorted(self.settings.environments)}"
            )
        return where

    def apps(self, environment: str) -> list[LiveApp]:
        """The apps of the environment's resource group on its managed environment, by name."""
        group = self.where(environment).resource_group
        with translated(f"{environment}: list container apps in {group}"):
            found = list(self._client.container_apps.list_by_resource_group(group))
        return [
            LiveApp(environment, app, self._revisions(environment, app.name or ""))
            for app in sorted(found, key=lambda a: a.name or "")
            if self._ours(environment, app)
        ]

    def read(self, environment: str, service: str) -> LiveApp | None:
        """The service's app with its revisions, or None if there is none."""
        group = self.where(environment).resource_group
        try:
            with translated(f"{environment}/{service}: get container app {service}"):
                app = self._client.container_apps.get(group, service)
        except NotFound:
            return None
        if not self._ours(environment, app):
            raise PermanentError(
                f"{environment}/{service}: container app {service} in {group} runs on another managed environment; "
                "give each environment a resource group of its own"
            )
        return LiveApp(environment, app, self._revisions(environment, service))

    def existing(self, environment: str, service: str, revision: str) -> LiveApp:
        app = self.read(environment, service)
        if app is None:
            raise NotFound(f"{environment}/{service}: no container app {service}, so no revision {revision}; deploy it")
        return app

    def write(self, environment: str, app: str, what: str, body: models.ContainerApp, create: bool = False) -> None:
        """PUT (``create``) or PATCH the app and wait for the operation to end."""
        group = self.where(environment).resource_group
        operations = self._client.container_apps
        begin = operations.begin_create_or_update if create else operations.begin_update
        try:
            with translated(f"{environment}/{app}: {what}"):
                begin(group, app, body).result()
        except AlreadyExists as error:
            raise TransientError(f"{environment}/{app}: {what}: another operation is in progress") from error

    def write_tags(self, app: LiveApp, changes: dict[str, str]) -> None:
        """Every tag is sent: an ARM PATCH replaces the tags object as a whole."""
        # The SDK types ContainerApp.location as required; a PATCH (begin_update) envelope carries only what changes.
        body = models.ContainerApp(tags={**(app.app.tags or {}), **changes})  # type: ignore[call-overload]
        self.write(app.environment, app.name, "update tags", body)

    def set_active(self, app: LiveApp, name: str, active: bool) -> None:
        """Activate or deactivate one revision (a synchronous call); nothing to do if it already is."""
        if bool(app.revision(name).active) == active:
            return
        group = self.where(app.environment).resource_group
        revisions = self._client.container_apps_revisions
        with translated(f"{app.environment}/{app.name}: {'activate' if active else 'deactivate'} revision {name}"):
            (revisions.activate_revision if active else revisions.deactivate_revision)(group, app.name, name)

    def _revisions(self, environment: str, app: str) -> dict[str, models.Revision]:
        group = self.where(environment).resource_group
        with translated(f"{environment}/{app}: list revisions"):
            return {r.name or "": r for r in self._client.container_apps_revisions.list_revisions(group, app)}

    def _ours(self, environment: str, app: models.ContainerApp) -> bool:
        """Whether the app runs on the environment's managed environment."""
        properties = app.properties or models.ContainerAppProperties()
        environment_id = properties.environment_id or properties.managed_environment_id or ""
        return environment_id.lower() == self.where(environment).managed_environment_id.lower()
