"""Drift classification: each rule of controlplane.domain.drift, one test each, plus a no-drift property."""

from __future__ import annotations

from dataclasses import replace
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controlplane.domain.config_hash import config_hash
from controlplane.domain.drift import DesiredService, DriftItem, classify, from_release, secret_references
from controlplane.domain.findings import Remedy
from controlplane.domain.manifest import parse_release
from controlplane.domain.runtime import LiveWorkload
from controlplane.errors import InvalidManifest
from tests.builders import release_document

IMAGE = "example.azurecr.io/orders:1.0.0"
OTHER_IMAGE = "example.azurecr.io/orders:9.9.9"
SECRET = "DB_PASSWORD=https://vault1.vault.azure.net/secrets/db"


def desired(**overrides: object) -> DesiredService:
    fields = {
        "environment": "dev",
        "service": "orders",
        "image": IMAGE,
        "replicas": 2,
        "config_hash": "c0ffee",
        "secret_refs": (SECRET,),
        "min_replicas": None,
        "max_replicas": None,
    }
    return DesiredService(**(fields | overrides))  # type: ignore[arg-type]


def live(spec: DesiredService, revision: str = "orders-r1", traffic: int = 100, **overrides: object) -> LiveWorkload:
    workload = LiveWorkload(
        spec.environment, spec.service, revision, spec.image, spec.replicas, spec.config_hash, traffic
    )
    return replace(workload, **overrides)


def only(items: list[DriftItem]) -> DriftItem:
    assert len(items) == 1, items
    return items[0]


def test_in_sync_service_reports_nothing() -> None:
    spec = desired()
    assert classify([spec], [live(spec)]) == []


def test_image_mismatch_is_auto_remediable() -> None:
    spec = desired()
    item = only(classify([spec], [live(spec, image=OTHER_IMAGE)]))
    assert (item.environment, item.service, item.kind, item.remedy) == ("dev", "orders", "mismatch", Remedy.AUTO)
    assert dict(item.diff) == {"/image": {"desired": IMAGE, "actual": OTHER_IMAGE}}


def test_replicas_differing_without_scaling_policy_is_auto_remediable() -> None:
    spec = desired()
    item = only(classify([spec], [live(spec, replicas=5)]))
    assert item.remedy is Remedy.AUTO
    assert dict(item.diff) == {"/replicas": {"desired": 2, "actual": 5}}


def test_replicas_inside_scaling_range_are_not_drift() -> None:
    spec = desired(min_replicas=1, max_replicas=10)
    assert classify([spec], [live(spec, replicas=1)]) == []
    assert classify([spec], [live(spec, replicas=10)]) == []


def test_replicas_outside_scaling_range_are_auto_remediable() -> None:
    spec = desired(min_replicas=2, max_replicas=10)
    above = only(classify([spec], [live(spec, replicas=12)]))
    below = only(classify([spec], [live(spec, replicas=1)]))
    assert above.remedy is Remedy.AUTO and dict(above.diff) == {"/replicas": {"desired": 2, "actual": 12}}
    assert below.remedy is Remedy.AUTO and dict(below.diff) == {"/replicas": {"desired": 2, "actual": 1}}


def test_config_hash_mismatch_is_auto_remediable() -> None:
    spec = desired()
    item = only(classify([spec], [live(spec, config_hash="deadbeef")]))
    assert item.kind == "mismatch" and item.remedy is Remedy.AUTO
    assert dict(item.diff) == {"/configHash": {"desired": "c0ffee", "actual": "deadbeef"}}


def test_secret_references_differing_are_reported_when_compute_reports_them() -> None:
    spec = desired()
    stale = ("DB_PASSWORD=https://vault1.vault.azure.net/secrets/old",)
    item = only(classify([spec], [live(spec)], live_secret_refs={("dev", "orders"): stale}))
    assert item.remedy is Remedy.AUTO
    assert dict(item.diff) == {"/secrets": {"desired": [SECRET], "actual": list(stale)}}


def test_secret_references_are_not_compared_when_unknown() -> None:
    spec = desired()
    assert classify([spec], [live(spec)], live_secret_refs={("dev", "other"): ()}) == []


def test_several_fields_differing_make_one_item_with_every_pointer() -> None:
    spec = desired()
    item = only(classify([spec], [live(spec, image=OTHER_IMAGE, replicas=3, config_hash="x")]))
    assert list(item.diff) == ["/image", "/replicas", "/configHash"]


def test_desired_service_without_workload_is_missing_and_needs_review() -> None:
    spec = desired()
    item = only(classify([spec], []))
    assert (item.kind, item.remedy) == ("missing", Remedy.REVIEW)
    assert dict(item.diff) == {"": {"desired": spec.to_dict(), "actual": None}}


