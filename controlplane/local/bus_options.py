"""The ``extensions.serviceBus`` settings of host.json that change how the local bus delivers.

The Service Bus extension reads them into its ``ServiceBusOptions`` (Azure/azure-sdk-for-net,
sdk/servicebus/Microsoft.Azure.WebJobs.Extensions.ServiceBus/src/Config/ServiceBusOptions.cs):

| setting | meaning | default |
|---|---|---|
| ``maxConcurrentCalls`` | deliveries of one trigger function at once, in no set order (>= 1) | 16 x processors |
| ``autoCompleteMessages`` | complete on success, abandon on failure (then due again at once) | true |

The extension refuses a ``maxConcurrentCalls`` below 1 when the host starts (``Argument.AssertAtLeast``);
so does the local host, naming the setting.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controlplane.errors import FieldError, InvalidInput

SECTION = "extensions.serviceBus"


class InvalidHostJson(InvalidInput):
    what = "host.json"


def default_max_concurrent_calls() -> int:
    """The extension's default: 16 times the processor count."""
    return 16 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class ServiceBusOptions:
    max_concurrent_calls: int
    auto_complete_messages: bool = True

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> ServiceBusOptions:
        """Options from the ``extensions.serviceBus`` object; InvalidHostJson names every bad setting."""
        errors = []
        calls = section.get("maxConcurrentCalls", default_max_concurrent_calls())
        if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
            reason = f"must be an integer of at least 1 (got {calls!r})"
            errors.append(FieldError(f"{SECTION}.maxConcurrentCalls", reason))
        auto_complete = section.get("autoCompleteMessages", True)
        if not isinstance(auto_complete, bool):
            reason = f"must be true or false (got {auto_complete!r})"
            errors.append(FieldError(f"{SECTION}.autoCompleteMessages", reason))
        if errors:
            raise InvalidHostJson(errors)
        return cls(max_concurrent_calls=calls, auto_complete_messages=auto_complete)

    @classmethod
    def from_host_json(cls, root: Path) -> ServiceBusOptions:
        """Options from ``root/host.json``; the extension's defaults where it has none."""
        path = root / "host.json"
        document = json.loads(path.read_text()) if path.exists() else {}
        return cls.from_section((document.get("extensions") or {}).get("serviceBus") or {})
