"""The Findings contract (drift findings): the Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.domain.findings import FindingStatus
from controlplane.errors import AlreadyExists, ConcurrencyConflict
from controlplane.ports import Findings
from tests.builders import T0, finding


class FindingsContract:
    """Subclasses provide a ``stores`` fixture: every stored record over empty tables, their tables created."""

    @pytest.fixture
    def findings(self, stores: Stores) -> Findings:
        return stores.findings

    def test_findings_are_listed_by_status_oldest_first(self, findings: Findings) -> None:
        findings.create_finding(finding("f-2", age=5))
        findings.create_finding(finding("f-1", age=0))
        findings.create_finding(finding("f-3", FindingStatus.DISMISSED, age=1))
        assert [f.id for f in findings.list_findings()] == ["f-1", "f-3", "f-2"]
        assert [f.id for f in findings.list_findings(FindingStatus.OPEN)] == ["f-1", "f-2"]
        assert findings.get_finding("f-2").diff == finding("f-2").diff

    def test_a_stale_finding_update_is_refused(self, findings: Findings) -> None:
        created = findings.create_finding(finding())
        findings.save_finding(created.with_status(FindingStatus.APPROVED, T0))
        with pytest.raises(ConcurrencyConflict):
            findings.save_finding(created.with_status(FindingStatus.DISMISSED, T0))
        assert findings.get_finding("f-1").status == FindingStatus.APPROVED
        with pytest.raises(AlreadyExists):
            findings.create_finding(finding())
