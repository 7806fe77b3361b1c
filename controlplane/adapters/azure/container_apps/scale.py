"""A service's ScalingPolicy as a Container Apps revision's scale: bounds and KEDA rules. Pure: no I/O.

A Container Apps revision's scale cannot change after it is created, and the control plane's scaling loop
does not resize revisions there, so the policy becomes the revision's own scale rules, which Container
Apps' KEDA applies (table at ``revision_scale``); ``autoscaling`` is what makes two revisions scale alike.
"""

from __future__ import annotations

import json
import math

from azure.mgmt.appcontainers import models

from controlplane.domain.manifest.service import ScalingPolicy, ScalingRule
from controlplane.domain.runtime import RevisionSpec
from controlplane.errors import PermanentError

QUEUE_NAME_KEY = "QUEUE_NAME"  # the configuration key naming a service's Service Bus queue


def revision_scale(spec: RevisionSpec, identity: str, service_bus_namespace: str | None) -> models.Scale:
    """The revision's scale: its ScalingPolicy as KEDA rules, or without one a fixed count.

    Bounds: ``minReplicas`` is the policy's minimum, 0 only with ``scaleToZero``; ``maxReplicas`` its maximum
    (at least 1, the provider's minimum). One rule per policy rule, named after its metric:

        policy rule (target t)   Container Apps rule
        -----------------------  ----------------------------------------------------------------------------
        rps                      http, concurrentRequests = floor(t). Container Apps counts a replica's
                                 requests of the last 15 s divided by 15: the per-replica rps the loop targets
        cpu                      custom cpu, metadata type Utilization, value = floor(t) (percent of request)
        queue                    custom azure-servicebus: queueName (configuration QUEUE_NAME, else the
                                 service), namespace (settings), messageCount = floor(t); authenticated as
                                 the app's managed identity (``identity``), no connection-string secret. With
                                 an activationThreshold a, activationMessageCount = ceil(a) - 1: KEDA wakes
                                 above it, the loop at a or more

    Thresholds are whole numbers, rounded down (at least 1): KEDA never runs fewer replicas than the loop would.
    The policy's stabilization window becomes KEDA's ``cooldownPeriod`` (how long every rule must stay inactive
    before the revision goes to zero), set only when it may go to zero. Nothing carries ``cooldownSeconds`` or
    the window between non-zero counts: a revision's scale has no such setting, Container Apps applies its own.

        spec                                               minReplicas  maxReplicas  rules                cooldown
        replicas 3, no policy                              3            3            -                    -
        replicas 0, no policy                              0            1            -                    -
        min 2, max 10: rps 50.5, cpu 70                    2            10           http 50, cpu 70      -
        scaleToZero, max 5, window 120: queue 10, act. 3   0            5            servicebus 10 act 2  120
    """
    policy = spec.scaling
    if policy is None:
        return models.Scale(min_replicas=spec.replicas, max_replicas=max(spec.replicas, 1))
    low = 0 if policy.scale_to_zero else policy.min_replicas
    rules = [_scale_rule(spec, policy, rule, identity, service_bus_namespace) for rule in policy.rules]
    scale = models.Scale(min_replicas=low, max_replicas=max(policy.max_replicas, 1), rules=rules)
    if low == 0:
        scale.cooldown_period = policy.stabilization_window_seconds
    return scale


def _scale_rule(
    spec: RevisionSpec, policy: ScalingPolicy, rule: ScalingRule, identity: str, namespace: str | None
) -> models.ScaleRule:
    threshold = str(_whole(rule.target))
    if rule.metric == "rps":
        return models.ScaleRule(name="rps", http=models.HttpScaleRule(metadata={"concurrentRequests": threshold}))
    if rule.metric == "cpu":
        metadata = {"type": "Utilization", "value": threshold}
        return models.ScaleRule(name="cpu", custom=models.CustomScaleRule(type="cpu", metadata=metadata))
    if not namespace:
        raise PermanentError(
            f"{spec.environment}/{spec.service}: its scaling rule on metric queue needs the Service Bus namespace "
            "of the queue; set service_bus_namespace in the Container Apps settings"
        )
    metadata = {
        "queueName": spec.configuration.get(QUEUE_NAME_KEY) or spec.service,
        "namespace": namespace.split(".", 1)[0],  # KEDA wants the name, not <name>.servicebus.windows.net
        "messageCount": threshold,
    }
    if policy.activation_threshold is not None:
        metadata["activationMessageCount"] = str(math.ceil(policy.activation_threshold) - 1)
    custom = models.CustomScaleRule(type="azure-servicebus", metadata=metadata, identity=rule_identity(identity))
    return models.ScaleRule(name="queue", custom=custom)


def _whole(target: float) -> int:
    return max(1, math.floor(target))


def rule_identity(identity: str) -> str:
    """A scale rule's ``identity``: ``system``, or the user-assigned identity's resource id."""
    return "system" if identity.lower() == "system" else identity


def autoscaling(scale: models.Scale | None) -> tuple[object, ...]:
    """What makes two revisions scale alike: bounds and each rule's name, kind and metadata; () for a fixed
    count (no rules). Identity, auth and KEDA timings are left out: the provider may fill or spell them otherwise."""
    if scale is None or not scale.rules:
        return ()
    rules = []
    for rule in scale.rules:
        parts = {"http": rule.http, "tcp": rule.tcp, "custom": rule.custom, "azureQueue": rule.azure_queue}
        kinds = {
            kind: {key: value for key, value in part.as_dict().items() if key not in ("identity", "auth")}
            for kind, part in parts.items()
            if part is not None
        }
        rules.append(json.dumps({"name": rule.name, **kinds}, sort_keys=True))
    return (scale.min_replicas or 0, scale.max_replicas, *sorted(rules))
