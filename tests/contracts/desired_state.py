"""The DesiredState contract: the Git adapter (repository, URL mirror, plain folder) and the fake pass it.

Subclasses provide a ``desired`` fixture (the adapter under test, with nothing published yet) and a
``publish`` fixture: a function that makes the given releases, in apply order, the whole desired state
(a new commit, a rewritten folder, ``set_releases``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from controlplane.domain.manifest import Release, parse_release

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "releases"

Publish = Callable[[Sequence[Release]], None]


def example(name: str = "v1-rolling", environment: str = "dev") -> Release:
    """The release of ``examples/releases/<name>.yaml``, moved to ``environment``."""
    document = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    document["spec"]["environment"]["name"] = environment
    return parse_release(document)


def manifest_files(releases: Sequence[Release]) -> dict[str, str]:
    """One file per release, named so file-path order is apply order; every other one is JSON."""
    files = {}
    for index, release in enumerate(releases):
        stem = f"{index:02d}-{release.spec.environment.name}-{release.metadata.name}"
        if index % 2:
            files[f"{stem}.json"] = json.dumps(release.to_dict(), indent=2)
        else:
            files[f"{stem}.yaml"] = yaml.safe_dump(release.to_dict(), sort_keys=False)
    return files


class DesiredStateContract:
    def test_releases_are_those_of_the_environment_in_apply_order(self, desired: Any, publish: Publish) -> None:
        first, other, second = example("v1-rolling"), example("v2-canary", "staging"), example("v3-unhealthy")
        publish([first, other, second])
        assert desired.releases("dev") == [first, second]
        assert desired.releases("staging") == [other]

    def test_environments_are_sorted_and_distinct(self, desired: Any, publish: Publish) -> None:
        publish([example(environment="test"), example("v2-canary", "dev"), example("v3-unhealthy", "test")])
        assert desired.environments() == ["dev", "test"]

    def test_an_unknown_environment_has_no_releases(self, desired: Any, publish: Publish) -> None:
        publish([example()])
        assert desired.releases("prod") == []

    def test_an_empty_desired_state_has_no_environments(self, desired: Any, publish: Publish) -> None:
        publish([])
        assert desired.environments() == []
        assert desired.releases("dev") == []

    def test_revision_is_stable_while_nothing_changes(self, desired: Any, publish: Publish) -> None:
        publish([example()])
        desired.releases("dev")
        seen = desired.revision()
        assert desired.environments() == ["dev"]
        assert desired.releases("dev") == [example()]
        assert desired.revision() == seen

    def test_revision_changes_when_the_content_changes(self, desired: Any, publish: Publish) -> None:
        publish([example()])
        desired.releases("dev")
        before = desired.revision()
        publish([example("v2-canary")])
        assert desired.releases("dev") == [example("v2-canary")]
        assert desired.revision() != before

    def test_revision_is_that_of_the_current_state_before_any_read(self, desired: Any, publish: Publish) -> None:
        publish([example()])
        before = desired.revision()
        publish([example("v2-canary")])
        after = desired.revision()
        assert after != before
        assert desired.releases("dev") == [example("v2-canary")]
        assert desired.revision() == after
