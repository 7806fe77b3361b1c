"""The local traffic router: one stable loopback port per (environment, service), split by revision weight.

Each service gets two listeners on 127.0.0.1: the main port splits requests across revisions by weight
(smooth weighted round-robin) and across a revision's replicas (round-robin); the preview port sends
everything to one chosen revision (blue-green). A weighted revision with no registered replica is
skipped and its share spread over the others; with none left the answer is a 502 problem. Ports, weights
and the preview choice are persisted in ``state_file`` so a restarted host serves the same URLs; replica
addresses are not (Compute registers them again when it adopts its processes). The proxy runs on its own
thread and event loop.

Every request proxied to a revision, on either port, is counted in the revision's ``RequestLog``
(``request_log``): its status as the client got it (the app's answer, or the router's 502 when every replica
of the revision refused or failed) and its duration from the request's arrival until the backend's whole
answer was read. ``stats`` reads totals and rps from the logs, ``window`` a revision's requests over an
analysis window. A request no revision could take (a 502 "No healthy backend" before any revision was
chosen) belongs to no revision: it is counted in ``unrouted`` only. Counters live in memory: a restarted
router starts them afresh.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from controlplane.adapters.local.loopback import free_port
from controlplane.adapters.local.request_log import HORIZON_SECONDS, RequestLog, RequestWindow
from controlplane.adapters.local.state_files import read_state
from controlplane.domain.traffic import check_weights
from controlplane.errors import NotFound, TransientError
from funchost.private_files import write_json_atomically

HOST = "127.0.0.1"
REVISION_HEADER = "X-Revision"
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers"}
    | {"transfer-encoding", "upgrade", "host", "content-length"}
)


def smooth_weighted_pick(current: dict[str, int], weights: Mapping[str, int]) -> str:
    """Nginx's smooth weighted round-robin: exact proportions, evenly interleaved, fully deterministic.

    Each pick adds every weight to its running ``current``, takes the largest (first on ties) and
    subtracts the total from it. ``current`` is updated in place. Worked example, weights a=20 b=80:

        pick | current before (a, b) | chosen | current after
        1    | (20, 80)              | b      | (20, -20)
        2    | (40, 60)              | b      | (40, -40)
        3    | (60, 40)              | a      | (-40, 40)
        4    | (-20, 120)            | b      | (-20, 20)
        5    | (0, 100)              | b      | (0, 0)     -> the cycle repeats: 1 in 5 goes to a
    """
    total = sum(weights.values())
    for name, weight in weights.items():
        current[name] = current.get(name, 0) + weight
    chosen = max(weights, key=lambda name: current[name])
    current[chosen] -= total
    return chosen


def routed_url(state_file: Path, environment: str, service: str) -> str:
    """The stable URL a router (running or not) recorded for a service; NotFound if it never routed it."""
    for route in read_state(state_file, "routes"):
        if (route["environment"], route["service"]) == (environment, service):
            return f"http://127.0.0.1:{route['port']}/"
    raise NotFound(f"{state_file}: no route for {environment}/{service}")


@dataclass
class _Route:
    environment: str
    service: str
    port: int
    preview_port: int
    weights: dict[str, int] = field(default_factory=dict)
    preview: str | None = None
    backends: dict[str, list[str]] = field(default_factory=dict)
    cursors: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)
    candidates: tuple[str, ...] = ()
    counters: dict[str, RequestLog] = field(default_factory=dict)
    unrouted: int = 0
    runners: list[web.AppRunner] = field(default_factory=list)

    def persisted(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "service": self.service,
            "port": self.port,
            "previewPort": self.preview_port,
            "weights": dict(self.weights),
            "preview": self.preview,
        }


class LocalRouter:
    """A reverse proxy per service on stable loopback ports. Thread-safe; starts on first use."""

    def __init__(self, state_file: Path, rps_window: float = 10.0, request_timeout: float = 30.0) -> None:
        self._state_file = state_file
        self._rps_window = rps_window
        self._horizon = max(HORIZON_SECONDS, rps_window)
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._lock = threading.RLock()  # guards route data; never held while waiting for the proxy loop
        self._setup_lock = threading.Lock()  # serialises start/close/new routes; the proxy loop never takes it
        self._routes: dict[tuple[str, str], _Route] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closed = False  # after close() changes are still recorded, but nothing listens until start()
        for item in read_state(self._state_file, "routes"):
            route = _Route(item["environment"], item["service"], item["port"], item["previewPort"])
            route.weights, route.preview = dict(item.get("weights", {})), item.get("preview")
            self._routes[(route.environment, route.service)] = route

    # -- configuration -------------------------------------------------------------------------------------------
    def port(self, environment: str, service: str) -> int:
        """The service's stable port, allocated on first use (the router starts on first use, unless closed)."""
        return self._route(environment, service).port

    def preview_port(self, environment: str, service: str) -> int:
        """The service's preview port, which sends everything to the revision chosen by ``set_preview``."""
        return self._route(environment, service).preview_port

    def url(self, environment: str, service: str, preview: bool = False) -> str:
        route = self._route(environment, service)
        return f"http://{HOST}:{route.preview_port if preview else route.port}"

    def set_backends(self, environment: str, service: str, revision: str, urls: list[str]) -> None:
        """Replace the replica base URLs of a revision; registering gives it no traffic by itself."""
        route = self._route(environment, service)
        with self._lock:
            route.backends[revision] = list(urls)

    def remove_revision(self, environment: str, service: str, revision: str) -> None:
        """Forget a revision's replicas, weight and preview role."""
        route = self._route(environment, service)
        with self._lock:
            route.backends.pop(revision, None)
            route.weights.pop(revision, None)
            if route.preview == revision:
                route.preview = None
            self._save()

    def set_weights(self, environment: str, service: str, weights: Mapping[str, int]) -> None:
        """Split the main port by these weights (sum 100); revisions not named get nothing."""
        check_weights(environment, service, weights)
        route = self._route(environment, service)
        with self._lock:
            route.weights = {name: weight for name, weight in weights.items() if weight > 0}
            route.current, route.candidates = {}, ()
            self._save()

    def weights(self, environment: str, service: str) -> dict[str, int]:
        with self._lock:
            route = self._routes.get((environment, service))
            return dict(route.weights) if route else {}

    def set_preview(self, environment: str, service: str, revision: str | None) -> None:
        """Send every request on the preview port to ``revision`` (None: the preview port answers 502)."""
        route = self._route(environment, service)
        with self._lock:
            route.preview = revision
            self._save()

    def stats(self, environment: str, service: str) -> dict[str, Any]:
        """Requests, errors (5xx and 502s) and rps over the last ``rps_window`` seconds, per revision."""
        route = self._route(environment, service)
        now = time.monotonic()
        with self._lock:
            revisions = {}
            for name, log in route.counters.items():
                log.trim(now)
                revisions[name] = {
                    "requests": log.requests,
                    "errors": log.errors,
                    "rps": log.count_since(now - self._rps_window) / self._rps_window,
                }
            return {
                **route.persisted(),
                "revisions": revisions,
                "unrouted": route.unrouted,
                "requests": sum(item["requests"] for item in revisions.values()),
                "rps": sum(item["rps"] for item in revisions.values()),
            }

    def window(self, environment: str, service: str, revision: str, seconds: float) -> RequestWindow | None:
        """A revision's requests over the last ``seconds`` (at most an hour), on both ports; an empty window for a
        revision that has replicas, weight or the preview role but no request yet. None when the router has no
        route for the service or does not know the revision. Only reads: never starts the router nor allocates
        a route (as ``stats`` would)."""
        now = time.monotonic()
        with self._lock:
            route = self._routes.get((environment, service))
            if route is None:
                return None
            log = route.counters.get(revision)
            if log is None:
                if revision not in route.backends and revision not in route.weights and route.preview != revision:
                    return None
                log = RequestLog(self._horizon)  # known, never asked: its window is empty
            return log.window(now, seconds)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> LocalRouter:
        """Start the proxy thread and listen on every known service's ports; idempotent."""
        with self._setup_lock:
            self._closed = False
            if self._loop is not None:
                return self
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name="local-router", daemon=True)
            self._thread.start()
            self._loop = loop
            try:
                self._session = self._call(self._open_session())
                for route in self._routes.values():
                    self._call(self._listen(route))
            except BaseException:
                self._teardown()
                raise
        return self

    def close(self) -> None:
        """Stop listening and end the proxy thread; the persisted ports and weights stay for the next start."""
        with self._setup_lock:
            self._closed = True
            self._teardown()

    def _teardown(self) -> None:
        if self._loop is None:
            return
        for route in self._routes.values():
            for runner in route.runners:
                self._call(runner.cleanup())
            route.runners.clear()
        if self._session is not None:
            self._call(self._session.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop, self._thread, self._session = None, None, None

    def __enter__(self) -> LocalRouter:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------------------------
    def _route(self, environment: str, service: str) -> _Route:
        if not self._closed:
            self.start()
        with self._setup_lock:
            route = self._routes.get((environment, service))
            if route is None:
                if self._loop is not None:
                    route = _Route(environment, service, 0, 0)  # bound to free ports by _listen: no race
                    self._call(self._listen(route))
                else:  # closed: only record ports; they are bound when the router starts again
                    route = _Route(environment, service, free_port(), free_port())
                with self._lock:
                    self._routes[(environment, service)] = route
                    self._save()
            return route

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    async def _open_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False)

    async def _listen(self, route: _Route) -> None:
        for port, preview in ((route.port, False), (route.preview_port, True)):  # port 0: any free one
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", partial(self._proxy, route, preview))
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            try:
                await web.TCPSite(runner, HOST, port, reuse_address=True).start()
            except OSError as error:
                await runner.cleanup()
                raise TransientError(
                    f"router port {HOST}:{port} of {route.environment}/{route.service} is busy ({error.strerror}): "
                    f"stop whatever holds it, or delete {self._state_file} to allocate new ports"
                ) from error
            route.runners.append(runner)
            bound = runner.addresses[0][1]
            if preview:
                route.preview_port = bound
            else:
                route.port = bound

    def _pick(self, route: _Route, preview: bool) -> tuple[str, list[str]] | None:
        with self._lock:
            if preview:
                revision = route.preview
                if revision is None or not route.backends.get(revision):
                    return None
            else:
                weights = {name: weight for name, weight in route.weights.items() if route.backends.get(name)}
                if not weights:
                    return None
                if tuple(weights) != route.candidates:  # a revision lost or regained all replicas: start afresh
                    route.current, route.candidates = {}, tuple(weights)
                revision = smooth_weighted_pick(route.current, weights)
            replicas = route.backends[revision]
            cursor = route.cursors.get(revision, 0) % len(replicas)
            route.cursors[revision] = cursor + 1
            return revision, replicas[cursor:] + replicas[:cursor]

    def _count(self, route: _Route, revision: str, status: int, began: float) -> None:
        now = time.monotonic()
        with self._lock:
            log = route.counters.get(revision)
            if log is None:
                log = route.counters[revision] = RequestLog(self._horizon)
            log.record(now, status, 1000 * (now - began))

    async def _proxy(self, route: _Route, preview: bool, request: web.Request) -> web.StreamResponse:
        began = time.monotonic()
        choice = self._pick(route, preview)
        where = f"{route.environment}/{route.service}" + (" (preview)" if preview else "")
        if choice is None:
            with self._lock:
                route.unrouted += 1
            return _problem(502, "No healthy backend", f"{where}: no revision with traffic has a running replica")
        revision, replicas = choice
        body = await request.read()
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP)
        headers["X-Forwarded-For"] = request.remote or ""
        headers["X-Forwarded-Host"] = request.host
        assert self._session is not None
        for base in replicas:
            try:
                async with self._session.request(
                    request.method, base + request.raw_path, headers=headers, data=body, allow_redirects=False
                ) as answer:
                    payload = await answer.read()
            except aiohttp.ClientConnectorError:
                continue  # nothing was sent, so another replica may safely take the request
            except (aiohttp.ClientError, TimeoutError) as error:
                self._count(route, revision, 502, began)
                return _problem(502, "Backend failed", f"{where}: {revision} at {base}: {error!r}", revision)
            out = CIMultiDict((k, v) for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP)
            out[REVISION_HEADER] = revision
            self._count(route, revision, answer.status, began)
            return web.Response(status=answer.status, body=payload, headers=out)
        self._count(route, revision, 502, began)
        return _problem(502, "No healthy backend", f"{where}: every replica of {revision} refused", revision)

    def _save(self) -> None:
        write_json_atomically(self._state_file, {"routes": [route.persisted() for route in self._routes.values()]})


def _problem(status: int, title: str, detail: str, revision: str | None = None) -> web.Response:
    """An RFC 9457 problem response (with ``X-Revision`` when a revision was chosen)."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    headers = {REVISION_HEADER: revision} if revision else None
    return web.Response(status=status, text=json.dumps(body), content_type="application/problem+json", headers=headers)
