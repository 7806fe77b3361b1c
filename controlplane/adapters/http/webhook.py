"""The WebhookPoster port over HTTP (urllib): one JSON POST with a timeout, the answer as data.

Redirects are not followed: Teams, Slack and Workflows webhooks answer for themselves, and a redirected POST
would either turn into a GET (302/303) or resend the notification somewhere the setting never named. The URL
carries the webhook's secret, so nothing here logs it or puts it into a reason; urllib's errors name the
status or the socket error only.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import Message
from typing import Any

from controlplane.domain.notifications import WebhookAnswer

_MAX_RETRY_AFTER = 60.0


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_arguments: Any, **_keywords: Any) -> None:
        return None  # the 3xx comes back as an HTTPError: an answer, not a delivery


def no_redirects() -> urllib.request.OpenerDirector:
    """A urllib opener that never follows a redirect: a 3xx is the receiver's answer."""
    return urllib.request.build_opener(_NoRedirects())


class HttpWebhookPoster:
    """POSTs ``application/json`` bodies; ``timeout_seconds`` bounds connecting and each read."""

    def __init__(self, timeout_seconds: float = 10.0) -> None:
        self._timeout = timeout_seconds
        self._opener = no_redirects()

    def post(self, url: str, body: Mapping[str, Any]) -> WebhookAnswer:
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        return post_bytes(self._opener, url, data, {"Content-Type": "application/json; charset=utf-8"}, self._timeout)


def post_bytes(
    opener: urllib.request.OpenerDirector, url: str, data: bytes, headers: Mapping[str, str], timeout: float
) -> WebhookAnswer:
    """One POST of ``data`` with ``headers``; ``timeout`` bounds connecting and each read. The answer's status
    (and Retry-After), or status None and why no answer came; the reason never names the URL. Never raises for
    the receiver's failures (refused, timed out, a garbled answer, a URL urllib cannot send to)."""
    try:
        request = urllib.request.Request(url, data=data, method="POST", headers=dict(headers))
        with opener.open(request, timeout=timeout) as response:
            response.read()
            return WebhookAnswer(response.status, response.reason or "")
    except urllib.error.HTTPError as error:
        with error:
            return WebhookAnswer(error.code, error.reason or "", _retry_after(error.headers))
    except urllib.error.URLError as error:
        return WebhookAnswer(None, _socket_reason(error.reason))
    except TimeoutError:
        return WebhookAnswer(None, f"timed out after {timeout:g} s")
    except OSError as error:
        return WebhookAnswer(None, error.strerror or type(error).__name__)
    # These messages may quote the URL: only the kind of failure is named.
    except http.client.HTTPException as error:
        return WebhookAnswer(None, f"no valid HTTP answer ({type(error).__name__})")
    except ValueError:
        return WebhookAnswer(None, "the URL cannot be requested")


def _socket_reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError):
        return reason.strerror or type(reason).__name__
    return str(reason)


def _retry_after(headers: Message | None) -> float | None:
    """Retry-After in seconds (RFC 9110 delay-seconds; an HTTP-date is ignored), at most a minute."""
    value = headers.get("Retry-After") if headers is not None else None
    if value is None or not value.strip().isdigit():
        return None
    return min(float(value), _MAX_RETRY_AFTER)
