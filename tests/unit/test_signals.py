"""Operator signals (approve, abort): the authenticated actor and why, validated on the way in and parsed safely
where they arrive."""

from __future__ import annotations

import json

import pytest

from controlplane.domain.access import Actor
from controlplane.domain.workflow.signals import MAX_REASON_CHARS, InvalidSignal, OperatorSignal

ANA = Actor("ana", "oid-ana", ("Approver",))
SIGNAL = OperatorSignal(ANA, "change CHG-1 approved")
ACTOR_WIRE = {"name": "ana", "objectId": "oid-ana", "roles": ["Approver"]}


def test_a_signal_round_trips_and_arrives_whole_however_the_sender_encoded_it() -> None:
    wire = SIGNAL.to_dict()
    assert wire == {"actor": ACTOR_WIRE, "reason": "change CHG-1 approved"}
    assert OperatorSignal.from_dict(wire) == SIGNAL
    assert OperatorSignal.from_event(wire) == SIGNAL  # posted to the Durable HTTP API as an object
    assert OperatorSignal.from_event(json.dumps(wire)) == SIGNAL  # the SDK's raise_event: a JSON string
    assert SIGNAL.describe() == "ana: change CHG-1 approved"


@pytest.mark.parametrize(
    ("data", "paths"),
    [
        ("ship it", [""]),  # a plain string, as the attacker posted
        (json.dumps(json.dumps(SIGNAL.to_dict())), [""]),  # decoded once only: still a string inside
        (42, [""]),
        (None, [""]),
        ([SIGNAL.to_dict()], [""]),
        ({}, ["actor", "reason"]),
        ({"by": "ana", "reason": "x"}, ["actor"]),  # the signal before identities: no actor, no signal
        ({"actor": "ana", "reason": "x"}, ["actor"]),
        ({"actor": {"name": "ana"}, "reason": "x"}, ["actor.objectId", "actor.roles"]),
        ({"actor": {**ACTOR_WIRE, "objectId": " "}, "reason": "x"}, ["actor.objectId"]),
        ({"actor": ACTOR_WIRE, "reason": "   "}, ["reason"]),
        ({"actor": ACTOR_WIRE, "reason": "r" * (MAX_REASON_CHARS + 1)}, ["reason"]),
        ({"actor": ACTOR_WIRE, "reason": "line\nbreak"}, ["reason"]),
    ],
)
def test_a_payload_that_does_not_parse_is_refused_naming_each_field(data: object, paths: list[str]) -> None:
    with pytest.raises(InvalidSignal) as refused:
        OperatorSignal.from_event(data)
    assert [error.path for error in refused.value.errors] == paths


def test_the_limit_is_inclusive_and_control_characters_are_named() -> None:
    assert OperatorSignal(ANA, "r" * MAX_REASON_CHARS).reason == "r" * MAX_REASON_CHARS
    with pytest.raises(InvalidSignal) as refused:
        OperatorSignal(ANA, "tab\there")
    assert str(refused.value.errors[0]) == "reason: control characters are not allowed (got U+0009)"
