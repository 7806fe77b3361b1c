"""Notifications end to end: the product's host (``python -m controlplane up``) runs a deployment to
completion, its event travels the local bus to the ``notifications`` subscription, and the consumer POSTs it over
a real socket to a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from funchost.azurite import Azurite
from tests.e2e.host_process import HostProcess, product_settings
from tests.e2e.test_deployments_api import deploy, example, settle
from tests.webhook_receiver import WebhookReceiver, webhook_receiver

ENVIRONMENT = "e2enotify"
# The consumer tries the targets in this order, so once "ops" has its post the other two were already passed over.
TARGETS = [
    {"name": "elsewhere", "urlSetting": "HOOK_ELSEWHERE", "format": "json", "environments": ["staging"]},
    {
        "name": "rollbacks",
        "urlSetting": "HOOK_ROLLBACKS",
        "format": "slack",
        "eventTypes": ["RuntimeDeploymentRolledBack"],
    },
    {"name": "ops", "urlSetting": "HOOK_OPS", "format": "teams", "environments": [ENVIRONMENT]},
]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def product(azurite: Azurite, tmp_path: Path, receiver: WebhookReceiver) -> Iterator[HostProcess]:
    settings = product_settings(
        tmp_path,
        CONTROLPLANE_NOTIFICATIONS=json.dumps(TARGETS),
        CONTROLPLANE_NOTIFICATIONS_BACKOFF_SECONDS="0",
        HOOK_ELSEWHERE=f"{receiver.url}/elsewhere",
        HOOK_ROLLBACKS=f"{receiver.url}/rollbacks",
        HOOK_OPS=f"{receiver.url}/ops",
    )
    host = HostProcess(azurite.connection_string, "function_app:app", tmp_path, settings)
    host.start()
    yield host
    host.stop()


def test_a_completed_deployment_is_posted_once_to_the_one_target_that_wants_it(
    product: HostProcess, receiver: WebhookReceiver
) -> None:
    receiver.script("/ops", 500, 200)  # the first try fails: the consumer retries within the delivery
    accepted = deploy(product, example("v1-rolling", ENVIRONMENT))
    assert settle(product, accepted["deploymentId"])["state"] == "Completed"

    posts = receiver.wait_for("/ops", 2, timeout=60)

    assert [status for path, status in receiver.answered] == [500, 200]
    assert posts[0] == posts[1]
    card = posts[1]["attachments"][0]["content"]
    facts = {fact["title"]: fact["value"] for fact in card["body"][1]["facts"]}
    assert card["body"][0]["text"] == "Deployment completed"
    assert (facts["Environment"], facts["Deployment"]) == (ENVIRONMENT, accepted["deploymentId"])
    assert accepted["traceId"] in card["body"][2]["text"]
    assert receiver.posted_to("/elsewhere") == [] and receiver.posted_to("/rollbacks") == []
