"""The Compute port on Azure Container Apps (azure-mgmt-appcontainers): one container app per service.

In each environment's resource group and managed environment, the app named after the service runs in
``activeRevisionsMode: Multiple``, one revision per deployment, tagged ``managed-by: runtime-control-plane``.
Apps without the tag are reported unmanaged and never changed, except that an approved removal deactivates
their revision. Names, templates, Key Vault references and traffic entries: ``container_apps_mapping``.

What Container Apps allows, and so what each method does:

- ``deploy_revision``: a new revision is a template change with its suffix (PUT for a new app, else PATCH),
  a long-running operation. Traffic entries name revisions explicitly (a ``latestRevision`` entry is pinned
  to today's latest revision in the same PATCH), so the new revision gets 0%. A new app has no ingress until
  the first ``set_traffic``/``set_preview`` (an ingress routes 100% somewhere), so its first revision gets
  no traffic either. Deploying an existing revision again with the same spec only (re)activates it. A failed
  provisioning deactivates and hides the revision and raises PermanentError.
- Revisions are immutable, scale included. A revision whose spec has a ScalingPolicy carries it as scale
  rules (``container_apps_scale.revision_scale``) and KEDA moves it between the policy's bounds; the
  control plane's scaling loop leaves it alone. Without a policy a revision runs exactly the replicas it was
  created with (``minReplicas = maxReplicas``). ``scale(r, 0)`` deactivates it (kept, restorable, shown
  with 0 replicas); ``scale(r, n)`` activates it if it may run ``n``: its created count, or for an
  autoscaled revision any ``n`` within its bounds. Any other ``n`` is a PermanentError (deploy a new
  revision with that count); the same holds for ``deploy_revision`` with another count or policy.
- ``remove_revision``: one revision cannot be deleted, so it is deactivated and its suffix recorded in the
  app tag ``removed-revisions`` (256 characters at most: the oldest entries are dropped first, and those
  revisions show again, inactive with 0 replicas). Refused while the revision has traffic.
- ``inventory``: every revision of the environment's apps except inactive ones that were removed (for
  unmanaged apps: except every inactive one), with replicas and traffic as the provider reports them (for
  an autoscaled revision, the count KEDA runs now).
- ``endpoints``: the revision's own FQDN once, as ``https://`` (replicas are not addressable one by one);
  empty while the revision is inactive or the app has no ingress yet.

Provider calls and error translation: ``container_apps_provider`` (the client, built elsewhere with
DefaultAzureCredential, retries 429 and 5xx first).
"""

from __future__ import annotations

import logging

from azure.mgmt.appcontainers import ContainerAppsAPIClient, models

from controlplane.adapters.azure.container_apps.mapping import (
    MANAGED_TAG,
    MANAGED_VALUE,
    REMOVED_TAG,
    LiveApp,
    aca_revision_name,
    check_app_name,
    control_plane_revision_name,
    key_vault_secrets,
    managed_identity,
    pinned,
    relabelled,
    require_aca_revision_name,
    revision_template,
    suffix_of,
    weighted,
)
from controlplane.adapters.azure.container_apps.provider import (
    ContainerAppsEnvironment,
    ContainerAppsProvider,
    ContainerAppsSettings,
)
from controlplane.adapters.azure.container_apps.scale import revision_scale
from controlplane.domain.runtime import LiveWorkload, RevisionSpec, revision_changed
from controlplane.domain.traffic import check_weights
from controlplane.errors import NotFound, PermanentError, TransientError

__all__ = ["ContainerAppsCompute", "ContainerAppsEnvironment", "ContainerAppsSettings"]

logger = logging.getLogger(__name__)

_MAX_TAG_VALUE = 256


