"""HTTP trigger of the event log: one flow's events by trace id, or the audit of every flow, filtered and paged.

    GET /api/events?traceId=T                      the flow's envelopes, oldest first
    GET /api/events?service=&environment=&type=&actor=&since=&until=&top=&continuation=
                                                   every flow's envelopes, newest first, a page at a time

The audit's time range is ``since`` (inclusive) to ``until`` (exclusive), RFC 3339. ``since`` defaults to,
and is raised to, the retention horizon (now minus ``CONTROLPLANE_EVENT_RETENTION_DAYS``: nothing older is
kept); ``until`` defaults to now and is lowered to a day from now (no event is stamped later; the index is read
day by day). ``continuation`` is the previous page's; the filters are sent again with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func

from controlplane.bootstrap import ports
from controlplane.domain.access import Action
from controlplane.domain.audit import AuditPosition, EventQuery
from controlplane.domain.event_catalog import EventType
from controlplane.domain.events import format_time, is_trace_id
from controlplane.domain.paging import DEFAULT_LIMIT, MAX_LIMIT
from controlplane.errors import FieldError
from triggers.guard import guarded
from triggers.identity import authorized
from triggers.query_params import QueryParams
from triggers.responses import json_response, problem

bp = df.Blueprint()
AUDIT_PARAMETERS = ("service", "environment", "type", "actor", "since", "until", "top", "limit", "continuation")
_FUTURE_SCAN = timedelta(days=1)


@bp.route(route="events", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@guarded
@authorized(Action.READ)
def list_events(req: func.HttpRequest) -> func.HttpResponse:
    """GET /api/events: a flow's envelopes by ``traceId``, or the audit query (see the module's docstring)."""
    params = QueryParams(req, ("traceId", *AUDIT_PARAMETERS))
    if "traceId" in req.params:
        return _trace(req.params["traceId"], params)
    now = datetime.now(UTC)
    query = _audit_query(params, now, timedelta(days=ports().settings.event_retention_days))
    if isinstance(query, func.HttpResponse):
        return query
    page = ports().store.event_log.query_events(query)
    body = {
        "events": [envelope.to_dict() for envelope in page.events],
        "continuation": page.next.token() if page.next else None,
        "since": format_time(query.since),
        "until": format_time(query.until),
    }
    return json_response(body)


def _trace(traceid: str, params: QueryParams) -> func.HttpResponse:
    if not is_trace_id(traceid):
        got = f" (got {traceid[:40]!r})" if traceid else ""
        detail = f"query parameter traceId: the flow's trace id, 32 lowercase hex digits, not all zero, required{got}"
        return problem(400, "Invalid traceId", detail)
    combined = [name for name in AUDIT_PARAMETERS if params.given(name)]
    params.errors.extend(FieldError(name, "not combined with traceId (a trace is answered whole)") for name in combined)
    refused = params.problem()
    if refused is not None:
        return refused
    events = [envelope.to_dict() for envelope in ports().store.event_log.events_for_trace(traceid)]
    return json_response({"traceId": traceid, "events": events})


def _audit_query(params: QueryParams, now: datetime, retention: timedelta) -> EventQuery | func.HttpResponse:
    """The query the parameters ask for, bounded by the retention; a 400 naming every bad parameter."""
    since, until = params.time("since"), params.time("until")
    if since is not None and until is not None and since >= until:
        params.errors.append(FieldError("since", f"must be before until ({format_time(until)})"))
    start = params.position(AuditPosition.from_token)
    types = params.choices("type", [event_type.value for event_type in EventType])
    environment, service, actor = params.text("environment"), params.text("service"), params.text("actor")
    limit = params.limit(DEFAULT_LIMIT, MAX_LIMIT)
    refused = params.problem()
    if refused is not None:
        return refused
    return EventQuery(
        since=max(since or now - retention, now - retention),
        until=min(until or now, now + _FUTURE_SCAN),
        types=types,
        environment=environment,
        service=service,
        actor=actor,
        limit=limit,
        start=start,
    )
