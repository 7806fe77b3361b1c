"""The schemas of a deployment's ``explanation`` (``domain.explanation``: ``GET /api/deployments/{id}`` carries
it): the outcome, each service's gates with their verdict and the line that decided it, and what the deployment as
a whole waited for. Names start with ``Explained`` so none clashes with the release manifest's."""

from __future__ import annotations

from triggers.openapi.schemas import NULLABLE_TEXT, TEXT, Schema, obj, ref

COUNT = {"type": "integer", "minimum": 0}
NULLABLE_COUNT = {"type": ["integer", "null"], "minimum": 0}
NULLABLE_NUMBER = {"type": ["number", "null"]}
GATE_VERDICT = {"type": "string", "enum": ["passed", "failed", "held", "running"]}
ANALYSIS_VERDICT = {"type": "string", "enum": ["measuring", "passed", "failed", "inconclusive"]}


def _list(item: str) -> Schema:
    return {"type": "array", "items": ref(item)}


HEALTH = obj(
    {
        "verdict": {**NULLABLE_TEXT, "description": "passed or failed; null while probing"},
        "reason": TEXT,
        "inARow": {
            "type": ["object", "null"],
            "additionalProperties": COUNT,
            "description": "consecutive passed and failed probes when the gate decided",
        },
        "probes": {"type": "object", "additionalProperties": COUNT, "description": "the gate's probes by status"},
        "last": {**NULLABLE_TEXT, "description": "the last probe's summary"},
        "fromProbes": {
            "type": "boolean",
            "description": "true: an older deployment without RuntimeHealthGateCompleted, read from its probes",
        },
    }
)

MEASURED = obj(
    {
        "number": COUNT,
        "value": {**NULLABLE_NUMBER, "description": "null: no value (no traffic, no data, the source down)"},
        "verdict": ANALYSIS_VERDICT,
        "query": {"type": "string", "description": "the query the provider ran (KQL, PromQL, the router counters)"},
        "error": {**NULLABLE_TEXT, "description": "why there is no value"},
        "samples": NULLABLE_COUNT,
    }
)

METRIC = obj(
    {
        "metric": TEXT,
        "provider": TEXT,
        "threshold": {"type": "string", "description": "the success condition, e.g. >= 0.95"},
        "min": NULLABLE_NUMBER,
        "max": NULLABLE_NUMBER,
        "verdict": ANALYSIS_VERDICT,
        "measurements": _list("ExplainedMeasurement"),
    }
)

ANALYSIS = obj({"verdict": ANALYSIS_VERDICT, "reason": TEXT, "metrics": _list("ExplainedMetric")})

HOOK = obj(
    {
        "hook": TEXT,
        "type": {"type": "string", "enum": ["pre-rollout", "rollout", "confirm-promotion", "post-rollout", "rollback"]},
        "url": {"type": "string", "description": "without its query"},
        "status": {**NULLABLE_COUNT, "description": "the last HTTP status; null: no answer"},
        "attempts": COUNT,
        "outcome": TEXT,
        "effect": {"type": "string", "description": "what the answer did to the rollout"},
        "error": NULLABLE_TEXT,
        "service": NULLABLE_TEXT,
        "times": {"type": "integer", "minimum": 1, "description": "the same answer, this many calls in a row"},
    }
)

HOLD = obj(
    {
        "reason": TEXT,
        "timeoutSeconds": NULLABLE_COUNT,
        "onTimeout": TEXT,
        "resolution": {**NULLABLE_TEXT, "description": "approved, aborted, timed-out; null: still waiting"},
        "action": {**NULLABLE_TEXT, "description": "continue or rollback"},
        "by": {**NULLABLE_TEXT, "description": "the operator who decided"},
    }
)

GATE = obj(
    {
        "number": {**NULLABLE_COUNT, "description": "the gate's number in the service's rollout, from 1"},
        "step": {"type": "string", "description": "what the gate verifies"},
        "revision": NULLABLE_TEXT,
        "verdict": GATE_VERDICT,
        "why": {"type": "string", "description": "the line that decided the verdict"},
        "health": {"oneOf": [ref("ExplainedHealth"), {"type": "null"}]},
        "analysis": {"oneOf": [ref("ExplainedAnalysis"), {"type": "null"}]},
        "hooks": _list("ExplainedWebhookCall"),
        "hold": {"oneOf": [ref("ExplainedHold"), {"type": "null"}]},
    }
)

SERVICE = obj({"name": TEXT, "revision": NULLABLE_TEXT, "gates": _list("ExplainedGate")})

WAVE = obj(
    {
        "wave": COUNT,
        "waves": COUNT,
        "services": {"type": "array", "items": TEXT},
        "waitsFor": {"type": "array", "items": TEXT},
        "verdict": {**NULLABLE_TEXT, "description": "passed or failed; null while it runs"},
    }
)

APPROVAL = obj(
    {
        "for": TEXT,
        "service": NULLABLE_TEXT,
        "by": {**NULLABLE_TEXT, "description": "null: still waiting"},
        "reason": NULLABLE_TEXT,
    }
)

PROMOTION_HOLD = obj({"service": TEXT, "hook": TEXT, "reason": TEXT, "times": {"type": "integer", "minimum": 1}})

EXPLANATION = obj(
    {
        "deploymentId": TEXT,
        "release": NULLABLE_TEXT,
        "environment": NULLABLE_TEXT,
        "state": TEXT,
        "reason": {"type": "string", "description": "why the deployment is in its state, e.g. the failed gate's line"},
        "services": {**_list("ExplainedService"), "description": "in rollout order"},
        "waves": _list("ExplainedWave"),
        "hooks": {**_list("ExplainedWebhookCall"), "description": "webhooks called outside a gate"},
        "promotionHolds": _list("ExplainedPromotionHold"),
        "approvals": _list("ExplainedApproval"),
        "complete": {
            "type": "boolean",
            "description": "false: explained from the trace's first events only (the read is capped); the whole "
            "trace is at /api/events?traceId=",
        },
        "events": COUNT,
        "unreadable": {"type": "integer", "minimum": 0, "description": "events of a shape this version cannot read"},
    },
    description="Why the deployment is where it is: for each gate, why it passed, failed or held.",
)


def explanation_schemas() -> dict[str, Schema]:
    """The named schemas ``component_schemas`` adds."""
    return {
        "Explanation": EXPLANATION,
        "ExplainedService": SERVICE,
        "ExplainedGate": GATE,
        "ExplainedHealth": HEALTH,
        "ExplainedAnalysis": ANALYSIS,
        "ExplainedMetric": METRIC,
        "ExplainedMeasurement": MEASURED,
        "ExplainedWebhookCall": HOOK,
        "ExplainedHold": HOLD,
        "ExplainedWave": WAVE,
        "ExplainedApproval": APPROVAL,
        "ExplainedPromotionHold": PROMOTION_HOLD,
    }