class ContainerAppsCompute:
    """The Compute port over Azure Container Apps (see the module docstring for the exact mapping)."""

    def __init__(self, client: ContainerAppsAPIClient, settings: ContainerAppsSettings) -> None:
        self._provider = ContainerAppsProvider(client, settings)
        self._settings = settings

    def deploy_revision(self, spec: RevisionSpec) -> None:
        """Create the revision with its scale (fixed count or scale rules) and no traffic; idempotent for the same
        spec."""
        if spec.replicas < 0:
            raise PermanentError(f"{spec.environment}/{spec.service}/{spec.revision}: replicas must be >= 0")
        check_app_name(spec.environment, spec.service)
        name = require_aca_revision_name(spec)
        scale = revision_scale(spec, self._settings.identity, self._settings.service_bus_namespace)
        app = self._provider.read(spec.environment, spec.service)
        if app is not None and name in app.revisions:
            self._redeploy(app, spec, name, scale)
            return
        if app is not None:
            self._require_managed(app, spec.revision)
            self._check_port(app, spec)
        try:
            self._create(app, spec, name, scale)
        except PermanentError as error:
            reason = self._discard(spec.environment, spec.service, name)
            what = f"{spec.environment}/{spec.service}: revision {spec.revision}"
            if reason is None:  # refused before a revision existed (an invalid template, say)
                raise PermanentError(f"{what} could not be created: {error}") from error
            raise PermanentError(f"{what} failed to provision ({reason}); deploy under a new revision name") from error
        if spec.replicas == 0:  # created active, as every new revision is; 0 replicas is an inactive revision
            created = self._provider.existing(spec.environment, spec.service, spec.revision)
            self._provider.set_active(created, name, False)

    def set_traffic(self, environment: str, service: str, weights: dict[str, int]) -> None:
        """Ingress weights per revision (sum 100); revisions not named get none; the preview label stays."""
        check_weights(environment, service, weights)
        first = next(iter(weights))
        app = self._managed(environment, service, first)
        named = {self._name(app, revision): weight for revision, weight in weights.items()}
        self._write_traffic(app, weighted(named, app.preview()), port_from=max(named, key=named.__getitem__))

    def set_preview(self, environment: str, service: str, revision: str | None) -> None:
        """The ``preview`` label on the revision's traffic entry (weight 0 unless it has traffic); None takes it
        off. Before any traffic was set the app has no ingress, and an ingress must route 100% somewhere: the
        preview revision then takes it (nothing was served before)."""
        app = self._managed(environment, service, revision or "(preview)")
        target = self._name(app, revision) if revision is not None else None
        if app.configuration.ingress is not None:
            self._write_traffic(app, relabelled(app.traffic, target), port_from=None)
        elif target is not None:
            logger.warning("%s/%s: no ingress yet, so preview %s also takes all traffic", environment, service, target)
            self._write_traffic(app, weighted({target: 100}, target), port_from=target)

    def scale(self, environment: str, service: str, revision: str, replicas: int) -> None:
        """0: deactivate (kept, restorable). n > 0: activate, if the revision may run n (its created count, or
        within an autoscaled revision's bounds); Container Apps cannot change a revision's scale, so any other
        n is a PermanentError."""
        if replicas < 0:
            raise PermanentError(f"{environment}/{service}/{revision}: replicas must be >= 0 (got {replicas})")
        app = self._managed(environment, service, revision)
        name = self._name(app, revision)
        if replicas:
            self._check_size(app, name, revision, replicas)
        self._provider.set_active(app, name, replicas > 0)
        self._forget_removal(app, name)

    def remove_revision(self, environment: str, service: str, revision: str) -> None:
        """Deactivate and hide the revision (Container Apps cannot delete one); refused while it has traffic;
        nothing to do if it is gone."""
        app = self._provider.read(environment, service)
        name = aca_revision_name(service, revision)
        if app is None or name is None or not app.visible(name):
            return
        weight = app.revision(name).traffic_weight or 0
        if weight:
            raise PermanentError(
                f"{environment}/{service}: revision {revision} still receives {weight}% of traffic; "
                "shift its traffic to another revision before removing it"
            )
        if app.managed and app.preview() == name:
            self._write_traffic(app, relabelled(app.traffic, None), port_from=None)
        self._provider.set_active(app, name, False)
        if app.managed:
            kept = [s for s in app.removed if f"{app.name}--{s}" in app.revisions] + [suffix_of(app.name, name)]
            kept = list(dict.fromkeys(kept))
            while len(" ".join(kept)) > _MAX_TAG_VALUE:
                logger.warning("%s/%s: revision suffix %s no longer recorded as removed", environment, service, kept[0])
                kept.pop(0)
            self._provider.write_tags(app, {REMOVED_TAG: " ".join(kept)})

    def inventory(self, environment: str) -> list[LiveWorkload]:
        """Every visible revision of the container apps on the environment's managed environment."""
        workloads = []
        for app in self._provider.apps(environment):
            for name in sorted(n for n in app.revisions if app.visible(n)):
                template, revision = app.template(name), app.revision(name)
                workloads.append(
                    LiveWorkload(
                        environment,
                        app.name,
                        control_plane_revision_name(app.name, name),
                        template.image,
                        revision.replicas or 0,
                        template.config_hash,
                        revision.traffic_weight or 0,
                        app.managed,
                    )
                )
        return workloads

    def endpoints(self, environment: str, service: str, revision: str) -> list[str]:
        """The revision's FQDN once, as an https base URL; empty while inactive or without ingress."""
        app = self._provider.existing(environment, service, revision)
        live = app.revision(self._name(app, revision))
        return [f"https://{live.fqdn}"] if live.active and live.fqdn else []

    # -- deploying ---------------------------------------------------------------------------------------------
    def _create(self, app: LiveApp | None, spec: RevisionSpec, name: str, scale: models.Scale) -> None:
        secrets = key_vault_secrets(spec, self._settings.identity)
        template = revision_template(spec, suffix_of(spec.service, name), scale)
        if app is None:
            configuration = models.Configuration(active_revisions_mode="Multiple", secrets=secrets)
            if self._settings.registry_server:
                server, identity = self._settings.registry_server, self._settings.identity
                configuration.registries = [models.RegistryCredentials(server=server, identity=identity)]
            environment_id = self._provider.where(spec.environment).managed_environment_id
            body = models.ContainerApp(
                location=self._settings.location,
                tags={MANAGED_TAG: MANAGED_VALUE},
                identity=managed_identity(self._settings.identity),
                properties=models.ContainerAppProperties(
                    environment_id=environment_id, configuration=configuration, template=template
                ),
            )
            what = f"create the app with revision {spec.revision}"
            self._provider.write(spec.environment, spec.service, what, body, create=True)
            return
        configuration = models.Configuration()
        known = {secret.name for secret in app.configuration.secrets or []}
        if any(secret.name not in known for secret in secrets):  # a PATCH replaces the whole list
            configuration.secrets = app.key_vault_secrets() + [s for s in secrets if s.name not in known]
        traffic, ingress = pinned(app.traffic, app.properties.latest_revision_name), app.configuration.ingress
        if ingress is not None and traffic is not None:
            ingress.traffic = traffic
            configuration.ingress = ingress
        properties = models.ContainerAppProperties(template=template)
        if configuration:
            properties.configuration = configuration
        # The SDK types ContainerApp.location as required; a PATCH (begin_update) envelope carries only what changes.
        body = models.ContainerApp(properties=properties)  # type: ignore[call-overload]
        self._provider.write(spec.environment, spec.service, f"add revision {spec.revision}", body)

    def _redeploy(self, app: LiveApp, spec: RevisionSpec, name: str, scale: models.Scale) -> None:
        """The revision exists: refuse another spec, else make it run (again) as asked."""
        self._require_managed(app, spec.revision)
        revision = app.revision(name)
        what = f"{spec.environment}/{spec.service}: revision {spec.revision}"
        if revision.provisioning_state == "Failed":
            reason = revision.provisioning_error or "no reason given"
            raise PermanentError(f"{what} failed to provision ({reason}); deploy under a new revision name")
        if revision.provisioning_state == "Provisioning":
            raise TransientError(f"{what} is still provisioning; try again shortly")
        if app.template(name).differs_from(spec, scale):
            raise revision_changed(spec, "image, configuration or scaling policy")
        if spec.replicas:
            self._check_size(app, name, spec.revision, spec.replicas)
        self._provider.set_active(app, name, spec.replicas > 0)
        self._forget_removal(app, name)

    def _discard(self, environment: str, service: str, name: str) -> str | None:
        """After a failed start: deactivate and hide the revision if it was created, so a retry fails fast.
        Returns the provider's reason, or None if there is no such revision."""
        app = self._provider.read(environment, service)
        if app is None or name not in app.revisions:
            return None
        self.remove_revision(environment, service, control_plane_revision_name(service, name))
        return app.revision(name).provisioning_error or "no reason given"

    @staticmethod
    def _check_size(app: LiveApp, name: str, revision: str, replicas: int) -> None:
        template = app.template(name)
        if template.runs(replicas):
            return
        what = f"{app.environment}/{app.name}: revision {revision}"
        if template.autoscaling:
            runs = f"scales itself between {template.size} and {template.max_size} replicas by its scale rules"
        else:
            runs = f"was created with {template.size} replica(s)"
        raise PermanentError(
            f"{what} {runs} and Container Apps cannot change a revision's scale; deploy a new revision with {replicas}"
        )

    @staticmethod
    def _check_port(app: LiveApp, spec: RevisionSpec) -> None:
        ingress = app.configuration.ingress
        if ingress is not None and ingress.target_port not in (None, spec.port):
            raise PermanentError(
                f"{spec.environment}/{spec.service}: ingress targets port {ingress.target_port} for every revision "
                f"(Container Apps ingress is app-wide), but revision {spec.revision} listens on {spec.port}"
            )

    # -- writes ------------------------------------------------------------------------------------------------
    def _write_traffic(self, app: LiveApp, traffic: list[models.TrafficWeight], port_from: str | None) -> None:
        """Replace the ingress traffic (creating the ingress the first time); nothing to do if it is as wanted."""
        ingress = app.configuration.ingress
        if ingress is not None and _entries(ingress.traffic or []) == _entries(traffic):
            return
        if ingress is None:  # the first traffic: an ingress on the port the revision's probe uses
            port = app.template(port_from).port if port_from is not None else None
            if port is None:
                raise PermanentError(f"{app.environment}/{app.name}: revision {port_from} declares no port")
            external = self._settings.external_ingress
            ingress = models.Ingress(external=external, target_port=port, transport="auto", allow_insecure=False)
        ingress.traffic = traffic
        properties = models.ContainerAppProperties(configuration=models.Configuration(ingress=ingress))
        body = models.ContainerApp(properties=properties)  # type: ignore[call-overload]  # a PATCH: see _create
        self._provider.write(app.environment, app.name, "set ingress traffic", body)

    def _forget_removal(self, app: LiveApp, name: str) -> None:
        suffix = suffix_of(app.name, name)
        if suffix in app.removed:
            self._provider.write_tags(app, {REMOVED_TAG: " ".join(s for s in app.removed if s != suffix)})

    def _managed(self, environment: str, service: str, revision: str) -> LiveApp:
        app = self._provider.existing(environment, service, revision)
        self._require_managed(app, revision)
        return app

    @staticmethod
    def _name(app: LiveApp, revision: str) -> str:
        name = aca_revision_name(app.name, revision)
        if name is None or not app.visible(name):
            raise NotFound(f"{app.environment}/{app.name}: no revision {revision}; deploy it first")
        return name

    @staticmethod
    def _require_managed(app: LiveApp, revision: str) -> None:
        if not app.managed:
            raise PermanentError(
                f"{app.environment}/{app.name}: container app lacks the tag {MANAGED_TAG}: {MANAGED_VALUE}, so the "
                f"control plane does not change it (revision {revision}); add the tag to adopt it"
            )


def _entries(traffic: list[models.TrafficWeight]) -> list[dict[str, object]]:
    return [{key: value for key, value in entry.as_dict().items() if value is not None} for entry in traffic]
