"""The HookCaller port over HTTP: a rollout webhook's call as Flagger makes it, signed like Stripe's.

Each attempt POSTs the call's body as compact UTF-8 JSON with ``X-ControlPlane-Event`` (the hook's type) and
``X-ControlPlane-Delivery`` (the call's id, the same on every attempt); when the call names a signing setting,
each attempt also gets a fresh ``X-ControlPlane-Timestamp`` and ``X-ControlPlane-Signature`` (the wire contract
is ``controlplane.domain.hooks``). The setting is read from the app settings when the call is made, as Azure
hands app settings and resolved Key Vault references to the worker: a setting that is unset, empty or an
unresolved Key Vault reference fails the call before anything is sent, naming the setting, never its value.

Retries: an attempt with no answer (refused, timed out, cut off), 408, 429 or 5xx is tried again, up to
``call.retries`` more times; any other answer is the receiver's word and ends the call (a 4xx is not retried,
a 3xx is not followed: the manifest named the URL that answers). Before retry n the caller waits the backoff,
or the answer's Retry-After (delay-seconds) when that is longer, up to 30 s::

    retry   backoff (±25 % jitter, at most 8 s)
    1       0.5 s
    2       1 s
    3       2 s
    4       4 s
    5+      8 s

Worst case: the call runs inside a Durable activity (``functionTimeout`` is 10 minutes in host.json), so it has a
budget, ``budget_seconds`` (default 300 s). An attempt takes at most ``timeout_seconds`` plus one second of grace
(a receiver that trickles its answer in is cut off there), and no retry starts that could end past the budget.
A call therefore ends within ``min(budget, (retries + 1) * (timeout + 1) + waits)``, each wait at most 30 s:
with the manifest's defaults (10 s, 2 retries) 33 s of attempts and under 2 s of backoff (up to 60 s of waits
if the receiver sends Retry-After); at its limits (60 s, 10 retries) 300 s, after as many attempts as fit.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping

from opentelemetry.trace import SpanKind

from controlplane.adapters.http.webhook import no_redirects, post_bytes
from controlplane.domain.hooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    HookCall,
    HookOutcome,
    shown_url,
    signature,
)
from controlplane.domain.notifications import WebhookAnswer, backoff_delays
from controlplane.telemetry import traced

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
RETRY_AFTER_CAP_SECONDS = 30.0
CALL_BUDGET_SECONDS = 300.0
# Past the socket timeout, how long an answer still trickling in may take before the attempt counts as no answer.
GRACE_SECONDS = 1.0
# Azure leaves an app setting's Key Vault reference as it is when it cannot resolve it.
_UNRESOLVED_REFERENCE = "@Microsoft.KeyVault("


class SignedHookCaller:
    """Calls rollout webhooks over HTTP(S); never raises.

    ``app_settings`` holds the signing secrets by setting name (default: the process environment, read at each
    call). ``sleep``, ``clock`` (Unix time: the signed timestamps), ``timer`` (monotonic: the budget) and
    ``jitter`` (a number in [0, 1)) are injectable for tests.
    """

    def __init__(
        self,
        app_settings: Mapping[str, str] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        budget_seconds: float = CALL_BUDGET_SECONDS,
        grace_seconds: float = GRACE_SECONDS,
    ) -> None:
        self._app_settings = app_settings
        self._sleep = sleep
        self._clock = clock
        self._timer = timer
        self._jitter = jitter
        self._budget = budget_seconds
        self._grace = grace_seconds
        self._opener = no_redirects()

    def call(self, call: HookCall) -> HookOutcome:
        """POST the call's body, retrying as the module says; the last answer and why the call failed, if it did."""
        where = shown_url(call.url)
        with traced("hook call", kind=SpanKind.CLIENT, hook=call.hook, hook_type=call.type, url=where) as span:
            try:
                outcome = self._call(call, where)
            except Exception as error:  # a bug here must fail the call, not the activity that judges it
                log.exception("hook %s (%s): the call failed unexpectedly", call.hook, where)
                outcome = HookOutcome(None, 0, f"the call failed unexpectedly ({type(error).__name__})")
            span.set_attribute("hook.attempts", outcome.attempts)
            if outcome.status is not None:
                span.set_attribute("http.status_code", outcome.status)
            return outcome

    def _call(self, call: HookCall, where: str) -> HookOutcome:
        secret, refusal = self._secret(call.signing_setting)
        if refusal is not None:
            return HookOutcome(None, 0, refusal)
        try:
            data = json.dumps(call.body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as error:
            return HookOutcome(None, 0, f"the body is not JSON ({error})")
        started = self._timer()
        attempt_limit = call.timeout_seconds + self._grace
        delays = backoff_delays(call.retries + 1, BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS)
        attempts = 0
        while True:
            answer = self._attempt(call, data, secret)
            attempts += 1
            if answer.delivered:
                return HookOutcome(answer.status, attempts)
            if not answer.retryable:
                return HookOutcome(answer.status, attempts, _refused(answer, attempts))
            if attempts > len(delays):
                return HookOutcome(answer.status, attempts, f"{answer.describe()} after {_times(attempts)}")
            wait = self._wait(delays[attempts - 1], answer)
            if self._timer() - started + wait + attempt_limit > self._budget:
                gave_up = f"gave up: another attempt could end past the call's {self._budget:g} s budget"
                return HookOutcome(answer.status, attempts, f"{answer.describe()} after {_times(attempts)}; {gave_up}")
            got = answer.describe()
            log.warning("hook %s (%s): attempt %d got %s; retrying in %.1f s", call.hook, where, attempts, got, wait)
            self._sleep(wait)

    def _secret(self, setting: str | None) -> tuple[bytes | None, str | None]:
        """The signing key the setting holds (None: unsigned), or why the call must not be made."""
        if setting is None:
            return None, None
        settings = self._app_settings if self._app_settings is not None else os.environ
        value = settings.get(setting, "")
        if not value.strip():
            return None, f"signing secret setting {setting} is unset or empty: nothing sent (set the app setting)"
        if value.startswith(_UNRESOLVED_REFERENCE):
            return None, (
                f"signing secret setting {setting} holds a Key Vault reference Azure could not resolve (check the "
                "app's identity may get the secret): nothing sent"
            )
        return value.encode("utf-8"), None

    def _attempt(self, call: HookCall, data: bytes, secret: bytes | None) -> WebhookAnswer:
        """One POST, freshly signed, cut off at the timeout plus the grace even when the answer trickles in."""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "controlplane-hooks",
            EVENT_HEADER: call.type,
            DELIVERY_HEADER: call.delivery,
        }
        if secret is not None:
            timestamp = int(self._clock())
            headers |= {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, data)}
        answers: list[WebhookAnswer] = []

        def post() -> None:
            try:
                answers.append(post_bytes(self._opener, call.url, data, headers, call.timeout_seconds))
            except Exception as error:  # post_bytes turns the receiver's failures into answers: this is a bug
                log.exception("hook %s (%s): the request failed unexpectedly", call.hook, shown_url(call.url))
                answers.append(WebhookAnswer(None, f"the request failed unexpectedly ({type(error).__name__})"))

        # A daemon thread: one left hanging on a trickling receiver ends with its socket's next timeout.
        worker = threading.Thread(target=post, name=f"hook-{call.hook}", daemon=True)
        worker.start()
        worker.join(call.timeout_seconds + self._grace)
        if not answers:
            return WebhookAnswer(None, f"no complete answer within {call.timeout_seconds + self._grace:g} s")
        return answers[0]

    def _wait(self, backoff: float, answer: WebhookAnswer) -> float:
        jittered = min(backoff * (0.75 + self._jitter() / 2), BACKOFF_CAP_SECONDS)
        return max(jittered, min(answer.retry_after or 0.0, RETRY_AFTER_CAP_SECONDS))


def _refused(answer: WebhookAnswer, attempts: int) -> str:
    if answer.status is not None and 300 <= answer.status < 400:
        return f"{answer.describe()}: redirects are not followed (after {_times(attempts)})"
    return f"{answer.describe()} after {_times(attempts)} (not retried: the receiver's answer)"


def _times(attempts: int) -> str:
    return "1 attempt" if attempts == 1 else f"{attempts} attempts"
