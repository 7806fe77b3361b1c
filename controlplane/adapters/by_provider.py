"""The AnalysisProvider port over several metric sources: each query goes to the adapter of its provider type
(``router``, ``applicationInsights``, ``prometheus``). A type this control plane has no adapter for is a
no-data measurement naming what to configure: it holds a rollout, it never decides one."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from controlplane.domain.analysis import Measurement, MetricQuery
from controlplane.ports import AnalysisProvider


class AnalysisByProvider:
    """Routes every query by ``query.provider``."""

    def __init__(self, adapters: Mapping[str, AnalysisProvider], missing: Mapping[str, str] | None = None) -> None:
        """``missing``: provider type -> why it is not configured here (shown in the measurement's error)."""
        self._adapters = MappingProxyType(dict(adapters))
        self._missing = dict(missing or {})

    def measure(self, query: MetricQuery) -> Measurement:
        adapter = self._adapters.get(query.provider)
        if adapter is None:
            why = self._missing.get(query.provider) or (
                f"provider {query.provider} is not available on this control plane "
                f"(configured: {', '.join(sorted(self._adapters)) or 'none'})"
            )
            return Measurement(None, f"{query.provider}: {query.metric}", why)
        return adapter.measure(query)
