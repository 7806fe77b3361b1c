"""Why an Azure Monitor read has no value: ``NoData`` (each adapter turns it into its reading or measurement), one
line for a failed call (a refusal names the role to grant, a timeout the bound it hit), and the Log Analytics
query both the Metrics port's rps and the Application Insights analysis run."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestTimeoutError, ServiceResponseError
from azure.monitor.query import LogsQueryClient, LogsQueryPartialResult, LogsQueryResult

MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)  # an answer not in the expected shape


class NoData(Exception):
    """Why a metric has no value; never a zero."""


def query_workspace(
    logs: LogsQueryClient, workspace_id: str, kql: str, timespan: timedelta, timeout: float, role: str
) -> LogsQueryResult:
    """Run ``kql`` on a Log Analytics workspace within ``timeout`` seconds (the server timeout, the operation across
    the SDK's retries, and each read). A failed call, an answer the SDK could not read, or a partial result (which
    reads low, and a low reading would scale down or pass a gate on bad data) raises ``NoData`` naming why."""
    try:
        result = logs.query_workspace(
            workspace_id,
            kql,
            timespan=timespan,
            server_timeout=max(1, math.ceil(timeout)),
            timeout=timeout,
            read_timeout=timeout,
        )
    except AzureError as error:
        raise NoData(f"Log Analytics query failed: {describe(error, timeout, role)}") from error
    except MALFORMED as error:
        raise NoData(f"unexpected Log Analytics answer: {error!r}") from error
    if isinstance(result, LogsQueryPartialResult):
        failure = result.partial_error
        detail: Any = f"{failure.code}: {failure.message}" if failure is not None else "no detail"
        raise NoData(f"Log Analytics returned a partial result ({detail}); a partial result is not used")
    return result


def describe(error: AzureError, timeout: float, role: str) -> str:
    """The failure in one line; a refusal (401/403) names the role the control plane's identity needs."""
    if isinstance(error, HttpResponseError) and error.status_code in (401, 403):
        return f"HTTP {error.status_code}: access denied; grant the control plane's identity {role}"
    if isinstance(error, ServiceRequestTimeoutError | ServiceResponseError) and "time" in str(error).lower():
        return f"no answer within {timeout:g}s ({type(error).__name__})"
    if isinstance(error, HttpResponseError) and error.status_code is not None:
        message = (error.message or "").splitlines()[0] if error.message else ""
        return f"HTTP {error.status_code} {error.reason or ''}: {message}".strip()
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
