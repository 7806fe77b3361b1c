"""Operator signals (approve, abort): who and why, validated on the way in and parsed safely where they arrive."""

from __future__ import annotations

import json

import pytest

from controlplane.domain.workflow.signals import MAX_BY_CHARS, MAX_REASON_CHARS, InvalidSignal, OperatorSignal

SIGNAL = OperatorSignal("ana", "change CHG-1 approved")


def test_a_signal_round_trips_and_arrives_whole_however_the_sender_encoded_it() -> None:
    wire = SIGNAL.to_dict()
    assert wire == {"by": "ana", "reason": "change CHG-1 approved"}
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
        ({}, ["by", "reason"]),
        ({"by": 7, "reason": "x"}, ["by"]),
        ({"by": "   ", "reason": ""}, ["by", "reason"]),
        ({"by": "a" * (MAX_BY_CHARS + 1), "reason": "x"}, ["by"]),
        ({"by": "ana", "reason": "r" * (MAX_REASON_CHARS + 1)}, ["reason"]),
        ({"by": "ana\x00", "reason": "line\nbreak"}, ["by", "reason"]),
    ],
)
def test_a_payload_that_does_not_parse_is_refused_naming_each_field(data: object, paths: list[str]) -> None:
    with pytest.raises(InvalidSignal) as refused:
        OperatorSignal.from_event(data)
    assert [error.path for error in refused.value.errors] == paths


def test_the_limits_are_inclusive_and_control_characters_are_named() -> None:
    assert OperatorSignal("a" * MAX_BY_CHARS, "r" * MAX_REASON_CHARS).by == "a" * MAX_BY_CHARS
    with pytest.raises(InvalidSignal) as refused:
        OperatorSignal("ana", "tab\there")
    assert str(refused.value.errors[0]) == "reason: control characters are not allowed (got U+0009)"
