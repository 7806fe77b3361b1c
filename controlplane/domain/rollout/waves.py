"""Release waves: the services of a release in dependency order (``dependsOn``), layer by layer.

A wave holds every service whose dependencies are all in earlier waves; within a wave services keep their
manifest order. The manifest refuses unknown names and cycles, so every service lands in a wave. Worked
examples (manifest order, then ``dependsOn``):

    services (dependsOn)                        | waves
    ------------------------------------------- | ---------------------------
    web, api, db                                | [web, api, db]
    web (api), api (db), db                     | [db], [api], [web]
    web (api, cache), api (db), cache, db       | [cache, db], [api], [web]
    web (db), api (db), db                      | [db], [web, api]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def waves(depends_on: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """The waves of services named (in manifest order) by ``depends_on``'s keys; raises ``ValueError`` on a
    cycle or an unknown dependency (the manifest refuses both, so a model built in code must too)."""
    placed: set[str] = set()
    result: list[list[str]] = []
    remaining = list(depends_on)
    for name in remaining:
        unknown = [needed for needed in depends_on[name] if needed not in depends_on]
        if unknown:
            raise ValueError(f"service {name} depends on unknown {', '.join(unknown)}")
    while remaining:
        wave = [name for name in remaining if all(needed in placed for needed in depends_on[name])]
        if not wave:
            raise ValueError(f"dependency cycle among {', '.join(remaining)}")
        result.append(wave)
        placed.update(wave)
        remaining = [name for name in remaining if name not in placed]
    return result
