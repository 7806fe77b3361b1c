"""Rollout strategies of a release, a union discriminated on ``type``.

The models only describe what the manifest asks for; the rollout steps themselves live elsewhere.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from controlplane.domain.manifest import fields as t
from controlplane.domain.manifest import rules as manifest_rules

Seconds = Annotated[int, Field(ge=0, le=86400)]


class RollingHealthGated(manifest_rules.RuledModel):
    """Replace replicas in batches, each batch gated on health (Kubernetes rolling update semantics)."""

    cross_field_rule = manifest_rules.rolling_errors

    type: Literal["RollingHealthGated"]
    max_surge: t.IntOrPercent = t.DEFAULT_MAX_SURGE
    max_unavailable: t.IntOrPercent = t.DEFAULT_MAX_UNAVAILABLE


class CanaryPause(manifest_rules.RuledModel):
    """Wait after a canary step: a fixed time, or until someone approves the deployment."""

    cross_field_rule = manifest_rules.pause_errors

    duration_seconds: Annotated[int, Field(ge=1, le=86400)] | None = None
    until_approved: bool | None = None


class CanaryStep(t.ManifestModel):
    """Send ``weight`` percent of traffic to the new version, then pause if asked to."""

    weight: Annotated[int, Field(ge=1, le=100)]
    pause: CanaryPause | None = None


class Canary(manifest_rules.RuledModel):
    """Shift traffic to the new version in steps of strictly increasing weight."""

    cross_field_rule = manifest_rules.canary_errors

    type: Literal["Canary"]
    steps: Annotated[list[CanaryStep], Field(min_length=1, max_length=20)]


class BlueGreen(t.ManifestModel):
    """Start the new version beside the old one and switch all traffic at once.

    Without ``autoPromotionSeconds`` the switch waits for manual approval.
    """

    type: Literal["BlueGreen"]
    auto_promotion_seconds: Seconds | None = None
    scale_down_delay_seconds: Seconds = 30


Strategy = Annotated[RollingHealthGated | Canary | BlueGreen, Field(discriminator="type")]
