"""The configuration hash: what identifies a service's configuration and secret references, independent of order."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping


def config_hash(configuration: Mapping[str, str], secret_refs: Mapping[str, str]) -> str:
    """sha256 hex of a configuration and its secret references (by variable name), independent of order.

    The manifest, Compute's inventory and drift detection all hash with this one function.
    """
    canonical = {
        "configuration": dict(configuration),
        "secrets": [{"name": name, "keyVaultSecretUri": secret_refs[name]} for name in sorted(secret_refs)],
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
