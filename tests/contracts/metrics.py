"""The Metrics contract: the Azure Monitor adapter and the scripted fake both pass it.

Subclasses provide a ``metrics`` fixture (the port) arranged so that:

- ``known``: (environment, service, values) — a service with data for every metric, ``values`` by MetricKind;
  at least one of the values is 0, so that a true zero is seen to be data;
- ``silent``: (environment, service) — a service for which no metric has data;
- ``failing``: (environment, service) — a service whose metrics source fails (an outage).
"""

from __future__ import annotations

import pytest

from controlplane.domain.runtime import MetricKind
from controlplane.ports import Metrics

ALL = [MetricKind.CPU, MetricKind.QUEUE, MetricKind.RPS]
Known = tuple[str, str, dict[MetricKind, float]]


class MetricsContract:
    def test_one_reading_per_metric_in_the_order_asked(self, metrics: Metrics, known: Known) -> None:
        environment, service, _ = known
        for order in (ALL, [MetricKind.RPS, MetricKind.CPU], [MetricKind.QUEUE]):
            assert [reading.metric for reading in metrics.read(environment, service, order)] == order

    def test_a_metric_asked_twice_gets_two_readings(self, metrics: Metrics, known: Known) -> None:
        environment, service, _ = known
        readings = metrics.read(environment, service, [MetricKind.CPU, MetricKind.RPS, MetricKind.CPU])
        assert [reading.metric for reading in readings] == [MetricKind.CPU, MetricKind.RPS, MetricKind.CPU]
        assert readings[0] == readings[2]

    def test_metrics_asked_by_name_are_read_as_metric_kinds(self, metrics: Metrics, known: Known) -> None:
        environment, service, _ = known
        readings = metrics.read(environment, service, ["rps", "cpu"])  # type: ignore[list-item]
        assert [type(reading.metric) for reading in readings] == [MetricKind, MetricKind]
        assert [reading.metric for reading in readings] == [MetricKind.RPS, MetricKind.CPU]

    def test_asking_for_nothing_reads_nothing(self, metrics: Metrics, known: Known) -> None:
        environment, service, _ = known
        assert metrics.read(environment, service, []) == []

    def test_readings_with_data_have_the_value_and_no_error(self, metrics: Metrics, known: Known) -> None:
        environment, service, values = known
        readings = metrics.read(environment, service, ALL)
        assert {reading.metric: reading.value for reading in readings} == pytest.approx(values)
        assert [reading.error for reading in readings] == [None, None, None]

    def test_a_true_zero_is_data_not_missing(self, metrics: Metrics, known: Known) -> None:
        environment, service, values = known
        zeros = [kind for kind, value in values.items() if value == 0]
        assert zeros, "the contract needs a known service with a metric at 0"
        for reading in metrics.read(environment, service, zeros):
            assert reading.value == 0 and reading.value is not None and reading.error is None

    def test_no_data_is_none_with_an_error_never_zero(self, metrics: Metrics, silent: tuple[str, str]) -> None:
        environment, service = silent
        readings = metrics.read(environment, service, ALL)
        assert [reading.metric for reading in readings] == ALL
        for reading in readings:
            assert reading.value is None
            assert reading.error and service in reading.error

    def test_failures_are_readings_never_raised(self, metrics: Metrics, failing: tuple[str, str]) -> None:
        environment, service = failing
        readings = metrics.read(environment, service, ALL)
        assert [reading.metric for reading in readings] == ALL
        assert all(reading.value is None and reading.error for reading in readings)
