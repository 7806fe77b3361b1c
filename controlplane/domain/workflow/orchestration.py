"""What the reconciler needs to know of a deployment's orchestration: whether it still runs, and if it ended,
how and why.

Read from the Durable HTTP API's instance status document (``runtimeStatus``, ``output``), the shape both the
SDK's ``DurableOrchestrationStatus.to_json()`` and a GET of ``statusQueryGetUri`` give:

    runtimeStatus                         | ended | output read as
    --------------------------------------+-------+-----------------------------------------------
    Pending, Running, Suspended,          | no    | -
    ContinuedAsNew                        |       |
    Completed                             | yes   | the orchestrator's result ({"state": ...})
    Failed                                | yes   | the failure's message (first line only: no traceback)
    Terminated, Canceled                  | yes   | the reason given to terminate
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

OUTPUT_CHARS = 300


class RuntimeStatus(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    CONTINUED_AS_NEW = "ContinuedAsNew"
    COMPLETED = "Completed"
    FAILED = "Failed"
    TERMINATED = "Terminated"
    CANCELED = "Canceled"


ENDED = frozenset({RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED, RuntimeStatus.CANCELED})


@dataclass(frozen=True)
class OrchestrationStatus:
    """An instance's runtime status and, once it ended, one line of its output (a reason, never a traceback)."""

    runtime_status: RuntimeStatus
    output: str = ""

    @property
    def ended(self) -> bool:
        return self.runtime_status in ENDED

    @classmethod
    def from_json(cls, document: Mapping[str, Any] | None) -> OrchestrationStatus | None:
        """The status in a Durable instance status document; None when there is no such instance (an empty
        document, or no ``runtimeStatus``: the SDK's answer to a 404)."""
        if not document or not document.get("runtimeStatus"):
            return None
        status = RuntimeStatus(str(document["runtimeStatus"]))
        return cls(status, _one_line(document.get("output")) if status in ENDED else "")


def _one_line(output: object) -> str:
    if output is None:
        return ""
    text = output if isinstance(output, str) else json.dumps(output, sort_keys=True, default=str)
    lines = text.strip().splitlines()
    first = lines[0].strip() if lines else ""
    return first if len(first) <= OUTPUT_CHARS else first[: OUTPUT_CHARS - 1] + "…"
