"""The Quarantine contract (quarantined images): the Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.domain.loops import QuarantinedImage
from controlplane.ports import Quarantine
from tests.builders import T0


class QuarantineContract:
    """Subclasses provide a ``stores`` fixture: every stored record over empty tables, their tables created."""

    @pytest.fixture
    def quarantine(self, stores: Stores) -> Quarantine:
        return stores.quarantine

    def test_quarantine_is_kept_per_service_and_image_until_lifted(self, quarantine: Quarantine) -> None:
        image = QuarantinedImage("dev", "orders", "example.azurecr.io/orders:3.0.0", "gate failed", T0, "dep-3")
        quarantine.quarantine(image)
        quarantine.quarantine(image)  # repeating is harmless
        quarantine.quarantine(replace(image, environment="prod"))
        assert quarantine.quarantined("dev") == [image]
        assert [q.environment for q in quarantine.quarantined()] == ["dev", "prod"]
        assert quarantine.lift_quarantine("dev", "orders", image.image) is True
        assert quarantine.lift_quarantine("dev", "orders", image.image) is False
        assert quarantine.quarantined("dev") == []
