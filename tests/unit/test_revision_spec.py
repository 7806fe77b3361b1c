"""What a rollout hands Compute for a service: ``rollout.revision_spec``, scaling policy included."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controlplane.domain.deployment import Deployment
from controlplane.domain.manifest import parse_release
from controlplane.errors import PermanentError
from controlplane.services.rollout import revision_spec
from controlplane.testing.memory_compute import MemoryCompute
from tests.builders import T0, release_document

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SCALING = {"minReplicas": 2, "maxReplicas": 6, "rules": [{"metric": "rps", "target": 40}]}


def deployment(scaling: dict | None = None) -> Deployment:
    document = release_document()
    if scaling is not None:
        document["spec"]["services"][0]["scaling"] = scaling
    return Deployment.request("dep-1", parse_release(document), TRACE, T0)


def test_the_revision_spec_carries_the_services_scaling_policy() -> None:
    rollout = deployment(SCALING)
    made = revision_spec(rollout, "orders", "orders--1", 2)
    assert made.scaling == rollout.release.service("orders").scaling
    assert made.scaling is not None and (made.scaling.min_replicas, made.scaling.max_replicas) == (2, 6)


def test_a_service_without_a_policy_gives_a_spec_without_one() -> None:
    assert revision_spec(deployment(), "orders", "orders--1", 2).scaling is None


def test_specs_with_equal_policies_are_equal_and_another_policy_is_another_revision() -> None:
    made = revision_spec(deployment(SCALING), "orders", "orders--1", 2)
    assert made == revision_spec(deployment(SCALING), "orders", "orders--1", 2)  # separately parsed policies
    compute = MemoryCompute()
    compute.deploy_revision(made)
    compute.deploy_revision(replace(made, replicas=3))  # only the count differs: the same revision
    other = revision_spec(deployment({**SCALING, "maxReplicas": 8}), "orders", "orders--1", 2)
    for changed in (other, replace(made, scaling=None)):
        with pytest.raises(PermanentError, match="orders--1 exists with a different image or configuration"):
            compute.deploy_revision(changed)
