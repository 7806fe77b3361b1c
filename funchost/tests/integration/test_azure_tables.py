"""The host's Table storage layer against a real Azurite Table service: the host's Tables contract, and the
limit of one entity."""

from __future__ import annotations

import pytest
from azure.data.tables import TableServiceClient

from funchost.azurite import Azurite
from funchost.errors import PermanentError
from funchost.storage.azure_tables import AzureTables
from funchost.storage.tables import Entity
from funchost.tests.contracts.tables import TablesContract

pytestmark = pytest.mark.azurite


@pytest.fixture
def azure_tables(azurite: Azurite, table_prefix: str) -> AzureTables:
    tables = AzureTables(TableServiceClient.from_connection_string(azurite.connection_string), table_prefix)
    tables.create_tables(["Things"])
    return tables


class TestAzureTables(TablesContract):
    @pytest.fixture
    def tables(self, azure_tables: AzureTables) -> AzureTables:
        return azure_tables


def test_a_body_past_what_one_entity_holds_is_refused_naming_the_entity(azure_tables: AzureTables) -> None:
    with pytest.raises(PermanentError, match=r"entity p/huge is \d+ characters; Table storage holds at most 450000"):
        azure_tables.insert("Things", Entity("p", "huge", {"blob": "x" * 460_000}))
