"""The AnalysisProvider contract: what every provider (Application Insights, Prometheus, the router, the
scripted fake) must do, as one reusable check.

``check_analysis_provider(provider, with_data=[...], without_data=[...])`` measures each query and asserts:

- ``measure`` never raises, whatever the source does;
- every measurement names the query text it ran (non-empty), and asking the same query twice names the same
  text (the text is the query, not a log line);
- a query of ``with_data`` has a finite value, no error, samples None or >= 0; a requestSuccessRate is 0..1
  and a requestLatency >= 0;
- a query of ``without_data`` (no traffic, an empty result, an error, a refusal, a timeout, an unreachable
  source, a malformed answer) has ``value`` None and an error saying why — never 0, never 1;
- the odd variants of each ``with_data`` query (``analysis_contract_local.odd_queries``: no window, a
  percentile of 150, an unknown builtin, no revision...) are answered, never raised, and without a value they
  say why.

A custom query's measurement names its filled-in text (``query.filled()``) when the provider ran it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pytest

from controlplane.domain.analysis import Measurement, MetricQuery
from controlplane.ports import AnalysisProvider
from tests.contracts.analysis_contract_local import odd_queries


def measure(provider: AnalysisProvider, query: MetricQuery) -> Measurement:
    """``provider.measure(query)``, failing the test (not erroring it) if it raises."""
    try:
        measurement = provider.measure(query)
    except Exception as error:  # the contract: never raises
        pytest.fail(f"measure raised for {query.metric} of {query.revision}: {error!r}")
    assert isinstance(measurement, Measurement)
    assert measurement.query.strip(), f"{query.metric}: the measurement names no query text"
    return measurement


def check_with_data(provider: AnalysisProvider, query: MetricQuery) -> Measurement:
    measurement = measure(provider, query)
    assert measurement.error is None, f"{query.metric}: {measurement.error}"
    assert measurement.value is not None and math.isfinite(measurement.value)
    assert measurement.samples is None or measurement.samples >= 0
    if query.builtin == "requestSuccessRate":
        assert 0.0 <= measurement.value <= 1.0
    if query.builtin == "requestLatency":
        assert measurement.value >= 0.0
    if query.query is not None:
        assert query.filled() in measurement.query
    return measurement


def check_without_data(provider: AnalysisProvider, query: MetricQuery) -> Measurement:
    measurement = measure(provider, query)
    assert measurement.value is None, f"{query.metric}: no data must be None, got {measurement.value}"
    assert measurement.error, f"{query.metric}: no data without an error saying why"
    return measurement


def check_analysis_provider(
    provider: AnalysisProvider, with_data: Iterable[MetricQuery], without_data: Iterable[MetricQuery]
) -> None:
    """Every query of ``with_data`` has a value and every one of ``without_data`` is no data (see the module)."""
    for query in with_data:
        first = check_with_data(provider, query)
        assert measure(provider, query).query == first.query, f"{query.metric}: the query text changed"
        for odd in odd_queries(query):
            measurement = measure(provider, odd)
            assert measurement.value is not None or measurement.error
    for query in without_data:
        check_without_data(provider, query)
