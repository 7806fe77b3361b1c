"""``python -m controlplane reindex``: write the listings' indexes again from the records (``adapters.storage.reindex``)
on the Table storage the settings name (``local.settings.json``'s, or Azurite's when none is configured)."""

from __future__ import annotations

import os
import sys

from controlplane.adapters.azure.storage.table_documents import AzureTableDocuments
from controlplane.adapters.storage.reindex import reindex
from controlplane.adapters.storage.stores import create_tables
from controlplane.bootstrap.azure import table_service
from controlplane.config import APP_ROOT, load_settings
from controlplane.errors import ControlPlaneError
from funchost.settings import apply_local_settings


def run_reindex(batch: int) -> int:
    """Every listing's pass, a line printed per batch written and per listing; exit 1 with the storage's error
    (what was written before it stays written: running again carries on)."""
    if batch < 1:
        print("--batch: at least 1", file=sys.stderr)
        return 1
    apply_local_settings(APP_ROOT, os.environ)
    settings = load_settings()
    try:
        tables = AzureTableDocuments(table_service(settings), prefix=settings.table_prefix)
        create_tables(tables)  # the index tables of a store older than them
        reindex(tables, batch, lambda line: print(line, flush=True))
    except ControlPlaneError as error:
        print(f"reindex stopped: {error}", file=sys.stderr)
        return 1
    return 0
