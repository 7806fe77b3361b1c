"""The Durable HTTP API's shapes and rules, as the Durable extension has them (HttpApiHandler.cs and
DurableClient.GetDurableOrchestrationStatusAsync in Azure/azure-functions-durable-extension)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from multidict import MultiDict

from funchost.durable.history import EventType, RuntimeStatus, event, execution_started
from funchost.durable.instance_query import (
    BadContinuationToken,
    BadQueryParameter,
    InstanceQuery,
    any_case,
    flag,
    request_time,
    runtime_statuses,
    seconds,
)
from funchost.durable.status_view import history_view, http_time, status_code, status_json
from funchost.durable.store import InstanceRecord
from funchost.durable.suspension import RESUME, SUSPEND, TERMINATE, gate, split_batch

AT = datetime(2018, 2, 28, 5, 18, 49, 728553, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "error_on_failure", "code"),
    [
        (RuntimeStatus.PENDING, False, 202),
        (RuntimeStatus.RUNNING, True, 202),
        (RuntimeStatus.CONTINUED_AS_NEW, False, 202),
        (RuntimeStatus.SUSPENDED, False, 202),
        (RuntimeStatus.COMPLETED, True, 200),
        (RuntimeStatus.FAILED, False, 200),
        (RuntimeStatus.FAILED, True, 500),
        (RuntimeStatus.TERMINATED, False, 200),
        (RuntimeStatus.TERMINATED, True, 200),  # the extension's switch: only Failed becomes 500
    ],
)
def test_status_codes_follow_the_extensions_switch(status: RuntimeStatus, error_on_failure: bool, code: int) -> None:
    assert status_code(status, error_on_failure) == code


def test_times_are_whole_seconds_in_utc_as_the_extension_prints_them() -> None:
    assert http_time("2018-02-28T05:18:49.728553Z") == "2018-02-28T05:18:49Z"
    record = InstanceRecord("id", "chain", RuntimeStatus.RUNNING, "2018-02-28T05:18:49.7Z", "2018-02-28T05:19:00.9Z")
    body = status_json(record)
    assert (body["createdTime"], body["lastUpdatedTime"]) == ("2018-02-28T05:18:49Z", "2018-02-28T05:19:00Z")


def _history() -> list[dict]:
    return [
        event(EventType.ORCHESTRATOR_STARTED, AT),
        execution_started(AT, "chain", '"in"', "id", "exec", None),
        event(EventType.TASK_SCHEDULED, AT, 0, Name="add_one", Input="0"),
        event(EventType.ORCHESTRATOR_COMPLETED, AT, CustomStatus='"x"'),
        event(EventType.ORCHESTRATOR_STARTED, AT),
        event(EventType.TASK_COMPLETED, AT, TaskScheduledId=0, Result="1"),
        event(EventType.EVENT_RAISED, AT, Name="go", Input='"now"', MessageId="event-1"),
        event(EventType.TIMER_CREATED, AT, 1, FireAt="2018-02-28T05:20:00.000000Z"),
        event(EventType.TIMER_FIRED, AT, TimerId=1, FireAt="2018-02-28T05:20:00.000000Z"),
        event(EventType.TASK_SCHEDULED, AT, 2, Name="boom", Input="null", Retry=True),
        event(EventType.EXECUTION_COMPLETED, AT, OrchestrationStatus="Completed", Result='{"done": 1}'),
        event(EventType.ORCHESTRATOR_COMPLETED, AT),
    ]


def test_history_drops_internal_events_and_folds_scheduling_into_completions() -> None:
    shown = history_view(_history(), show_input=True, show_output=False)
    assert [item["EventType"] for item in shown] == [
        "ExecutionStarted",
        "TaskCompleted",
        "EventRaised",
        "TimerCreated",
        "TimerFired",
        "TaskScheduled",  # never completed: it stays, as in the extension
        "ExecutionCompleted",
    ]
    started, completed, raised, _, fired, pending, finished = shown
    assert started == {
        "EventType": "ExecutionStarted",
        "Timestamp": started["Timestamp"],
        "FunctionName": "chain",
        "Input": '"in"',
    }
    assert completed["FunctionName"] == "add_one" and completed["ScheduledTime"] == completed["Timestamp"]
    assert completed["Input"] == "0" and "Result" not in completed and "TaskScheduledId" not in completed
    assert raised == {"EventType": "EventRaised", "Timestamp": raised["Timestamp"], "Name": "go", "Input": '"now"'}
    assert "TimerId" not in fired and "Result" not in finished and finished["OrchestrationStatus"] == "Completed"
    assert all("EventId" not in item and "IsPlayed" not in item for item in shown)
    assert "Retry" not in pending and "MessageId" not in raised


def test_history_output_and_input_follow_their_flags() -> None:
    shown = history_view(_history(), show_input=False, show_output=True)
    completed, finished = shown[1], shown[-1]
    assert completed["Result"] == 1 and finished["Result"] == {"done": 1}  # parsed, as ParseToJToken does
    assert all("Input" not in item for item in shown)


def _record(
    instance_id: str, status: RuntimeStatus = RuntimeStatus.COMPLETED, created: str = "2024-01-01"
) -> InstanceRecord:
    at = f"{created}T00:00:00.000000Z"
    return InstanceRecord(instance_id, "chain", status, at, at)


def test_pages_come_in_instance_id_order_and_the_token_resumes_after_the_last() -> None:
    records = [_record(f"i{n}") for n in (3, 1, 4, 0, 2)]
    first, token = InstanceQuery(page_size=2).page(records)
    assert [r.instance_id for r in first] == ["i0", "i1"] and token
    second, token = InstanceQuery.from_request(MultiDict(top="2"), token).page(records)
    assert [r.instance_id for r in second] == ["i2", "i3"] and token
    last, token = InstanceQuery.from_request(MultiDict(top="2"), token).page(records)
    assert [r.instance_id for r in last] == ["i4"] and token is None


def test_a_query_without_top_returns_a_page_of_one_hundred() -> None:
    page, token = InstanceQuery.from_request(MultiDict(), None).page([_record(f"i{n:03d}") for n in range(150)])
    assert len(page) == 100 and token is not None


def test_filters_combine_statuses_prefix_and_inclusive_creation_times() -> None:
    records = [
        _record("a-1", RuntimeStatus.COMPLETED, "2024-01-01"),
        _record("a-2", RuntimeStatus.FAILED, "2024-01-02"),
        _record("a-3", RuntimeStatus.RUNNING, "2024-01-03"),
        _record("b-1", RuntimeStatus.FAILED, "2024-01-02"),
    ]
    params = MultiDict(
        [
            ("runtimeStatus", "Failed,Bogus"),
            ("runtimeStatus", "Running"),
            ("instanceIdPrefix", "a-"),
            ("createdTimeFrom", "2024-01-02T00:00:00Z"),
            ("createdTimeTo", "2024-01-03T00:00:00.000000Z"),
        ]
    )
    page, _ = InstanceQuery.from_request(params, None).page(records)
    assert [r.instance_id for r in page] == ["a-2", "a-3"]


def test_a_continuation_token_this_host_did_not_hand_out_is_refused() -> None:
    with pytest.raises(BadContinuationToken, match="x-ms-continuation-token"):
        InstanceQuery.from_request(MultiDict(), "not-a-token")


_CONTROL_KIND = {
    SUSPEND: EventType.EXECUTION_SUSPENDED,
    RESUME: EventType.EXECUTION_RESUMED,
    TERMINATE: EventType.EXECUTION_TERMINATED,
}


def _control(kind: str) -> dict:
    return event(_CONTROL_KIND[kind], AT, Kind=kind, MessageId=kind)


def _raised(name: str) -> dict:
    return event(EventType.EVENT_RAISED, AT, Name=name, MessageId=name)


@pytest.mark.parametrize(
    ("suspended", "inbound", "held", "run", "held_after", "suspended_after"),
    [
        (False, [SUSPEND], [], [SUSPEND], [], True),
        (True, ["e1"], [], [], ["e1"], True),
        (True, [RESUME], ["e1"], [RESUME, "e1"], [], False),
        (True, [SUSPEND], ["e1"], [], ["e1"], True),
        (False, [RESUME], [], [], [], False),
        (True, ["e2", TERMINATE], ["e1"], ["e2", TERMINATE], [], False),
    ],
)
def test_the_suspension_gate_table(suspended, inbound, held, run, held_after, suspended_after) -> None:
    def events(names: list[str]) -> list[dict]:
        return [_control(name) if name in _CONTROL_KIND else _raised(name) for name in names]

    assert gate(events(inbound), events(held), suspended) == (events(run), events(held_after), suspended_after)


def test_a_result_delivered_twice_while_suspended_is_held_once() -> None:
    done = event(EventType.TASK_COMPLETED, AT, TaskScheduledId=3, Result="1")
    _, held, _ = gate([done], [], suspended=True)
    assert gate([dict(done)], held, suspended=True) == ([], [done], True)


def test_a_suspend_or_resume_is_an_episode_of_its_own() -> None:
    batch = [(_raised("a"), "a", None), (_control(SUSPEND), "s", None), (_raised("b"), "b", None)]
    assert split_batch(batch) == (batch[:1], batch[1:])
    assert split_batch(batch[1:]) == (batch[1:2], batch[2:])
    assert split_batch(batch[2:]) == (batch[2:], [])


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("5", 5.0),
        (" 2.5 ", 2.5),  # double.TryParse allows surrounding white space
        ("1e1", 10.0),
        (".5", 0.5),
        ("1,000", 1000.0),  # AllowThousands
        ("-1", -1.0),
        ("", None),
        ("five", None),
        ("1_0", None),  # Python's float() takes it; .NET does not
        ("00:00:05", None),  # seconds, not a TimeSpan text
    ],
)
def test_timeout_and_polling_interval_are_read_as_double_try_parse_reads_seconds(
    value: str, parsed: float | None
) -> None:
    assert seconds(MultiDict(timeout=value), "timeout") == parsed


def test_query_parameter_names_match_in_any_case_and_values_keep_theirs() -> None:
    query = any_case(MultiDict([("SHOWHISTORY", "TRUE"), ("RuntimeStatus", "Completed"), ("timeOut", "3")]))
    assert flag(query, "showHistory") is True and seconds(query, "timeout") == 3.0
    assert runtime_statuses(query) == [RuntimeStatus.COMPLETED]
    assert runtime_statuses(any_case(MultiDict(runtimeStatus="completed"))) == []  # Enum.TryParse: case kept


@pytest.mark.parametrize("value", ["garbage", "2024-13-01", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00"])
def test_a_created_time_that_is_not_a_date_or_out_of_range_is_refused_naming_the_parameter(value: str) -> None:
    with pytest.raises(BadQueryParameter, match=r"^query parameter createdTimeFrom: not a date and time"):
        request_time(MultiDict(createdTimeFrom=value), "createdTimeFrom")
    assert request_time(MultiDict(createdTimeFrom=""), "createdTimeFrom") is None  # empty is absent, as there
