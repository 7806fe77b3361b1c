"""Webhooks of a release, as Flagger has them: called at fixed points of each service's rollout.

    type              | called                                      | a failure (non-2xx after the retries)
    ------------------+---------------------------------------------+--------------------------------------
    pre-rollout       | before the service's first rollout step     | rolls the release back
    rollout           | at every gate, after the health gate passed | rolls the release back
                      | (acceptance or load tests)                  |
    confirm-promotion | once every gate passed, before promotion    | holds: asked again every
                      |                                             | ``intervalSeconds`` until it answers 2xx
    post-rollout      | after the release completed or rolled back  | recorded only
    rollback          | at every gate and while promotion is held   | a 2xx *asks* for a rollback: taken

Each request is a JSON POST signed with HMAC-SHA256 when ``signingSecret`` names an app setting holding the
key (a Key Vault reference in Azure; the manifest never holds the key itself).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from controlplane.domain.manifest import fields as t

WebhookType = Literal["pre-rollout", "rollout", "confirm-promotion", "post-rollout", "rollback"]


class SigningSecret(t.ManifestModel):
    """The app setting whose value is the HMAC key (``setting``: an environment variable name)."""

    setting: t.EnvVarName


class Webhook(t.ManifestModel):
    """One webhook; ``services`` limits it to those services (default: every service of the release)."""

    name: t.DnsLabel
    type: WebhookType
    url: Annotated[str, Field(max_length=2048, pattern=r"^https?://[^\s#]+$")]
    timeout_seconds: Annotated[int, Field(ge=1, le=60)] = 10
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    interval_seconds: Annotated[int, Field(ge=1, le=3600)] = 30
    services: Annotated[list[t.DnsLabel], Field(max_length=50)] | None = None
    signing_secret: SigningSecret | None = None
    metadata: Annotated[dict[t.ConfigKey, t.ConfigValue], Field(max_length=20)] = Field(default_factory=dict)

    def applies_to(self, service: str) -> bool:
        return self.services is None or service in self.services
