"""The IdempotencyKeys contract: the Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.ports import IdempotencyKeys


class IdempotencyKeysContract:
    """Subclasses provide a ``stores`` fixture: every stored record over empty tables, their tables created."""

    @pytest.fixture
    def idempotency_keys(self, stores: Stores) -> IdempotencyKeys:
        return stores.idempotency_keys

    def test_an_idempotency_key_stays_bound_to_its_first_deployment(self, idempotency_keys: IdempotencyKeys) -> None:
        assert idempotency_keys.remember_request("key-1", "d1") == "d1"
        assert idempotency_keys.remember_request("key-1", "d2") == "d1"
        assert idempotency_keys.remember_request("key-2", "d2") == "d2"
