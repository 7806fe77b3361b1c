"""Shards of a loop's tick: the catalog cut into runs of consecutive services, one environment each.

A fanned-out tick (``orchestrators/loop_ticks.py``) gives each shard to one activity. A shard is a key range
(its environment, from its ``first`` service up to ``stop``, exclusive; to the environment's end when ``stop`` is
None), so the activity reads only its own catalog entries and loop records, one range query each: the whole
tick reads every row once however many shards there are.

``plan`` cuts each environment's services (in key order) into runs of at most ``size``:

    services (one environment)      size   shards
    a b c d e                       2      (a, c) (c, e) (e, end)
    a b c d                         2      (a, c) (c, end)
    dev: a b; prod: a               5      dev (a, end); prod (a, end)
    (none)                          5      none
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from typing import Any


@dataclass(frozen=True)
class Shard:
    environment: str
    first: str
    stop: str | None = None

    def holds(self, environment: str, service: str) -> bool:
        return environment == self.environment and self.first <= service and (self.stop is None or service < self.stop)

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "first": self.first, "stop": self.stop}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shard:
        return cls(
            str(data["environment"]), str(data["first"]), None if data.get("stop") is None else str(data["stop"])
        )


def plan(keys: Iterable[tuple[str, str]], size: int) -> list[Shard]:
    """The shards of ``(environment, service)`` keys, at most ``size`` services each (see the table above)."""
    if size < 1:
        raise ValueError(f"a shard holds at least one service (got {size})")
    shards: list[Shard] = []
    for environment, services in groupby(sorted(set(keys)), key=lambda key: key[0]):
        names = [service for _, service in services]
        starts = names[::size]
        stops: list[str | None] = [*starts[1:], None]
        shards.extend(Shard(environment, first, stop) for first, stop in zip(starts, stops, strict=True))
    return shards
