"""Which instances a query of the Durable HTTP API selects (``GET instances``, ``DELETE instances``), and
how the API reads its query parameters.

Parameters are read as the Durable extension's ``HttpApiHandler`` reads them, names in any case:
``runtimeStatus`` is a comma-separated list (names it cannot parse are skipped),
``createdTimeFrom``/``createdTimeTo`` bound the creation time inclusively (a value that is not an ISO 8601
date and time is refused, see ``request_time``), ``instanceIdPrefix`` selects by
prefix, ``top`` is the page size (100 when absent, ``OrchestrationStatusQueryCondition.PageSize``), and
the ``x-ms-continuation-token`` request header resumes after the previous page. Pages come in
instance-id order, the order in which the Azure Storage provider reads its Instances table (partition
key = instance id).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from multidict import CIMultiDict, MultiMapping

from funchost.durable.history import RuntimeStatus, parse_timestamp
from funchost.durable.store import InstanceRecord

DEFAULT_PAGE_SIZE = 100
# What double.TryParse reads (NumberStyles.Float | AllowThousands): "5", " 2.5 ", "1e1", "1,000".
_DOUBLE = re.compile(r"\s*[+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")


class BadContinuationToken(ValueError):
    """The x-ms-continuation-token header is not one this host handed out."""


class BadQueryParameter(ValueError):
    """A query parameter that cannot be read; the message names it, what was sent and what to send."""


@dataclass(frozen=True)
class InstanceQuery:
    statuses: frozenset[RuntimeStatus] = frozenset()
    prefix: str = ""
    created_from: datetime | None = None
    created_to: datetime | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    after: str | None = None  # the last instance id of the previous page

    @classmethod
    def from_request(cls, query: MultiMapping[str], continuation: str | None) -> InstanceQuery:
        top = _int(query.get("top"))
        return cls(
            statuses=frozenset(runtime_statuses(query)),
            prefix=query.get("instanceIdPrefix", ""),
            created_from=request_time(query, "createdTimeFrom"),
            created_to=request_time(query, "createdTimeTo"),
            page_size=top if top is not None else DEFAULT_PAGE_SIZE,
            after=_read_token(continuation) if continuation else None,
        )

    def matches(self, record: InstanceRecord) -> bool:
        created = parse_timestamp(record.created_time)
        return (
            (not self.statuses or record.status in self.statuses)
            and record.instance_id.startswith(self.prefix)
            and (self.created_from is None or created >= self.created_from)
            and (self.created_to is None or created <= self.created_to)
        )

    def page(self, records: Iterable[InstanceRecord]) -> tuple[list[InstanceRecord], str | None]:
        """The matching records of this page, and the token of the next page (None on the last one)."""
        chosen = sorted(
            (r for r in records if self.matches(r) and (self.after is None or r.instance_id > self.after)),
            key=lambda record: record.instance_id,
        )
        if self.page_size <= 0 or len(chosen) <= self.page_size:
            return chosen, None
        page = chosen[: self.page_size]
        return page, _write_token(page[-1].instance_id)


def runtime_statuses(query: MultiMapping[str]) -> list[RuntimeStatus]:
    """``runtimeStatus`` values, repeated or comma-separated; unknown names are skipped (Enum.TryParse)."""
    names = [name for value in query.getall("runtimeStatus", []) for name in value.split(",")]
    return [RuntimeStatus(name) for name in names if name in RuntimeStatus._value2member_map_]


def any_case(query: MultiMapping[str]) -> MultiMapping[str]:
    """The query string with names in any case, as the extension reads every parameter
    (GetQueryNameValuePairs: a NameValueCollection with StringComparer.OrdinalIgnoreCase)."""
    return CIMultiDict(query)


def flag(query: MultiMapping[str], name: str, default: bool = False) -> bool:
    """A boolean parameter as bool.TryParse reads it: "true"/"false" in any case, else the default."""
    value = query.get(name, "").strip().lower()
    return {"true": True, "false": False}.get(value, default)


def seconds(query: MultiMapping[str], name: str) -> float | None:
    """A time span in seconds as TryGetTimeSpanQueryParameterValue reads it; None when absent or not a number."""
    value = query.get(name)
    if value is None or not _DOUBLE.fullmatch(value):
        return None
    return float(value.replace(",", ""))


def request_time(query: MultiMapping[str], name: str) -> datetime | None:
    """A time parameter (ISO 8601, as ``parse_timestamp`` reads it); None when absent.

    Stricter than the extension on purpose: its ``TryGetDateTimeQueryParameterValue`` (``DateTime.TryParse``)
    drops a value it cannot parse, so ``GET instances?createdTimeFrom=garbage`` lists every instance and a
    purge bounded by a bad ``createdTimeTo`` purges up to now. Here a value that is not a date and time, or
    one out of range, raises BadQueryParameter (a 400 naming the parameter), never a wider selection.
    """
    value = query.get(name)
    if not value:
        return None
    try:
        return parse_timestamp(value)
    except (ValueError, OverflowError):
        raise BadQueryParameter(
            f"query parameter {name}: not a date and time (got {value[:64]!r}); send ISO 8601 such as "
            "2024-01-02T00:00:00Z"
        ) from None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _write_token(instance_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": instance_id}).encode()).decode()


def _read_token(token: str) -> str:
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise BadContinuationToken(_bad_token(token)) from error
    if not isinstance(after, str):
        raise BadContinuationToken(_bad_token(token))
    return after


def _bad_token(token: str) -> str:
    return f"x-ms-continuation-token: not a token this host returned (got {token!r})"
