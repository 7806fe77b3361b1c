"""The in-memory DesiredState fake passes the same contract as the Git adapter."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from controlplane.domain.manifest import Release
from controlplane.testing.memory_desired_state import MemoryDesiredState
from tests.contracts.desired_state import DesiredStateContract, Publish, example


class TestMemoryDesiredState(DesiredStateContract):
    @pytest.fixture
    def desired(self) -> MemoryDesiredState:
        return MemoryDesiredState()

    @pytest.fixture
    def publish(self, desired: MemoryDesiredState) -> Publish:
        def publish(releases: Sequence[Release]) -> None:
            desired.set_releases(releases)

        return publish


def test_the_same_content_set_again_keeps_its_revision() -> None:
    desired = MemoryDesiredState([example()])
    before = desired.revision()
    desired.set_releases([example()])
    assert desired.revision() == before


def test_releases_given_at_construction_are_the_desired_state() -> None:
    desired = MemoryDesiredState([example(), example("v2-canary", "staging")])
    assert desired.environments() == ["dev", "staging"]
    assert desired.revision().startswith("sha256:")
