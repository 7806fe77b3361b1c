"""Cross-field rules of the release manifest, as pure functions over camelCase mappings.

Pydantic skips a model's after-validators when any of its fields failed, so a document with a bad
image would hide its duplicate service name. To list every failing field, each rule is written once
here, over plain mappings, and used twice:

- by each model's after-validator (``RuledModel``), so a model built in code keeps its invariants;
- by ``release_rule_errors`` over the raw document, which ``parse_release`` runs even when pydantic
  failed elsewhere.

Both paths give identical (path, reason) pairs, which ``parse_release`` de-duplicates. The rules are
tolerant: a value of the wrong type is pydantic's to report, so a rule skips it.
Paths returned by the ``*_errors`` functions are relative to the mapping they were given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, model_validator
from pydantic.alias_generators import to_snake
from pydantic_core import PydanticCustomError

from controlplane.domain.manifest import config_rules
from controlplane.domain.manifest import fields as t
from controlplane.errors import FieldError

RULE_ERROR = "manifest_rule"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

Rule = Callable[[Mapping[str, Any]], list[FieldError]]


def join_path(prefix: str, relative: str) -> str:
    """``spec.services`` + ``[1].image`` -> ``spec.services[1].image``; either side may be empty."""
    if not relative:
        return prefix
    if not prefix or relative.startswith("["):
        return prefix + relative
    return f"{prefix}.{relative}"


def key_segment(key: Any) -> str:
    """``team`` for an identifier-like key, ``["app.kubernetes.io/name"]`` for anything else."""
    if isinstance(key, str) and _IDENTIFIER.fullmatch(key):
        return key
    return f"[{json.dumps(str(key), ensure_ascii=False)}]"


def enforce(model: BaseModel, rule: Rule) -> None:
    """Raise the rule's errors on ``model`` as one pydantic error that ``errors`` expands."""
    errors = rule(model.model_dump(by_alias=True))
    if errors:
        raise PydanticCustomError(
            RULE_ERROR,
            "{summary}",
            {"summary": "; ".join(map(str, errors)), "errors": [[e.path, e.reason] for e in errors]},
        )


class RuledModel(t.ManifestModel):
    """A manifest model whose ``cross_field_rule`` (one of the functions below) holds once its fields do."""

    cross_field_rule: ClassVar[Rule]

    @model_validator(mode="after")
    def _check_cross_field_rule(self) -> Self:
        enforce(self, type(self).cross_field_rule)
        return self


def _get(mapping: Mapping[str, Any], key: str, default: Any = None) -> Any:
    if key in mapping:
        return mapping[key]
    return mapping.get(to_snake(key), default)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _mappings(value: Any) -> list[tuple[int, Mapping[str, Any]]]:
    items = value if isinstance(value, list | tuple) else []
    return [(index, item) for index, item in enumerate(items) if isinstance(item, Mapping)]


def _duplicates(items: list[tuple[int, Mapping[str, Any]]], key: str, what: str, where: str) -> list[FieldError]:
    seen: dict[Any, int] = {}
    errors = []
    for index, item in items:
        value = _get(item, key)
        if not isinstance(value, str):
            continue
        if value in seen:
            errors.append(
                FieldError(f"{where}[{index}].{key}", f'duplicate {what} "{value}" (also {where}[{seen[value]}])')
            )
        else:
            seen[value] = index
    return errors


def environment_errors(environment: Mapping[str, Any]) -> list[FieldError]:
    compute = _get(environment, "compute")
    region = _get(environment, "region", t.LOCAL_REGION)
    if compute in ("aks", "containerapps") and region in (None, t.LOCAL_REGION):
        reason = (
            f'compute "{compute}" needs an Azure region such as "westeurope"; '
            f'"{t.LOCAL_REGION}" (the default) is only for compute local'
        )
        return [FieldError("region", reason)]
    return []


def rolling_errors(strategy: Mapping[str, Any]) -> list[FieldError]:
    surge = _get(strategy, "maxSurge", t.DEFAULT_MAX_SURGE)
    unavailable = _get(strategy, "maxUnavailable", t.DEFAULT_MAX_UNAVAILABLE)
    if _is_zero(surge) and _is_zero(unavailable):
        reason = "maxSurge and maxUnavailable cannot both be zero; the rollout could never replace a replica"
        return [FieldError("maxUnavailable", reason)]
    return []


