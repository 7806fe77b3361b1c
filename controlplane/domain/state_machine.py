"""A finite state machine given as an explicit transition table.

The table is the diagram: a transition that is not in it does not exist, and asking for one raises
:class:`~controlplane.errors.IllegalTransition`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from controlplane.errors import IllegalTransition

S = TypeVar("S", bound=StrEnum)


class StateMachine(Generic[S]):
    def __init__(self, name: str, initial: S, transitions: Mapping[S, frozenset[S]]) -> None:
        self.name = name
        self.initial = initial
        self._transitions = {state: frozenset(targets) for state, targets in transitions.items()}

    def targets(self, state: S) -> frozenset[S]:
        """The states reachable from ``state`` in one step (empty for a terminal state)."""
        return self._transitions.get(state, frozenset())

    def sources(self, target: S) -> frozenset[S]:
        """The states from which ``target`` is reachable in one step."""
        return frozenset(source for source, targets in self._transitions.items() if target in targets)

    def is_terminal(self, state: S) -> bool:
        return not self.targets(state)

    def check(self, source: S, target: S) -> S:
        """Return ``target`` when ``source -> target`` is in the table; raise IllegalTransition otherwise."""
        if target not in self.targets(source):
            raise IllegalTransition(self.name, source.value, target.value)
        return target

    def edges(self) -> list[tuple[S, S]]:
        """Every legal transition, in table order."""
        return [(source, target) for source, targets in self._transitions.items() for target in sorted(targets)]
