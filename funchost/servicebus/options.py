"""The ``extensions.serviceBus`` settings of host.json that change how the local bus delivers.

The Service Bus extension reads them into its ``ServiceBusOptions`` (Azure/azure-sdk-for-net,
sdk/servicebus/Microsoft.Azure.WebJobs.Extensions.ServiceBus/src/Config/ServiceBusOptions.cs):

| setting | meaning | default |
|---|---|---|
| ``maxConcurrentCalls`` | deliveries of one trigger function at once, in no set order (>= 1) | 16 x processors |
| ``autoCompleteMessages`` | complete on success, abandon on failure (then due again at once) | true |
| ``maxAutoLockRenewalDuration`` | how long after delivery the lock is renewed while the function runs | 00:05:00 |
| | (a .NET TimeSpan; ``00:00:00`` turns renewal off; see ``bus_locks``) | |

The extension refuses a ``maxConcurrentCalls`` below 1 (``Argument.AssertAtLeast``) and a negative
``maxAutoLockRenewalDuration`` (``Argument.AssertNotNegative``) when the host starts, and the host does not start
on a value the configuration binder cannot read as a TimeSpan; so does the local host, naming the setting. The
binder reads a TimeSpan with ``TimeSpan.Parse`` (``funchost.timespan``), a JSON number as its text:
``5`` is five days.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from funchost.errors import FieldError
from funchost.host_json import InvalidHostJson, extension_section
from funchost.timespan import parse_timespan_setting

SECTION = "extensions.serviceBus"
DEFAULT_MAX_AUTO_LOCK_RENEWAL = timedelta(minutes=5)


def default_max_concurrent_calls() -> int:
    """The extension's default: 16 times the processor count."""
    return 16 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class ServiceBusOptions:
    max_concurrent_calls: int
    auto_complete_messages: bool = True
    max_auto_lock_renewal: timedelta = DEFAULT_MAX_AUTO_LOCK_RENEWAL

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
        renewal = _timespan(section, "maxAutoLockRenewalDuration", DEFAULT_MAX_AUTO_LOCK_RENEWAL, errors)
        if errors:
            raise InvalidHostJson(errors)
        assert renewal is not None  # an unreadable value is in errors
        return cls(calls, auto_complete, renewal)

    @classmethod
    def from_host_json(cls, root: Path) -> ServiceBusOptions:
        """Options from ``root/host.json``; the extension's defaults where it has none."""
        return cls.from_section(extension_section(root, "serviceBus"))


def _timespan(section: Mapping[str, Any], key: str, default: timedelta, errors: list[FieldError]) -> timedelta | None:
    """A non-negative TimeSpan setting as the extension binds it; None (and an error) when it is not one."""
    value = section.get(key)
    if value is None:
        return default
    parsed = parse_timespan_setting(value)
    if parsed is None:
        errors.append(FieldError(f"{SECTION}.{key}", f'must be a TimeSpan such as "00:05:00" (got {value!r})'))
    elif parsed < timedelta(0):
        errors.append(FieldError(f"{SECTION}.{key}", f"must not be negative (got {value!r})"))
        return None
    return parsed
