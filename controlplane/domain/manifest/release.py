"""The release document's top level: metadata, environment, health gate, spec; and the entry points
``parse_release``, ``load_release`` and ``release_json_schema`` (re-exported by the package)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import Field, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from controlplane.domain.manifest import fields as t
from controlplane.domain.manifest import rules as manifest_rules
from controlplane.domain.manifest.analysis import Analysis
from controlplane.domain.manifest.errors import field_errors
from controlplane.domain.manifest.loader import Syntax, read_document
from controlplane.domain.manifest.service import (
    ServiceHealth,
    ServiceSpec,
)
from controlplane.domain.manifest.strategy import (
    Strategy,
)
from controlplane.domain.manifest.webhooks import Webhook, WebhookType
from controlplane.errors import FieldError, InvalidManifest, NotFound


class Metadata(t.ManifestModel):
    """Identity of the release; labels follow Kubernetes label syntax."""

    name: t.DnsLabel
    labels: Annotated[dict[t.LabelKey, t.LabelValue], Field(max_length=32)] = Field(default_factory=dict)


class Environment(manifest_rules.RuledModel):
    """Where the release runs. ``region`` is required for aks and containerapps; local compute defaults it."""

    cross_field_rule = manifest_rules.environment_errors

    name: t.DnsLabel
    tier: Literal["prod", "nonprod"]
    compute: Literal["local", "aks", "containerapps"]
    region: t.Region = t.LOCAL_REGION


class HealthGate(t.ManifestModel):
    """How a rollout decides a new version is healthy: consecutive probe results within a deadline."""

    path: t.HttpPath = "/health"
    interval_seconds: Annotated[int, Field(ge=1, le=300)] = 5
    timeout_seconds: Annotated[int, Field(ge=1, le=60)] = 2
    success_threshold: Annotated[int, Field(ge=1, le=100)] = 3
    failure_threshold: Annotated[int, Field(ge=1, le=100)] = 3
    progress_deadline_seconds: Annotated[int, Field(ge=30, le=86400)] = 600
    allow_degraded: bool = False


class ReleaseSpec(manifest_rules.RuledModel):
    """What to run: the environment, the rollout strategy, the health gate and the services."""

    cross_field_rule = manifest_rules.spec_errors

    environment: Environment
    strategy: Strategy
    health_gate: HealthGate = Field(default_factory=HealthGate)
    analysis: Analysis | None = None
    webhooks: Annotated[list[Webhook], Field(max_length=20)] = Field(default_factory=list)
    services: Annotated[list[ServiceSpec], Field(min_length=1, max_length=50)]


class HealthEndpoint(NamedTuple):
    """The path and port to probe for one service, defaults resolved."""

    path: str
    port: int


class Release(t.ManifestModel):
    """A release manifest (``apiVersion: controlplane.azure/v1``, ``kind: Release``)."""

    api_version: Literal["controlplane.azure/v1"]
    kind: Literal["Release"]
    metadata: Metadata
    spec: ReleaseSpec

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Release:
        """Same as ``parse_release``."""
        return parse_release(document)

    def to_dict(self) -> dict[str, Any]:
        """The camelCase, JSON-able wire form with defaults filled in; unset optional fields are omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def service(self, name: str) -> ServiceSpec:
        """The service called ``name``; raises ``NotFound`` if the release has none."""
        for service in self.spec.services:
            if service.name == name:
                return service
        raise NotFound(f'release "{self.metadata.name}" has no service "{name}"')

    def analysis_of(self, name: str) -> Analysis | None:
        """Service ``name``'s metric analysis: its own, else the release's, else None."""
        return self.service(name).analysis or self.spec.analysis

    def webhooks_of(self, name: str, kind: WebhookType) -> list[Webhook]:
        """The webhooks of type ``kind`` that apply to service ``name``, in manifest order."""
        return [hook for hook in self.spec.webhooks if hook.type == kind and hook.applies_to(name)]

    def health_endpoint(self, name: str) -> HealthEndpoint:
        """Where to probe service ``name``: its own health settings, else the gate's path and its port."""
        service = self.service(name)
        health = service.health or ServiceHealth()
        return HealthEndpoint(health.path or self.spec.health_gate.path, health.port or service.port)


def parse_release(document: Mapping[str, Any]) -> Release:
    """Validate a parsed manifest; raise ``InvalidManifest`` listing every failing field."""
    if not isinstance(document, Mapping):
        raise InvalidManifest([FieldError("", f"a release manifest must be a mapping (got {t.shown(document)})")])
    errors: list[FieldError] = []
    release = None
    try:
        release = Release.model_validate(document)
    except ValidationError as error:
        errors = field_errors(error, document)
    # Pydantic skips cross-field rules of any model with a failing field; the raw pass does not.
    errors = list(dict.fromkeys([*errors, *manifest_rules.release_rule_errors(document)]))
    if errors or release is None:
        raise InvalidManifest(errors)
    return release


def load_release(text: str | bytes, *, source: str = "<input>", syntax: Syntax | None = None) -> Release:
    """Parse manifest text as ``syntax`` (None: JSON if it starts with ``{``, else YAML) and validate it;
    ``source`` names it in document-level errors."""
    return parse_release(read_document(text, source=source, syntax=syntax))


def release_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of the wire form, as committed in ``schemas/release.schema.json``."""
    schema = Release.model_json_schema(by_alias=True, mode="validation", schema_generator=_WireSchema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


class _WireSchema(GenerateJsonSchema):
    """Optional fields are left out on the wire (``to_dict`` omits them), so the schema shows no nulls."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        if "default" in json_schema and json_schema["default"] is None:
            del json_schema["default"]
        return json_schema
