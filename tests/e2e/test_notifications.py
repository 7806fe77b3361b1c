"""Notifications end to end: the product's host (``python -m controlplane up``) runs a prod deployment, which
waits for an approval and then completes; each event travels the local bus to the ``notifications``
subscription, and the consumer POSTs it over a real socket to a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from funchost.azurite import Azurite
from tests.e2e.host_process import OPERATOR, HostProcess, product_settings
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


def test_a_prod_deployment_asks_for_approval_then_reports_completion_once_each_to_the_one_target_that_wants_it(
    product: HostProcess, receiver: WebhookReceiver
) -> None:
    receiver.script("/ops", 500, 200)  # the first try fails: the consumer retries within the delivery
    release = example("v1-rolling", ENVIRONMENT)
    release["spec"]["environment"]["tier"] = "prod"
    accepted = deploy(product, release)

    asked = receiver.wait_for("/ops", 2, timeout=60)
    approver = product.bearer_token("e2e-approver", ["Approver"])  # four-eyes: not the requester
    code, body = product.request(
        "POST", f"/api/deployments/{accepted['deploymentId']}/approve", {"reason": "CHG-7"}, token=approver
    )
    assert code == 202, body
    assert settle(product, accepted["deploymentId"])["state"] == "Completed"
    posts = receiver.wait_for("/ops", 3, timeout=60)

    assert [status for _path, status in receiver.answered] == [500, 200, 200]
    assert asked[0] == asked[1] == posts[1]
    cards = [post["attachments"][0]["content"] for post in posts[1:]]
    assert [card["body"][0]["text"] for card in cards] == ["Approval needed", "Deployment completed"]
    facts = [{fact["title"]: fact["value"] for fact in card["body"][1]["facts"]} for card in cards]
    assert facts[0]["Waiting for"] == "promotion to prod" and facts[0]["Requested by"] == OPERATOR
    assert {(f["Environment"], f["Deployment"]) for f in facts} == {(ENVIRONMENT, accepted["deploymentId"])}
    assert all(accepted["traceId"] in card["body"][2]["text"] for card in cards)
    assert receiver.posted_to("/elsewhere") == [] and receiver.posted_to("/rollbacks") == []
