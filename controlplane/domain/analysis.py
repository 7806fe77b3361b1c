"""Metric analysis arithmetic: one measurement's verdict, and a metric's verdict from its measurements.

A measurement compares a value with the metric's threshold (``min <= value <= max``); a measurement without
a value (no traffic, no data, the source down) is inconclusive and never counts towards passing or failing.
A metric keeps being measured until one of these holds, checked in this order after each measurement:

    failed > failureLimit             -> failed        (rolls back)
    inconclusive > inconclusiveLimit  -> inconclusive  (holds the rollout for an operator)
    passed + failed >= count          -> passed
    otherwise                         -> measuring

Worked examples, count=3 failureLimit=1 inconclusiveLimit=1 (P pass, F fail, I inconclusive):

    measurements | passed failed inconclusive | verdict
    ------------ | -------------------------- | ------------
    P P P        | 3 0 0                      | passed
    P F P        | 2 1 0                      | passed
    F P F        | 1 2 0                      | failed
    I P P P      | 3 0 1                      | passed
    I P I        | 1 0 2                      | inconclusive
    I I          | 0 0 2                      | inconclusive  (no data never passes)

An analysis (all metrics of one gate) fails if any metric fails, holds if none fails and any is
inconclusive, and passes when every metric passed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from controlplane.domain.manifest.analysis import Analysis, AnalysisMetric, Threshold
from controlplane.domain.manifest.fields import QUERY_PLACEHOLDER


class Verdict(StrEnum):
    MEASURING = "measuring"
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class MetricQuery:
    """What a provider is asked: one metric of one revision over the last ``window_seconds``.

    ``provider`` is ``router``, ``applicationInsights`` or ``prometheus``; ``target`` the provider's
    ``workspaceId`` or ``endpoint`` (None for the router). Exactly one of ``builtin`` and ``query`` is set."""

    metric: str
    provider: str
    target: str | None
    environment: str
    service: str
    revision: str
    window_seconds: int
    builtin: str | None = None
    percentile: float | None = None
    query: str | None = None

    @classmethod
    def of(
        cls, analysis: Analysis, metric: AnalysisMetric, environment: str, service: str, revision: str
    ) -> MetricQuery:
        provider = analysis.provider_of(metric)
        return cls(
            metric=metric.name,
            provider=provider.type,
            target=provider.workspace_id or provider.endpoint,
            environment=environment,
            service=service,
            revision=revision,
            window_seconds=analysis.interval_of(metric),
            builtin=metric.builtin,
            percentile=(metric.percentile or 95.0) if metric.builtin == "requestLatency" else None,
            query=metric.query,
        )

    def filled(self) -> str:
        """The custom query with its ``{{ name }}`` placeholders filled in (``{{ window }}`` as ``<seconds>s``)."""
        assert self.query is not None
        values = {
            "environment": self.environment,
            "service": self.service,
            "revision": self.revision,
            "window": f"{self.window_seconds}s",
        }
        return QUERY_PLACEHOLDER.sub(lambda match: values[match.group(1)], self.query)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricQuery:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Measurement:
    """A provider's answer: ``value`` (None when there is none, and ``error`` says why), the query text it ran
    (KQL, PromQL, or a description of the router counters read), and ``samples`` (requests seen) if known."""

    value: float | None
    query: str
    error: str | None = None
    samples: int | None = None

    def __post_init__(self) -> None:
        if self.value is not None and not math.isfinite(self.value):
            object.__setattr__(self, "error", self.error or f"not a number ({self.value})")
            object.__setattr__(self, "value", None)
        if self.value is None and not self.error:
            object.__setattr__(self, "error", "no value")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        return cls(data["value"], data["query"], data.get("error"), data.get("samples"))


def judge(measurement: Measurement, threshold: Threshold) -> Verdict:
    """PASSED or FAILED by the threshold; INCONCLUSIVE without a value."""
    value = measurement.value
    if value is None:
        return Verdict.INCONCLUSIVE
    low_ok = threshold.min is None or value >= threshold.min
    high_ok = threshold.max is None or value <= threshold.max
    return Verdict.PASSED if low_ok and high_ok else Verdict.FAILED


def describe_threshold(threshold: Threshold) -> str:
    """``>= 0.95``, ``<= 500`` or ``0.9..1``."""
    if threshold.min is not None and threshold.max is not None:
        return f"{threshold.min:g}..{threshold.max:g}"
    if threshold.min is not None:
        return f">= {threshold.min:g}"
    return f"<= {threshold.max:g}"


@dataclass(frozen=True)
class MetricTally:
    """The measurements of one metric at one gate so far."""

    metric: str
    passed: int = 0
    failed: int = 0
    inconclusive: int = 0

    def after(self, verdict: Verdict) -> MetricTally:
        if verdict is Verdict.PASSED:
            return replace(self, passed=self.passed + 1)
        if verdict is Verdict.FAILED:
            return replace(self, failed=self.failed + 1)
        return replace(self, inconclusive=self.inconclusive + 1)

    def verdict(self, metric: AnalysisMetric) -> Verdict:
        """See the module table."""
        if self.failed > metric.failure_limit:
            return Verdict.FAILED
        if self.inconclusive > metric.inconclusive_limit:
            return Verdict.INCONCLUSIVE
        if self.passed + self.failed >= metric.count:
            return Verdict.PASSED
        return Verdict.MEASURING

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def analysis_verdict(verdicts: Iterable[Verdict]) -> Verdict:
    """Failed if any metric failed, inconclusive if any is (and none failed), passed if all passed."""
    seen = set(verdicts)
    for verdict in (Verdict.FAILED, Verdict.INCONCLUSIVE, Verdict.MEASURING):
        if verdict in seen:
            return verdict
    return Verdict.PASSED


def metric_reason(metric: AnalysisMetric, tally: MetricTally, last: Measurement | None, verdict: Verdict) -> str:
    """Why ``metric`` has ``verdict``, by its last measurement (the deciding one when it failed or holds), e.g.

    - ``request-success-rate 0.8 < min 0.95 (2 of 3 measurements failed, failureLimit 1); query: <query>``
    - ``request-success-rate: no value (no data) (2 of 2 measurements inconclusive, inconclusiveLimit 1); query: ..``
    - ``request-success-rate >= 0.95 in 3 of 3 measurements (last 0.99)``
    """
    if last is None:
        return f"{metric.name}: not measured"
    total = tally.passed + tally.failed + tally.inconclusive
    query = " ".join(last.query.split())  # a multi-line KQL or PromQL query on one line
    if verdict is Verdict.FAILED:
        counts = f"{tally.failed} of {total} measurements failed, failureLimit {metric.failure_limit}"
        return f"{metric.name} {_value(last)} {_violated(last, metric.threshold)} ({counts}); query: {query}"
    if verdict is Verdict.INCONCLUSIVE:
        limit = metric.inconclusive_limit
        counts = f"{tally.inconclusive} of {total} measurements inconclusive, inconclusiveLimit {limit}"
        return f"{metric.name}: no value ({last.error}) ({counts}); query: {query}"
    counts = f"{tally.passed} of {total} measurements (last {_value(last)})"
    if verdict is Verdict.PASSED:
        return f"{metric.name} {describe_threshold(metric.threshold)} in {counts}"
    return f"{metric.name}: not decided, {describe_threshold(metric.threshold)} in {counts}"


def _value(measurement: Measurement) -> str:
    return "no value" if measurement.value is None else f"{measurement.value:g}"


def _violated(measurement: Measurement, threshold: Threshold) -> str:
    """Which bound the value broke: ``< min 0.95`` or ``> max 500``; for a last value within bounds, the threshold."""
    value = measurement.value
    if value is not None and threshold.min is not None and value < threshold.min:
        return f"< min {threshold.min:g}"
    if value is not None and threshold.max is not None and value > threshold.max:
        return f"> max {threshold.max:g}"
    return f"(threshold {describe_threshold(threshold)})"
