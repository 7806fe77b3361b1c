"""Traffic weights between the revisions of a service: the rule every Compute adapter enforces."""

from __future__ import annotations

from collections.abc import Mapping

from controlplane.errors import PermanentError


def check_weights(environment: str, service: str, weights: Mapping[str, int]) -> None:
    """Raise PermanentError unless ``weights`` are whole percentages summing to 100."""
    bad = [name for name, weight in weights.items() if not isinstance(weight, int) or not 0 <= weight <= 100]
    if bad:
        raise PermanentError(f"{environment}/{service}: traffic weights of {bad} must be integers 0..100")
    if sum(weights.values()) != 100:
        raise PermanentError(
            f"{environment}/{service}: traffic weights must sum to 100 (got {sum(weights.values())}: {dict(weights)})"
        )