def _is_zero(value: Any) -> bool:
    return _int(value) == 0 or value == "0%"


def canary_errors(strategy: Mapping[str, Any]) -> list[FieldError]:
    errors = []
    previous: tuple[int, int] | None = None
    for index, step in _mappings(_get(strategy, "steps")):
        weight = _int(_get(step, "weight"))
        if weight is None:
            continue
        if previous is not None and weight <= previous[1]:
            reason = f"weights must strictly increase (got {weight} after {previous[1]} at steps[{previous[0]}])"
            errors.append(FieldError(f"steps[{index}].weight", reason))
        previous = (index, weight)
    return errors


def pause_errors(pause: Mapping[str, Any]) -> list[FieldError]:
    chosen = (_get(pause, "durationSeconds") is not None) + (_get(pause, "untilApproved") is True)
    if chosen != 1:
        return [FieldError("", "a pause needs exactly one of durationSeconds (1..86400) or untilApproved: true")]
    return []


def scaling_rule_errors(rule: Mapping[str, Any]) -> list[FieldError]:
    target = _number(_get(rule, "target"))
    if _get(rule, "metric") == "cpu" and target is not None and not 1 <= target <= 100:
        return [FieldError("target", f"a cpu target is a percentage, 1..100 (got {t.shown(target)})")]
    return []


def scaling_errors(policy: Mapping[str, Any]) -> list[FieldError]:
    errors = []
    low = _int(_get(policy, "minReplicas", t.DEFAULT_MIN_REPLICAS))
    high = _int(_get(policy, "maxReplicas"))
    to_zero = _get(policy, "scaleToZero", False) is True
    target = _get(policy, "target", t.DEFAULT_SCALING_TARGET)
    if low is not None and high is not None and high < low:
        errors.append(FieldError("maxReplicas", f"must be >= minReplicas (got {high} < {low})"))
    if low == 0 and not to_zero:
        errors.append(FieldError("minReplicas", "may be 0 only with scaleToZero: true (got 0)"))
    if to_zero and target != "event-driven":
        reason = (
            f"scaleToZero needs target event-driven; an http target must keep a replica (got target {t.shown(target)})"
        )
        errors.append(FieldError("scaleToZero", reason))
    if _get(policy, "activationThreshold") is not None and not to_zero:
        errors.append(FieldError("activationThreshold", "only allowed with scaleToZero: true"))
    errors.extend(_duplicates(_mappings(_get(policy, "rules")), "metric", "metric", "rules"))
    return errors


DRIFT_FIELDS = ("image", "replicas", "configHash", "secrets", "traffic")


def service_errors(service: Mapping[str, Any]) -> list[FieldError]:
    errors = []
    replicas = _int(_get(service, "replicas", t.DEFAULT_REPLICAS))
    scaling = _mapping(_get(service, "scaling"))
    if scaling is not None and replicas is not None:
        low = _int(_get(scaling, "minReplicas", t.DEFAULT_MIN_REPLICAS))
        high = _int(_get(scaling, "maxReplicas"))
        if low is not None and high is not None and low <= high and not low <= replicas <= high:
            errors.append(FieldError("replicas", f"must lie within scaling range [{low}, {high}] (got {replicas})"))
    secrets = _mappings(_get(service, "secrets"))
    errors.extend(_duplicates(secrets, "name", "secret name", "secrets"))
    configuration = _mapping(_get(service, "configuration")) or {}
    for key, value in configuration.items():
        credential = config_rules.credential_error(key, value) if isinstance(value, str) else None
        if credential is not None:
            errors.append(FieldError(join_path("configuration", key_segment(key)), credential))
    for index, secret in secrets:
        name = _get(secret, "name")
        if isinstance(name, str) and name in configuration:
            reason = f'secret "{name}" clashes with configuration key "{name}"; a variable has one source'
            errors.append(FieldError(f"secrets[{index}].name", reason))
    ignored = _get(service, "ignoreDifferences")
    for index, pointer in enumerate(ignored if isinstance(ignored, list) else []):
        if isinstance(pointer, str) and pointer.split("/")[1:2] and pointer.split("/")[1] not in DRIFT_FIELDS:
            reason = f"drift compares {', '.join('/' + f for f in DRIFT_FIELDS)}; {pointer!r} is none of them"
            errors.append(FieldError(f"ignoreDifferences[{index}]", reason))
    return errors


_LOOPBACK_HTTP = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)")


