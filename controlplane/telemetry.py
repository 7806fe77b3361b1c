"""Spans and log context, with the W3C trace id of each span equal to the flow's envelope ``traceid``.

Only the OpenTelemetry *API* is used here: with no SDK configured every span is a no-op. The Functions app
configures Azure Monitor (``controlplane.adapters.azure.monitor.telemetry``) when
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set, and the local host prints spans to the console with
``--trace-console``. Either way one deployment reads end to end under one operation id in Application
Insights' transaction search: its ``traceid``.

Logs written inside ``traced`` carry ``traceid``, ``deploymentId``, ``environment`` and ``service`` as record
attributes (``install_log_context``), which Azure Monitor exports as custom dimensions.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags

LOG_FIELDS = ("traceid", "deploymentId", "environment", "service")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_log_context: ContextVar[Mapping[str, str]] = ContextVar("controlplane_log_context", default=MappingProxyType({}))
_tracer = trace.get_tracer("controlplane")


@contextmanager
def traced(
    name: str, traceid: str | None = None, kind: SpanKind = SpanKind.INTERNAL, **attributes: Any
) -> Iterator[Span]:
    """A span named ``name`` in trace ``traceid`` (32 hex) — or in the current trace when it is None or the
    same — with ``attributes`` (None values dropped); logs inside it carry the log fields among them."""
    values = {key: value for key, value in attributes.items() if value is not None}
    parent = None
    current = trace.get_current_span().get_span_context()
    if traceid and _TRACE_ID.match(traceid) and (not current.is_valid or f"{current.trace_id:032x}" != traceid):
        span_id = secrets.randbits(64) or 1
        remote = SpanContext(int(traceid, 16), span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        parent = trace.set_span_in_context(NonRecordingSpan(remote))
    fields = {**_log_context.get(), **{k: str(v) for k, v in values.items() if k in LOG_FIELDS}}
    if traceid:
        fields["traceid"] = traceid
    token = _log_context.set(fields)
    try:
        with _tracer.start_as_current_span(name, context=parent, kind=kind, attributes=values) as span:
            yield span
    finally:
        _log_context.reset(token)


def install_log_context() -> None:
    """Make every log record carry the current ``traced`` fields (empty strings outside any); idempotent."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "controlplane", False):
        return

    def record_with_context(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        fields = _log_context.get()
        for name in LOG_FIELDS:
            setattr(record, name, fields.get(name, ""))
        return record

    record_with_context.controlplane = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(record_with_context)
