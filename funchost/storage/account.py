"""The storage account the host keeps its state in, from the ``AzureWebJobsStorage`` app setting as the
Functions host reads it: a connection string (``UseDevelopmentStorage=true`` for Azurite), or identity-based
service URIs (``AzureWebJobsStorage__tableServiceUri``, ``__blobServiceUri``) with ``DefaultAzureCredential``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from funchost.errors import FieldError, InvalidInput

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient

STORAGE = "AzureWebJobsStorage"
TABLE_SERVICE_URI = f"{STORAGE}__tableServiceUri"
BLOB_SERVICE_URI = f"{STORAGE}__blobServiceUri"
DEVELOPMENT_STORAGE = "UseDevelopmentStorage=true"


class InvalidStorageSettings(InvalidInput):
    what = "storage settings"


@dataclass(frozen=True)
class StorageAccount:
    """A connection string, or the Table endpoint (and Blob endpoint) reached with the managed identity."""

    connection_string: str | None = None
    table_endpoint: str | None = None
    blob_endpoint: str | None = None

    @classmethod
    def from_app_settings(cls, app_settings: Mapping[str, str]) -> StorageAccount:
        """The account ``AzureWebJobsStorage`` names; InvalidStorageSettings when none is set."""
        connection = app_settings.get(STORAGE) or None
        table = app_settings.get(TABLE_SERVICE_URI) or None
        if connection is None and table is None:
            reason = f"set a connection string ({DEVELOPMENT_STORAGE} for Azurite) or {TABLE_SERVICE_URI}"
            raise InvalidStorageSettings([FieldError(STORAGE, reason)])
        return cls(connection, table, app_settings.get(BLOB_SERVICE_URI) or None)

    def table_service(self) -> TableServiceClient:
        """A Table service client. Proxy settings are not read from the environment on every request
        (``use_env_settings=False``): that lookup costs about a millisecond per call, a third of an Azurite
        round trip."""
        from azure.core.pipeline.transport import RequestsTransport
        from azure.data.tables import TableServiceClient

        transport = RequestsTransport(use_env_settings=False)
        if self.connection_string:
            return TableServiceClient.from_connection_string(self.connection_string, transport=transport)
        from azure.identity import DefaultAzureCredential

        return TableServiceClient(self.table_endpoint or "", credential=DefaultAzureCredential(), transport=transport)

    def blob_service(self) -> BlobServiceClient:
        """A Blob service client; with the managed identity and no Blob URI, the account's Blob endpoint has
        the Table endpoint's form."""
        from azure.core.pipeline.transport import RequestsTransport
        from azure.storage.blob import BlobServiceClient

        transport = RequestsTransport(use_env_settings=False)
        if self.connection_string:
            return BlobServiceClient.from_connection_string(self.connection_string, transport=transport)
        from azure.identity import DefaultAzureCredential

        endpoint = self.blob_endpoint or (self.table_endpoint or "").replace(".table.", ".blob.")
        return BlobServiceClient(endpoint, credential=DefaultAzureCredential(), transport=transport)
