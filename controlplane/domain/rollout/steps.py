"""The step vocabulary of a rollout plan: what the deployment orchestrator executes, one step at a time.

A plan is a list of these frozen dataclasses, computed up front by a pure function of the strategy and the
replica counts (``plan.plan_rollout``) and passed through Durable activities as dicts (``to_dict`` /
``step_from_dict``). A rollout has two revisions: ``new`` (being rolled out) and ``stable`` (serving now).
Plans start from "new has no replicas and 0% of the traffic, stable has ``stable`` replicas".

Contracts the plans rely on; every step is idempotent, so a replayed or retried step changes nothing:

    step                     | the executor ...
    -------------------------+-----------------------------------------------------------------------
    ScaleRevision(r, n)      | runs n replicas of revision r; returns once they are started and ready
    SetTraffic(p)            | routes p% of production traffic to new, the rest to stable
    SetPreview(on)           | exposes (or withdraws) new on the preview endpoint; production unchanged
    RunHealthGate(reason)    | runs the release's health gate on new; a failed gate rolls back
    Pause(s)                 | waits s seconds (a durable timer); abort still works meanwhile
    AwaitApproval(reason)    | waits for POST .../approve (or abort)
    ScaleDownStableAfter(s)  | scales stable to 0 once s seconds have passed, without holding the plan
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Literal

from controlplane.errors import PermanentError

Revision = Literal["new", "stable"]
REVISIONS: tuple[Revision, ...] = ("new", "stable")


def _require_count(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name}: expected an integer >= 0 (got {value!r})")


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: expected a non-empty string (got {value!r})")


@dataclass(frozen=True)
class _Step:
    """Common wire form: ``{"kind": <class name>, <fields>...}``."""

    kind: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind = cls.__name__

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form; ``step_from_dict(step.to_dict()) == step``."""
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class ScaleRevision(_Step):
    """Run ``replicas`` replicas of one revision (scaling up or down)."""

    revision: Revision
    replicas: int

    def __post_init__(self) -> None:
        if self.revision not in REVISIONS:
            raise ValueError(f'revision: expected "new" or "stable" (got {self.revision!r})')
        _require_count("replicas", self.replicas)

    def __str__(self) -> str:
        return f"{self.revision}={self.replicas}"


@dataclass(frozen=True)
class SetTraffic(_Step):
    """Send ``new_percent`` of production traffic to the new revision and the rest to the stable one."""

    new_percent: int

    def __post_init__(self) -> None:
        _require_count("new_percent", self.new_percent)
        if self.new_percent > 100:
            raise ValueError(f"new_percent: expected 0..100 (got {self.new_percent})")

    def __str__(self) -> str:
        return f"traffic={self.new_percent}"


@dataclass(frozen=True)
class SetPreview(_Step):
    """Make the new revision reachable on the preview endpoint (BlueGreen), or stop doing so."""

    enabled: bool

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ValueError(f"enabled: expected true or false (got {self.enabled!r})")

    def __str__(self) -> str:
        return f"preview={'on' if self.enabled else 'off'}"


@dataclass(frozen=True)
class RunHealthGate(_Step):
    """Probe the new revision with the release's health gate; ``reason`` says what is being verified."""

    reason: str

    def __post_init__(self) -> None:
        _require_text("reason", self.reason)

    def __str__(self) -> str:
        return "gate"


@dataclass(frozen=True)
class Pause(_Step):
    """Wait ``seconds`` before the next step."""

    seconds: int

    def __post_init__(self) -> None:
        _require_count("seconds", self.seconds)

    def __str__(self) -> str:
        return f"pause={self.seconds}s"


@dataclass(frozen=True)
class AwaitApproval(_Step):
    """Wait until someone approves the deployment; ``reason`` says what they are approving."""

    reason: str

    def __post_init__(self) -> None:
        _require_text("reason", self.reason)

    def __str__(self) -> str:
        return "approval"


@dataclass(frozen=True)
class ScaleDownStableAfter(_Step):
    """Keep the stable revision running for ``seconds`` more (instant rollback), then scale it to zero."""

    seconds: int

    def __post_init__(self) -> None:
        _require_count("seconds", self.seconds)

    def __str__(self) -> str:
        return f"stable=0 after {self.seconds}s"


Step = ScaleRevision | SetTraffic | SetPreview | RunHealthGate | Pause | AwaitApproval | ScaleDownStableAfter
STEP_KINDS: dict[str, type[Step]] = {
    cls.kind: cls
    for cls in (ScaleRevision, SetTraffic, SetPreview, RunHealthGate, Pause, AwaitApproval, ScaleDownStableAfter)
}


def step_from_dict(data: Mapping[str, Any]) -> Step:
    """The step a ``to_dict`` document describes; raises ``PermanentError`` naming the bad field."""
    if not isinstance(data, Mapping):
        raise PermanentError(f"step: expected an object (got {type(data).__name__})")
    kind = data.get("kind")
    cls = STEP_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise PermanentError(f"step.kind: expected one of {', '.join(STEP_KINDS)} (got {kind!r})")
    names = [field.name for field in fields(cls)]
    missing = [name for name in names if name not in data]
    unknown = sorted(str(key) for key in data if key != "kind" and key not in names)
    if missing or unknown:
        problems = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unknown {', '.join(unknown)}" if unknown else "",
        ]
        raise PermanentError(f"step ({kind}): {'; '.join(p for p in problems if p)}")
    try:
        return cls(**{name: data[name] for name in names})
    except ValueError as error:
        raise PermanentError(f"step ({kind}).{error}") from error


def describe(steps: list[Step]) -> str:
    """A plan in the compact notation of the worked-example tables: ``new=1, traffic=25, gate, ...``."""
    return ", ".join(str(step) for step in steps)


def scaled_to_zero(stable: int) -> list[Step]:
    """The plan for ``desired == 0``, whatever the strategy: no replica to gate, so switch and retire stable.

    The new revision takes 100% of (no) traffic so that the router points at it when it scales up again.
    """
    return [SetTraffic(100), *([ScaleRevision("stable", 0)] if stable > 0 else [])]


def require_counts(desired: int, stable: int) -> None:
    """Raise ``ValueError`` unless both replica counts are integers >= 0."""
    _require_count("desired", desired)
    _require_count("stable", stable)
