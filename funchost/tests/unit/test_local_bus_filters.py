"""Subscription SQL filters as the local bus evaluates them, row by row against the rules of "Subscription Rule
SQL Filter Syntax" (Service Bus docs): user scope by default, a missing user property is unknown, unknown
follows SQL's three-valued logic, and only a true filter lets a message in."""

from __future__ import annotations

import pytest

from funchost.servicebus.filters import SqlFilter, UnsupportedFilter, parse_filters
from funchost.servicebus.message import Message

HEALTH = {"type": "HealthCheckCompleted", "environment": "prod", "service": "orders", "attempt": 2, "retry": True}


def message(**properties: str | int | bool) -> Message:
    return Message("m-1", "trace", "Subject-1", "application/cloudevents+json", properties)


@pytest.mark.parametrize(
    ("expression", "properties", "accepted"),
    [
        ("type = 'HealthCheckCompleted'", HEALTH, True),  # the app's scaling rule
        ("type = 'HealthCheckCompleted'", {"type": "ScalingPolicyApplied"}, False),
        ("type = 'HealthCheckCompleted'", {}, False),  # missing: unknown, not true
        ("user.type = 'HealthCheckCompleted'", HEALTH, True),  # user is the default scope
        ("type <> 'Note'", HEALTH, True),
        ("type != 'HealthCheckCompleted'", HEALTH, False),
        ("type <> 'Note'", {}, False),  # unknown <> x is unknown
        ("NOT type = 'Note'", {}, False),  # NOT unknown is unknown
        ("type IN ('A', 'HealthCheckCompleted')", HEALTH, True),
        ("type NOT IN ('A', 'HealthCheckCompleted')", HEALTH, False),
        ("type NOT IN ('A')", {}, False),  # unknown
        ("environment = 'prod' AND service = 'orders'", HEALTH, True),
        ("environment = 'prod' AND missing = 'x'", HEALTH, False),  # true AND unknown: unknown
        ("environment = 'dev' AND missing = 'x'", HEALTH, False),  # false AND unknown: false
        ("environment = 'prod' OR missing = 'x'", HEALTH, True),  # true OR unknown: true
        ("NOT (environment = 'dev' AND missing = 'x')", HEALTH, True),  # NOT false
        ("(environment = 'dev' OR type = 'HealthCheckCompleted') AND NOT service = 'payments'", HEALTH, True),
        ("missing IS NULL", HEALTH, True),
        ("type IS NOT NULL", HEALTH, True),
        ("EXISTS(service)", HEALTH, True),
        ("EXISTS (missing)", HEALTH, False),
        ("attempt = 2", HEALTH, True),
        ("retry = TRUE", HEALTH, True),
        ("sys.Label = 'Subject-1' AND sys.Subject = 'Subject-1'", {}, True),
        ("sys.CorrelationId = 'trace' AND sys.MessageId = 'm-1'", {}, True),
        ("sys.ContentType = 'application/cloudevents+json'", {}, True),
        ("note = 'it''s'", {"note": "it's"}, True),
        ("type = 'HealthCheckCompleted' and environment = 'prod'", HEALTH, True),  # keywords in any case
    ],
)
def test_a_filter_lets_in_only_what_it_makes_true(expression: str, properties: dict, accepted: bool) -> None:
    assert SqlFilter.parse(expression).accepts(message(**properties)) is accepted


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("type LIKE 'Health%'", "LIKE is not supported by the local bus"),
        ("attempt > 1", "operator '>' is not supported by the local bus"),
        ("attempt + 1 = 3", "operator '+' is not supported by the local bus"),
        ("sys.DeliveryCount = 1", "sys.DeliveryCount is not a system property the local bus knows"),
        ("type = service", "expected a constant, found 'service' (properties compare with constants only here)"),
        ("type = 'a' AND", "expected a property at token 5"),
        ("type 'a'", "expected =, <>, != or IN after a property, found \"'a'\""),
        ("(type = 'a'", "expected ')' at token 5"),
        ("type = 'a' type", "unexpected 'type' at token 4"),
        ("type IS 'a'", "IS must be followed by [NOT] NULL"),
    ],
)
def test_what_the_local_bus_cannot_evaluate_is_refused_by_name(expression: str, reason: str) -> None:
    with pytest.raises(UnsupportedFilter) as raised:
        SqlFilter.parse(expression)
    assert str(raised.value) == f"SQL filter {expression!r}: {reason}"


def test_an_unsupported_filter_names_its_subscription() -> None:
    with pytest.raises(UnsupportedFilter, match=r"^subscription events/Subscriptions/x: SQL filter \"a LIKE"):
        parse_filters({"events/Subscriptions/x": "a LIKE 'b%'"})
