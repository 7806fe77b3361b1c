"""Query text from templates: KQL string literals, selector templates filled with escaped values, and what
a builtin metric needs before it can be written as a query.

KQL and PromQL strings both escape with a backslash; a value filled into a quoted placeholder of a template
(``AppRoleName == '{service}'``, ``pod=~"{revision}-.*"``) is escaped for the template's quote, so a name can
never end the string and add a condition of its own.
"""

from __future__ import annotations

from controlplane.domain.analysis import MetricQuery
from controlplane.domain.manifest.fields import QUERY_PLACEHOLDER, QUERY_PLACEHOLDERS

BUILTINS = ("requestSuccessRate", "requestLatency")
PLACEHOLDERS = ("environment", "service", "revision")


def escaped(value: str, quote: str) -> str:
    """``value`` for use inside a ``quote``-delimited KQL or PromQL string."""
    return value.replace("\\", "\\\\").replace(quote, "\\" + quote)


def kql_string(value: str) -> str:
    """A KQL string literal."""
    return "'" + escaped(value, "'") + "'"


def fill(template: str, quote: str, environment: str, service: str, revision: str) -> str:
    """``template`` with ``{environment}``, ``{service}`` and ``{revision}`` filled in, escaped for ``quote``."""
    values = {"environment": environment, "service": service, "revision": revision}
    return template.format(**{name: escaped(value, quote) for name, value in values.items()})


def check_template(template: str, name: str) -> str | None:
    """Why ``template`` cannot be filled (it names another placeholder), or None."""
    try:
        template.format(**dict.fromkeys(PLACEHOLDERS, ""))
    except (KeyError, IndexError, ValueError) as error:
        return f"{name} may use only {{environment}}, {{service}} and {{revision}} (got {template!r}: {error!r})"
    return None


def unmeasurable(query: MetricQuery) -> str | None:
    """Why ``query`` cannot be sent as asked, or None: a custom query naming a placeholder ``MetricQuery.filled``
    cannot fill (the manifest refuses those; a hand-made query may not), or a builtin ``builtin_problem`` names."""
    if query.builtin is None:
        unknown = [name for name in QUERY_PLACEHOLDER.findall(query.query or "") if name not in QUERY_PLACEHOLDERS]
        return f"the query names an unknown placeholder {unknown[0]!r}" if unknown else None
    return builtin_problem(query)


def builtin_problem(query: MetricQuery) -> str | None:
    """Why a builtin ``query`` cannot be measured (an unknown builtin, a percentile outside 0..100, no window),
    or None. A newer manifest or a hand-made query gets a no-data answer, never a guessed query."""
    if query.builtin not in BUILTINS:
        return f"unknown builtin {query.builtin!r} (known: {', '.join(BUILTINS)})"
    if query.builtin == "requestLatency" and not 0 < (query.percentile or 95.0) < 100:
        return f"percentile must be between 0 and 100 (got {query.percentile:g})"
    if query.window_seconds <= 0:
        return f"the window must be positive (got {query.window_seconds}s)"
    return None
