"""The analysis arithmetic of controlplane.domain.analysis: its worked table, the analysis verdict, and the reasons
a gate's RuntimeAnalysisCompleted and rollback carry."""

from __future__ import annotations

import pytest

from controlplane.domain.analysis import (
    Measurement,
    MetricTally,
    Verdict,
    analysis_verdict,
    judge,
    metric_reason,
)
from controlplane.domain.manifest.analysis import AnalysisMetric, Threshold

P, F, I = Verdict.PASSED, Verdict.FAILED, Verdict.INCONCLUSIVE  # noqa: E741 - the module table's letters
TABLE_METRIC = AnalysisMetric.model_validate(
    {
        "name": "request-success-rate",
        "builtin": "requestSuccessRate",
        "threshold": {"min": 0.95},
        "count": 3,
        "failureLimit": 1,
        "inconclusiveLimit": 1,
    }
)


def tallied(*verdicts: Verdict) -> MetricTally:
    tally = MetricTally(TABLE_METRIC.name)
    for verdict in verdicts:
        tally = tally.after(verdict)
    return tally


@pytest.mark.parametrize(
    ("measurements", "counts", "verdict"),
    [
        ((P, P, P), (3, 0, 0), Verdict.PASSED),
        ((P, F, P), (2, 1, 0), Verdict.PASSED),
        ((F, P, F), (1, 2, 0), Verdict.FAILED),
        ((I, P, P, P), (3, 0, 1), Verdict.PASSED),
        ((I, P, I), (1, 0, 2), Verdict.INCONCLUSIVE),
        ((I, I), (0, 0, 2), Verdict.INCONCLUSIVE),
    ],
    ids=["PPP", "PFP", "FPF", "IPPP", "IPI", "II"],
)
def test_the_worked_table_of_the_module_docstring(
    measurements: tuple[Verdict, ...], counts: tuple[int, int, int], verdict: Verdict
) -> None:
    tally = tallied(*measurements)
    assert (tally.passed, tally.failed, tally.inconclusive) == counts
    assert tally.verdict(TABLE_METRIC) is verdict


def test_a_metric_keeps_measuring_until_one_rule_holds() -> None:
    assert tallied().verdict(TABLE_METRIC) is Verdict.MEASURING
    assert tallied(P, F).verdict(TABLE_METRIC) is Verdict.MEASURING
    assert tallied(I, P).verdict(TABLE_METRIC) is Verdict.MEASURING  # one inconclusive is within the limit
    # Failing is checked first: more failures than allowed fail even when inconclusive ones also ran over.
    assert tallied(F, I, F, I).verdict(TABLE_METRIC) is Verdict.FAILED


def test_an_analysis_fails_on_any_failure_holds_on_any_inconclusive_and_passes_only_when_all_passed() -> None:
    assert analysis_verdict([P, F, I]) is Verdict.FAILED
    assert analysis_verdict([P, I, Verdict.MEASURING]) is Verdict.INCONCLUSIVE
    assert analysis_verdict([P, Verdict.MEASURING]) is Verdict.MEASURING
    assert analysis_verdict([P, P]) is Verdict.PASSED


def test_a_measurement_is_judged_by_both_bounds_and_without_a_value_is_inconclusive() -> None:
    band = Threshold(min=0.9, max=1.0)
    assert judge(Measurement(0.95, "q"), band) is Verdict.PASSED
    assert judge(Measurement(0.9, "q"), band) is Verdict.PASSED  # bounds are inclusive
    assert judge(Measurement(0.5, "q"), band) is Verdict.FAILED
    assert judge(Measurement(None, "q", "no data"), band) is Verdict.INCONCLUSIVE
    assert judge(Measurement(float("nan"), "q"), band) is Verdict.INCONCLUSIVE


def test_a_reason_names_the_deciding_metric_its_value_threshold_and_query() -> None:
    query = "AppRequests\n| where AppRoleInstance == 'orders--2'"
    failed = metric_reason(TABLE_METRIC, tallied(F, P, F), Measurement(0.8, query), Verdict.FAILED)
    assert failed == (
        "request-success-rate 0.8 < min 0.95 (2 of 3 measurements failed, failureLimit 1); "
        "query: AppRequests | where AppRoleInstance == 'orders--2'"
    )
    latency = AnalysisMetric.model_validate(
        {"name": "p95", "builtin": "requestLatency", "threshold": {"max": 500}, "count": 1}
    )
    too_slow = metric_reason(latency, MetricTally("p95").after(F), Measurement(812.5, "q"), Verdict.FAILED)
    assert too_slow == "p95 812.5 > max 500 (1 of 1 measurements failed, failureLimit 0); query: q"
    held = metric_reason(TABLE_METRIC, tallied(I, P, I), Measurement(None, "q", "no data"), Verdict.INCONCLUSIVE)
    assert held == (
        "request-success-rate: no value (no data) (2 of 3 measurements inconclusive, inconclusiveLimit 1); query: q"
    )
    passed = metric_reason(TABLE_METRIC, tallied(P, F, P), Measurement(0.99, "q"), Verdict.PASSED)
    assert passed == "request-success-rate >= 0.95 in 2 of 3 measurements (last 0.99)"
    assert metric_reason(TABLE_METRIC, tallied(), None, Verdict.MEASURING) == "request-success-rate: not measured"
