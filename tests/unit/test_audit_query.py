"""The audit query's pure parts: which events match, the index's keys and days, and continuation tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controlplane.domain.audit import (
    AuditPosition,
    EventQuery,
    audit_columns,
    audit_row,
    event_services,
    row_bound,
)
from controlplane.domain.paging import InvalidToken, encode_token
from tests.builders import T0
from tests.contracts.records.event_log import ALICE, _event

WINDOW = {"since": T0, "until": T0 + timedelta(hours=1)}


def test_newer_events_have_smaller_row_keys_and_the_bound_splits_at_the_moment() -> None:
    earlier, later = audit_row(T0, "b"), audit_row(T0 + timedelta(microseconds=1), "a")
    assert later < earlier
    assert later < row_bound(T0 + timedelta(microseconds=1)) <= earlier
    assert audit_row(datetime(2026, 11, 26, 12, tzinfo=UTC), "x") == "98204305599999999|x"


@pytest.mark.parametrize(
    ("data", "services"),
    [
        ({"service": "orders"}, ("orders",)),
        ({"services": ["orders", "cart"]}, ("orders", "cart")),
        ({"services": [{"name": "orders"}, {"image": "x"}]}, ("orders",)),
        ({"service": "cart", "services": {"cart": "r1", "orders": "r2"}}, ("cart", "orders")),
        ({"service": None, "services": []}, ()),
    ],
)
def test_the_services_of_an_event_are_read_as_each_builder_writes_them(data: dict, services: tuple) -> None:
    assert event_services(data) == services


def test_index_columns_name_one_service_or_flag_many_and_the_actor() -> None:
    one = audit_columns(_event("e", T0, environment="prod", service="orders", actor=ALICE))
    assert one == {
        "type": "RuntimeDeploymentStateChanged",
        "traceid": "4bf92f3577b34da6a3ce929d0e0e4736",
        "environment": "prod",
        "service": "orders",
        "actorName": ALICE["name"],
        "actorObjectId": ALICE["objectId"],
    }
    many = audit_columns(_event("e", T0, services=["orders", "cart"]))
    assert many["manyServices"] is True and "service" not in many


def test_a_query_matches_every_filter_it_is_given() -> None:
    event = _event("e", T0, "ScalingPolicyApplied", environment="dev", service="orders", actor=ALICE)
    assert EventQuery(**WINDOW).matches(event)
    assert EventQuery(**WINDOW, types=frozenset({"ScalingPolicyApplied", "X"}), environment="dev").matches(event)
    assert EventQuery(**WINDOW, service="orders", actor=ALICE["objectId"]).matches(event)
    assert not EventQuery(**WINDOW, types=frozenset({"X"})).matches(event)
    assert not EventQuery(**WINDOW, environment="prod").matches(event)
    assert not EventQuery(**WINDOW, service="cart").matches(event)
    assert not EventQuery(**WINDOW, actor="bob").matches(event)
    assert not EventQuery(since=T0 - timedelta(hours=1), until=T0).matches(event)  # until is exclusive


def test_days_run_newest_first_from_the_continuation_or_until() -> None:
    query = EventQuery(since=T0 - timedelta(days=2), until=T0.replace(hour=0))  # until midnight: not that day
    assert query.days() == ["2026-11-25", "2026-11-24"]
    start = AuditPosition("2026-11-25", audit_row(T0 - timedelta(days=1), "x"))
    resumed = EventQuery(since=query.since, until=T0, start=start)
    assert resumed.days() == ["2026-11-25", "2026-11-24"]
    assert resumed.rows("2026-11-25")[0] == start.row
    assert resumed.rows("2026-11-24")[0] == row_bound(T0)


def test_a_query_refuses_a_limit_out_of_range() -> None:
    with pytest.raises(ValueError, match="limit"):
        EventQuery(**WINDOW, limit=201)


def test_a_position_round_trips_through_its_token_and_foreign_tokens_are_refused() -> None:
    position = AuditPosition("2026-11-26", audit_row(T0, "e-1"))
    assert AuditPosition.from_token(position.token()) == position
    for foreign in (
        "not base64!",
        "e30",  # {}
        encode_token("deployments", {"day": "2026-11-26", "row": position.row}),
        encode_token("events", {"day": "2026-13-45", "row": position.row}),
        encode_token("events", {"day": "2026-11-26", "row": "x|y"}),
        "A" * 3000,
    ):
        with pytest.raises(InvalidToken):
            AuditPosition.from_token(foreign)
