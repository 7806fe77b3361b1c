"""The AnalysisProvider contract: the router provider, the scripted fake, Application Insights and Prometheus
(the last two against their request-checking stubs) all pass it.

Subclasses provide an ``analysis`` fixture (the provider) and an ``arranged`` fixture (``Arranged``):

- ``measured``: queries with data, each with the value the provider must measure; at least one is a
  requestSuccessRate. A custom query among them (a provider that runs custom queries) checks its text;
- ``no_data``: queries without data: a known revision with no traffic, a service the provider knows nothing
  of, or whatever else the provider can be arranged to have nothing for (no workspace, an empty result).

What every provider promises (``controlplane.ports.AnalysisProvider``), checked on every measurement here:
``measure`` never raises; the query text says what was read (non-empty, the same for the same query, the
filled-in text of a custom query it ran); a value is finite, with no error, and a success rate is 0..1 and
a latency is >= 0; no value comes with an error (and for no data, one naming the revision), never a made-up 0
or 1; ``samples`` is optional (Prometheus cannot count requests) but > 0 when reported with a value; the
measurement survives the trip through an activity (JSON). Queries a provider may be handed by mistake or by
a newer manifest (``odd_queries``) are answered, never raised.

``measure`` and ``check_no_data`` are for an adapter's own tests of what the contract cannot arrange
(outages, refusals, malformed answers): the same checks on one measurement.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import pytest

from controlplane.domain.analysis import Measurement, MetricQuery
from controlplane.ports import AnalysisProvider


@dataclass(frozen=True)
class Arranged:
    measured: Mapping[MetricQuery, float]
    no_data: Sequence[MetricQuery]


def odd_queries(query: MetricQuery) -> list[MetricQuery]:
    """Queries a provider may be handed by mistake or by a newer manifest: each must be answered, not raised."""
    return [
        replace(query, window_seconds=0),
        replace(query, window_seconds=10**9),
        replace(query, builtin="requestLatency", percentile=None),
        replace(query, builtin="requestLatency", percentile=150.0),
        replace(query, builtin="requestThroughput"),
        replace(query, builtin=None, query="requests | where revision == '{{ revision }}' | count"),
        replace(query, provider="nowhere"),
        replace(query, revision=""),
    ]


def measure(provider: AnalysisProvider, query: MetricQuery) -> Measurement:
    """``provider.measure(query)``, failing the test (not erroring it) if it raises, and checked as the module
    says every measurement must be."""
    try:
        measurement = provider.measure(query)
    except Exception as error:  # the contract: never raises
        pytest.fail(f"measure raised for {query.metric} of {query.revision}: {error!r}")
    asked = f"{query.metric} of {query.revision!r}"
    assert isinstance(measurement, Measurement)
    assert measurement.query.strip(), f"{asked}: the measurement names no query text"
    assert json.loads(json.dumps(measurement.to_dict())) == measurement.to_dict()
    assert Measurement.from_dict(measurement.to_dict()) == measurement
    assert measurement.samples is None or measurement.samples >= 0, f"{asked}: {measurement}"
    if measurement.value is None:
        assert measurement.error, f"{asked}: no value needs a reason"
        return measurement
    assert math.isfinite(measurement.value) and measurement.error is None, f"{asked}: {measurement}"
    assert measurement.samples is None or measurement.samples > 0, f"{asked}: a value from no samples"
    if query.builtin == "requestSuccessRate":
        assert 0.0 <= measurement.value <= 1.0, f"{asked}: a success rate is a share, got {measurement.value}"
    if query.builtin == "requestLatency":
        assert measurement.value >= 0.0, f"{asked}: a negative latency {measurement.value}"
    return measurement


def check_no_data(provider: AnalysisProvider, query: MetricQuery) -> Measurement:
    """``measure(provider, query)`` that must be no data: value None, never 0 or 1, and an error naming the
    revision."""
    measurement = measure(provider, query)
    assert measurement.value is None, f"{query.metric}: no data must be None, got {measurement.value}"
    assert measurement.error and query.revision in measurement.error, f"{query.metric}: {measurement.error}"
    return measurement


class AnalysisProviderContract:
    def test_a_measured_query_has_its_value_and_no_error(self, analysis: AnalysisProvider, arranged: Arranged) -> None:
        assert arranged.measured, "the contract needs a query with data"
        for query, value in arranged.measured.items():
            measurement = measure(analysis, query)
            assert measurement.value == pytest.approx(value), f"{query.metric} of {query.revision}: {measurement}"
            if query.query is not None:
                assert query.filled() in measurement.query

    def test_a_success_rate_is_a_share(self, analysis: AnalysisProvider, arranged: Arranged) -> None:
        rates = [query for query in arranged.measured if query.builtin == "requestSuccessRate"]
        assert rates, "the contract needs a measured requestSuccessRate"
        for query in rates:
            measurement = measure(analysis, query)
            assert measurement.value is not None and 0 <= measurement.value <= 1

    def test_the_same_query_names_the_same_text(self, analysis: AnalysisProvider, arranged: Arranged) -> None:
        for query in [*arranged.measured, *arranged.no_data]:
            assert measure(analysis, query).query == measure(analysis, query).query, f"{query.metric}: text changed"

    def test_no_data_is_none_with_an_error_naming_the_revision(
        self, analysis: AnalysisProvider, arranged: Arranged
    ) -> None:
        assert arranged.no_data, "the contract needs a query without data"
        for query in arranged.no_data:
            check_no_data(analysis, query)

    def test_odd_queries_are_answered_never_raised(self, analysis: AnalysisProvider, arranged: Arranged) -> None:
        for query in arranged.measured:
            for odd in odd_queries(query):
                measure(analysis, odd)
