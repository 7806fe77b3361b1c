"""Release waves: the worked examples of controlplane.domain.rollout.waves."""

from __future__ import annotations

import pytest

from controlplane.domain.rollout.waves import waves


@pytest.mark.parametrize(
    ("depends_on", "expected"),
    [
        ({"web": [], "api": [], "db": []}, [["web", "api", "db"]]),
        ({"web": ["api"], "api": ["db"], "db": []}, [["db"], ["api"], ["web"]]),
        ({"web": ["api", "cache"], "api": ["db"], "cache": [], "db": []}, [["cache", "db"], ["api"], ["web"]]),
        ({"web": ["db"], "api": ["db"], "db": []}, [["db"], ["web", "api"]]),
    ],
)
def test_waves_follow_the_worked_examples(depends_on: dict[str, list[str]], expected: list[list[str]]) -> None:
    assert waves(depends_on) == expected


def test_a_cycle_or_an_unknown_dependency_is_refused() -> None:
    with pytest.raises(ValueError, match="dependency cycle among a, b"):
        waves({"a": ["b"], "b": ["a"], "c": []})
    with pytest.raises(ValueError, match="depends on unknown ghost"):
        waves({"a": ["ghost"]})
