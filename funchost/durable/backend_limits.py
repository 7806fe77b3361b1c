"""What the durable backend an app selects refuses beyond what the Durable extension itself checks.

The engine stores every backend's data on the app's storage (``funchost/storage_provider.py``), but it is never
more lenient than the backend Azure would use. Azure Storage takes payloads of any size (the extension moves
large messages to blobs, as ``large_payloads.py`` does) and instance ids up to the extension's 256 characters
(``client_ops.check_instance_id``). The Durable Task Scheduler (``azureManaged``) publishes stricter limits
("Limitations and considerations", https://learn.microsoft.com/azure/durable-task/scheduler/durable-task-scheduler):

- 1 MB for each JSON-serialized orchestration input and output, activity input and output, external event data,
  orchestration custom status and entity state (the Durable Task SDK's large-payload sample puts the ceiling at
  1 MiB, 1,048,576 bytes; gRPC carries the JSON as UTF-8);
- instance ids of 1 to 100 characters, printable ASCII only (0x20 to 0x7E), none starting with ``@`` (entities).

The scheduler's own error texts are not published; the errors here name the payload, its size and the limit.
Custom status stays under the extension's 16 KB anyway (``episodes.check_custom_status``), and the engine keeps
no entities, so neither needs a check of its own here.
"""

from __future__ import annotations

from dataclasses import dataclass

from funchost.durable.history import Event, EventType, kind_of
from funchost.storage_provider import DURABLE_TASK_SCHEDULER

DTS_MAX_PAYLOAD_BYTES = 1024 * 1024
DTS_MAX_INSTANCE_ID_LENGTH = 100


class InvalidInstanceId(ValueError):
    """An instance id the extension (``client_ops.check_instance_id``) or the backend refuses to start."""


class PayloadTooLarge(ValueError):
    """A payload the backend refuses; the message names it, its size and the limit."""


@dataclass(frozen=True)
class BackendLimits:
    """The limits of one backend; ``None`` where it has none beyond the extension's."""

    backend: str = "Azure Storage"
    max_payload_bytes: int | None = None
    max_instance_id_length: int | None = None

    def check_instance_id(self, instance_id: str) -> None:
        """InvalidInstanceId if the backend refuses ``instance_id`` (the extension's own rules are checked apart)."""
        if self.max_instance_id_length is None:
            return
        if not instance_id or len(instance_id) > self.max_instance_id_length:
            raise InvalidInstanceId(
                f"Instance ID '{_shown(instance_id)}' is {len(instance_id)} characters long: {self.backend} takes "
                f"1 to {self.max_instance_id_length} characters."
            )
        if any(not " " <= char <= "~" for char in instance_id):
            raise InvalidInstanceId(
                f"Instance ID '{_shown(instance_id)}' has a character {self.backend} does not take: printable "
                "ASCII only (0x20 to 0x7E)."
            )
        if instance_id.startswith("@"):
            raise InvalidInstanceId(f"Instance ID '{_shown(instance_id)}' starts with @, kept for entities.")

    def check_payload(self, what: str, payload: str | None) -> None:
        """PayloadTooLarge if the backend refuses ``payload`` (JSON text) as ``what`` ("activity input", ...)."""
        if self.max_payload_bytes is None or payload is None:
            return
        size = len(payload.encode("utf-8"))
        if size > self.max_payload_bytes:
            raise PayloadTooLarge(
                f"The {what} is {size:,} bytes of JSON; {self.backend} takes at most {self.max_payload_bytes:,} "
                f"bytes (1 MB) per payload. Keep payloads small: store the data elsewhere and pass a reference."
            )

    def check_episode(self, scheduled: list[Event], output: str | None, continued: str | None) -> None:
        """PayloadTooLarge or InvalidInstanceId for the first thing an orchestrator episode asked for that the
        backend refuses: an activity's or sub-orchestration's input, a sub-orchestration's id, the orchestration's
        output or the input it continues as new with."""
        for new in scheduled:
            kind = kind_of(new)
            if kind is EventType.TASK_SCHEDULED:
                self.check_payload(f"input of activity '{new.get('Name')}'", new.get("Input"))
            elif kind is EventType.SUB_ORCHESTRATION_CREATED:
                self.check_instance_id(new.get("InstanceId") or "")
                self.check_payload(f"input of sub-orchestration '{new.get('Name')}'", new.get("Input"))
        self.check_payload("orchestration output", output)
        self.check_payload("input to continue as new with", continued)


AZURE_STORAGE_LIMITS = BackendLimits()
SCHEDULER_LIMITS = BackendLimits("the Durable Task Scheduler", DTS_MAX_PAYLOAD_BYTES, DTS_MAX_INSTANCE_ID_LENGTH)


def backend_limits(provider_type: str) -> BackendLimits:
    """The limits of the backend a ``storageProvider.type`` selects (as ``storage_provider`` names it). MSSQL and
    Netherite publish no payload limit the engine could hold them to; they get Azure Storage's."""
    return SCHEDULER_LIMITS if provider_type == DURABLE_TASK_SCHEDULER else AZURE_STORAGE_LIMITS


def _shown(instance_id: str) -> str:
    """The id in an error message, cut so a 10,000-character id does not fill the log."""
    return instance_id if len(instance_id) <= 120 else f"{instance_id[:117]}..."
