"""Route templates of httpTrigger functions, compiled and matched as the Functions host does.

Syntax is ASP.NET Core's, which the Functions host uses:

| template | matches | route params |
|---|---|---|
| ``deployments/{id}`` | ``deployments/d1`` | ``{"id": "d1"}`` |
| ``items/{id:int}/{part?}`` | ``items/7``; not ``items/x`` | ``{"id": "7"}`` |
| ``items/{id:int}/{part?}`` | ``items/7/x`` | ``{"id": "7", "part": "x"}`` |
| ``pages/{n:range(1,9)=1}`` | ``pages``, ``pages/3``; not ``pages/12`` | ``{"n": "1"}``, ``{"n": "3"}`` |
| ``files/{*rest}`` | ``files``, ``files/a/b.txt`` | ``{}``, ``{"rest": "a/b.txt"}`` |
| ``v{major}.{minor}`` | ``v1.2`` | ``{"major": "1", "minor": "2"}`` |

Literals match case-insensitively. ``{{`` and ``}}`` are literal braces (also inside ``regex(...)``).
When several routes match a path, the more specific wins, segment by segment: literal, then mixed
(``{a}.{b}``), then constrained parameter, then plain or optional parameter, then catch-all.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from funchost.errors import FieldError, InvalidInput
from funchost.functions import HTTP, FunctionEntry, FunctionIndex

Constraint = Callable[[str], bool]
AUTH_LEVELS = ("anonymous", "function", "admin")
_LITERAL, _MIXED, _CONSTRAINED, _PARAMETER, _CATCH_ALL = 1, 2, 3, 4, 5
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class InvalidRoutes(InvalidInput):
    """One or more httpTrigger functions declare a route the host cannot serve."""

    what = "HTTP routes"


@dataclass(frozen=True)
class Parameter:
    """One ``{...}`` of a template: its checks, and whether (or with what default) it may be absent."""

    name: str
    constraints: tuple[Constraint, ...]
    optional: bool
    default: str | None
    catch_all: bool


@dataclass(frozen=True)
class HttpRoute:
    """One function's compiled route."""

    function: str
    template: str
    methods: frozenset[str] | None  # None: every method
    auth_level: str  # one of AUTH_LEVELS
    pattern: re.Pattern[str] = field(repr=False)
    parameters: tuple[Parameter, ...] = field(repr=False)
    precedence: tuple[int, ...] = field(repr=False)

    def match(self, path: str) -> dict[str, str] | None:
        """Route params if ``path`` (after the prefix, no leading slash) matches template and constraints."""
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        values: dict[str, str] = {}
        for index, parameter in enumerate(self.parameters):
            value = found.group(f"p{index}") or parameter.default
            if value is None:
                continue
            if not all(check(value) for check in parameter.constraints):
                return None
            values[parameter.name] = value
        return values

    def allows(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods


def compile_routes(index: FunctionIndex) -> list[HttpRoute]:
    """Every httpTrigger function's route, most specific first; InvalidRoutes names every bad one."""
    routes, errors = [], []
    for entry in index.of_type(HTTP):
        try:
            routes.append(compile_route(entry))
        except ValueError as error:
            errors.append(FieldError(f"{entry.name}.route", str(error)))
    if errors:
        raise InvalidRoutes(errors)
    return sorted(routes, key=lambda route: (route.precedence, route.template.lower(), route.function))


def compile_route(entry: FunctionEntry) -> HttpRoute:
    """The route of one httpTrigger entry (default: the function name); ValueError says what is wrong."""
    template = (entry.trigger.get("route") or entry.name).strip("/")
    level = str(entry.trigger.get("authLevel") or "function").lower()
    if level not in AUTH_LEVELS:
        raise ValueError(f"authLevel must be one of {', '.join(AUTH_LEVELS)} (got {level!r})")
    segments = _parse(template)
    parameters: list[Parameter] = []
    regex = ""
    for position, segment in enumerate(segments):
        separator = "/" if position else ""
        lone = segment[0] if len(segment) == 1 and isinstance(segment[0], Parameter) else None
        if lone and lone.catch_all and position != len(segments) - 1:
            raise ValueError(f"catch-all {{*{lone.name}}} must be the last segment of {template!r}")
        if lone and (lone.optional or lone.default is not None or lone.catch_all):
            # The separator belongs to the optional segment: `items/{id?}` matches `items`.
            regex += f"(?:{separator}(?P<p{len(parameters)}>{'.*' if lone.catch_all else '[^/]+'}))?"
            parameters.append(lone)
            continue
        regex += separator
        for token in segment:
            if isinstance(token, str):
                regex += re.escape(token)
            elif token.catch_all:
                raise ValueError(f"catch-all {{*{token.name}}} must be a whole segment of {template!r}")
            else:
                regex += f"(?P<p{len(parameters)}>[^/]+?)"
                parameters.append(token)
    names = [parameter.name.lower() for parameter in parameters]
    if len(set(names)) != len(names):
        raise ValueError(f"a parameter name appears twice in {template!r}")
    methods = entry.trigger.get("methods")
    return HttpRoute(
        function=entry.name,
        template=template,
        methods=frozenset(method.upper() for method in methods) if methods else None,
        auth_level=level,
        pattern=re.compile(regex, re.IGNORECASE | re.DOTALL),
        parameters=tuple(parameters),
        precedence=tuple(_rank(segment) for segment in segments),
    )


def _rank(segment: list[str | Parameter]) -> int:
    first = segment[0]
    if all(isinstance(token, str) for token in segment):
        return _LITERAL
    if len(segment) > 1 or not isinstance(first, Parameter):
        return _MIXED
    return _CATCH_ALL if first.catch_all else _CONSTRAINED if first.constraints else _PARAMETER


def _parse(template: str) -> list[list[str | Parameter]]:
    segments: list[list[str | Parameter]] = [[]]
    literal, at = "", 0
    while at < len(template):
        char = template[at]
        if template.startswith(("{{", "}}"), at):
            literal, at = literal + char, at + 2
        elif char == "}":
            raise ValueError(f"unmatched '}}' at offset {at} of {template!r} (write '}}}}' for a literal brace)")
        elif char in "/{":
            if literal:
                segments[-1].append(literal)
            literal = ""
            if char == "/":
                segments.append([])
                at += 1
            else:
                end = _closing_brace(template, at)
                segments[-1].append(_parameter(template[at + 1 : end].replace("{{", "{").replace("}}", "}")))
                at = end + 1
        else:
            literal, at = literal + char, at + 1
    if literal:
        segments[-1].append(literal)
    if template and not all(segments):
        raise ValueError(f"empty segment in {template!r}")
    return [segment for segment in segments if segment]


def _closing_brace(template: str, start: int) -> int:
    depth, at = 0, start + 1
    while at < len(template):
        if depth and template.startswith(("{{", "}}"), at):
            at += 2
            continue
        char = template[at]
        if char == "}" and not depth:
            return at
        depth += (char == "(") - (char == ")" and depth > 0)
        at += 1
    raise ValueError(f"unclosed '{{' at offset {start} of {template!r}")


def _parameter(text: str) -> Parameter:
    """``*rest``, ``id``, ``id?``, ``id:int``, ``n:range(1,9)?``, ``page:int=1``."""
    catch_all = text.startswith("*")
    text = text.lstrip("*")
    optional = text.endswith("?")
    head, *default = _split_top_level(text.removesuffix("?"), "=", limit=1)
    name, *specs = _split_top_level(head, ":")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", name):
        raise ValueError(f"parameter name {name!r} must be letters, digits, '_' or '-'")
    if catch_all and (optional or default):
        raise ValueError(f"catch-all {{*{name}}} is optional already: drop the '?' or default")
    return Parameter(
        name, tuple(constraint(spec) for spec in specs), optional, default[0] if default else None, catch_all
    )


def _split_top_level(text: str, separator: str, limit: int = -1) -> list[str]:
    parts: list[str] = []
    depth = start = 0
    for at, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char == separator and depth == 0 and len(parts) != limit:
            parts.append(text[start:at])
            start = at + 1
    return [*parts, text[start:]]


# --- constraints (the ASP.NET Core route constraints the Functions host accepts) ---


def _integer(bits: int) -> Constraint:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return lambda value: re.fullmatch(r"[+-]?[0-9]+", value) is not None and low <= int(value) <= high


def _number(value: str) -> bool:
    return _NUMBER.fullmatch(value) is not None and math.isfinite(float(value))


def _succeeds(parse: Callable[[str], object]) -> Constraint:
    def check(value: str) -> bool:
        try:
            parse(value)
        except ValueError:
            return False
        return True

    return check


_PLAIN: dict[str, Constraint] = {
    "int": _integer(32),
    "long": _integer(64),
    "bool": lambda value: value.lower() in ("true", "false"),
    "alpha": lambda value: re.fullmatch(r"[A-Za-z]+", value) is not None,
    "guid": _succeeds(uuid.UUID),
    "datetime": _succeeds(datetime.fromisoformat),
    "decimal": _number,
    "double": _number,
    "float": _number,
    "required": bool,
}
_long = _integer(64)
_WITH_ARGUMENTS: dict[str, tuple[tuple[int, ...], Callable[..., Constraint]]] = {
    "minlength": ((1,), lambda n: lambda value: len(value) >= n),
    "maxlength": ((1,), lambda n: lambda value: len(value) <= n),
    "length": ((1, 2), lambda low, high=None: lambda value: low <= len(value) <= (low if high is None else high)),
    "min": ((1,), lambda n: lambda value: _long(value) and int(value) >= n),
    "max": ((1,), lambda n: lambda value: _long(value) and int(value) <= n),
    "range": ((2,), lambda low, high: lambda value: _long(value) and low <= int(value) <= high),
}
KNOWN_CONSTRAINTS = (*_PLAIN, *_WITH_ARGUMENTS, "regex")


def constraint(spec: str) -> Constraint:
    """The check for one constraint such as ``int``, ``length(2,8)`` or ``regex(^v\\d+$)``; ValueError if unknown."""
    name, has_arguments, arguments = spec.partition("(")
    name = name.strip().lower()
    if has_arguments and not arguments.endswith(")"):
        raise ValueError(f"constraint {spec!r}: missing ')'")
    arguments = arguments[:-1]
    if name in _PLAIN and not has_arguments:
        return _PLAIN[name]
    if name == "regex" and has_arguments:
        try:
            pattern = re.compile(arguments, re.IGNORECASE)  # unanchored and case-insensitive, as in ASP.NET Core
        except re.error as error:
            raise ValueError(f"constraint {spec!r}: bad regular expression ({error})") from error
        return lambda value: pattern.search(value) is not None
    if name in _WITH_ARGUMENTS and has_arguments:
        counts, build = _WITH_ARGUMENTS[name]
        values = [value.strip() for value in arguments.split(",")]
        if len(values) not in counts or not all(re.fullmatch(r"[+-]?[0-9]+", value) for value in values):
            raise ValueError(f"constraint {spec!r}: takes {' or '.join(map(str, counts))} integer argument(s)")
        return build(*map(int, values))
    if name in KNOWN_CONSTRAINTS:
        raise ValueError(f"constraint {spec!r}: {'needs' if name not in _PLAIN else 'takes no'} arguments")
    raise ValueError(f"unknown constraint {spec!r} (known: {', '.join(sorted(KNOWN_CONSTRAINTS))})")
