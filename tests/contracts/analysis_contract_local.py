"""The AnalysisProvider contract as the local side sees it: the router provider and the scripted fake pass it.

Subclasses provide an ``analysis`` fixture (the provider) and an ``arranged`` fixture (``Arranged``):

- ``measured``: a query with data, and ``value`` the value it must measure;
- ``silent``: a query of a known revision with no data (no traffic);
- ``unknown``: a query of a service the provider knows nothing of.

What every provider promises (``controlplane.ports.AnalysisProvider``): it never raises; an answer without a
value is inconclusive data (value None and an error naming the revision), never a made-up number; the query
text says what was read; a value comes with the number of samples it was computed from; the measurement
survives the trip through an activity (JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pytest

from controlplane.domain.analysis import Measurement, MetricQuery
from controlplane.ports import AnalysisProvider


@dataclass(frozen=True)
class Arranged:
    measured: MetricQuery
    value: float
    silent: MetricQuery
    unknown: MetricQuery


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


def check_shape(measurement: Measurement) -> None:
    """What holds for every answer, with or without a value."""
    assert isinstance(measurement, Measurement)
    assert measurement.query.strip(), "the query text says what was read"
    assert json.loads(json.dumps(measurement.to_dict())) == measurement.to_dict()
    assert Measurement.from_dict(measurement.to_dict()) == measurement
    if measurement.value is None:
        assert measurement.error, "no value needs a reason"
    else:
        assert measurement.error is None
        assert measurement.samples is not None and measurement.samples > 0


class AnalysisContract:
    def test_a_measured_query_has_its_value_and_samples(self, analysis: AnalysisProvider, arranged: Arranged) -> None:
        measurement = analysis.measure(arranged.measured)
        check_shape(measurement)
        assert measurement.value == pytest.approx(arranged.value)
        assert measurement.error is None

    def test_no_data_is_none_with_an_error_naming_the_revision(
        self, analysis: AnalysisProvider, arranged: Arranged
    ) -> None:
        measurement = analysis.measure(arranged.silent)
        check_shape(measurement)
        assert measurement.value is None
        assert measurement.error and arranged.silent.revision in measurement.error

    def test_an_unknown_service_is_none_with_an_error(self, analysis: AnalysisProvider, arranged: Arranged) -> None:
        measurement = analysis.measure(arranged.unknown)
        check_shape(measurement)
        assert measurement.value is None and measurement.error

    def test_odd_queries_are_answered_never_raised(self, analysis: AnalysisProvider, arranged: Arranged) -> None:
        for query in odd_queries(arranged.measured):
            check_shape(analysis.measure(query))

    def test_a_success_rate_is_a_share(self, analysis: AnalysisProvider, arranged: Arranged) -> None:
        query = replace(arranged.measured, builtin="requestSuccessRate", percentile=None)
        measurement = analysis.measure(query)
        check_shape(measurement)
        assert measurement.value is not None and 0 <= measurement.value <= 1
