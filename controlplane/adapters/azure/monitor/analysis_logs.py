"""The AnalysisProvider port on Application Insights / Log Analytics: KQL over the new revision's ``AppRequests``.

Each query runs on the workspace the manifest names (``query.target``, the workspace GUID) through
``LogsQueryClient.query_workspace`` (azure-monitor-query 2.x). The builtins read the new revision only:

    builtin            | KQL (after the revision's rows are picked)                         | value
    -------------------+--------------------------------------------------------------------+-----------------------
    requestSuccessRate | Requests = sum(ItemCount), Failed = sumif(ItemCount, 5xx)          | 1 - Failed / Requests
    requestLatency     | Requests = sum(ItemCount), Value = percentile(DurationMs, p)       | Value (milliseconds)

A failure is a ``ResultCode`` of 500..599, as the manifest defines the success rate; ``Success`` is not used
because Application Insights also marks 4xx answers (a 404, a 401) unsuccessful, and those are the caller's
error, not the revision's. A ``ResultCode`` that is not a number (a gRPC status, "Canceled") is not a 5xx.
``ItemCount`` counts the requests that sampling left out. ``samples`` is the request count.

The revision's rows are picked by ``settings.selector`` (``CONTROLPLANE_ANALYSIS_KQL_SELECTOR``; default
``AppRoleName == '{service}' and AppRoleInstance startswith '{revision}-'``: the replicas of a Container Apps
revision and the pods of an AKS revision Deployment are named ``<revision>-<suffix>``, and Application Insights
records the host name as the role instance).

The window is the last ``query.window_seconds`` ending ``ingestion_delay_seconds`` ago (default 60 s):
Application Insights ingests with a delay of about a minute, and a window ending now would count low, which for
a success rate could hide the failures of the last minute. The request's ``timespan`` covers the same span, so
a custom query sees no older rows than that either.

A custom query (``query.filled()``) must return one row of one numeric column; anything else is a no-data
measurement naming what came back. No data is never 0 or 1: no request in the window ("no traffic"), a partial
result (``LogsQueryPartialResult``: a partial count would judge on half the data), an error, a refusal (401/403
naming the role: Log Analytics Reader on the workspace) and a timeout are each ``value=None`` with an error.
``measure`` never raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from azure.monitor.query import LogsQueryClient

from controlplane.adapters.azure.monitor.failures import MALFORMED, NoData, query_workspace
from controlplane.adapters.azure.monitor.selectors import check_template, fill, unmeasurable
from controlplane.domain.analysis import Measurement, MetricQuery

ROLE = "Log Analytics Reader on the workspace"
DEFAULT_SELECTOR = "AppRoleName == '{service}' and AppRoleInstance startswith '{revision}-'"


@dataclass(frozen=True)
class LogsAnalysisSettings:
    """``selector``: the KQL condition on ``AppRequests`` that picks one revision's requests (see the module)."""

    selector: str = DEFAULT_SELECTOR
    ingestion_delay_seconds: int = 60
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        problems = [problem] if (problem := check_template(self.selector, "selector")) else []
        if self.ingestion_delay_seconds < 0:
            problems.append(f"ingestion_delay_seconds must not be negative (got {self.ingestion_delay_seconds})")
        if self.timeout_seconds <= 0:
            problems.append(f"timeout_seconds must be positive (got {self.timeout_seconds})")
        if problems:
            raise ValueError("LogsAnalysisSettings: " + "; ".join(problems))


class LogsAnalysis:
    """Measures ``applicationInsights`` metrics with KQL; ``logs`` is ``LogsQueryClient(credential)``."""

    def __init__(self, logs: LogsQueryClient, settings: LogsAnalysisSettings) -> None:
        self._logs = logs
        self._settings = settings

    def measure(self, query: MetricQuery) -> Measurement:
        kql = query.query or f"{query.builtin} of {query.revision}"  # until the KQL is written
        try:
            kql = self._kql(query)
            if not query.target:
                raise NoData("no workspaceId for provider applicationInsights")
            value, samples = self._run(query, kql)
        except NoData as missing:
            return Measurement(None, kql, f"{query.metric} of {query.revision}: {missing}")
        return Measurement(value, kql, samples=samples)

    def _kql(self, query: MetricQuery) -> str:
        """The KQL sent for ``query``: the builtin's over the revision's requests, or the filled custom query."""
        if problem := unmeasurable(query):
            raise NoData(problem)
        if query.builtin is None:
            return query.filled()
        selector = fill(self._settings.selector, "'", query.environment, query.service, query.revision)
        end = self._settings.ingestion_delay_seconds
        start = end + query.window_seconds
        if query.builtin == "requestLatency":
            summary = f"Requests = sum(ItemCount), Value = percentile(DurationMs, {query.percentile or 95.0:g})"
        else:
            summary = "Requests = sum(ItemCount), Failed = sumif(ItemCount, toint(ResultCode) between (500 .. 599))"
        return "\n".join(
            [
                "AppRequests",
                f"| where TimeGenerated between (ago({start}s) .. ago({end}s))",
                f"| where {selector}",
                f"| summarize {summary}",
            ]
        )

    def _run(self, query: MetricQuery, kql: str) -> tuple[float, int | None]:
        assert query.target is not None
        settings = self._settings
        timespan = timedelta(seconds=query.window_seconds + settings.ingestion_delay_seconds)
        result = query_workspace(self._logs, query.target, kql, timespan, settings.timeout_seconds, ROLE)
        try:
            tables = [(list(table.columns), [list(row) for row in table.rows]) for table in result.tables]
        except MALFORMED as error:
            raise NoData(f"unexpected Log Analytics answer: {error!r}") from error
        if query.builtin is None:
            return _single_number(tables), None
        return _builtin(query, tables)


def _builtin(query: MetricQuery, tables: list[tuple[list[str], list[list[Any]]]]) -> tuple[float, int]:
    rows = [dict(zip(columns, row, strict=False)) for columns, table_rows in tables for row in table_rows]
    try:
        requests = sum(int(row["Requests"] or 0) for row in rows)
        failed = sum(int(row["Failed"] or 0) for row in rows) if query.builtin == "requestSuccessRate" else 0
        latency = [row["Value"] for row in rows] if query.builtin == "requestLatency" else []
    except MALFORMED as error:
        raise NoData(f"unexpected Log Analytics result (columns {_columns(tables)}): {error!r}") from error
    if requests <= 0:
        raise NoData(f"no traffic: no request of the revision in the last {query.window_seconds}s")
    if query.builtin == "requestSuccessRate":
        return 1.0 - failed / requests, requests
    if len(latency) != 1 or not isinstance(latency[0], int | float):
        raise NoData(f"no latency percentile in the result (got {latency!r})")
    return float(latency[0]), requests


def _single_number(tables: list[tuple[list[str], list[list[Any]]]]) -> float:
    """The one numeric cell of a custom query's result."""
    rows = [row for _, table_rows in tables for row in table_rows]
    if len(rows) != 1 or len(rows[0]) != 1:
        shape = f"{len(rows)} rows" if len(rows) != 1 else f"1 row of {len(rows[0])} columns {_columns(tables)}"
        why = "no traffic or nothing matched" if not rows else "a query must return one row of one numeric column"
        raise NoData(f"the query returned {shape} ({why})")
    [cell] = rows[0]
    if isinstance(cell, bool) or not isinstance(cell, int | float):
        raise NoData(f"the query's value is not a number (got {cell!r})")
    return float(cell)


def _columns(tables: list[tuple[list[str], list[list[Any]]]]) -> list[str]:
    return [column for columns, _ in tables for column in columns]

