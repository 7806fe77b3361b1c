"""A deployment's revision names its deployment; other revision names name none."""

from __future__ import annotations

import pytest

from controlplane.domain.rollout.target import deployment_of, revision_name


@pytest.mark.parametrize(
    ("revision", "owner"),
    [
        (revision_name("orders", "dep-3f9a0c21b7d4"), "dep-3f9a0c21b7d4"),
        (revision_name("order--lines", "dep-aaa"), "dep-aaa"),
        ("orders-canary", None),
        ("orders--", None),
    ],
)
def test_a_revision_names_the_deployment_that_made_it(revision: str, owner: str | None) -> None:
    assert deployment_of(revision) == owner