def test_only_unmanaged_workloads_count_as_missing_service() -> None:
    spec = desired()
    items = classify([spec], [live(spec, revision="x", managed=False)])
    assert [(item.kind, item.remedy) for item in items] == [("missing", Remedy.REVIEW), ("unmanaged", Remedy.REVIEW)]


def test_workload_of_an_undesired_service_is_unmanaged_and_needs_review() -> None:
    cache = desired(service="cache")
    item = only(classify([], [live(cache, revision="cache-r1"), live(cache, revision="cache-r2", traffic=0)]))
    assert (item.service, item.kind, item.remedy) == ("cache", "unmanaged", Remedy.REVIEW)
    assert list(item.diff) == ["/revisions/cache-r1", "/revisions/cache-r2"]
    assert item.diff["/revisions/cache-r1"]["desired"] is None
    assert item.diff["/revisions/cache-r1"]["actual"]["image"] == IMAGE


def test_unmanaged_workload_next_to_a_healthy_service_is_reported_on_its_own() -> None:
    spec = desired()
    item = only(classify([spec], [live(spec), live(spec, revision="hand/made~1", traffic=0, managed=False)]))
    assert item.kind == "unmanaged"
    assert list(item.diff) == ["/revisions/hand~1made~01"]


def test_serving_revision_is_the_managed_one_with_most_traffic() -> None:
    spec = desired()
    old = live(spec, revision="orders-r1", traffic=10, image=OTHER_IMAGE)
    assert classify([spec], [old, live(spec, revision="orders-r2", traffic=90)]) == []
    item = only(classify([spec], [replace(old, traffic_percent=90), live(spec, revision="orders-r2", traffic=10)]))
    assert item.diff["/image"]["actual"] == OTHER_IMAGE


def test_ignored_pointer_is_dropped_and_an_emptied_item_is_not_reported() -> None:
    spec = desired(ignore=("/replicas",))
    assert classify([spec], [live(spec, replicas=7)]) == []
    item = only(classify([spec], [live(spec, replicas=7, image=OTHER_IMAGE)]))
    assert list(item.diff) == ["/image"]


def test_ignore_does_not_hide_missing_or_unmanaged() -> None:
    spec = desired(ignore=("/image", "/replicas", "/configHash", "/secrets"))
    assert [item.kind for item in classify([spec], [])] == ["missing"]


def test_mismatch_to_a_quarantined_image_needs_review() -> None:
    spec = desired(image=OTHER_IMAGE)
    rolled_back = frozenset({("dev", "orders", OTHER_IMAGE)})
    item = only(classify([spec], [live(spec, image=IMAGE)], quarantined=rolled_back))
    assert (item.kind, item.remedy) == ("quarantined", Remedy.REVIEW)
    assert dict(item.diff) == {"/image": {"desired": OTHER_IMAGE, "actual": IMAGE}}


def test_quarantine_of_another_environment_leaves_the_mismatch_automatic() -> None:
    spec = desired(image=OTHER_IMAGE)
    item = only(classify([spec], [live(spec, image=IMAGE)], quarantined=frozenset({("prod", "orders", OTHER_IMAGE)})))
    assert item.remedy is Remedy.AUTO


def test_items_are_ordered_by_environment_then_service() -> None:
    specs = [desired(environment=env, service=name) for env in ("prod", "dev") for name in ("b", "a")]
    items = classify(specs, [live(spec, image=OTHER_IMAGE) for spec in specs])
    assert [(item.environment, item.service) for item in items] == [
        ("dev", "a"),
        ("dev", "b"),
        ("prod", "a"),
        ("prod", "b"),
    ]


def test_fingerprint_is_stable_for_an_unchanged_divergence_and_changes_with_it() -> None:
    spec = desired()
    first = only(classify([spec], [live(spec, image=OTHER_IMAGE, replicas=5)]))
    again = only(classify([spec], [live(spec, image=OTHER_IMAGE, replicas=5, revision="orders-r9")]))
    changed = only(classify([spec], [live(spec, image=OTHER_IMAGE, replicas=6)]))
    assert first.fingerprint() == again.fingerprint()
    assert first.fingerprint() != changed.fingerprint()
    assert len(first.fingerprint()) == 64
    reordered = DriftItem("dev", "orders", "mismatch", Remedy.AUTO, dict(reversed(list(first.diff.items()))))
    assert reordered.fingerprint() == first.fingerprint()


