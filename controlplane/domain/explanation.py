"""What ``domain.explain`` makes of a deployment's events: its outcome, and per service its gates, each with its
verdict, the line that decided it (``why``) and what the health probes, the metric analysis, the webhooks and an
inconclusive hold said. ``Explanation.to_dict`` is the API's ``explanation`` (camelCase JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any


@dataclass(frozen=True)
class Health:
    """A gate's health verdict: consecutive probe counts when it decided, every probe by status, the last one."""

    verdict: str | None
    reason: str
    in_a_row: Mapping[str, int] | None = None
    probes: Mapping[str, int] = field(default_factory=dict)
    last: str | None = None
    from_probes: bool = False  # no RuntimeHealthGateCompleted: read from HealthCheckCompleted (older deployments)


@dataclass(frozen=True)
class Measured:
    number: int
    value: float | None
    verdict: str
    query: str
    error: str | None = None
    samples: int | None = None


@dataclass(frozen=True)
class Metric:
    metric: str
    provider: str
    threshold: str
    min: float | None
    max: float | None
    verdict: str
    measurements: tuple[Measured, ...]


@dataclass(frozen=True)
class Analysis:
    verdict: str
    reason: str
    metrics: tuple[Metric, ...]


@dataclass(frozen=True)
class Hook:
    hook: str
    type: str
    url: str
    status: int | None
    attempts: int
    outcome: str
    effect: str
    error: str | None = None
    service: str | None = None
    times: int = 1  # the same answer, in a row (a confirm-promotion hook asked again)


@dataclass(frozen=True)
class Hold:
    reason: str
    timeout_seconds: int | None
    on_timeout: str
    resolution: str | None = None  # approved, aborted, timed-out; None: still waiting
    action: str | None = None  # continue or rollback
    by: str | None = None


@dataclass(frozen=True)
class Gate:
    number: int | None
    step: str
    revision: str | None
    verdict: str
    why: str
    health: Health | None = None
    analysis: Analysis | None = None
    hooks: tuple[Hook, ...] = ()
    hold: Hold | None = None


@dataclass(frozen=True)
class Service:
    name: str
    revision: str | None
    gates: tuple[Gate, ...]


@dataclass(frozen=True)
class Wave:
    wave: int
    waves: int
    services: tuple[str, ...]
    waits_for: tuple[str, ...]
    verdict: str | None = None


@dataclass(frozen=True)
class Approval:
    what: str
    service: str | None
    by: str | None = None  # None: still waiting
    reason: str | None = None


@dataclass(frozen=True)
class PromotionHold:
    service: str
    hook: str
    reason: str
    times: int = 1


@dataclass(frozen=True)
class Explanation:
    deployment_id: str
    release: str | None
    environment: str | None
    state: str
    reason: str
    services: tuple[Service, ...] = ()
    waves: tuple[Wave, ...] = ()
    hooks: tuple[Hook, ...] = ()
    promotion_holds: tuple[PromotionHold, ...] = ()
    approvals: tuple[Approval, ...] = ()
    complete: bool = True  # False: explained from the first events only (the read was capped)
    events: int = 0
    unreadable: int = 0  # events of a shape this version cannot read (left out)

    def to_dict(self) -> dict[str, Any]:
        """camelCase JSON (``what`` is spelled ``for``, as the approval events spell it)."""
        return _camel(self)


def _fields(instance: Any) -> dict[str, Any]:
    return {f.name: getattr(instance, f.name) for f in fields(instance)}


def _camel(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {_camel_name(name): _camel(item) for name, item in _fields(value).items()}
    if isinstance(value, Mapping):
        return {key: _camel(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_camel(item) for item in value]
    return value


def _camel_name(name: str) -> str:
    if name == "what":
        return "for"
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
