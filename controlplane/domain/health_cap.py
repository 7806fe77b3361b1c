"""Capping a health report to what is stored: any report a probe accepts must fit the event log (one Table
entity), the deployment record and the Durable payload limits, whatever size the workload answered with.

A body of up to ``MAX_BODY_BYTES`` (1 MiB) is accepted and judged whole; what is kept of it is cut:

    part of the report             | kept
    -------------------------------+-------------------------------------------------------------------
    overall status, HTTP status    | always, unchanged (judged on the whole body before cutting)
    entries                        | the first MAX_ENTRIES, failing ones (Degraded, Unhealthy) first
    name / description / exception | NAME_CHARS / TEXT_CHARS characters, "…" marking a cut
    tags                           | the first MAX_TAGS, each TAG_CHARS characters
    data                           | whole if its JSON is at most DATA_CHARS, else {"truncated": <chars>}
    the whole report               | entries dropped from the end until its JSON is at most REPORT_CHARS

The detail says when and how a report was cut, so a reader never takes a cut report for the whole one.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from controlplane.domain.health import HealthEntry, HealthReport, HealthStatus

MAX_ENTRIES = 16
NAME_CHARS = 128
TEXT_CHARS = 512
MAX_TAGS = 8
TAG_CHARS = 64
DATA_CHARS = 1024
DETAIL_CHARS = 1000
REPORT_CHARS = 32 * 1024


def capped(report: HealthReport) -> HealthReport:
    """``report`` cut to the limits above (itself when it fits them already)."""
    failing_first = sorted(
        range(len(report.entries)), key=lambda i: (report.entries[i].status is HealthStatus.HEALTHY, i)
    )
    kept_indexes = sorted(failing_first[:MAX_ENTRIES])
    cuts = 0
    entries = []
    for index in kept_indexes:
        entry, cut = _capped_entry(report.entries[index])
        entries.append(entry)
        cuts += cut
    while entries and _size(report, entries) > REPORT_CHARS:
        entries.pop()
    dropped = len(report.entries) - len(entries)
    if not dropped and not cuts and (report.detail is None or len(report.detail) <= DETAIL_CHARS):
        return report
    notes = []
    if dropped:
        notes.append(f"{len(entries)} of {len(report.entries)} entries kept")
    if cuts:
        notes.append(f"{cuts} field(s) shortened")
    note = f"report cut to fit: {', '.join(notes)}" if notes else ""
    detail = "; ".join(part for part in (_cut(report.detail or "", DETAIL_CHARS), note) if part) or None
    return replace(report, entries=tuple(entries), detail=detail)


def _capped_entry(entry: HealthEntry) -> tuple[HealthEntry, int]:
    """The entry within the limits and how many of its fields were shortened."""
    name, description, exception = (
        _cut(entry.name, NAME_CHARS),
        _cut_optional(entry.description, TEXT_CHARS),
        _cut_optional(entry.exception, TEXT_CHARS),
    )
    tags = tuple(_cut(tag, TAG_CHARS) for tag in entry.tags[:MAX_TAGS])
    data_chars = len(json.dumps(dict(entry.data)))
    data: dict[str, Any] = dict(entry.data) if data_chars <= DATA_CHARS else {"truncated": data_chars}
    cuts = sum(
        (
            name != entry.name,
            description != entry.description,
            exception != entry.exception,
            tags != entry.tags,
            data_chars > DATA_CHARS,
        )
    )
    if not cuts:
        return entry, 0
    return replace(entry, name=name, description=description, exception=exception, tags=tags, data=data), cuts


def _size(report: HealthReport, entries: list[HealthEntry]) -> int:
    return len(json.dumps([entry.to_dict() for entry in entries])) + len(report.detail or "")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut_optional(text: str | None, limit: int) -> str | None:
    return None if text is None else _cut(text, limit)
