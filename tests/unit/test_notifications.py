"""Notification targets (CONTROLPLANE_NOTIFICATIONS), which of them want an event, and the webhook payloads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controlplane.config import InvalidSettings, Settings
from controlplane.domain.event_catalog import EventType
from controlplane.domain.events import Envelope, TraceContext, new_event
from controlplane.domain.notification_formats import render
from controlplane.domain.notifications import (
    NOTIFIABLE,
    InvalidNotifications,
    NotificationTarget,
    WebhookAnswer,
    WebhookFormat,
    backoff_delays,
    parse_targets,
    select_targets,
)
from tests.builders import T0

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SECRET = "https://example.webhook.office.com/webhookb2/secret-token"
SETTINGS = {
    "TEAMS_URL": SECRET,
    "SLACK_URL": "https://hooks.slack.com/services/T/B/secret",
    "LOCAL": "http://127.0.0.1:9/",
}


def event(event_type: EventType, **data: Any) -> Envelope:
    return new_event(
        event_type, event_id="e-1", source="/tests", time=T0, trace=TraceContext(TRACE, "dep-1"), data=data
    )


def drift(**data: Any) -> Envelope:
    return event(EventType.RUNTIME_DRIFT_DETECTED, findingId="f", service="s", classification="review", diff={}, **data)


def targets(*items: dict[str, Any]) -> tuple[NotificationTarget, ...]:
    return parse_targets(json.dumps(list(items)), SETTINGS.get)


def errors(text: str) -> list[str]:
    with pytest.raises(InvalidNotifications) as raised:
        parse_targets(text, SETTINGS.get)
    return [str(error) for error in raised.value.errors]


def test_a_target_reads_its_url_from_the_named_setting_and_defaults_to_every_environment_and_notifiable_type() -> None:
    (target,) = targets({"name": "ops", "urlSetting": "TEAMS_URL", "format": "teams"})
    assert (target.name, target.url, target.format) == ("ops", SECRET, WebhookFormat.TEAMS)
    assert target.environments == frozenset() and target.event_types == frozenset(NOTIFIABLE)
    assert SECRET not in repr(target)


def test_no_setting_or_a_blank_one_means_no_targets() -> None:
    assert parse_targets(None, SETTINGS.get) == () == parse_targets("  ", SETTINGS.get)


def test_every_bad_field_is_named_with_its_reason_and_no_url_appears() -> None:
    document = [
        {"name": "bad name", "urlSetting": "MISSING", "format": "email", "colour": 1},
        {"name": "ok", "urlSetting": "TEAMS_URL", "format": "json", "eventTypes": ["ScalingPolicyApplied"]},
        {"name": "plain", "urlSetting": "INSECURE", "format": "slack", "environments": "prod"},
    ]
    with pytest.raises(InvalidNotifications) as raised:
        parse_targets(json.dumps(document), {**SETTINGS, "INSECURE": "http://example.com/hook?token=t0k"}.get)
    found = [str(error) for error in raised.value.errors]
    parse_targets_errors = "\n".join(found)
    assert "CONTROLPLANE_NOTIFICATIONS[0].colour: unknown key" in parse_targets_errors
    assert "CONTROLPLANE_NOTIFICATIONS[0].name: 1-63 letters" in parse_targets_errors
    assert "CONTROLPLANE_NOTIFICATIONS[0].urlSetting: app setting MISSING is not set" in found
    assert "CONTROLPLANE_NOTIFICATIONS[0].format: one of teams, slack, json (got 'email')" in found
    assert any(
        e.startswith("CONTROLPLANE_NOTIFICATIONS[1].eventTypes: ScalingPolicyApplied not notifiable") for e in found
    )
    assert any(
        e.startswith("CONTROLPLANE_NOTIFICATIONS[2].urlSetting: app setting INSECURE must hold an https URL")
        for e in found
    )
    assert "CONTROLPLANE_NOTIFICATIONS[2].environments: must be a list of non-empty strings" in found
    assert "t0k" not in parse_targets_errors and SECRET not in parse_targets_errors


def test_a_document_that_is_not_a_list_of_objects_is_refused() -> None:
    assert errors("{oops") == [
        "CONTROLPLANE_NOTIFICATIONS: not JSON (Expecting property name enclosed in double quotes at character 1)"
    ]
    assert errors('{"name": "x"}') == ["CONTROLPLANE_NOTIFICATIONS: must be a JSON list of targets"]
    assert errors("[1]") == ["CONTROLPLANE_NOTIFICATIONS[0]: must be an object"]


def test_two_targets_may_not_share_a_name() -> None:
    document = [{"name": "ops", "urlSetting": "TEAMS_URL", "format": "teams"}] * 2
    assert errors(json.dumps(document)) == ["CONTROLPLANE_NOTIFICATIONS[1].name: 'ops' is used by another target"]


def test_settings_validate_the_targets_at_start() -> None:
    environ = {"CONTROLPLANE_STORAGE": "UseDevelopmentStorage=true", "CONTROLPLANE_NOTIFICATIONS": "[{}]"}
    with pytest.raises(InvalidSettings) as raised:
        Settings.from_environment(environ)
    assert "CONTROLPLANE_NOTIFICATIONS[0].name" in str(raised.value)
    fine = {
        **environ,
        "CONTROLPLANE_NOTIFICATIONS": '[{"name": "a", "urlSetting": "A", "format": "json"}]',
        "A": SECRET,
    }
    assert [target.name for target in Settings.from_environment(fine).notifications] == ["a"]


def test_targets_are_chosen_by_environment_and_event_type() -> None:
    prod_failures, everything = targets(
        {
            "name": "prod-failures",
            "urlSetting": "TEAMS_URL",
            "format": "teams",
            "environments": ["prod"],
            "eventTypes": ["RuntimeDeploymentFailed", "RuntimeDeploymentRolledBack"],
        },
        {"name": "all", "urlSetting": "SLACK_URL", "format": "slack"},
    )
    failed = event(EventType.RUNTIME_DEPLOYMENT_FAILED, deploymentId="d", reason="r")
    completed = event(EventType.RUNTIME_DEPLOYMENT_COMPLETED, deploymentId="d", environment="prod", services={})
    chosen = [prod_failures, everything]
    assert select_targets(chosen, failed, "prod") == [prod_failures, everything]
    assert select_targets(chosen, failed, "dev") == [everything]
    assert select_targets(chosen, failed, None) == [everything]
    assert select_targets(chosen, completed, "prod") == [everything]


def test_only_events_an_operator_should_hear_of_are_chosen() -> None:
    (everything,) = targets({"name": "all", "urlSetting": "SLACK_URL", "format": "slack"})
    health = event(EventType.HEALTH_CHECK_COMPLETED, environment="dev", service="s", revision="r", report={})
    awaiting = drift(environment="prod", status="Open")
    approved = drift(environment="dev", status="Approved")
    assert select_targets([everything], health, "dev") == []
    assert select_targets([everything], awaiting, "prod") == [everything]
    assert select_targets([everything], approved, "dev") == []


def test_teams_gets_an_adaptive_card_in_the_incoming_webhook_message() -> None:
    completed = event(
        EventType.RUNTIME_DEPLOYMENT_COMPLETED, deploymentId="dep-1", environment="prod", services={"orders": "r2"}
    )
    message = render(completed, WebhookFormat.TEAMS)
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, facts, trace = card["body"]
    assert (title["text"], title["color"]) == ("Deployment completed", "Good")
    assert {"title": "Environment", "value": "prod"} in facts["facts"]
    assert {"title": "Services", "value": "orders -> r2"} in facts["facts"]
    assert TRACE in trace["text"]


def test_slack_gets_fallback_text_and_blocks_with_markup_escaped() -> None:
    failed = event(EventType.RUNTIME_DEPLOYMENT_FAILED, deploymentId="dep-1", reason="quota <exceeded> & more")
    message = render(failed, WebhookFormat.SLACK)
    assert message["text"].startswith(":rotating_light: Deployment failed: Deployment dep-1")
    header, section, context = message["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "Deployment failed"}}
    assert {"type": "mrkdwn", "text": "*Reason*\nquota &lt;exceeded&gt; &amp; more"} in section["fields"]
    assert TRACE in context["elements"][0]["text"]


def test_json_gets_the_cloudevent_itself() -> None:
    incident = event(
        EventType.RUNTIME_INCIDENT_RAISED,
        incidentId="i",
        environment="prod",
        reason="r",
        services=["orders"],
        deploymentId="d",
        chain=[],
    )
    assert render(incident, WebhookFormat.JSON) == incident.to_dict()


def test_retryable_answers_and_backoff() -> None:
    assert [WebhookAnswer(status).retryable for status in (None, 408, 429, 500, 503, 400, 403, 404)] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert WebhookAnswer(204).delivered and not WebhookAnswer(302).delivered
    assert backoff_delays(3, 1.0, 8.0) == [1.0, 2.0]
    assert backoff_delays(5, 1.0, 4.0) == [1.0, 2.0, 4.0, 4.0]
    assert backoff_delays(1, 1.0, 8.0) == []


def test_an_approval_request_asks_in_amber_what_it_waits_for() -> None:
    asked = event(
        EventType.RUNTIME_DEPLOYMENT_APPROVAL_REQUESTED,
        deploymentId="dep-1",
        environment="prod",
        **{"for": "promotion to prod"},
    )
    (everything,) = targets({"name": "all", "urlSetting": "TEAMS_URL", "format": "teams"})
    assert select_targets([everything], asked, "prod") == [everything]
    title, facts, _ = render(asked, WebhookFormat.TEAMS)["attachments"][0]["content"]["body"]
    assert (title["text"], title["color"]) == ("Approval needed", "Warning")
    assert {"title": "Waiting for", "value": "promotion to prod"} in facts["facts"]


def test_an_actor_is_shown_by_name() -> None:
    ana = {"name": "ana@contoso.com", "objectId": "oid-ana", "roles": ["Deployer"]}
    asked = event(
        EventType.RUNTIME_DEPLOYMENT_APPROVAL_REQUESTED,
        deploymentId="dep-1",
        environment="prod",
        requestedBy=ana,
        **{"for": "promotion to prod"},
    )
    _, facts, _ = render(asked, WebhookFormat.TEAMS)["attachments"][0]["content"]["body"]
    assert {"title": "Requested by", "value": "ana@contoso.com"} in facts["facts"]
    assert "oid-ana" not in json.dumps(render(asked, WebhookFormat.SLACK))


def test_an_analysis_hold_asks_an_operator_in_amber_why_the_rollout_waits() -> None:
    held = event(
        EventType.RUNTIME_ANALYSIS_HELD,
        deploymentId="dep-1",
        environment="prod",
        service="orders",
        gate=1,
        step="canary step 1: 10% traffic on 1 replicas",
        reason="request-success-rate: no value (router unreachable)",
        actionRequired=True,
        timeoutSeconds=None,
        onTimeout="rollback",
    )
    (everything,) = targets({"name": "all", "urlSetting": "TEAMS_URL", "format": "teams"})
    assert select_targets([everything], held, "prod") == [everything]
    title, facts, _ = render(held, WebhookFormat.TEAMS)["attachments"][0]["content"]["body"]
    assert (title["text"], title["color"]) == ("Rollout held: metric analysis inconclusive", "Warning")
    assert {"title": "Gate", "value": "canary step 1: 10% traffic on 1 replicas"} in facts["facts"]
    assert {"title": "Reason", "value": "request-success-rate: no value (router unreachable)"} in facts["facts"]