def provider_errors(provider: Mapping[str, Any]) -> list[FieldError]:
    kind = _get(provider, "type")
    workspace, endpoint = _get(provider, "workspaceId"), _get(provider, "endpoint")
    errors = []
    if kind == "applicationInsights" and workspace is None:
        errors.append(FieldError("workspaceId", "provider applicationInsights needs the Log Analytics workspace id"))
    if kind == "prometheus" and endpoint is None:
        reason = "provider prometheus needs the query endpoint of the Azure Monitor workspace"
        errors.append(FieldError("endpoint", reason))
    if kind != "applicationInsights" and workspace is not None:
        errors.append(FieldError("workspaceId", f"only for provider applicationInsights (got {t.shown(kind)})"))
    if kind != "prometheus" and endpoint is not None:
        errors.append(FieldError("endpoint", f"only for provider prometheus (got {t.shown(kind)})"))
    if isinstance(endpoint, str) and endpoint.startswith("http://") and not _LOOPBACK_HTTP.match(endpoint):
        errors.append(FieldError("endpoint", "must be https (plain http only on a loopback address); a token is sent"))
    return errors


def threshold_errors(threshold: Mapping[str, Any]) -> list[FieldError]:
    low, high = _number(_get(threshold, "min")), _number(_get(threshold, "max"))
    if _get(threshold, "min") is None and _get(threshold, "max") is None:
        return [FieldError("", "a threshold needs min, max or both")]
    if low is not None and high is not None and low > high:
        return [FieldError("max", f"must be >= min (got {t.shown(high)} < {t.shown(low)})")]
    return []


def metric_errors(metric: Mapping[str, Any]) -> list[FieldError]:
    builtin, query = _get(metric, "builtin"), _get(metric, "query")
    errors = []
    if (builtin is None) == (query is None):
        errors.append(
            FieldError("", "a metric needs exactly one of builtin (requestSuccessRate, requestLatency) or query")
        )
    if _get(metric, "percentile") is not None and builtin != "requestLatency":
        errors.append(FieldError("percentile", "only for builtin requestLatency"))
    provider = _mapping(_get(metric, "provider"))
    if query is not None and provider is not None and _get(provider, "type") == "router":
        reason = "the router answers builtin metrics only; a query needs provider applicationInsights or prometheus"
        errors.append(FieldError("query", reason))
    if isinstance(query, str):
        errors += _placeholder_errors(query)
    count, limit = _int(_get(metric, "count", 3)), _int(_get(metric, "failureLimit", 0))
    if count is not None and limit is not None and limit >= count:
        reason = f"must be below count (got {limit} >= {count}): the metric could never fail"
        errors.append(FieldError("failureLimit", reason))
    return errors


def _placeholder_errors(query: str) -> list[FieldError]:
    unknown = sorted({name for name in t.QUERY_PLACEHOLDER.findall(query) if name not in t.QUERY_PLACEHOLDERS})
    if unknown:
        shown = ", ".join("{{ " + name + " }}" for name in unknown)
        known = ", ".join("{{ " + name + " }}" for name in t.QUERY_PLACEHOLDERS)
        return [FieldError("query", f"unknown placeholder {shown}; use {known}")]
    return []


def analysis_errors(analysis: Mapping[str, Any]) -> list[FieldError]:
    metrics = _mappings(_get(analysis, "metrics"))
    errors = _duplicates(metrics, "name", "metric name", "metrics")
    default = _mapping(_get(analysis, "provider"))
    for index, metric in metrics:
        provider = _mapping(_get(metric, "provider")) or default
        if provider is None:
            errors.append(FieldError(f"metrics[{index}].provider", "no provider here nor in the analysis"))
        elif _get(metric, "query") is not None and _get(provider, "type") == "router" and not _get(metric, "provider"):
            reason = "the router answers builtin metrics only; a query needs provider applicationInsights or prometheus"
            errors.append(FieldError(f"metrics[{index}].query", reason))
    return errors


