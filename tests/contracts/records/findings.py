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

    def test_findings_page_oldest_first_by_status(self, findings: Findings) -> None:
        for number, age in enumerate((3, 1, 2, 0)):
            findings.create_finding(finding(f"f-{number}", age=age))
        findings.create_finding(finding("f-9", FindingStatus.DISMISSED, age=5))
        first = findings.page_findings(FindingStatus.OPEN, 3)
        assert [f.id for f in first.findings] == ["f-3", "f-1", "f-2"]
        rest = findings.page_findings(FindingStatus.OPEN, 3, first.next)
        assert [f.id for f in rest.findings] == ["f-0"] and rest.next is None
        assert [f.id for f in findings.page_findings(limit=10).findings] == ["f-3", "f-1", "f-2", "f-0", "f-9"]
