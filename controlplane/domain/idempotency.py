"""Idempotency-Key: what a key may be, and the deployment id a key names.

The key rule follows the IETF draft "The Idempotency-Key HTTP Header Field" (an sf-string: printable
ASCII, 0x20-0x7E) with Stripe's length cap (255 characters). Leading or trailing spaces are refused
rather than trimmed, since an HTTP intermediary may trim them and turn one key into another.

The deployment id is derived from the key, so the deployment record itself is the idempotency record:
nothing can name a deployment that was never stored. The key is scoped by the release's environment
and service set, so two pipelines that both send ``build-1`` for different services never meet, while a
retry of one request always lands on the same id:

    key "run-7", env dev,  services [orders]             -> dep-<12 hex> (A)
    key "run-7", env dev,  services [orders] (again)     -> A (same request: 200 with A)
    key "run-7", env dev,  services [orders], new image  -> A (reused key: 422)
    key "run-7", env prod, services [orders]             -> B (another scope)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

MAX_KEY_LENGTH = 255
_KEY = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")
KEY_RULE = f"1 to {MAX_KEY_LENGTH} printable ASCII characters (0x20-0x7E), not starting or ending with a space"


def key_error(key: str) -> str | None:
    """Why ``key`` is not a usable Idempotency-Key, or None if it is."""
    if len(key) > MAX_KEY_LENGTH:
        return f"must be at most {MAX_KEY_LENGTH} characters (got {len(key)})"
    if not _KEY.fullmatch(key):
        return f"must be {KEY_RULE}"
    return None


def keyed_deployment_id(key: str, environment: str, services: Iterable[str]) -> str:
    """The id of the deployment that ``key`` starts in ``environment`` for ``services``.

    48 bits of sha256, the shape of a random deployment id (``dep-`` + 12 hex): revision names embed the id,
    and Container Apps caps a revision name at 54 characters. Among a million deployments the chance that
    any two ids meet is below 0.2%; a key meeting another key's deployment of a different release gets
    a 422, never that deployment."""
    scope = "\n".join(["deployment/v1", environment, ",".join(sorted(set(services))), key])
    return "dep-" + hashlib.sha256(scope.encode()).hexdigest()[:12]
