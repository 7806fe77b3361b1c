"""Scaling decisions: how many replicas a ScalingPolicy wants, from metric readings and remembered state.

Pure: no I/O, ``now`` is passed in; the caller persists ``Decision.state`` and applies ``Decision.replicas``.

The replica math is the Kubernetes HPA's, with KEDA's event-driven queue rule and scale to zero:

- a ``cpu`` rule (and a ``queue`` rule of an http target) reads a per-replica average:
  ``desired = ceil(current * value / target)``;
- an ``rps`` rule reads the service's *total* requests per second (what the router or Application Insights
  counts) against a per-replica target, and a ``queue`` rule of an event-driven target the *total* queue
  length (what KEDA reads from Service Bus): ``desired = ceil(value / target)``, independent of how many run
  now (the HPA's AverageValue target);
- no change while the usage ratio is within tolerance (``|ratio - 1| <= 0.1``);
- the largest desired across rules wins; clamped to ``[max(min, 1), max]``;
- up at once; down only to the highest recommendation seen within the stabilization window (a first
  evaluation counts the current replicas as seen, so nothing scales down before a window has passed);
- no change within ``cooldown_seconds`` after the last applied change, except waking from zero;
- to zero only for ``scale_to_zero`` event-driven policies when every rule is below ``activation_threshold``
  (no threshold: every value is 0), passed through the same stabilization window; back up when any reaches it;
- a reading with no data never lowers the count: the decision holds and says which metric is missing.

Worked examples (min 1, max 10, tolerance 0.1):

======================  =======  ===============  =========  ===========  ================================
rule (target)           current  value            desired    replicas     why
======================  =======  ===============  =========  ===========  ================================
cpu (70)                2        140              4          4            ceil(2 * 140/70); up at once
cpu (70)                4        75               4          4            ratio 1.07 within tolerance
cpu (70)                4        20               2          4 → 2        down after the window only
rps (100)               3        1000 total       10         10           ceil(1000/100); at max
queue event (10)        2        45               5          5            ceil(45/10), KEDA-style
queue event (10) act 1  0        3                1          1            wakes from zero, ignores cooldown
queue event (10) act 1  1        0                0          0            after the window: scale to zero
cpu 40 + rps (50)       2        cpu 30, rps 150  2, 3       3            the largest rule wins
cpu (70)                4        None             —          4            held: no data for cpu
======================  =======  ===============  =========  ===========  ================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from controlplane.domain.events import format_time, parse_time
from controlplane.domain.manifest.service import ScalingPolicy, ScalingRule
from controlplane.domain.runtime import MetricReading

TOLERANCE = 0.1
DEFAULT_VIOLATION_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True)
class ScalingState:
    """What one policy remembers between ticks; persisted as ``to_dict()`` so decisions survive restarts.

    ``recommendations`` are (time, replicas) within the stabilization window, oldest first;
    ``violation_since`` is when demand first exceeded max in the current episode.
    """

    recommendations: tuple[tuple[datetime, int], ...] = ()
    last_change_at: datetime | None = None
    violation_since: datetime | None = None
    violation_reported: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "recommendations": [[format_time(at), replicas] for at, replicas in self.recommendations],
            "lastChangeAt": format_time(self.last_change_at) if self.last_change_at else None,
            "violationSince": format_time(self.violation_since) if self.violation_since else None,
            "violationReported": self.violation_reported,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScalingState:
        return cls(
            recommendations=tuple((parse_time(at), int(replicas)) for at, replicas in data.get("recommendations", ())),
            last_change_at=parse_time(data["lastChangeAt"]) if data.get("lastChangeAt") else None,
            violation_since=parse_time(data["violationSince"]) if data.get("violationSince") else None,
            violation_reported=bool(data.get("violationReported", False)),
        )


@dataclass(frozen=True)
class Decision:
    """The outcome of one evaluation: apply ``replicas`` when ``change``; persist ``state`` either way.

    ``violated`` is True on the one tick that reports a sustained unmet demand (ScalingPolicyViolated);
    ``desired`` is what the rules asked for before clamping (None without data).
    """

    replicas: int
    change: bool
    rule: str | None
    reason: str
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    violated: bool = False
    state: ScalingState = field(default_factory=ScalingState)
    desired: int | None = None


def _desired(rule: ScalingRule, value: float, current: int, event_driven: bool) -> int:
    """Unclamped replicas one rule wants; ``current`` unchanged within tolerance."""
    if rule.metric == "rps" or (rule.metric == "queue" and event_driven):
        if current and abs(value / (rule.target * current) - 1) <= TOLERANCE:
            return current
        return math.ceil(value / rule.target)
    base = current or 1  # from zero a per-replica average is what one replica would see
    ratio = value / rule.target
    if current and abs(ratio - 1) <= TOLERANCE:
        return current
    return math.ceil(base * ratio)


def _describe(rule: ScalingRule, value: float, replicas: int) -> str:
    return f"{rule.metric} {value:.1f} vs target {rule.target:g} → {replicas} replicas"


def decide(
    policy: ScalingPolicy,
    current_replicas: int,
    readings: Sequence[MetricReading],
    state: ScalingState,
    now: datetime,
    violation_window: timedelta = DEFAULT_VIOLATION_WINDOW,
) -> Decision:
    """Replicas for ``policy`` now, HPA-style (see the module docstring); idempotent for the same inputs."""
    current = current_replicas
    event_driven = policy.target == "event-driven"
    zero_capable = policy.scale_to_zero and event_driven
    threshold = policy.activation_threshold
    high = policy.max_replicas
    low = max(policy.min_replicas, 1)

    # Keyed by str: MetricKind is a StrEnum, so a rule's "cpu" finds MetricKind.CPU.
    by_metric: dict[str, float | None] = {reading.metric: reading.value for reading in readings}
    metrics: dict[str, float | None] = {}
    missing: list[str] = []
    raw: int | None = None  # unclamped desired across rules with data
    driver: ScalingRule | None = None
    for rule in policy.rules:
        value = metrics[rule.metric] = by_metric.get(rule.metric)
        if value is None:
            missing.append(rule.metric)
            continue
        wanted = _desired(rule, value, current, event_driven)
        if raw is None or wanted > raw:
            raw, driver = wanted, rule

    dormant = zero_capable and not any(
        value is not None and (value >= threshold if threshold is not None else value > 0) for value in metrics.values()
    )
    window_start = now - timedelta(seconds=policy.stabilization_window_seconds)
    # Like the HPA, a window with no history starts from the current count: a policy met for the first
    # time (a new deployment, a restarted loop) never scales down before its window has passed.
    history = state.recommendations or ((now, current),)
    kept = [entry for entry in history if entry[0] > window_start]
    no_data = f"held: no data for {', '.join(missing)}" if missing else ""

    if raw is None or driver is None or (dormant and missing):
        target, recommendation, reason = current, current, no_data
    elif dormant:
        below = ", ".join(f"{name} {value:.1f}" for name, value in metrics.items())
        activation = f"activation {threshold:g}" if threshold is not None else "activation (any traffic)"
        target, recommendation, reason = 0, 0, f"{below} below {activation} → 0 replicas"
    else:
        recommendation = min(max(raw, low), high)
        target, reason = recommendation, _describe(driver, metrics[driver.metric] or 0.0, recommendation)
        if recommendation < current and missing:
            target, recommendation, reason = current, current, no_data

    waking = current == 0 and target > 0
    if target < current:
        stabilized = max([recommendation, *(replicas for _, replicas in kept)])
        if stabilized >= current:
            target, reason = current, f"held: stabilizing ({reason}; highest in window {stabilized})"
        else:
            target = stabilized
    if target != current and not waking and state.last_change_at is not None:
        until = state.last_change_at + timedelta(seconds=policy.cooldown_seconds)
        if now < until:
            reason = f"held: cooldown until {format_time(until)} (wanted {target}: {reason})"
            target = current
    floor = 0 if zero_capable else policy.min_replicas
    if not floor <= target <= high:  # a count outside the policy's bounds is corrected whatever else holds
        target = min(max(target, floor), high)
        reason = f"{reason}; corrected into [{floor}, {high}]"

    change = target != current
    violation_since, reported, violated = state.violation_since, state.violation_reported, False
    if raw is not None:
        if raw > high:
            violation_since = violation_since or now
            violated = not reported and now - violation_since >= violation_window
            reported = reported or violated
        else:
            violation_since, reported = None, False
    new_state = ScalingState(
        recommendations=(*kept, (now, recommendation)),
        last_change_at=now if change else state.last_change_at,
        violation_since=violation_since,
        violation_reported=reported,
    )
    return Decision(
        replicas=target,
        change=change,
        rule=driver.metric if driver is not None else None,
        reason=reason,
        metrics=metrics,
        violated=violated,
        state=new_state,
        desired=raw,
    )
