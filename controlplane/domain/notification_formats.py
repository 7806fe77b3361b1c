"""What a webhook receives for a notifiable event: one summary, rendered per format. Pure.

- ``teams``: the message envelope a Teams incoming webhook (and a Teams Workflows "when a webhook request is
  received" flow) takes, with one Adaptive Card 1.4 attachment (Microsoft Learn, "Create an Incoming Webhook":
  ``{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", ...}]}``).
  MessageCard is the retired connectors' legacy format, so it is not used.
- ``slack``: ``text`` (the notification's fallback) plus Block Kit ``blocks`` (api.slack.com, "Sending
  messages using incoming webhooks").
- ``json``: the CloudEvent itself, structured mode, as it travelled on the bus.

Every format carries the traceid, so a reader can find the whole flow in the Runtime Center and the logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controlplane.domain.event_catalog import EventType
from controlplane.domain.events import Envelope
from controlplane.domain.notifications import WebhookFormat

_TITLES = {
    EventType.RUNTIME_DEPLOYMENT_APPROVAL_REQUESTED: "Approval needed",
    EventType.RUNTIME_ANALYSIS_HELD: "Rollout held: metric analysis inconclusive",
    EventType.RUNTIME_DEPLOYMENT_COMPLETED: "Deployment completed",
    EventType.RUNTIME_DEPLOYMENT_ROLLED_BACK: "Deployment rolled back",
    EventType.RUNTIME_DEPLOYMENT_FAILED: "Deployment failed",
    EventType.RUNTIME_INCIDENT_RAISED: "Incident raised",
    EventType.RUNTIME_DRIFT_DETECTED: "Drift finding needs review",
}
# Good news green, a decision to make amber, bad news red: Adaptive Card text colors / Slack has none in blocks.
_GOOD = frozenset({EventType.RUNTIME_DEPLOYMENT_COMPLETED})
_ATTENTION = frozenset(
    {EventType.RUNTIME_DEPLOYMENT_APPROVAL_REQUESTED, EventType.RUNTIME_ANALYSIS_HELD, EventType.RUNTIME_DRIFT_DETECTED}
)
# Data keys worth a line, in this order, with their labels; anything else stays in the JSON format only.
_FACTS = (
    ("environment", "Environment"),
    ("service", "Service"),
    ("deploymentId", "Deployment"),
    ("findingId", "Finding"),
    ("incidentId", "Incident"),
    ("kind", "Drift"),
    ("step", "Gate"),
    ("for", "Waiting for"),
    ("requestedBy", "Requested by"),
    ("actor", "By"),
    ("reason", "Reason"),
    ("restoredDeploymentId", "Restored"),
)
_MAX_FACT = 300  # characters of one fact: a reason can be long; the event log keeps all of it


@dataclass(frozen=True)
class Summary:
    title: str
    severity: str  # "good" | "attention" | "bad"
    facts: tuple[tuple[str, str], ...]
    traceid: str


def summarize(envelope: Envelope) -> Summary:
    """The title, severity and labelled facts of a notifiable event."""
    event_type = envelope.event_type
    title = _TITLES.get(event_type, envelope.type) if event_type is not None else envelope.type
    severity = "good" if event_type in _GOOD else "attention" if event_type in _ATTENTION else "bad"
    facts = [(label, _fact(envelope.data[key])) for key, label in _FACTS if envelope.data.get(key) not in (None, "")]
    services = envelope.data.get("services")
    if isinstance(services, Mapping):
        facts.append(("Services", ", ".join(f"{name} -> {revision}" for name, revision in services.items())))
    elif isinstance(services, list):
        facts.append(("Services", ", ".join(str(name) for name in services)))
    facts.append(("Time", envelope.to_dict()["time"]))
    return Summary(title, severity, tuple(facts), envelope.traceid)


def render(envelope: Envelope, webhook_format: WebhookFormat) -> dict[str, Any]:
    """The JSON body to POST to a webhook of ``webhook_format``."""
    if webhook_format is WebhookFormat.JSON:
        return envelope.to_dict()
    summary = summarize(envelope)
    return teams_message(summary) if webhook_format is WebhookFormat.TEAMS else slack_message(summary)


def teams_message(summary: Summary) -> dict[str, Any]:
    color = {"good": "Good", "attention": "Warning", "bad": "Attention"}[summary.severity]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": summary.title, "weight": "Bolder", "size": "Medium", "color": color},
            {"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in summary.facts]},
            {"type": "TextBlock", "text": f"traceid {summary.traceid}", "isSubtle": True, "size": "Small"},
        ],
    }
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


def slack_message(summary: Summary) -> dict[str, Any]:
    icon = {"good": ":white_check_mark:", "attention": ":eyes:", "bad": ":rotating_light:"}[summary.severity]
    fields = [{"type": "mrkdwn", "text": f"*{label}*\n{_escape(value)}"} for label, value in summary.facts]
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": summary.title}}]
    # A section holds at most 10 fields (Block Kit limit): the rest go in the next section.
    blocks += [{"type": "section", "fields": fields[start : start + 10]} for start in range(0, len(fields), 10)]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"traceid `{summary.traceid}`"}]})
    text = f"{icon} {summary.title}: " + ", ".join(f"{label} {value}" for label, value in summary.facts[:3])
    return {"text": _escape(text), "blocks": blocks}


def _fact(value: Any) -> str:
    """One fact's text; an actor (``{"name", "objectId", "roles"}``) is its name."""
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        value = value["name"]
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_FACT else text[: _MAX_FACT - 1] + "…"


def _escape(text: str) -> str:
    """Slack's three control characters in mrkdwn and text (api.slack.com "Formatting text for app surfaces")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
