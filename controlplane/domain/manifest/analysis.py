"""Metric analysis of a release: what to measure on the new revision at each gate, and when it fails or holds.

Like Argo Rollouts' AnalysisTemplates and Flagger's metric checks, each metric is measured ``count`` times,
``intervalSeconds`` apart, over the traffic of the last interval, and compared with its ``threshold``. A
measurement without a value (no traffic, no data, the metric source down) is *inconclusive*: it never counts
towards passing or failing. A metric passes after ``count`` conclusive measurements of which at most
``failureLimit`` failed; it fails as soon as more than ``failureLimit`` failed; it *holds* the rollout as soon
as more than ``inconclusiveLimit`` were inconclusive (``domain.analysis`` has the arithmetic and its table).

Providers answer a builtin metric of the new revision only, or (Application Insights, Prometheus) a custom
query whose ``{{ environment }}``, ``{{ service }}``, ``{{ revision }}`` and ``{{ window }}`` placeholders are
filled in, Flagger's syntax: double braces do not clash with PromQL's label selectors or KQL (``{{ window }}``
becomes ``30s``, which both read as a duration).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from controlplane.domain.manifest import fields as t
from controlplane.domain.manifest import rules as manifest_rules

ProviderType = Literal["router", "applicationInsights", "prometheus"]
Builtin = Literal["requestSuccessRate", "requestLatency"]
DEFAULT_INTERVAL_SECONDS = 30


class MetricProvider(manifest_rules.RuledModel):
    """Where a metric is read.

    router: the local router's per-revision counters (local compute). applicationInsights: KQL over the
    Log Analytics workspace ``workspaceId`` (AppRequests of the revision). prometheus: PromQL over the query
    endpoint of an Azure Monitor workspace (``endpoint``, https; http only on loopback), with an Entra token.
    """

    cross_field_rule = manifest_rules.provider_errors

    type: ProviderType
    workspace_id: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")] | None = None
    endpoint: Annotated[str, Field(max_length=2048, pattern=r"^https?://[^\s?#]+$")] | None = None


class Threshold(manifest_rules.RuledModel):
    """The success condition: the value must be >= ``min`` and <= ``max`` (at least one of them)."""

    cross_field_rule = manifest_rules.threshold_errors

    min: float | None = None
    max: float | None = None


class AnalysisMetric(manifest_rules.RuledModel):
    """One metric: a builtin or a custom query, its threshold, and how often and how many times to measure it.

    requestSuccessRate: the share (0..1) of the new revision's requests not answered with a 5xx.
    requestLatency: the ``percentile`` (default 95) of the new revision's request duration, in milliseconds.
    """

    cross_field_rule = manifest_rules.metric_errors

    name: t.DnsLabel
    provider: MetricProvider | None = None
    builtin: Builtin | None = None
    percentile: Annotated[float, Field(gt=0, lt=100)] | None = None
    query: Annotated[str, Field(min_length=1, max_length=4000)] | None = None
    threshold: Threshold
    interval_seconds: Annotated[int, Field(ge=1, le=3600)] | None = None
    count: Annotated[int, Field(ge=1, le=100)] = 3
    failure_limit: Annotated[int, Field(ge=0, le=100)] = 0
    inconclusive_limit: Annotated[int, Field(ge=0, le=100)] = 0


class InconclusivePolicy(t.ManifestModel):
    """What an inconclusive hold waits for: an operator's approve (go on) or abort (roll back); with
    ``timeoutSeconds``, ``onTimeout`` decides once that long has passed without one."""

    timeout_seconds: Annotated[int, Field(ge=60, le=604800)] | None = None
    on_timeout: Literal["rollback", "continue"] = "rollback"


class Analysis(manifest_rules.RuledModel):
    """Metric analysis run beside the health gate at every gate of the rollout.

    ``provider`` and ``intervalSeconds`` are the defaults of the metrics that set none. With
    ``afterPromotionSeconds`` the last gate keeps measuring, all traffic on the new revision, that long
    before the stable revision is retired.
    """

    cross_field_rule = manifest_rules.analysis_errors

    provider: MetricProvider | None = None
    interval_seconds: Annotated[int, Field(ge=1, le=3600)] = DEFAULT_INTERVAL_SECONDS
    metrics: Annotated[list[AnalysisMetric], Field(min_length=1, max_length=10)]
    after_promotion_seconds: Annotated[int, Field(ge=0, le=86400)] = 0
    inconclusive: InconclusivePolicy = Field(default_factory=InconclusivePolicy)

    def provider_of(self, metric: AnalysisMetric) -> MetricProvider:
        """The metric's provider, else the analysis's (the rules make sure there is one)."""
        provider = metric.provider or self.provider
        assert provider is not None, "analysis_errors requires a provider for every metric"
        return provider

    def interval_of(self, metric: AnalysisMetric) -> int:
        return metric.interval_seconds or self.interval_seconds
