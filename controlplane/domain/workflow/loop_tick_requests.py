"""The input of a fanned-out loop tick (``orchestrators/loop_ticks.py``) and of its shard activities."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controlplane.domain.shards import Shard
from controlplane.domain.wire import WireFields

LOOPS = ("monitor", "scaling")


def _shard(data: Any) -> Shard:
    fields = WireFields(data)
    shard = Shard(fields.text("environment"), fields.text("first"), fields.optional_text("stop"))
    fields.check()
    return shard


def _loop(value: Any) -> str:
    if value not in LOOPS:
        raise ValueError(f"one of {', '.join(LOOPS)}")
    return str(value)


@dataclass(frozen=True)
class LoopTickPlan:
    """One tick of ``loop`` at ``at``: its shards, their calls cut at ``deadline`` (whichever instance runs them)."""

    loop: str
    at: datetime
    deadline: datetime
    shards: tuple[Shard, ...]

    def requests(self) -> list[ShardRequest]:
        return [ShardRequest(self.loop, self.at, self.deadline, shard) for shard in self.shards]

    def to_dict(self) -> dict[str, Any]:
        return {
            "loop": self.loop,
            "at": self.at.isoformat(),
            "deadline": self.deadline.isoformat(),
            "shards": [shard.to_dict() for shard in self.shards],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoopTickPlan:
        fields = WireFields(data)
        loop = fields.parsed("loop", _loop, "loop name") or ""
        at, deadline = fields.time("at"), fields.time("deadline")
        listed = fields.parsed("shards", lambda items: tuple(_shard(item) for item in items), "list of shards")
        fields.check()
        return cls(loop, at, deadline, listed or ())


@dataclass(frozen=True)
class ShardRequest:
    """loop_tick_shard: ``loop``'s tick at ``at`` over one shard of the catalog, its calls cut at ``deadline``."""

    loop: str
    at: datetime
    deadline: datetime
    shard: Shard

    def to_dict(self) -> dict[str, Any]:
        return {
            "loop": self.loop,
            "at": self.at.isoformat(),
            "deadline": self.deadline.isoformat(),
            "shard": self.shard.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShardRequest:
        fields = WireFields(data)
        loop = fields.parsed("loop", _loop, "loop name") or ""
        at, deadline = fields.time("at"), fields.time("deadline")
        shard = fields.parsed("shard", _shard, "shard")
        fields.check()
        assert shard is not None
        return cls(loop, at, deadline, shard)
