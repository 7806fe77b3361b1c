"""Settings: the only place that reads environment variables.

| setting | meaning | default |
|---|---|---|
| ``CONTROLPLANE_STORAGE`` | Table connection string (``UseDevelopmentStorage=true``: Azurite) | AzureWebJobsStorage |
| ``AzureWebJobsStorage__tableServiceUri`` | identity-based Table endpoint (managed identity, no keys) | |
| ``CONTROLPLANE_TABLE_PREFIX`` | prefix of every state table name (letters and digits) | ``cp`` |
| ``CONTROLPLANE_EVENT_SOURCE`` | CloudEvents ``source`` of emitted events | ``/runtime-control-plane`` |
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from controlplane.errors import FieldError, InvalidInput

DEVELOPMENT_STORAGE = "UseDevelopmentStorage=true"
STORAGE_SETTINGS = ("CONTROLPLANE_STORAGE", "AzureWebJobsStorage", "AzureWebJobsStorage__tableServiceUri")
_TABLE_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,30}$")


class InvalidSettings(InvalidInput):
    what = "settings"


@dataclass(frozen=True)
class Settings:
    storage_connection: str | None
    table_endpoint: str | None
    table_prefix: str
    event_source: str

    @property
    def uses_development_storage(self) -> bool:
        return self.storage_connection is not None and "UseDevelopmentStorage=true" in self.storage_connection

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from a mapping of environment variables; InvalidSettings names every bad one."""
        connection = environ.get("CONTROLPLANE_STORAGE") or environ.get("AzureWebJobsStorage") or None
        endpoint = environ.get("AzureWebJobsStorage__tableServiceUri") or None
        prefix = environ.get("CONTROLPLANE_TABLE_PREFIX", "cp")
        errors = []
        if connection is None and endpoint is None:
            errors.append(
                FieldError(
                    "CONTROLPLANE_STORAGE",
                    "set a Table storage connection string (UseDevelopmentStorage=true for Azurite) "
                    "or AzureWebJobsStorage__tableServiceUri for managed identity",
                )
            )
        if not _TABLE_PREFIX.match(prefix):
            errors.append(
                FieldError(
                    "CONTROLPLANE_TABLE_PREFIX",
                    f"1-31 letters or digits, starting with a letter (got {prefix!r})",
                )
            )
        if errors:
            raise InvalidSettings(errors)
        return cls(
            storage_connection=connection,
            table_endpoint=endpoint,
            table_prefix=prefix,
            event_source=environ.get("CONTROLPLANE_EVENT_SOURCE", "/runtime-control-plane"),
        )


def load_settings() -> Settings:
    return Settings.from_environment(os.environ)