def spec_errors(spec: Mapping[str, Any]) -> list[FieldError]:
    services = _mappings(_get(spec, "services"))
    errors = _duplicates(services, "name", "service name", "services")
    names = {name for _, service in services if isinstance(name := _get(service, "name"), str)}
    for index, service in services:
        for position, needed in enumerate(_strings(_get(service, "dependsOn"))):
            where = f"services[{index}].dependsOn[{position}]"
            if needed == _get(service, "name"):
                errors.append(FieldError(where, f'service "{needed}" cannot depend on itself'))
            elif needed not in names:
                errors.append(FieldError(where, f'no service "{needed}" in this release'))
    cycle = dependency_cycle({_get(s, "name"): _strings(_get(s, "dependsOn")) for _, s in services})
    if cycle:
        index = next(i for i, s in services if _get(s, "name") == cycle[0])
        reason = f"dependency cycle: {' -> '.join(cycle)}; services {', '.join(sorted(set(cycle)))} wait for each other"
        errors.append(FieldError(f"services[{index}].dependsOn", reason))
    hooks = _mappings(_get(spec, "webhooks"))
    errors += _duplicates(hooks, "name", "webhook name", "webhooks")
    for index, hook in hooks:
        for position, named in enumerate(_strings(_get(hook, "services"))):
            if named not in names:
                errors.append(
                    FieldError(f"webhooks[{index}].services[{position}]", f'no service "{named}" in this release')
                )
    return errors


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list | tuple) else []


def dependency_cycle(graph: Mapping[Any, list[str]]) -> list[str]:
    """The first dependency cycle found, as ``[a, b, ..., a]`` (depth-first in service order), or ``[]``.
    Names that are not services (reported elsewhere) are ignored."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = "open"
        path.append(name)
        for needed in graph.get(name, []):
            if needed not in graph or needed == name:
                continue
            if state.get(needed) == "open":
                return [*path[path.index(needed) :], needed]
            if needed not in state and (found := visit(needed)):
                return found
        state[name] = "done"
        path.pop()
        return []

    for name in graph:
        if isinstance(name, str) and name not in state and (found := visit(name)):
            return found
    return []


def release_rule_errors(document: Mapping[str, Any]) -> list[FieldError]:
    """Every cross-field rule applied to a raw document, with paths from the document root."""
    spec = _mapping(_get(document, "spec"))
    if spec is None:
        return []
    errors = _under("spec", spec_errors(spec))
    environment = _mapping(_get(spec, "environment"))
    if environment is not None:
        errors += _under("spec.environment", environment_errors(environment))
    strategy = _mapping(_get(spec, "strategy")) or {}
    kind = _get(strategy, "type")
    if kind == "RollingHealthGated":
        errors += _under("spec.strategy", rolling_errors(strategy))
    elif kind == "Canary":
        errors += _under("spec.strategy", canary_errors(strategy))
        for index, step in _mappings(_get(strategy, "steps")):
            pause = _mapping(_get(step, "pause"))
            if pause is not None:
                errors += _under(f"spec.strategy.steps[{index}].pause", pause_errors(pause))
    errors += _under("spec.analysis", _analysis_tree_errors(_mapping(_get(spec, "analysis"))))
    for index, service in _mappings(_get(spec, "services")):
        where = f"spec.services[{index}]"
        errors += _under(where, service_errors(service))
        errors += _under(f"{where}.analysis", _analysis_tree_errors(_mapping(_get(service, "analysis"))))
        scaling = _mapping(_get(service, "scaling"))
        if scaling is not None:
            errors += _under(f"{where}.scaling", scaling_errors(scaling))
            for rule_index, rule in _mappings(_get(scaling, "rules")):
                errors += _under(f"{where}.scaling.rules[{rule_index}]", scaling_rule_errors(rule))
    return errors


def _analysis_tree_errors(analysis: Mapping[str, Any] | None) -> list[FieldError]:
    """The rules of an analysis and of its parts, paths relative to the analysis."""
    if analysis is None:
        return []
    errors = analysis_errors(analysis)
    default = _mapping(_get(analysis, "provider"))
    if default is not None:
        errors += _under("provider", provider_errors(default))
    for index, metric in _mappings(_get(analysis, "metrics")):
        where = f"metrics[{index}]"
        errors += _under(where, metric_errors(metric))
        provider = _mapping(_get(metric, "provider"))
        if provider is not None:
            errors += _under(f"{where}.provider", provider_errors(provider))
        threshold = _mapping(_get(metric, "threshold"))
        if threshold is not None:
            errors += _under(f"{where}.threshold", threshold_errors(threshold))
    return errors


def _under(prefix: str, errors: list[FieldError]) -> list[FieldError]:
    return [FieldError(join_path(prefix, error.path), error.reason) for error in errors]
