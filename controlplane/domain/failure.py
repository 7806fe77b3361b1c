"""The post-deployment Failure & Rollback machine of one service.

``Healthy -> Degraded -> Healthy`` when it recovers by itself; ``Degraded -> Rollback`` when
degradation outlasts its threshold, then ``Rollback -> Restoring`` while the last Completed
deployment is restored, ending ``Restoring -> Healthy`` when the gate passes or
``Restoring -> Incident`` when restoring fails.
"""

from __future__ import annotations

from enum import StrEnum

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