def test_from_release_builds_one_desired_service_per_service() -> None:
    document = release_document("staging", ("orders", "billing"))
    orders = document["spec"]["services"][0]
    orders["configuration"] = {"LOG_LEVEL": "info"}
    orders["secrets"] = [{"name": "DB_PASSWORD", "keyVaultSecretUri": "https://vault1.vault.azure.net/secrets/db"}]
    orders["scaling"] = {"minReplicas": 1, "maxReplicas": 5, "rules": [{"metric": "cpu", "target": 70}]}
    document["spec"]["services"][1]["ignoreDifferences"] = ["/replicas"]
    specs = from_release(parse_release(document))

    assert [(s.environment, s.service) for s in specs] == [("staging", "orders"), ("staging", "billing")]
    first, second = specs
    assert first.image == "example.azurecr.io/orders:1.0.0" and first.replicas == 2
    assert first.config_hash == config_hash(
        {"LOG_LEVEL": "info"}, {"DB_PASSWORD": "https://vault1.vault.azure.net/secrets/db"}
    )
    assert first.secret_refs == (SECRET,)
    assert (first.min_replicas, first.max_replicas, first.ignore) == (1, 5, ())
    assert (second.min_replicas, second.max_replicas, second.ignore) == (None, None, ("/replicas",))


def test_secret_references_are_sorted_by_name() -> None:
    assert secret_references({"B": "u2", "A": "u1"}) == ("A=u1", "B=u2")


names = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
desired_services = st.builds(
    desired,
    environment=st.sampled_from(["dev", "staging", "prod"]),
    service=names,
    image=names.map(lambda tag: f"example.azurecr.io/app:{tag}"),
    replicas=st.integers(3, 20),  # the manifest keeps replicas inside the scaling range
    config_hash=st.text("0123456789abcdef", min_size=1, max_size=8),
    min_replicas=st.none() | st.integers(0, 3),
    max_replicas=st.none() | st.integers(20, 40),
    ignore=st.lists(st.sampled_from(["/image", "/replicas", "/configHash", "/secrets"])).map(tuple),
)


@given(st.lists(desired_services, max_size=30, unique_by=lambda spec: spec.key), st.randoms())
def test_live_state_made_from_desired_state_has_no_drift(specs: list[DesiredService], random: Random) -> None:
    workloads = [live(spec, revision=f"{spec.service}-r1") for spec in specs]
    workloads += [live(spec, revision=f"{spec.service}-r0", traffic=0, image="old:1") for spec in specs]
    random.shuffle(workloads)
    secrets = {spec.key: spec.secret_refs for spec in specs}
    assert (
        classify(specs, workloads, quarantined=frozenset((*s.key, s.image) for s in specs), live_secret_refs=secrets)
        == []
    )


def test_an_ignore_rule_must_name_a_field_drift_compares() -> None:
    document = release_document("staging", ("orders",))
    document["spec"]["services"][0]["ignoreDifferences"] = ["/replicas", "/imagee", "no-slash"]
    with pytest.raises(InvalidManifest) as raised:
        parse_release(document)
    paths = sorted(str(e) for e in raised.value.errors)
    assert any(p.startswith("spec.services[0].ignoreDifferences[1]: drift compares /image") for p in paths)
    assert any(p.startswith("spec.services[0].ignoreDifferences[2]") for p in paths)


def test_a_revision_asleep_at_zero_under_a_scale_to_zero_policy_is_not_drift() -> None:
    document = release_document("dev", ("payments",))
    document["spec"]["services"][0]["replicas"] = 1
    document["spec"]["services"][0]["scaling"] = {
        "minReplicas": 1,
        "maxReplicas": 3,
        "scaleToZero": True,
        "target": "event-driven",
        "rules": [{"metric": "queue", "target": 20}],
    }
    [desired] = from_release(parse_release(document))
    asleep = LiveWorkload("dev", "payments", "payments-r1", desired.image, 0, desired.config_hash, 100)
    assert classify([desired], [asleep]) == []


def test_traffic_off_the_promoted_revision_is_drift_and_all_on_it_is_not() -> None:
    [desired] = from_release(parse_release(release_document("dev", ("orders",))))
    promoted = replace(desired, revision="orders-r2")

    def live(revision: str, percent: int) -> LiveWorkload:
        return LiveWorkload("dev", "orders", revision, desired.image, 2, desired.config_hash, percent)

    assert classify([promoted], [live("orders-r2", 100), live("orders-r1", 0)]) == []
    [item] = classify([promoted], [live("orders-r2", 80), live("orders-r1", 20)])
    assert (item.kind, item.remedy) == ("mismatch", Remedy.AUTO)
    assert dict(item.diff) == {
        "/traffic": {"desired": {"orders-r2": 100}, "actual": {"orders-r1": 20, "orders-r2": 80}}
    }
    assert classify([replace(promoted, ignore=("/traffic",))], [live("orders-r2", 80), live("orders-r1", 20)]) == []
    assert classify([desired], [live("orders-r2", 80), live("orders-r1", 20)]) == []  # nothing promoted yet
