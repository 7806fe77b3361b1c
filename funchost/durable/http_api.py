"""The handlers of the Durable Functions HTTP API (routes in ``rpc.py``).

Status codes, headers and bodies as the Durable extension's ``HttpApiHandler`` answers
(Azure/azure-functions-durable-extension ``src/WebJobs.Extensions.DurableTask/HttpApiHandler.cs``; the
reference is learn.microsoft.com's "HTTP API reference", durable-functions-http-api): instance shapes
in ``status_view.py``, query rules in ``instance_query.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from aiohttp import web
from multidict import MultiMapping

from funchost.durable.backend_limits import InvalidInstanceId, PayloadTooLarge
from funchost.durable.engine import DurableEngine
from funchost.durable.history import RuntimeStatus
from funchost.durable.instance_query import (
    BadContinuationToken,
    BadQueryParameter,
    InstanceQuery,
    any_case,
    flag,
    request_time,
    runtime_statuses,
    seconds,
)
from funchost.durable.status_view import (
    START_RETRY_AFTER,
    STATUS_RETRY_AFTER,
    decode,
    history_view,
    status_code,
    status_json,
)
from funchost.durable.store import InstanceRecord
from funchost.errors import AlreadyExists, NotFound

T = TypeVar("T")
CONTINUATION = "x-ms-continuation-token"
ARGUMENT_ERROR = "One or more of the arguments submitted is incorrect"
# HandleRestartInstanceRequestAsync's Message for any ArgumentException, whatever its cause.
_NO_SUCH_INSTANCE = "InstanceId does not match a valid orchestration instance."
# The URLs of a start's check-status response (the extension leaves rewindPostUri out of it).
_CHECK_STATUS_URLS = (
    "statusQueryGetUri",
    "sendEventPostUri",
    "terminatePostUri",
    "purgeHistoryDeleteUri",
    "restartPostUri",
    "suspendPostUri",
    "resumePostUri",
)


class DurableHttpApi:
    """One handler per endpoint, over the engine's client operations."""

    def __init__(self, engine: DurableEngine, management_payload: Callable[[str], dict[str, str]]) -> None:
        self._engine = engine
        self._payload = management_payload

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        """Run an engine operation (blocking storage calls) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args))

    async def start(self, request: web.Request, name: str, instance_id: str | None = None) -> web.Response:
        try:
            input_json = _payload(await request.text())
        except ValueError as error:
            return _error(400, "Invalid JSON content", str(error))
        try:
            instance_id = await self._call(self._engine.start_new, name, instance_id, input_json)
        except (KeyError, InvalidInstanceId, PayloadTooLarge) as error:
            return _error(400, ARGUMENT_ERROR, error.args[0])
        except AlreadyExists as error:
            return _error(409, str(error))
        return await self._started(request, instance_id, ARGUMENT_ERROR)

    async def _started(self, request: web.Request, instance_id: str, argument_error: str) -> web.Response:
        """The answer to a start or restart (HandleStartOrchestratorRequestAsync): the check-status response,
        or with ``timeout`` and ``pollingInterval`` (seconds, both needed: the Azure Storage provider has no
        poll-free wait) the outcome if the instance finishes within ``timeout``, polled every
        ``pollingInterval`` (WaitForCompletionOrCreateCheckStatusResponseAsync): Completed is 200 with the
        output as the body; Failed and Terminated are the status response (200, the request's ``showInput``/
        ``showHistory`` flags apply, never a 500); still running is the check-status response. The instance is
        started before the parameters are checked, as there; ``argument_error`` is the Message of the 400 for
        a polling interval longer than the timeout (each handler has its own)."""
        query = _query(request)
        timeout, interval = seconds(query, "timeout"), seconds(query, "pollingInterval")
        if timeout is None or interval is None:
            return self._check_status(instance_id)
        if interval > timeout:
            message = f"Total timeout {_dotnet(timeout)} should be bigger than retry timeout {_dotnet(interval)}"
            return _error(400, argument_error, message)
        record = await self._wait(instance_id, timeout, interval)
        if record is None or not record.status.is_terminal:
            return self._check_status(instance_id)
        if record.status is RuntimeStatus.COMPLETED:
            return web.json_response(decode(record.output))
        return await self.status(request, instance_id, error_on_failure=False)

    async def _wait(self, instance_id: str, timeout: float, interval: float) -> InstanceRecord | None:
        """The instance once finished, or as it is after ``timeout`` seconds (None if it cannot be read)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                record: InstanceRecord | None = await self._call(self._engine.get_record, instance_id)
            except NotFound:
                record = None
            remaining = deadline - loop.time()
            if (record is not None and record.status.is_terminal) or remaining <= 0:
                return record
            await asyncio.sleep(min(remaining, interval))

    def _check_status(self, instance_id: str) -> web.Response:
        """The async HTTP 202 pattern: the management URLs, Location and Retry-After (CreateCheckStatusResponse)."""
        urls = self._payload(instance_id)
        body = {"id": instance_id, **{key: urls[key] for key in _CHECK_STATUS_URLS}}
        headers = {"Location": urls["statusQueryGetUri"], "Retry-After": START_RETRY_AFTER}
        return web.json_response(body, status=202, headers=headers)

    async def status(
        self, request: web.Request, instance_id: str, error_on_failure: bool | None = None
    ) -> web.Response:
        """``error_on_failure`` None: as the request's ``returnInternalServerErrorOnFailure`` asks."""
        try:
            record = await self._call(self._engine.get_record, instance_id)
        except NotFound:
            return web.Response(status=404)
        show_input = _flag(request, "showInput", default=True)
        history = None
        if _flag(request, "showHistory") and record.status is not RuntimeStatus.PENDING:
            events = await self._call(self._engine.history, instance_id)
            history = history_view(events, show_input, _flag(request, "showHistoryOutput"))
        if error_on_failure is None:
            error_on_failure = _flag(request, "returnInternalServerErrorOnFailure")
        code = status_code(record.status, error_on_failure)
        headers = {"Location": str(request.url), "Retry-After": STATUS_RETRY_AFTER} if code == 202 else None
        return web.json_response(status_json(record, history, show_input), status=code, headers=headers)

    async def query(self, request: web.Request) -> web.Response:
        try:
            query = InstanceQuery.from_request(_query(request), request.headers.get(CONTINUATION))
        except (BadContinuationToken, BadQueryParameter) as error:
            return _error(400, str(error))
        records = await self._call(self._engine.list_records)
        page, token = query.page(records)
        show_input = _flag(request, "showInput", default=True)
        body = [status_json(record, show_input=show_input) for record in page]
        return web.json_response(body, headers={CONTINUATION: token} if token else None)

    async def purge(self, _request: web.Request, instance_id: str) -> web.Response:
        try:
            record = await self._call(self._engine.get_record, instance_id)
        except NotFound:
            return web.Response(status=404)
        if not record.status.is_terminal:
            message = (
                f"Only orchestrations in a terminal state can be purged, but the orchestration with instance ID "
                f"{instance_id} has status {record.status.value}"
            )
            return web.json_response(message, status=412)
        try:
            deleted = await self._call(self._engine.purge, instance_id)
        except AlreadyExists as error:  # it was started again meanwhile
            return web.json_response(str(error), status=412)
        if not deleted:
            return web.Response(status=404)
        return web.json_response({"instancesDeleted": 1})

    async def purge_matching(self, request: web.Request) -> web.Response:
        """Purge by filter: ``createdTimeFrom`` is required, ``createdTimeTo`` defaults to now, and only
        the terminal statuses of ``runtimeStatus`` count (HandleDeleteHistoryWithFiltersRequestAsync); a time
        that cannot be read is a 400 naming it (``request_time``)."""
        query = _query(request)
        try:
            created_from = request_time(query, "createdTimeFrom")
            created_to = request_time(query, "createdTimeTo") or datetime.now(UTC)
        except BadQueryParameter as error:
            return _error(400, str(error))
        if created_from is None:
            return web.json_response("Please provide value for 'createdTimeFrom' parameter.", status=400)
        statuses = frozenset(s for s in runtime_statuses(query) if s.is_terminal)
        selection = InstanceQuery(statuses=statuses, created_from=created_from, created_to=created_to)
        deleted = await self._call(self._engine.purge_matching, selection)
        if not deleted:
            return web.Response(status=404)
        return web.json_response({"instancesDeleted": deleted})

    async def raise_event(self, request: web.Request, instance_id: str, event: str) -> web.Response:
        try:
            record = await self._call(self._engine.get_record, instance_id)
        except NotFound:
            return web.Response(status=404)
        if record.status.is_terminal:
            return web.Response(status=410)
        if request.content_type.lower() != "application/json":
            return _error(400, "Only application/json request content is supported")
        try:
            data_json = _event_data(await request.text())
        except ValueError as error:
            return _error(400, "Invalid JSON content", str(error))
        try:
            await self._call(self._engine.raise_event, instance_id, event, data_json)
        except NotFound:  # it finished meanwhile
            return web.Response(status=410)
        except PayloadTooLarge as error:  # the Durable Task Scheduler's 1 MB (backend_limits.py)
            return _error(400, ARGUMENT_ERROR, str(error))
        return web.Response(status=202)

    async def operation(self, request: web.Request, instance_id: str, operation: str) -> web.StreamResponse:
        """POST instances/{id}/{operation}: terminate, suspend, resume, rewind or restart (any case)."""
        controls = {"terminate": self._engine.terminate, "suspend": self._engine.suspend, "resume": self._engine.resume}
        handlers = {"rewind": self._rewind, "restart": self._restart}
        name = operation.lower()
        try:
            if name in controls:
                return await self._control(request, instance_id, controls[name])
            if name in handlers:
                return await handlers[name](request, instance_id)
        except NotFound:
            return web.Response(status=404)
        return web.Response(status=404)

    async def _control(
        self, request: web.Request, instance_id: str, control: Callable[[str, str], bool]
    ) -> web.Response:
        """Terminate, suspend or resume with the request's ``reason``: 202, or 410 if the instance has finished."""
        accepted = await self._call(control, instance_id, _query(request).get("reason", ""))
        return web.Response(status=202 if accepted else 410)

    async def _rewind(self, request: web.Request, instance_id: str) -> web.Response:
        try:
            record = await self._call(self._engine.get_record, instance_id)
        except NotFound:
            # The extension's text, "$" included (a stray character in its interpolated string).
            return web.json_response(f'No orchestration with instance ID "${instance_id}" found.', status=404)
        if record.status is not RuntimeStatus.FAILED:
            message = (
                f"This orchestration has status {record.status.value}, but only orchestrations in the "
                '"Failed" state can be rewound.'
            )
            return web.json_response(message, status=412)
        await self._call(self._engine.rewind, instance_id, _query(request).get("reason", ""))
        return web.Response(status=202)

    async def _restart(self, request: web.Request, instance_id: str) -> web.Response:
        """A new id unless ``restartWithNewInstanceId=false`` (DurableClient.RestartAsync's default)."""
        new_id = _flag(request, "restartWithNewInstanceId", default=True)
        try:
            restarted = await self._call(self._engine.restart, instance_id, new_id)
        except NotFound as error:
            return _error(400, _NO_SUCH_INSTANCE, str(error))
        except AlreadyExists as error:
            return _error(409, "A non-terminal instance with this instance ID already exists.", str(error))
        return await self._started(request, restarted, _NO_SUCH_INSTANCE)


