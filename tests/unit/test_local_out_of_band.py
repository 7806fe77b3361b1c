"""The out-of-band request queue of local compute: validation, atomic files, oldest first, applied then deleted."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from controlplane.adapters.local.out_of_band import (
    DIRECTORY,
    InvalidOutOfBandRequest,
    RemoveUnmanaged,
    RunUnmanaged,
    SetImage,
    apply_pending,
    parse_request,
    pending_requests,
    queue_request,
    to_dict,
)
from controlplane.domain.runtime import RevisionSpec
from controlplane.errors import ControlPlaneError, NotFound

IMAGE = "example.azurecr.io/orders:2.0.0"


class RecordingTarget:
    """Records what it was asked to do; raises ``failures[name]`` for a revision or workload of that name."""

    def __init__(self, failures: dict[str, ControlPlaneError] | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.failures = failures or {}

    def _record(self, name: str, *call: Any) -> None:
        if name in self.failures:
            raise self.failures[name]
        self.calls.append(call)

    def set_image(self, environment: str, service: str, revision: str, image: str) -> None:
        self._record(revision, "set-image", environment, service, revision, image)

    def run_unmanaged(self, spec: RevisionSpec) -> None:
        self._record(spec.revision, "run-unmanaged", spec)

    def remove_unmanaged(self, environment: str, service: str, name: str) -> None:
        self._record(name, "remove-unmanaged", environment, service, name)


def errors_of(data: Any) -> list[str]:
    with pytest.raises(InvalidOutOfBandRequest) as raised:
        parse_request(data)
    return [str(error) for error in raised.value.errors]


def test_each_action_round_trips_through_its_json_form() -> None:
    for request in (
        SetImage("dev", "orders", "orders-v1", IMAGE),
        RunUnmanaged("dev", "orders", "orders-debug", IMAGE, replicas=2, port=9090),
        RemoveUnmanaged("dev", "orders", "orders-debug"),
    ):
        assert parse_request(json.loads(json.dumps(to_dict(request)))) == request
    assert to_dict(RemoveUnmanaged("dev", "orders", "x"))["action"] == "remove-unmanaged"


def test_run_unmanaged_defaults_to_one_replica_on_port_8080_and_becomes_a_revision_spec() -> None:
    request = parse_request(
        {"action": "run-unmanaged", "environment": "dev", "service": "orders", "name": "x", "image": IMAGE}
    )
    assert isinstance(request, RunUnmanaged) and (request.replicas, request.port) == (1, 8080)
    spec = request.spec()
    assert (spec.revision, spec.image, spec.replicas, spec.port) == ("x", IMAGE, 1, 8080)


def test_a_missing_field_is_named_with_the_action_that_needs_it() -> None:
    assert errors_of({"action": "set-image", "environment": "dev", "service": "orders", "revision": "v1"}) == [
        "image: required by set-image"
    ]


def test_every_bad_field_is_named_with_what_it_got() -> None:
    errors = errors_of(
        {"action": "run-unmanaged", "environment": "Dev!", "service": "orders", "name": "x"}
        | {"image": "orders", "replicas": -1, "port": True, "colour": "red"}
    )
    assert errors[0].startswith("environment: must be a DNS-1123 label") and errors[0].endswith('(got "Dev!")')
    assert errors[1:] == [
        'image: tag or digest required (got "orders")',
        "replicas: must be an integer from 0 to 1000 (got -1)",
        "port: must be a port number from 1 to 65535 (got true)",
        "colour: unknown field of run-unmanaged; it takes action, environment, image, name, port, replicas, service",
    ]


def test_an_unknown_action_or_a_non_object_is_refused() -> None:
    assert errors_of({"action": "delete-everything"}) == [
        'action: must be one of set-image, run-unmanaged, remove-unmanaged (got "delete-everything")'
    ]
    assert errors_of([1, 2]) == ["expected a JSON object (got a list)"]


def test_an_action_that_is_not_a_string_is_refused_by_name() -> None:
    assert errors_of({"action": ["set-image"]}) == [
        "action: must be one of set-image, run-unmanaged, remove-unmanaged (got a list)"
    ]


def test_an_invalid_request_is_never_queued(tmp_path: Path) -> None:
    with pytest.raises(InvalidOutOfBandRequest, match=r"revision: must be a DNS-1123 label"):
        queue_request(tmp_path, SetImage("dev", "orders", "../../etc", IMAGE))
    assert pending_requests(tmp_path) == []


def test_a_queued_request_is_one_json_file_with_no_temporary_left_behind(tmp_path: Path) -> None:
    path = queue_request(tmp_path, SetImage("dev", "orders", "orders-v1", IMAGE))
    assert path.parent == tmp_path / DIRECTORY and path.suffix == ".json"
    assert json.loads(path.read_text()) == {
        "action": "set-image",
        "environment": "dev",
        "service": "orders",
        "revision": "orders-v1",
        "image": IMAGE,
    }
    assert list((tmp_path / DIRECTORY).iterdir()) == [path]


def test_pending_requests_are_applied_oldest_first_then_deleted(tmp_path: Path) -> None:
    run = RunUnmanaged("dev", "orders", "debug", IMAGE)
    queue_request(tmp_path, run)
    queue_request(tmp_path, SetImage("dev", "orders", "orders-v1", IMAGE))
    queue_request(tmp_path, RemoveUnmanaged("dev", "orders", "debug"))
    (tmp_path / DIRECTORY / ".half-written.json.tmp").write_text("{")  # a writer's temporary: not a request
    target = RecordingTarget()
    assert apply_pending(tmp_path, target) == 3
    assert target.calls == [
        ("run-unmanaged", run.spec()),
        ("set-image", "dev", "orders", "orders-v1", IMAGE),
        ("remove-unmanaged", "dev", "orders", "debug"),
    ]
    assert pending_requests(tmp_path) == []
    assert apply_pending(tmp_path, target) == 0


def test_a_request_that_cannot_be_applied_is_logged_and_dropped_and_the_rest_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / DIRECTORY
    directory.mkdir()
    (directory / "0001-not-json.json").write_text("{not json")
    (directory / "0002-no-image.json").write_text(
        json.dumps({"action": "set-image", "environment": "dev", "service": "orders", "revision": "orders-v1"})
    )
    queue_request(tmp_path, SetImage("dev", "orders", "orders-v9", IMAGE))
    queue_request(tmp_path, RemoveUnmanaged("dev", "orders", "debug"))
    target = RecordingTarget({"orders-v9": NotFound("dev/orders: no revision orders-v9; deploy it first")})
    with caplog.at_level(logging.ERROR, logger="controlplane.adapters.local.out_of_band"):
        assert apply_pending(tmp_path, target) == 1
    assert target.calls == [("remove-unmanaged", "dev", "orders", "debug")]
    dropped = [record.getMessage() for record in caplog.records]
    assert len(dropped) == 3 and all("dropped" in message for message in dropped)
    assert "0001-not-json.json" in dropped[0]
    assert "image: required by set-image" in dropped[1]
    assert "no revision orders-v9" in dropped[2]
    assert pending_requests(tmp_path) == []


def test_no_queue_directory_means_nothing_pending(tmp_path: Path) -> None:
    assert pending_requests(tmp_path / "absent") == []
    assert apply_pending(tmp_path / "absent", RecordingTarget()) == 0
