"""The LoopStates contract (loop state): the Table-storage adapter on Azurite and the in-memory fake pass it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.domain.loops import LoopRecord
from controlplane.domain.shards import Shard
from controlplane.errors import ConcurrencyConflict
from controlplane.ports import LoopStates


class LoopStatesContract:
    """Subclasses provide a ``stores`` fixture: every stored record over empty tables, their tables created."""

    @pytest.fixture
    def loop_states(self, stores: Stores) -> LoopStates:
        return stores.loop_states

    def test_a_shard_lists_the_records_of_its_services_only(self, loop_states: LoopStates) -> None:
        for key in ("dev/a", "dev/b", "dev/c", "dev-eu/a", "devx/a", "prod/b"):
            loop_states.put_loop_state(LoopRecord("monitor", key, {}))
        loop_states.put_loop_state(LoopRecord("scaling", "dev/b", {}))

        def listed(shard: Shard, loop: str = "monitor") -> list[str]:
            return [record.key for record in loop_states.list_loop_states(loop, shard)]

        assert listed(Shard("dev", "a", "c")) == ["dev/a", "dev/b"]
        assert listed(Shard("dev", "b")) == ["dev/b", "dev/c"]
        assert listed(Shard("dev", "a"), "scaling") == ["dev/b"]
        assert len(loop_states.list_loop_states("monitor")) == 6

    def test_loop_state_is_versioned_so_two_writers_conflict(self, loop_states: LoopStates) -> None:
        assert loop_states.get_loop_state("scaling", "dev/orders") is None
        first = loop_states.put_loop_state(LoopRecord("scaling", "dev/orders", {"replicas": 2}))
        with pytest.raises(ConcurrencyConflict):
            loop_states.put_loop_state(LoopRecord("scaling", "dev/orders", {"replicas": 9}))  # inserted meanwhile
        second = loop_states.put_loop_state(replace(first, body={"replicas": 3}))
        with pytest.raises(ConcurrencyConflict):
            loop_states.put_loop_state(replace(first, body={"replicas": 4}))  # read before the second write
        stored = loop_states.get_loop_state("scaling", "dev/orders")
        assert stored is not None and stored.body == {"replicas": 3} and stored.etag == second.etag
        loop_states.put_loop_state(LoopRecord("scaling", "dev/a", {}))
        loop_states.put_loop_state(LoopRecord("monitor", "dev/orders", {}))
        assert [r.key for r in loop_states.list_loop_states("scaling")] == ["dev/a", "dev/orders"]

    def test_records_are_put_together_and_only_those_that_lost_a_race_are_none(self, loop_states: LoopStates) -> None:
        kept = loop_states.put_loop_state(LoopRecord("monitor", "dev/kept", {"n": 0}))
        taken = loop_states.put_loop_state(LoopRecord("monitor", "dev/taken", {"n": 0}))
        loop_states.put_loop_state(replace(taken, body={"n": 1}))  # another writer, after ``taken`` was read
        fresh = [LoopRecord("monitor", f"dev/s{n:03}", {"n": n}) for n in range(150)]  # two transactions' worth
        records = [
            *fresh,
            replace(kept, body={"n": 2}),
            replace(taken, body={"n": 2}),
            LoopRecord("scaling", "dev/a", {}),
        ]

        stored = loop_states.put_loop_states(records)

        assert [record is None for record in stored] == [False] * 151 + [True, False]
        assert all(s is not None and s.key == r.key and s.etag for s, r in zip(stored, records, strict=True) if s)
        body = {r.key: dict(r.body) for r in loop_states.list_loop_states("monitor")}
        assert body["dev/kept"] == {"n": 2} and body["dev/taken"] == {"n": 1} and body["dev/s149"] == {"n": 149}
        again = loop_states.put_loop_states([replace(stored[0], body={"n": 9})])  # the etag it returned is current
        assert again[0] is not None and loop_states.get_loop_state("monitor", "dev/s000").body == {"n": 9}
        assert loop_states.put_loop_states([]) == []
