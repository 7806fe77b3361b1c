"""The signed HookCaller over real sockets on 127.0.0.1: a receiver that verifies each request with ``verify``,
records it, and answers scripted statuses, delays and headers. Waits between attempts go to a fake clock."""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from controlplane.adapters.http.hooks import RETRY_AFTER_CAP_SECONDS, SignedHookCaller
from controlplane.domain.hooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    HookCall,
    HookOutcome,
)
from controlplane.domain.manifest.webhooks import Webhook
from tests.contracts.hook_caller import HookCallerContract
from tests.webhook_receiver import Answer, WebhookReceiver, webhook_receiver

SECRET = "whsec-k3y-of-the-test"
SETTINGS = {"HOOK_SIGNING_KEY": SECRET}


class FakeTime:
    """Unix time (for the signatures) and a monotonic timer that move only when the caller sleeps."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))  # the receiver checks timestamps against its real clock
        self.started = self.now
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def timer(self) -> float:
        return self.now - self.started


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver(SECRET.encode()) as receiving:
        yield receiving


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def unreachable() -> Iterator[str]:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))  # bound, never listening: every connection is refused
        yield f"http://127.0.0.1:{bound.getsockname()[1]}/hooks/secret-path?token=abc"


def caller_with(fake_time: FakeTime, settings: dict[str, str] = SETTINGS, **options: float) -> SignedHookCaller:
    return SignedHookCaller(
        settings, sleep=fake_time.sleep, clock=lambda: fake_time.now, timer=fake_time.timer, jitter=lambda: 0.5,
        **options,
    )  # fmt: skip


def hook_call(url: str, *, retries: int = 2, timeout: int = 5, setting: str | None = "HOOK_SIGNING_KEY") -> HookCall:
    body = {"hook": "load-test", "type": "rollout", "deploymentId": "dep-1", "service": "api"}
    return HookCall("load-test", "rollout", url, "delivery-1", timeout, retries, setting, body)


class TestSignedHookCallerContract(HookCallerContract):
    @pytest.fixture
    def caller(self, fake_time: FakeTime) -> SignedHookCaller:
        return caller_with(fake_time)

    @pytest.fixture
    def answering(self, receiver: WebhookReceiver, unreachable: str) -> Callable[..., HookCall]:
        paths = (f"/hooks/{number}" for number in itertools.count())

        def answering(*statuses: int | None, retries: int = 2) -> HookCall:
            if statuses == (None,):
                return hook_call(unreachable, retries=retries)
            path = next(paths)
            receiver.script(path, *(status for status in statuses if status is not None))
            return hook_call(receiver.url + path, retries=retries)

        return answering


def test_a_signed_call_posts_the_documented_body_and_headers(receiver: WebhookReceiver, fake_time: FakeTime) -> None:
    webhook = Webhook.model_validate(
        {
            "name": "load-test",
            "type": "rollout",
            "url": receiver.url + "/gate",
            "signingSecret": {"setting": "HOOK_SIGNING_KEY"},
            "metadata": {"cmd": "hey -z 1m http://api"},
        }
    )
    where = {"deploymentId": "dep-1", "traceId": "a" * 32, "service": "api", "gate": "canary step 1: 20 %"}
    call = HookCall.of(webhook, "dep-1/api/rollout/load-test/1", where)
    outcome = caller_with(fake_time).call(call)
    assert outcome == HookOutcome(200, 1, None)
    [delivery] = receiver.delivered_to("/gate")
    assert delivery.verified is True
    assert delivery.body == {
        "hook": "load-test",
        "type": "rollout",
        **where,
        "metadata": {"cmd": "hey -z 1m http://api"},
    }
    assert delivery.raw == json.dumps(delivery.body, separators=(",", ":"), ensure_ascii=False).encode()
    assert delivery.headers["Content-Type"] == "application/json; charset=utf-8"
    assert delivery.headers[EVENT_HEADER] == "rollout"
    assert delivery.headers[DELIVERY_HEADER] == "dep-1/api/rollout/load-test/1"
    assert delivery.headers[TIMESTAMP_HEADER] == str(int(fake_time.now))


def test_the_body_is_utf8_json_as_signed(receiver: WebhookReceiver, fake_time: FakeTime) -> None:
    call = HookCall("hook", "rollout", receiver.url + "/utf8", "d", 5, 0, "HOOK_SIGNING_KEY", {"note": "Grüße ✓"})
    assert caller_with(fake_time).call(call).succeeded
    [delivery] = receiver.delivered_to("/utf8")
    assert delivery.verified is True and delivery.raw == '{"note":"Grüße ✓"}'.encode()


def test_an_unsigned_call_has_no_signature_headers(receiver: WebhookReceiver, fake_time: FakeTime) -> None:
    outcome = caller_with(fake_time, settings={}).call(hook_call(receiver.url + "/plain", setting=None))
    assert outcome.succeeded
    [delivery] = receiver.delivered_to("/plain")
    assert delivery.headers[TIMESTAMP_HEADER] is None and delivery.headers[SIGNATURE_HEADER] is None
    assert delivery.verified is False and delivery.headers[DELIVERY_HEADER] == "delivery-1"


def test_a_server_error_is_retried_with_backoff_under_the_same_delivery(
    receiver: WebhookReceiver, fake_time: FakeTime
) -> None:
    receiver.script("/flaky", 503, 502, 200)
    outcome = caller_with(fake_time).call(hook_call(receiver.url + "/flaky", retries=3))
    assert outcome == HookOutcome(200, 3, None)
    assert fake_time.slept == [0.5, 1.0]  # jitter 0.5 is the middle of ±25 %
    deliveries = receiver.delivered_to("/flaky")
    assert [d.headers[DELIVERY_HEADER] for d in deliveries] == ["delivery-1"] * 3
    assert all(d.verified for d in deliveries) and len({d.raw for d in deliveries}) == 1


def test_each_attempt_is_signed_afresh_and_retry_after_is_honoured(
    receiver: WebhookReceiver, fake_time: FakeTime
) -> None:
    receiver.script("/busy", Answer(503, headers={"Retry-After": "7"}), 200)
    outcome = caller_with(fake_time).call(hook_call(receiver.url + "/busy"))
    assert outcome == HookOutcome(200, 2, None) and fake_time.slept == [7.0]
    first, second = receiver.delivered_to("/busy")
    assert int(second.headers[TIMESTAMP_HEADER]) == int(first.headers[TIMESTAMP_HEADER]) + 7
    assert first.headers[SIGNATURE_HEADER] != second.headers[SIGNATURE_HEADER]
    assert first.verified and second.verified


def test_a_long_retry_after_is_capped(receiver: WebhookReceiver, fake_time: FakeTime) -> None:
    receiver.script("/throttled", Answer(429, headers={"Retry-After": "3600"}), 204)
    outcome = caller_with(fake_time).call(hook_call(receiver.url + "/throttled"))
    assert outcome == HookOutcome(204, 2, None) and fake_time.slept == [RETRY_AFTER_CAP_SECONDS]


def test_a_client_error_is_the_receivers_answer_and_is_not_retried(
    receiver: WebhookReceiver, fake_time: FakeTime
) -> None:
    receiver.script("/refuses", 400)
    outcome = caller_with(fake_time).call(hook_call(receiver.url + "/refuses", retries=5))
    assert (outcome.status, outcome.attempts) == (400, 1) and "not retried" in (outcome.error or "")
    assert len(receiver.delivered_to("/refuses")) == 1 and fake_time.slept == []


def test_a_redirect_is_not_followed(receiver: WebhookReceiver, fake_time: FakeTime) -> None:
    receiver.script("/moved", Answer(307, headers={"Location": "/elsewhere"}))
    outcome = caller_with(fake_time).call(hook_call(receiver.url + "/moved"))
    assert (outcome.status, outcome.attempts) == (307, 1) and "redirects are not followed" in (outcome.error or "")
    assert [path for path, _ in receiver.posts] == ["/moved"]


def test_an_unreachable_receiver_is_no_answer_after_every_attempt_naming_no_url(
    unreachable: str, fake_time: FakeTime
) -> None:
    outcome = caller_with(fake_time).call(hook_call(unreachable, retries=2))
    assert (outcome.status, outcome.attempts) == (None, 3)
    error = outcome.error or ""
    assert "refused" in error and "3 attempts" in error
    assert "secret-path" not in error and "token" not in error and unreachable.split(":")[2][:4] not in error


@pytest.mark.parametrize("settings", [{}, {"HOOK_SIGNING_KEY": ""}, {"HOOK_SIGNING_KEY": "  "}])
def test_a_missing_signing_setting_fails_the_call_before_sending(
    receiver: WebhookReceiver, fake_time: FakeTime, settings: dict[str, str]
) -> None:
    outcome = caller_with(fake_time, settings).call(hook_call(receiver.url + "/never", retries=3))
    assert (outcome.status, outcome.attempts, outcome.succeeded) == (None, 0, False)
    assert "HOOK_SIGNING_KEY" in (outcome.error or "")
    assert receiver.posts == [] and fake_time.slept == []


def test_an_unresolved_key_vault_reference_fails_the_call_before_sending(
    receiver: WebhookReceiver, fake_time: FakeTime
) -> None:
    reference = "@Microsoft.KeyVault(SecretUri=https://vault.vault.azure.net/secrets/hook-key/)"
    outcome = caller_with(fake_time, {"HOOK_SIGNING_KEY": reference}).call(hook_call(receiver.url + "/never"))
    assert (outcome.status, outcome.attempts) == (None, 0)
    assert "HOOK_SIGNING_KEY" in (outcome.error or "") and "Key Vault" in (outcome.error or "")
    assert "vault.azure.net" not in (outcome.error or "") and receiver.posts == []


def test_the_secret_is_never_in_an_error_or_a_log(
    receiver: WebhookReceiver, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.script("/down", 500)
    with caplog.at_level(logging.DEBUG):
        outcome = caller_with(fake_time).call(hook_call(receiver.url + "/down", retries=2))
    assert outcome.attempts == 3 and "retrying" in caplog.text
    assert SECRET not in (outcome.error or "") and SECRET not in caplog.text


def test_retries_stop_where_another_attempt_could_pass_the_budget(
    receiver: WebhookReceiver, fake_time: FakeTime
) -> None:
    receiver.script("/down", 503)
    # Each attempt may take 1 s + 1 s grace; waits 0.5, 1, 2: a fourth attempt could end at 1.5 + 2 + 2 > 5.
    caller = caller_with(fake_time, budget_seconds=5)
    outcome = caller.call(hook_call(receiver.url + "/down", retries=10, timeout=1))
    assert (outcome.status, outcome.attempts) == (503, 3) and "budget" in (outcome.error or "")
    assert fake_time.slept == [0.5, 1.0]


def test_a_body_that_is_not_json_fails_the_call_without_raising(fake_time: FakeTime) -> None:
    call = HookCall("hook", "rollout", "http://127.0.0.1:9/x", "d", 5, 2, None, {"ratio": float("nan")})
    outcome = caller_with(fake_time).call(call)
    assert (outcome.status, outcome.attempts) == (None, 0) and "not JSON" in (outcome.error or "")


@pytest.mark.slow
def test_a_receiver_slower_than_the_timeout_is_no_answer_and_is_retried(
    receiver: WebhookReceiver, fake_time: FakeTime
) -> None:
    receiver.script("/slow", Answer(200, delay=1.6), 200)
    outcome = caller_with(fake_time).call(hook_call(receiver.url + "/slow", retries=1, timeout=1))
    assert outcome == HookOutcome(200, 2, None)
    assert len(receiver.delivered_to("/slow")) == 2


@pytest.mark.slow
def test_an_answer_that_trickles_in_is_cut_off_at_the_timeout_plus_the_grace(fake_time: FakeTime) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        stop = threading.Event()

        def trickle() -> None:  # a header line every 0.3 s: each read is within the socket timeout, forever
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                while not stop.wait(0.3):
                    try:
                        connection.sendall(b"X-Still-Here: 1\r\n")
                    except OSError:
                        return

        threading.Thread(target=trickle, daemon=True).start()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/trickle"
        outcome = caller_with(fake_time, grace_seconds=0.5).call(hook_call(url, retries=0, timeout=1))
        stop.set()
    assert (outcome.status, outcome.attempts) == (None, 1)
    assert "no complete answer within 1.5 s" in (outcome.error or "")
