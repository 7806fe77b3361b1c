"""Behaviour of health reports: parsing ASP.NET Core HealthChecks responses into one typed outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controlplane.domain.health import (
    MAX_BODY_BYTES,
    HealthEntry,
    HealthReport,
    HealthStatus,
    ProbeFailure,
    parse_health_response,
    report_for_probe_error,
    worst,
)
from controlplane.errors import PermanentError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "health"
JSON = "application/json"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def ui_body(**document: object) -> str:
    return json.dumps(document)


def entry_named(report: HealthReport, name: str) -> HealthEntry:
    return next(entry for entry in report.entries if entry.name == name)


# --- the UI JSON writer -------------------------------------------------------------------------


def test_reads_a_healthy_ui_report_with_every_entry_in_order() -> None:
    report = parse_health_response(200, fixture("ui-healthy.json"), JSON)

    assert report.status is HealthStatus.HEALTHY
    assert report.http_status == 200
    assert report.failure is None and report.detail is None
    assert report.duration_ms == pytest.approx(42.1337)
    assert [entry.name for entry in report.entries] == ["self", "sqlserver", "redis", "allocated_memory"]
    assert report.failing_entries == ()
    memory = entry_named(report, "allocated_memory")
    assert memory.tags == ("memory",)
    assert memory.data["AllocatedMegaBytes"] == 57.31
    assert memory.duration_ms == pytest.approx(0.1902)
    assert entry_named(report, "sqlserver").description is None


def test_degraded_ui_report_on_200_is_degraded_and_lists_the_degraded_checks() -> None:
    report = parse_health_response(200, fixture("ui-degraded.json"), JSON)

    assert report.status is HealthStatus.DEGRADED
    assert report.failure is None
    assert [entry.name for entry in report.failing_entries] == ["allocated_memory", "orders-api"]
    assert entry_named(report, "orders-api").duration_ms == pytest.approx(1843.6018)


def test_unhealthy_report_surfaces_the_failing_entrys_description_and_exception() -> None:
    report = parse_health_response(503, fixture("ui-unhealthy.json"), JSON)

    assert report.status is HealthStatus.UNHEALTHY
    assert report.failure is None
    assert report.detail is None
    sql = report.failing_entries[0]
    assert sql.name == "sqlserver"
    assert sql.status is HealthStatus.UNHEALTHY
    assert sql.description == "connection refused"
    assert sql.exception is not None and sql.exception.startswith("A network-related or instance-specific")
    assert sql.tags == ("ready", "db")
    assert entry_named(report, "redis").data == {
        "endpoint": "orders-cache.redis.cache.windows.net:6380",
        "latencyMs": 412,
    }


def test_status_names_and_keys_are_read_case_insensitively() -> None:
    body = ui_body(Status="degraded", TotalDuration="00:00:00.5", Entries={"db": {"Status": "HEALTHY"}})

    report = parse_health_response(200, body)

    assert report.status is HealthStatus.DEGRADED
    assert report.duration_ms == 500.0
    assert report.entries[0].status is HealthStatus.HEALTHY


def test_numeric_dotnet_status_values_are_understood() -> None:
    report = parse_health_response(200, ui_body(status=1, entries={"db": {"status": 0}}))

    assert report.status is HealthStatus.DEGRADED
    assert report.entries[0].status is HealthStatus.UNHEALTHY


def test_missing_top_level_status_is_the_worst_entry() -> None:
    body = ui_body(entries={"a": {"status": "Healthy"}, "b": {"status": "Degraded"}})

    assert parse_health_response(200, body).status is HealthStatus.DEGRADED


def test_missing_or_empty_entries_with_a_status_is_a_report_without_entries() -> None:
    assert parse_health_response(200, ui_body(status="Healthy")).entries == ()
    assert parse_health_response(200, ui_body(status="Healthy", entries={})).entries == ()


def test_odd_entry_fields_are_tolerated() -> None:
    body = ui_body(
        status="Healthy",
        entries={"db": {"status": "Healthy", "duration": 12, "tags": ["ready", 3], "data": [], "description": 7}},
    )

    db = parse_health_response(200, body).entries[0]

    assert (db.duration_ms, db.tags, dict(db.data), db.description) == (None, ("ready",), {}, None)


# --- TimeSpan durations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timespan", "expected_ms"),
    [
        ("00:00:00", 0.0),
        ("00:00:00.0123456", 12.3456),
        ("00:00:00.0000001", 0.0001),
        ("00:00:01.5", 1500.0),
        ("00:01:00", 60_000.0),
        ("23:59:59.9999999", 86_399_999.9999),
        ("1.02:03:04.5000000", 93_784_500.0),
        ("10675199.02:48:05.4775807", 922_337_203_685_477.5807),  # TimeSpan.MaxValue
        ("-00:00:01.5", -1500.0),
        (" 00:00:02 ", 2000.0),
    ],
)
def test_timespan_durations_become_milliseconds(timespan: str, expected_ms: float) -> None:
    report = parse_health_response(200, ui_body(status="Healthy", totalDuration=timespan))

    assert report.duration_ms == pytest.approx(expected_ms)


@pytest.mark.parametrize(
    "odd",
    [None, "", "12ms", "1:2", "24:00:00", "00:60:00", "00:00:60", "00:00:00.12345678", "00:00:00.", 42, {}],
)
def test_odd_durations_are_none_not_errors(odd: object) -> None:
    report = parse_health_response(200, ui_body(status="Healthy", totalDuration=odd))

    assert report.status is HealthStatus.HEALTHY
    assert report.duration_ms is None


# --- the plain-text writer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "body", "expected"),
    [
        (200, b"Healthy", HealthStatus.HEALTHY),
        (200, b"Degraded", HealthStatus.DEGRADED),
        (503, b"Unhealthy", HealthStatus.UNHEALTHY),
        (200, b"Healthy\n", HealthStatus.HEALTHY),
        (200, "  degraded \r\n", HealthStatus.DEGRADED),
        (503, b"unhealthy", HealthStatus.UNHEALTHY),
        (200, b"\xef\xbb\xbfHealthy", HealthStatus.HEALTHY),
    ],
)
def test_plain_text_writer_status_is_read(code: int, body: bytes | str, expected: HealthStatus) -> None:
    report = parse_health_response(code, body, "text/plain")

    assert (report.status, report.failure, report.entries) == (expected, None, ())


@pytest.mark.parametrize("content_type", [None, "application/json", "text/html; charset=utf-8"])
def test_plain_text_is_accepted_under_any_content_type(content_type: str | None) -> None:
    assert parse_health_response(200, b"Healthy", content_type).status is HealthStatus.HEALTHY


# --- HTTP status semantics ---------------------------------------------------------------------


def test_503_is_unhealthy_even_when_the_body_claims_healthy_and_keeps_entries() -> None:
    report = parse_health_response(503, fixture("ui-healthy.json"), JSON)

    assert report.status is HealthStatus.UNHEALTHY
    assert report.failure is None
    assert len(report.entries) == 4
    assert report.detail == "HTTP 503 although the body reports Healthy"


def test_200_with_an_unhealthy_body_is_unhealthy() -> None:
    report = parse_health_response(200, fixture("ui-unhealthy.json"), JSON)

    assert report.status is HealthStatus.UNHEALTHY
    assert report.failure is None
    assert report.detail == "body reports Unhealthy although the HTTP status is 200"
    assert not report.passed(allow_degraded=True)


@pytest.mark.parametrize("code", [404, 500, 401, 302, 204, 201])
def test_unexpected_http_status_is_unhealthy_with_the_code_named(code: int) -> None:
    report = parse_health_response(code, b"Healthy")

    assert report.status is HealthStatus.UNHEALTHY
    assert report.failure is ProbeFailure.UNEXPECTED_STATUS
    assert report.http_status == code
    assert report.detail == f"unexpected HTTP status {code}"


def test_unexpected_http_status_keeps_a_valid_body() -> None:
    report = parse_health_response(500, fixture("ui-unhealthy.json"), JSON)

    assert report.failure is ProbeFailure.UNEXPECTED_STATUS
    assert [entry.name for entry in report.failing_entries] == ["sqlserver", "redis"]
    assert report.duration_ms == pytest.approx(5011.2874)


def test_unexpected_http_status_with_an_unreadable_body_quotes_it() -> None:
    report = parse_health_response(404, b"<h1>Not Found</h1>", "text/html")

    assert report.failure is ProbeFailure.UNEXPECTED_STATUS
    assert report.detail is not None
    assert report.detail.startswith("unexpected HTTP status 404; body is not a health report: '<h1>Not Found</h1>'")
    assert report.entries == ()


# --- unreadable bodies -------------------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 503])
def test_an_ingress_error_page_is_an_invalid_body_quoting_an_excerpt(code: int) -> None:
    report = parse_health_response(code, fixture("ingress-503.html"), "text/html")

    assert report.status is HealthStatus.UNHEALTHY
    assert report.failure is ProbeFailure.INVALID_BODY
    assert report.detail is not None
    assert report.detail.startswith("body is not a health report: '<html>\\n<head><title>503 Service")
    assert "(content type text/html)" in report.detail
    assert "\n" not in report.detail


@pytest.mark.parametrize(
    ("body", "detail_start"),
    [
        (b"", "body is empty"),
        (b"  \r\n", "body is empty"),
        (b"\xff\xfe\x00garbage", "body is not UTF-8 text: b'\\xff\\xfe\\x00garbage'"),
        (b"OK", "body is not a health report: 'OK'"),
        (b"{}", "body is not a health report: '{}'"),
        (b"[1, 2]", "body is not a health report: '[1, 2]'"),
        (b'{"status": "Great"}', "body is not a health report"),
        (b'{"status": true}', "body is not a health report"),
        (b'{"entries": {}}', "body is not a health report"),
        (b'{"status": "Healthy", "entries": ["db"]}', "body is not a health report"),
        (b'{"status": "Healthy", "entries": {"db": {"status": "Fine"}}}', "body is not a health report"),
        (b'{"status": "Healthy", "entries": {"db": "Healthy"}}', "body is not a health report"),
        (b'{"status": "Healthy", "entries": {"db": {}}}', "body is not a health report"),
        (b'{"status": "Healthy", "totalDuration": NaN}', "body is not a health report"),
        (b"[" * 100_000, "body is not a health report: '[[[["),
    ],
)
def test_unreadable_bodies_are_invalid_and_say_why(body: bytes, detail_start: str) -> None:
    report = parse_health_response(200, body)

    assert report.status is HealthStatus.UNHEALTHY
    assert report.failure is ProbeFailure.INVALID_BODY
    assert report.http_status == 200
    assert report.detail is not None and report.detail.startswith(detail_start)


def test_an_invalid_entry_status_is_named_in_the_detail() -> None:
    body = b'{"status": "Healthy", "entries": {"db": {"status": "Fine"}}}'

    detail = parse_health_response(200, body).detail

    assert detail is not None and "entries['db'].status: 'Fine' is not Healthy, Degraded or Unhealthy" in detail


@pytest.mark.parametrize("body", [b"x" * (MAX_BODY_BYTES + 1), "x" * (MAX_BODY_BYTES + 1)])
def test_an_oversized_body_is_invalid_without_being_read_whole(body: bytes | str) -> None:
    report = parse_health_response(200, body)

    assert report.failure is ProbeFailure.INVALID_BODY
    assert report.detail is not None
    assert report.detail.startswith(f"body is {MAX_BODY_BYTES + 1} bytes, over the {MAX_BODY_BYTES}-byte limit")
    assert len(report.detail) < 200


def test_a_body_of_exactly_the_limit_is_still_read() -> None:
    document = ui_body(status="Healthy", entries={"big": {"status": "Healthy", "description": ""}})
    padding = "x" * (MAX_BODY_BYTES - len(document))
    body = document.replace('"description": ""', f'"description": "{padding}"').encode()

    report = parse_health_response(200, body)

    assert len(body) == MAX_BODY_BYTES
    assert report.status is HealthStatus.HEALTHY
    assert report.entries[0].description == padding


def test_excerpts_are_short_and_escape_control_characters() -> None:
    body = "\x1b[31mred\x1b[0m\u202e" + "y" * 500

    detail = parse_health_response(200, body).detail

    assert detail is not None
    assert "\x1b" not in detail and "\u202e" not in detail
    assert "\\x1b[31mred" in detail
    assert len(detail) < 200


# --- probe errors ------------------------------------------------------------------------------


def test_a_timeout_is_unhealthy_without_an_http_status() -> None:
    report = report_for_probe_error(ProbeFailure.TIMEOUT, "timed out after 2.0 s")

    assert report.status is HealthStatus.UNHEALTHY
    assert report.http_status is None
    assert report.failure is ProbeFailure.TIMEOUT
    assert report.summary() == "Unhealthy: timed out after 2.0 s"
    assert not report.passed(allow_degraded=True)


def test_a_refused_connection_is_unhealthy_and_names_the_endpoint() -> None:
    detail = "connection refused by http://orders.internal:8080/health/ready"

    report = report_for_probe_error(ProbeFailure.CONNECTION_REFUSED, detail)

    assert (report.status, report.failure, report.detail) == (
        HealthStatus.UNHEALTHY,
        ProbeFailure.CONNECTION_REFUSED,
        detail,
    )
    assert report.entries == ()


# --- gate decisions and statuses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "failure", "allow_degraded", "passed"),
    [
        (HealthStatus.HEALTHY, None, False, True),
        (HealthStatus.HEALTHY, None, True, True),
        (HealthStatus.DEGRADED, None, False, False),
        (HealthStatus.DEGRADED, None, True, True),
        (HealthStatus.UNHEALTHY, None, True, False),
        (HealthStatus.UNHEALTHY, None, False, False),
        (HealthStatus.HEALTHY, ProbeFailure.UNEXPECTED_STATUS, True, False),
    ],
)
def test_passed_lets_degraded_through_only_when_allowed(
    status: HealthStatus, failure: ProbeFailure | None, allow_degraded: bool, passed: bool
) -> None:
    assert HealthReport(status, 200, failure=failure).passed(allow_degraded) is passed


def test_worst_orders_unhealthy_over_degraded_over_healthy() -> None:
    assert worst(HealthStatus.HEALTHY, HealthStatus.DEGRADED) is HealthStatus.DEGRADED
    assert worst(HealthStatus.DEGRADED, HealthStatus.UNHEALTHY, HealthStatus.HEALTHY) is HealthStatus.UNHEALTHY
    assert worst(HealthStatus.HEALTHY) is HealthStatus.HEALTHY
    assert worst() is HealthStatus.HEALTHY
    assert HealthStatus.worst is worst


def test_entries_are_immutable_and_hashable() -> None:
    entry = HealthEntry("db", HealthStatus.HEALTHY, data={"latencyMs": 3}, tags=["ready"])  # type: ignore[arg-type]

    with pytest.raises(TypeError):
        entry.data["latencyMs"] = 4  # type: ignore[index]
    assert entry.tags == ("ready",)
    assert hash(HealthReport(HealthStatus.HEALTHY, entries=(entry,)))


def test_entry_data_must_be_json() -> None:
    with pytest.raises((TypeError, ValueError)):
        HealthEntry("db", HealthStatus.HEALTHY, data={"when": object()})


# --- summary -----------------------------------------------------------------------------------


def test_summary_names_each_failing_check_and_why() -> None:
    report = parse_health_response(503, fixture("ui-unhealthy.json"), JSON)

    assert report.summary() == (
        "Unhealthy (HTTP 503): sqlserver: Unhealthy — connection refused (A network-related or "
        "instance-specific error occurred while establishing a connection to SQL Server. The server was "
        "not found or was not accessible. (provider:…); redis: Degraded — Redis answered slowly."
    )


def test_summary_of_the_briefs_example() -> None:
    report = HealthReport(
        HealthStatus.UNHEALTHY,
        503,
        entries=(
            HealthEntry("db", HealthStatus.UNHEALTHY, description="connection refused"),
            HealthEntry("cache", HealthStatus.DEGRADED),
            HealthEntry("self", HealthStatus.HEALTHY, description="alive"),
        ),
    )

    assert report.summary() == "Unhealthy (HTTP 503): db: Unhealthy — connection refused; cache: Degraded"


def test_summary_of_a_healthy_report_is_just_the_status() -> None:
    assert parse_health_response(200, fixture("ui-healthy.json")).summary() == "Healthy (HTTP 200)"


def test_summary_stays_on_one_line() -> None:
    report = HealthReport(
        HealthStatus.UNHEALTHY,
        503,
        entries=(HealthEntry("db", HealthStatus.UNHEALTHY, exception="a\nb\r\nc"),),
    )

    assert report.summary() == "Unhealthy (HTTP 503): db: Unhealthy — a b c"


def test_summary_leads_with_the_probe_detail() -> None:
    report = parse_health_response(503, b"Healthy")

    assert report.summary() == "Unhealthy (HTTP 503): HTTP 503 although the body reports Healthy"


# --- wire round trip ---------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
entries = st.builds(
    HealthEntry,
    name=st.text(min_size=1, max_size=12),
    status=st.sampled_from(HealthStatus),
    description=st.none() | st.text(max_size=30),
    exception=st.none() | st.text(max_size=30),
    duration_ms=st.none() | finite,
    tags=st.lists(st.text(max_size=8), max_size=3).map(tuple),
    data=st.dictionaries(st.text(max_size=6), json_values, max_size=3),
)
reports = st.builds(
    HealthReport,
    status=st.sampled_from(HealthStatus),
    http_status=st.none() | st.integers(100, 599),
    duration_ms=st.none() | finite,
    entries=st.lists(entries, max_size=4).map(tuple),
    failure=st.none() | st.sampled_from(ProbeFailure),
    detail=st.none() | st.text(max_size=40),
)


@given(reports)
def test_to_dict_and_from_dict_round_trip_through_json(report: HealthReport) -> None:
    wire = json.loads(json.dumps(report.to_dict()))

    assert HealthReport.from_dict(wire) == report
    assert HealthReport.from_dict(wire).to_dict() == report.to_dict()


@given(reports)
def test_to_dict_is_plain_json_types(report: HealthReport) -> None:
    def plain(value: object) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(item) for item in value)
        return value is None or type(value) in (str, int, float, bool)

    assert plain(report.to_dict())


def test_to_dict_uses_camel_case_keys() -> None:
    wire = parse_health_response(503, fixture("ui-unhealthy.json")).to_dict()

    assert list(wire) == ["status", "httpStatus", "durationMs", "entries", "failure", "detail"]
    entry_keys = ["name", "status", "description", "exception", "durationMs", "tags", "data"]
    assert list(wire["entries"][0]) == entry_keys
    assert wire["status"] == "Unhealthy" and wire["httpStatus"] == 503 and wire["failure"] is None


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ([], "healthReport: expected an object"),
        ({}, "healthReport.status: expected Healthy, Degraded, Unhealthy (got None)"),
        ({"status": "Fine"}, "healthReport.status: expected Healthy, Degraded, Unhealthy (got 'Fine')"),
        ({"status": "Healthy", "httpStatus": "200"}, "healthReport.httpStatus: expected int (got '200')"),
        (
            {"status": "Healthy", "failure": "boom"},
            "healthReport.failure: expected timeout, connection_refused",
        ),
        ({"status": "Healthy", "entries": {}}, "healthReport.entries: expected list"),
        (
            {"status": "Healthy", "entries": [{"status": "Healthy"}]},
            "healthReport.entries[0].name: expected str",
        ),
        (
            {"status": "Healthy", "entries": [{"name": "db", "status": "Healthy", "tags": [1]}]},
            "healthReport.entries[0].tags: expected a list of strings",
        ),
        (
            {"status": "Healthy", "entries": [{"name": "db", "status": "Healthy", "durationMs": True}]},
            "healthReport.entries[0].durationMs: expected int or float (got True)",
        ),
    ],
)
def test_from_dict_names_the_malformed_field(wire: object, message: str) -> None:
    with pytest.raises(PermanentError) as raised:
        HealthReport.from_dict(wire)  # type: ignore[arg-type]

    assert str(raised.value).startswith(message)
