"""The post-deployment Failure & Rollback machine of one service.

``Healthy -> Degraded -> Healthy`` when it recovers by itself; ``Degraded -> Rollback`` when
degradation outlasts its threshold, then ``Rollback -> Restoring`` while the last Completed
deployment is restored, ending ``Restoring -> Healthy`` when the gate passes or
``Restoring -> Incident`` when restoring fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from controlplane.domain.events import format_time, parse_time
from controlplane.domain.state_machine import StateMachine


class ServiceCondition(StrEnum):
    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
    ROLLBACK = "Rollback"
    RESTORING = "Restoring"
    INCIDENT = "Incident"


FAILURE_MACHINE: StateMachine[ServiceCondition] = StateMachine(
    "ServiceFailure",
    ServiceCondition.HEALTHY,
    {
        ServiceCondition.HEALTHY: frozenset({ServiceCondition.DEGRADED}),
        ServiceCondition.DEGRADED: frozenset({ServiceCondition.HEALTHY, ServiceCondition.ROLLBACK}),
        ServiceCondition.ROLLBACK: frozenset({ServiceCondition.RESTORING}),
        ServiceCondition.RESTORING: frozenset({ServiceCondition.HEALTHY, ServiceCondition.INCIDENT}),
    },
)

RECOVERY_CHECKS = 2
"""Consecutive passing checks that bring a Degraded service back to Healthy (one pass is not a recovery)."""


@dataclass(frozen=True)
class Watch:
    """The failure monitor's memory of one service, persisted between ticks.

    ``deployment_id`` is the Completed deployment being watched (the catalog's); ``since`` is when the
    condition began; ``passes`` counts consecutive passing checks while Degraded; ``traceid`` is the
    episode's trace (from the first failed check to Healthy or Incident; empty while Healthy);
    ``restore_deployment_id`` is the rollback deployment while Restoring; ``reported_at`` is when the monitor last
    reported a check of the service (a healthy one's passing checks are reported as a heartbeat only).
    """

    deployment_id: str
    condition: ServiceCondition = ServiceCondition.HEALTHY
    since: datetime | None = None
    passes: int = 0
    traceid: str = ""
    restore_deployment_id: str | None = None
    reason: str = ""
    reported_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "deploymentId": self.deployment_id,
            "condition": self.condition.value,
            "since": format_time(self.since) if self.since else None,
            "passes": self.passes,
            "traceId": self.traceid,
            "restoreDeploymentId": self.restore_deployment_id,
            "reason": self.reason,
            "reportedAt": format_time(self.reported_at) if self.reported_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Watch:
        return cls(
            deployment_id=data["deploymentId"],
            condition=ServiceCondition(data["condition"]),
            since=parse_time(data["since"]) if data.get("since") else None,
            passes=int(data.get("passes", 0)),
            traceid=data.get("traceId", ""),
            restore_deployment_id=data.get("restoreDeploymentId"),
            reason=data.get("reason", ""),
            reported_at=parse_time(data["reportedAt"]) if data.get("reportedAt") else None,
        )

    def moved(self, condition: ServiceCondition, now: datetime, reason: str, **changes: Any) -> Watch:
        """This watch in ``condition`` from ``now``; IllegalTransition if the machine has no such step."""
        FAILURE_MACHINE.check(self.condition, condition)
        return replace(self, condition=condition, since=now, passes=0, reason=reason, **changes)


def after_check(watch: Watch, passed: bool, summary: str, now: datetime, degraded_for: timedelta) -> Watch:
    """The watch after one health check of a Healthy or Degraded service (other conditions do not probe).

    Healthy -> Degraded on a failed check. Degraded -> Healthy after ``RECOVERY_CHECKS`` passes in a row;
    Degraded -> Rollback when still failing ``degraded_for`` after degradation began. Examples
    (degraded_for 60 s): Healthy + fail at t=0 -> Degraded since 0; + pass at 10 -> Degraded (1 pass);
    + pass at 20 -> Healthy; Degraded since 0 + fail at 30 -> Degraded; + fail at 60 -> Rollback.
    """
    if watch.condition is ServiceCondition.HEALTHY:
        return watch if passed else watch.moved(ServiceCondition.DEGRADED, now, f"health check failed: {summary}")
    if watch.condition is not ServiceCondition.DEGRADED:
        return watch
    if passed:
        passes = watch.passes + 1
        if passes >= RECOVERY_CHECKS:
            return watch.moved(ServiceCondition.HEALTHY, now, f"recovered: {passes} passing checks", traceid="")
        return replace(watch, passes=passes)
    assert watch.since is not None
    if now - watch.since >= degraded_for:
        seconds = int((now - watch.since).total_seconds())
        return watch.moved(ServiceCondition.ROLLBACK, now, f"degraded for {seconds} s: {summary}")
    return replace(watch, passes=0)
