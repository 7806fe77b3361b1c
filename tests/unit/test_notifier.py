"""The notifier over fakes: one POST per wanting target, bounded retries, at most once per (target, event)."""

from __future__ import annotations

import json

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.domain.event_catalog import EventType
from controlplane.domain.events import Envelope, TraceContext, new_event
from controlplane.domain.notifications import WebhookAnswer, parse_targets
from controlplane.services.notifier import NotificationFailed, Notifier
from controlplane.testing.memory_documents import memory_stores
from controlplane.testing.webhooks import ScriptedWebhooks
from tests.builders import T0, deployment

TEAMS = "https://teams.example/hook"
SLACK = "https://slack.example/hook"
URLS = {"TEAMS_URL": TEAMS, "SLACK_URL": SLACK}
TARGETS = [
    {"name": "prod-teams", "urlSetting": "TEAMS_URL", "format": "teams", "environments": ["prod"]},
    {"name": "all-slack", "urlSetting": "SLACK_URL", "format": "slack"},
]
BUSY = WebhookAnswer(500, "Internal Server Error")


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def notifier(store: Stores, webhooks: ScriptedWebhooks, sleeps: Sleeps) -> Notifier:
    return Notifier(
        targets=parse_targets(json.dumps(TARGETS), URLS.get),
        processed_events=store.processed_events,
        deployments=store.deployments,
        poster=webhooks,
        sleep=sleeps,
    )


def completed(environment: str, event_id: str = "e-1") -> Envelope:
    return new_event(
        EventType.RUNTIME_DEPLOYMENT_COMPLETED,
        event_id=event_id,
        source="/tests",
        time=T0,
        trace=TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "dep-1"),
        data={"deploymentId": "dep-1", "environment": environment, "services": {"orders": "r1"}},
    )


@pytest.fixture
def store() -> Stores:
    return memory_stores()


def test_each_wanting_target_gets_one_post_and_a_redelivery_posts_nothing(store: Stores) -> None:
    webhooks, sleeps = ScriptedWebhooks(), Sleeps()
    notify = notifier(store, webhooks, sleeps)
    assert notify.on_event(completed("prod"), T0) == ["prod-teams", "all-slack"]
    assert notify.on_event(completed("prod"), T0) == []
    assert notify.on_event(completed("dev", "e-2"), T0) == ["all-slack"]
    assert len(webhooks.posted_to(TEAMS)) == 1 and len(webhooks.posted_to(SLACK)) == 2
    assert webhooks.posted_to(TEAMS)[0]["type"] == "message" and "blocks" in webhooks.posted_to(SLACK)[0]


def test_a_server_error_is_retried_with_backoff_within_the_delivery(store: Stores) -> None:
    webhooks, sleeps = ScriptedWebhooks(), Sleeps()
    webhooks.script(SLACK, BUSY, WebhookAnswer(429, "Too Many Requests", retry_after=5.0), WebhookAnswer(200))
    assert notifier(store, webhooks, sleeps).on_event(completed("dev"), T0) == ["all-slack"]
    assert len(webhooks.posted_to(SLACK)) == 3
    assert sleeps == [1.0, 5.0]  # the doubling backoff, then the receiver's longer Retry-After


def test_a_target_that_keeps_failing_fails_the_delivery_and_only_it_is_posted_again(store: Stores) -> None:
    webhooks, sleeps = ScriptedWebhooks(), Sleeps()
    webhooks.script(TEAMS, BUSY)
    notify = notifier(store, webhooks, sleeps)
    with pytest.raises(NotificationFailed) as raised:
        notify.on_event(completed("prod"), T0)
    assert str(raised.value) == "notification of event e-1 failed for prod-teams: HTTP 500 Internal Server Error"
    assert TEAMS not in str(raised.value)
    assert len(webhooks.posted_to(TEAMS)) == 3 and sleeps == [1.0, 2.0]
    webhooks.script(TEAMS, WebhookAnswer(200))
    assert notify.on_event(completed("prod"), T0) == ["prod-teams"]  # the redelivery
    assert len(webhooks.posted_to(TEAMS)) == 4 and len(webhooks.posted_to(SLACK)) == 1


def test_a_client_error_is_not_retried_within_the_delivery(store: Stores) -> None:
    webhooks, sleeps = ScriptedWebhooks(), Sleeps()
    webhooks.script(SLACK, WebhookAnswer(404, "Not Found"))
    with pytest.raises(NotificationFailed, match="all-slack: HTTP 404 Not Found"):
        notifier(store, webhooks, sleeps).on_event(completed("dev"), T0)
    assert len(webhooks.posted_to(SLACK)) == 1 and sleeps == []


def test_no_answer_is_named_in_the_failure(store: Stores) -> None:
    webhooks, sleeps = ScriptedWebhooks(), Sleeps()
    webhooks.script(SLACK, WebhookAnswer(None, "Connection refused"))
    with pytest.raises(NotificationFailed, match=r"all-slack: no answer \(Connection refused\)"):
        notifier(store, webhooks, sleeps).on_event(completed("dev"), T0)


def test_an_event_naming_only_its_deployment_is_filtered_by_the_deployments_environment(store: Stores) -> None:
    store.deployments.create_deployment(deployment("dep-9", environment="prod"))
    rolled_back = new_event(
        EventType.RUNTIME_DEPLOYMENT_ROLLED_BACK,
        event_id="e-9",
        source="/tests",
        time=T0,
        trace=TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "dep-9"),
        data={"deploymentId": "dep-9", "reason": "gate failed", "restoredDeploymentId": "dep-8"},
    )
    webhooks = ScriptedWebhooks()
    assert notifier(store, webhooks, Sleeps()).on_event(rolled_back, T0) == ["prod-teams", "all-slack"]
