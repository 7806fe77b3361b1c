"""A Blob storage container (``azure-storage-blob``; Azurite's blob service locally) holding the durable
engine's large payloads, as the Azure Storage provider keeps them in ``<hub>-largemessages``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from funchost.errors import AlreadyExists
from funchost.storage.account import StorageAccount
from funchost.storage.azure_errors import translated

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient


def large_messages_container(hub: str) -> str:
    """The container name the Azure Storage provider uses for a task hub (``AzureStorageOrchestrationService``,
    Azure/durabletask): the hub's name in lower case, then ``-largemessages``."""
    return f"{hub.lower()}-largemessages"


class BlobContainer:
    """One container: whole blobs written, read and deleted by name prefix."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container
        self.name = container.container_name

    @classmethod
    def for_hub(cls, account: StorageAccount, hub: str) -> BlobContainer:
        """The hub's large-message container on ``account``; nothing is sent until it is used (``create``
        makes it)."""
        return cls(account.blob_service().get_container_client(large_messages_container(hub)))

    def create(self) -> None:
        """Make sure the container exists; idempotent."""
        try:
            with translated(f"create container {self.name}"):
                self._container.create_container()
        except AlreadyExists:
            pass

    def upload(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``name``, replacing what was there."""
        with translated(f"{self.name} upload {name}"):
            self._container.upload_blob(name, data, overwrite=True)

    def download(self, name: str) -> bytes:
        """The blob's bytes; NotFound if absent."""
        with translated(f"{self.name} download {name}"):
            return self._container.download_blob(name).readall()

    def delete_prefix(self, prefix: str) -> int:
        """Delete every blob whose name starts with ``prefix``; how many were deleted."""
        deleted = 0
        with translated(f"{self.name} delete {prefix}*"):
            for blob in self._container.list_blobs(name_starts_with=prefix):
                self._container.delete_blob(blob.name)
                deleted += 1
        return deleted
