"""Reading a Deployment's rollout from its status and its pods (pure functions over wire dicts).

Done, as ``kubectl rollout status`` decides it, plus scale-down finished:

    generation / observed | spec.replicas | updated | available | status.replicas | done?
    ----------------------+---------------+---------+-----------+-----------------+---------------------------
    2 / 1                 | 2             | 2       | 2         | 2               | no: controller not caught up
    2 / 2                 | 2             | 2       | 1         | 2               | no: one replica not available
    2 / 2                 | 2             | 2       | 2         | 2               | yes
    3 / 3                 | 0             | 0       | 0         | 1               | no: a pod still running
    3 / 3                 | 0             | 0       | 0         | 0               | yes

A rollout fails early when a pod is waiting for a reason that does not clear by waiting (``FATAL_WAITING``),
or when the Deployment's Progressing condition reports ``ProgressDeadlineExceeded``. ``ErrImagePull`` is not
fatal by itself (a registry hiccup); the kubelet turns a lasting one into ``ImagePullBackOff`` within seconds.
Unschedulable pods are not fatal either (the cluster autoscaler may add a node); they are named if the
deadline passes.
"""

from __future__ import annotations

from typing import Any

FATAL_WAITING = frozenset(
    {
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


def rollout_done(deployment: dict[str, Any]) -> bool:
    """True when the controller has seen the latest spec and exactly the wanted replicas are available."""
    spec, status = deployment.get("spec", {}), deployment.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    observed = int(status.get("observedGeneration", 0)) >= int(deployment["metadata"].get("generation", 0))
    return (
        observed
        and int(status.get("updatedReplicas", 0)) >= wanted
        and int(status.get("availableReplicas", 0)) >= wanted
        and int(status.get("replicas", 0)) <= wanted
    )


def rollout_stalled(deployment: dict[str, Any]) -> str | None:
    """The Progressing condition's message when the Deployment exceeded its progress deadline."""
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return f"ProgressDeadlineExceeded: {condition.get('message', '')}".rstrip(": ")
    return None


def describe_pods(pods: list[dict[str, Any]]) -> tuple[str | None, str]:
    """(the first fatal reason, or None; a one-line summary of every pod) for error messages."""
    fatal = None
    lines = []
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        name, status = pod["metadata"]["name"], pod.get("status") or {}
        reasons = []
        for container in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason"):
                reason = f"{waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
                reasons.append(f"container {container.get('name')} {reason}")
                if fatal is None and waiting["reason"] in FATAL_WAITING:
                    fatal = f"pod {name}: container {container.get('name')} {reason}"
        for condition in status.get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                reason = f"{condition.get('reason', 'not scheduled')}: {condition.get('message', '')}"
                reasons.append(reason.rstrip(": "))
        phase = status.get("phase", "Pending")
        lines.append(f"pod {name} {phase}" + (f" ({'; '.join(reasons)})" if reasons else ""))
    return fatal, "; ".join(lines) or "no pods yet"
