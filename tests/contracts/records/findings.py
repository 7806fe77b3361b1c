"""The Findings contract (drift findings): the Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest

from controlplane.adapters.storage.documents import DocumentTables
from controlplane.adapters.storage.stores import Stores
from controlplane.domain.findings import FindingStatus
from controlplane.errors import AlreadyExists, ConcurrencyConflict
from controlplane.ports import Findings
from controlplane.testing.counting_documents import CountingDocumentTables
from tests.builders import T0, finding


class FindingsContract:
    """Subclasses provide ``tables`` (empty, every record's table created) and ``stores`` over them."""

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

    def test_a_status_change_moves_the_finding_between_the_status_pages(self, findings: Findings) -> None:
        created = findings.create_finding(finding("f-1"))
        findings.create_finding(finding("f-2", age=1))
        findings.save_finding(created.with_status(FindingStatus.APPROVED, T0))
        assert [f.id for f in findings.page_findings(FindingStatus.OPEN).findings] == ["f-2"]
        [approved] = findings.page_findings(FindingStatus.APPROVED).findings
        assert (approved.id, approved.status) == ("f-1", FindingStatus.APPROVED)
        assert [(f.id, f.status) for f in findings.page_findings().findings] == [
            ("f-1", FindingStatus.APPROVED),
            ("f-2", FindingStatus.OPEN),
        ]

    def test_a_finding_seen_again_moves_to_its_new_place_and_racing_writers_leave_one_row(
        self, findings: Findings
    ) -> None:
        findings.create_finding(finding("f-1"))
        findings.create_finding(finding("f-2", age=30))
        rounds = 6

        def write(offset: int) -> None:
            for number in range(rounds):
                while True:
                    current = findings.get_finding("f-1")
                    try:
                        findings.save_finding(replace(current, first_seen=T0 + timedelta(minutes=offset + number)))
                        break
                    except ConcurrencyConflict:
                        continue

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(write, [10, 40]))
        stored = findings.get_finding("f-1")
        listed = findings.page_findings(limit=10).findings
        assert [(f.id, f.first_seen) for f in listed if f.id == "f-1"] == [("f-1", stored.first_seen)]
        assert sorted(f.id for f in listed) == ["f-1", "f-2"]
        assert [f.first_seen for f in listed] == sorted(f.first_seen for f in listed)
        assert [f.id for f in findings.page_findings(FindingStatus.OPEN, limit=10).findings] == [f.id for f in listed]

    def test_a_page_reads_about_one_page(self, tables: DocumentTables, findings: Findings) -> None:
        for number in range(12):
            findings.create_finding(finding(f"f-{number:02d}", age=number))
        counting = CountingDocumentTables(tables)
        instance = Stores.over(counting).findings
        first = instance.page_findings(FindingStatus.OPEN, 3)
        second = instance.page_findings(FindingStatus.OPEN, 3, first.next)
        assert [f.id for f in [*first.findings, *second.findings]] == [f"f-{number:02d}" for number in range(6)]
        assert counting.rows_read <= 2 * (3 + 1)
