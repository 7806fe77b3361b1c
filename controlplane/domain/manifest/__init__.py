"""The Release manifest: what a pipeline asks the control plane to run, and where.

Entry points: ``load_release`` (JSON or YAML text), ``parse_release`` (an already parsed mapping),
``Release.to_dict`` (the wire form; ``parse_release(r.to_dict()) == r``) and ``release_json_schema``.
Every validation failure is an ``InvalidManifest`` that lists each failing field by its document path.

Modules: ``release`` (the top-level models and entry points), ``service`` and ``strategy`` (their
parts), ``rules`` (cross-field rules), ``fields`` (field types and single-value checks), ``loader``
(JSON/YAML text to a mapping) and ``errors`` (pydantic errors to field paths and reasons).
"""

from controlplane.domain.manifest.fields import API_VERSION, KIND
from controlplane.domain.manifest.loader import MAX_DOCUMENT_BYTES, MAX_NESTING, MAX_YAML_ALIASES, Syntax
from controlplane.domain.manifest.release import (
    Environment,
    HealthEndpoint,
    HealthGate,
    Metadata,
    Release,
    ReleaseSpec,
    load_release,
    parse_release,
    release_json_schema,
)
from controlplane.domain.manifest.service import (
    RuntimeConfiguration,
    ScalingPolicy,
    ScalingRule,
    SecretBinding,
    ServiceHealth,
    ServiceSpec,
)
from controlplane.domain.manifest.strategy import (
    BlueGreen,
    Canary,
    CanaryPause,
    CanaryStep,
    RollingHealthGated,
    Strategy,
)

__all__ = [
    "API_VERSION",
    "KIND",
    "MAX_DOCUMENT_BYTES",
    "MAX_NESTING",
    "MAX_YAML_ALIASES",
    "BlueGreen",
    "Canary",
    "CanaryPause",
    "CanaryStep",
    "Environment",
    "HealthEndpoint",
    "HealthGate",
    "Metadata",
    "Release",
    "ReleaseSpec",
    "RollingHealthGated",
    "RuntimeConfiguration",
    "ScalingPolicy",
    "ScalingRule",
    "SecretBinding",
    "ServiceHealth",
    "ServiceSpec",
    "Strategy",
    "Syntax",
    "load_release",
    "parse_release",
    "release_json_schema",
]