def _payload(body: str) -> str | None:
    """The orchestration input a start request carries, as history stores it.

    The SDK's client posts its already serialized input as a JSON string (``"\"4\""`` for 4), which is
    unwrapped once; any other JSON body (a caller posting ``{"a": 1}`` itself) is the value. An empty
    body is no input.
    """
    if not body.strip():
        return None
    token = json.loads(body)
    return token if isinstance(token, str) else json.dumps(token)


def _event_data(body: str) -> str:
    """A raised event's data as the extension stores it: the body's JSON value (``JToken.Load``; an empty
    body is not JSON), serialized again (``MessagePayloadDataConverter.Serialize``).

    Nothing is unwrapped: the SDK's client posts ``json.dumps(data)`` as a JSON string, so on Azure the
    orchestrator receives that string, quotes included (Azure/azure-functions-durable-python issue #295),
    and so it does here.
    """
    return json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False)


def _error(status: int, message: str, detail: str | None = None) -> web.Response:
    """An ASP.NET HttpError body, as the extension's CreateErrorResponse writes it."""
    body = {"Message": message} if detail is None else {"Message": message, "ExceptionMessage": detail}
    return web.json_response(body, status=status)


def _query(request: web.Request) -> MultiMapping[str]:
    return any_case(request.query)


def _flag(request: web.Request, name: str, default: bool = False) -> bool:
    return flag(_query(request), name, default)


def _dotnet(seconds: float) -> str:
    """A double as .NET prints it: 5 not 5.0."""
    text = repr(seconds)
    return text[:-2] if text.endswith(".0") else text
