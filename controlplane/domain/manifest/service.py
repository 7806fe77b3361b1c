"""One service of a release: its image, replicas, RuntimeConfiguration, SecretBindings and ScalingPolicy."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from controlplane.domain.config_hash import config_hash
from controlplane.domain.manifest import fields as t
from controlplane.domain.manifest import rules as manifest_rules
from controlplane.domain.manifest.analysis import Analysis

Replicas = Annotated[int, Field(ge=0, le=1000)]
Port = Annotated[int, Field(ge=1, le=65535)]
RuntimeConfiguration = Annotated[dict[t.ConfigKey, t.ConfigValue], Field(max_length=200)]


class SecretBinding(t.ManifestModel):
    """An environment variable whose value is read from Key Vault at runtime; never a value itself."""

    name: t.EnvVarName
    key_vault_secret_uri: t.KeyVaultSecretUri


class ServiceHealth(t.ManifestModel):
    """Where to probe this service; unset fields fall back to ``spec.healthGate.path`` and the service port.

    ``Release.health_endpoint`` resolves them.
    """

    path: t.HttpPath | None = None
    port: Port | None = None


class ScalingRule(manifest_rules.RuledModel):
    """Scale to keep ``metric`` at ``target``.

    cpu: percent of the requested CPU; queue: messages per replica; rps: requests per second one replica
    should serve (the loop divides the service's total rps by it).
    """

    cross_field_rule = manifest_rules.scaling_rule_errors

    metric: Literal["cpu", "queue", "rps"]
    target: Annotated[float, Field(gt=0)]


class ScalingPolicy(manifest_rules.RuledModel):
    """Replica bounds and the rules that move between them; scale to zero only for event-driven targets."""

    cross_field_rule = manifest_rules.scaling_errors

    min_replicas: Replicas = t.DEFAULT_MIN_REPLICAS
    max_replicas: Replicas
    scale_to_zero: bool = False
    activation_threshold: Annotated[float, Field(gt=0)] | None = None
    target: Literal["http", "event-driven"] = t.DEFAULT_SCALING_TARGET
    cooldown_seconds: Annotated[int, Field(ge=0, le=3600)] = 60
    stabilization_window_seconds: Annotated[int, Field(ge=0, le=3600)] = 300
    rules: Annotated[list[ScalingRule], Field(min_length=1, max_length=3)]


class ServiceSpec(manifest_rules.RuledModel):
    """A workload of the release and how it is configured, probed and scaled.

    ``ignoreDifferences`` lists JSON pointers (``/replicas``, ``/image``, ``/configHash``, ``/secrets``) whose
    live differences the drift loop never reports, like Argo CD's ignoreDifferences.
    """

    cross_field_rule = manifest_rules.service_errors

    name: t.DnsLabel
    image: t.ImageRef
    replicas: Replicas = t.DEFAULT_REPLICAS
    port: Port = 8080
    configuration: RuntimeConfiguration = Field(
        default_factory=dict,
        description="Plain environment variables, stored and shown with the deployment. A value that looks like "
        "a credential (a connection string with AccountKey=, SharedAccessKey=, Password= or Pwd=; a SAS token; "
        "a PEM private key; a JWT) or a non-empty value under a key named like one (..._PASSWORD, ..._SECRET, "
        "..._TOKEN, ..._API_KEY) is refused: bind it under secrets instead.",
    )
    secrets: Annotated[list[SecretBinding], Field(max_length=100)] = Field(default_factory=list)
    health: ServiceHealth | None = None
    scaling: ScalingPolicy | None = None
    ignore_differences: Annotated[list[t.JsonPointer], Field(max_length=20)] = Field(default_factory=list)
    depends_on: Annotated[list[t.DnsLabel], Field(max_length=50)] = Field(
        default_factory=list,
        description="Services of this release that must be rolled out and gated before this one starts "
        "(release waves); a failure rolls back every service of the release.",
    )
    analysis: Analysis | None = Field(
        default=None, description="This service's metric analysis; replaces spec.analysis for it."
    )

    def config_hash(self) -> str:
        """sha256 hex of the configuration and secret references; independent of key and secret order.

        Drift detection compares it with the hash recorded on the running revision.
        """
        return config_hash(self.configuration, {secret.name: secret.key_vault_secret_uri for secret in self.secrets})
