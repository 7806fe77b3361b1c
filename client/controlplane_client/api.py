"""The control plane's public HTTP API over urllib: credentials, JSON in and out, problem+json as ApiError, and the
retries a pipeline step wants (503/429 after their Retry-After; network errors only where a repeat is safe)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

Credentials = Callable[[], dict[str, str]]
"""The headers that authenticate one request (called per request, so a token can be refreshed)."""

MAX_RETRY_AFTER_SECONDS = 60.0  # a server asking for longer is treated as down: the retries run out sooner


class ApiError(Exception):
    """The API answered with an error status; ``problem`` is its RFC 9457 body when it sent one."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = dict(problem)
        super().__init__(self.describe())

    def describe(self) -> str:
        """``422 Invalid manifest: ...`` then one line per failing field the problem names (an answer without a
        problem body, such as App Service's 401 for a token it refused, is named by its status's phrase)."""
        title = self.problem.get("title") or _phrase(self.status)
        detail = self.problem.get("detail")
        lines = [f"{self.status} {title}" + (f": {detail}" if detail else "")]
        for error in self.problem.get("errors") or []:
            if isinstance(error, Mapping):
                lines.append(f"  {error.get('path') or '(document)'}: {error.get('reason')}")
        return "\n".join(lines)


class CredentialsUnavailable(Exception):
    """No token for the audience: the ``entra`` extra is missing, or DefaultAzureCredential found no identity."""


class Unreachable(Exception):
    """No HTTP answer: the address is wrong, the network or TLS failed, or the server kept answering 503."""


class InvalidToken(ValueError):
    """A bearer token that cannot be sent: empty, or with whitespace inside (a paste of two lines, a quoted JSON)."""


def token_credentials(token: str) -> Credentials:
    """A bearer token the caller already has, sent as ``Authorization: Bearer``: an Entra ID access token for the
    app's audience (``az account get-access-token --resource api://<client id>``), or the local host's
    (``python -m controlplane token``). Surrounding whitespace is dropped (a token read from a file ends in a
    newline); InvalidToken when nothing is left or whitespace remains inside."""
    token = token.strip()
    if not token or any(char.isspace() for char in token):
        raise InvalidToken("a bearer token is one word: no whitespace inside, not empty")
    return lambda: {"Authorization": f"Bearer {token}"}


def entra_credentials(audience: str) -> Credentials:
    """An Entra ID access token for the app's audience from ``DefaultAzureCredential`` (the ``entra`` extra: a
    pipeline's managed identity, workload identity federation or service principal, or ``az login``), as
    ``Authorization: Bearer``; fetched again five minutes before it expires."""
    try:
        from azure.identity import DefaultAzureCredential  # only this path needs the extra
    except ImportError as missing:
        needed = "Entra ID tokens need azure-identity: pip install 'controlplane-client[entra]'"
        raise CredentialsUnavailable(needed) from missing
    credential = DefaultAzureCredential()
    scope = f"{audience.rstrip('/')}/.default"
    cached: dict[str, Any] = {}

    def headers() -> dict[str, str]:
        if not cached or cached["expires_on"] - 300 < time.time():
            try:
                token = credential.get_token(scope)
            except Exception as error:  # azure.core's ClientAuthenticationError and its kin; no import of them here
                raise CredentialsUnavailable(f"no Entra ID token for {scope}: {error}") from None
            cached.update(token=token.token, expires_on=token.expires_on)
        return {"Authorization": f"Bearer {cached['token']}"}

    return headers


class Api:
    """One control plane app at ``base_url`` (its root: ``https://<app>.azurewebsites.net``)."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        timeout: float = 30.0,
        retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.retries = retries
        self.sleep = sleep

    def get(self, path: str, query: Mapping[str, str] | None = None) -> Any:
        return self.call("GET", path, query=query, repeatable=True)

    def post_json(self, path: str, body: Mapping[str, Any] | None = None, **options: Any) -> Any:
        data = json.dumps(body).encode() if body is not None else b""
        return self.call("POST", path, body=data, content_type="application/json", **options)

    def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        repeatable: bool = False,
    ) -> Any:
        """The decoded JSON body of a 2xx answer; ApiError for any other status. ``repeatable``: the request may
        be sent again after a network error (a GET, or a POST that carries an Idempotency-Key)."""
        url = f"{self.base_url}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(url, data=body, method=method)
            for name, value in {**self.credentials(), **(headers or {})}.items():
                request.add_header(name, value)
            if content_type:
                request.add_header("Content-Type", content_type)
            request.add_header("Accept", "application/json, application/problem+json")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return _decoded(response.read())
            except urllib.error.HTTPError as error:
                status, payload, retry_after = error.code, error.read(), error.headers.get("Retry-After")
                error.close()
                if status in (429, 503) and attempt < self.retries:
                    self.sleep(retry_delay(retry_after, attempt, datetime.now(UTC)))
                    continue
                decoded = _decoded(payload)
                raise ApiError(status, decoded if isinstance(decoded, Mapping) else {}) from None
            except (urllib.error.URLError, OSError) as error:
                if repeatable and attempt < self.retries:
                    self.sleep(retry_delay(None, attempt, datetime.now(UTC)))
                    continue
                reason = getattr(error, "reason", error)
                raise Unreachable(f"{method} {self.base_url}{path}: {reason}") from None
        raise AssertionError("unreachable: the last attempt returns or raises")


def retry_delay(retry_after: str | None, attempt: int, now: datetime) -> float:
    """Seconds to wait before attempt ``attempt + 1``: the server's Retry-After (delta-seconds or an HTTP-date,
    RFC 9110 10.2.3) when it sent one, else exponential back-off; capped at ``MAX_RETRY_AFTER_SECONDS``.

    | Retry-After                      | attempt | delay |
    |----------------------------------|---------|-------|
    | "3"                              | any     | 3     |
    | an HTTP-date 10 s after ``now``  | any     | 10    |
    | "600"                            | any     | 60    |
    | none or unreadable               | 0, 1, 2 | 1, 2, 4 |
    """
    fallback = float(min(2**attempt, MAX_RETRY_AFTER_SECONDS))
    if not retry_after:
        return fallback
    value = retry_after.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return fallback
    if moment.tzinfo is None:  # "-0000" or an obsolete zone: RFC 9110 dates are GMT
        moment = moment.replace(tzinfo=UTC)
    return min(max((moment - now).total_seconds(), 0.0), MAX_RETRY_AFTER_SECONDS)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


def _decoded(payload: bytes) -> Any:
    if not payload.strip():
        return {}
    try:
        return json.loads(payload)
    except ValueError:
        return {}
