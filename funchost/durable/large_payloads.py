"""Payloads too large for a Table property go to blobs, as the Azure Storage provider stores them.

DurableTask.AzureStorage (Azure/durabletask) moves a history or instance property (Input, Result,
Output, Reason, Details) past 60 KB of UTF-16 to a gzip-compressed blob in the ``<hub>-largemessages``
container, named ``<instance>/history-...-<EventType>-...-<property>.json.gz``, and leaves a
``<property>BlobName`` column in its place (``AzureTableTrackingStore.CompressLargeMessageAsync``);
queue messages past 45 KB go the same way (``MessageManager``). Readers fetch them back, so an
orchestration sees its whole input and output however large, and the blobs go when the instance is
purged.

Here the measure is the property's JSON-escaped text (what the row stores, two bytes a character), so a
history row of whole episodes never passes the Table entity limit. Blob names end in a digest of the
content instead of a random number: a payload written twice (the instance row is rewritten at every
status change) is the same blob, uploaded once by this process.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Any, TypeGuard
from urllib.parse import quote

from funchost.durable.blobs import BlobContainer

MAX_INLINE_BYTES = 60 * 1024  # AzureTableTrackingStore.MaxTablePropertySizeInBytes, UTF-16
EVENT_PAYLOADS = ("Input", "Result", "Reason", "Details")
INSTANCE_PAYLOADS = ("input", "output")
BLOB_NAME_SUFFIX = "BlobName"


def is_large(value: Any) -> TypeGuard[str]:
    """Whether a property's stored (JSON-escaped) text passes the limit; escaping at most sextuples a
    character (``\\uXXXX``), so short strings are let through without escaping them."""
    if not isinstance(value, str) or len(value) * 6 * 2 <= MAX_INLINE_BYTES:
        return False
    return len(json.dumps(value)) * 2 > MAX_INLINE_BYTES


class LargePayloads:
    """Moves large string properties of history events and instance rows to blobs and back."""

    def __init__(self, blobs: BlobContainer) -> None:
        self._blobs = blobs
        self._uploaded: set[str] = set()
        self._lock = threading.Lock()

    def create(self) -> None:
        """Make sure the blob container exists; idempotent."""
        self._blobs.create()

    def offload(
        self, instance_id: str, kind: str, fields: Mapping[str, Any], properties: tuple[str, ...]
    ) -> dict[str, Any]:
        """``fields`` with each large property among ``properties`` replaced by ``""`` and a
        ``<property>BlobName`` naming the blob that holds it; ``fields`` itself is not changed."""
        moved = dict(fields)
        for name in properties:
            value = fields.get(name)
            if not is_large(value):
                continue
            data = value.encode()
            blob = f"{quote(instance_id, safe='')}/{kind}-{hashlib.sha256(data).hexdigest()[:16]}-{name}.json.gz"
            self._upload(blob, data)
            moved[name] = ""
            moved[name + BLOB_NAME_SUFFIX] = blob
        return moved

    def restore(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``fields`` with every offloaded property read back from its blob."""
        if not any(key.endswith(BLOB_NAME_SUFFIX) for key in fields):
            return dict(fields)
        restored = {}
        for key, value in fields.items():
            if key.endswith(BLOB_NAME_SUFFIX):
                restored[key.removesuffix(BLOB_NAME_SUFFIX)] = gzip.decompress(self._blobs.download(value)).decode()
            elif key not in restored:
                restored[key] = value
        return restored

    def forget(self, instance_id: str) -> None:
        """Delete every blob of an instance (when it is purged or its id starts a new instance)."""
        prefix = f"{quote(instance_id, safe='')}/"
        self._blobs.delete_prefix(prefix)
        with self._lock:
            self._uploaded = {name for name in self._uploaded if not name.startswith(prefix)}

    def _upload(self, blob: str, data: bytes) -> None:
        with self._lock:
            if blob in self._uploaded:
                return
        self._blobs.upload(blob, gzip.compress(data))
        with self._lock:
            self._uploaded.add(blob)
