"""Subscription SQL filters, evaluated by the local bus as Service Bus evaluates them when a message arrives.

The grammar and the rules are those of "Subscription Rule SQL Filter Syntax" (Service Bus docs): user
properties by default scope (``user.`` optional), ``sys.`` for system properties; a missing user property
is *unknown*, and unknown follows SQL's three-valued logic (``unknown AND false`` is false, ``NOT
unknown`` is unknown); a message enters the subscription only when the filter is true.

This evaluator covers the part of the grammar a routing rule needs, and refuses the rest by name:

==========================================  =========================================================
supported                                   example
==========================================  =========================================================
``=``, ``<>``, ``!=`` against a constant    ``type = 'HealthCheckCompleted'``
``[NOT] IN (constants)``                    ``type IN ('HealthCheckCompleted', 'ScalingPolicyViolated')``
``IS [NOT] NULL``, ``EXISTS (property)``    ``EXISTS(service)``
``NOT``, ``AND``, ``OR``, parentheses        ``environment = 'prod' AND NOT (type = 'X')``
constants: ``'text'`` (``''`` escapes),     ``1``, ``TRUE``, ``FALSE``, ``NULL``
integers, ``TRUE``, ``FALSE``, ``NULL``
``sys.`` properties                         ``sys.Label``/``sys.Subject``, ``sys.CorrelationId``,
                                            ``sys.MessageId``, ``sys.ContentType``, ``sys.To``
==========================================  =========================================================

Arithmetic, ``LIKE``, relational operators (``<``, ``>``) and functions are refused when the host starts,
naming the filter, rather than evaluated differently from Service Bus. Property names match exactly, and a
property compares equal only to a constant of its own type (no implicit conversion).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from funchost.servicebus.message import Message

Truth = bool | None  # None: SQL's unknown
Predicate = Callable[[Message], Truth]

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>\d+)|(?P<op><>|!=|=|\(|\)|,)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)|(?P<bad>\S))"
)
_SYSTEM: dict[str, Callable[[Message], Any]] = {
    "label": lambda fields: fields.subject,
    "subject": lambda fields: fields.subject,
    "correlationid": lambda fields: fields.correlation_id,
    "messageid": lambda fields: fields.message_id,
    "contenttype": lambda fields: fields.content_type,
    "to": lambda fields: None,
}
_KEYWORDS = {"and", "or", "not", "in", "is", "null", "exists", "true", "false"}
_REFUSED = {"like", "escape", "<", ">", "+", "-", "*", "/", "%"}


class UnsupportedFilter(ValueError):
    """A filter the local bus does not evaluate (or not valid SQL filter syntax)."""


@dataclass(frozen=True)
class SqlFilter:
    expression: str
    matches: Predicate

    @classmethod
    def parse(cls, expression: str) -> SqlFilter:
        """The filter of ``expression``; UnsupportedFilter names what is wrong."""
        parser = _Parser(expression)
        predicate = parser.predicate()
        parser.end()
        return cls(expression, predicate)

    def accepts(self, fields: Message) -> bool:
        """True when the message enters the subscription (the filter is true, not false or unknown)."""
        return self.matches(fields) is True


class _Parser:
    """Recursive descent over: or := and (OR and)*; and := not (AND not)*; not := NOT not | primary."""

    def __init__(self, expression: str) -> None:
        self._expression = expression
        self._tokens: list[tuple[str, str]] = []
        for match in _TOKEN.finditer(expression):
            kind = match.lastgroup or "bad"
            text = match.group(kind)
            if kind == "bad":
                refused = f"operator {text!r}" if text in _REFUSED else f"character {text!r}"
                raise self._error(f"{refused} is not supported by the local bus")
            self._tokens.append((kind, text))
        self._position = 0

    def _error(self, reason: str) -> UnsupportedFilter:
        return UnsupportedFilter(f"SQL filter {self._expression!r}: {reason}")

    def _peek(self) -> tuple[str, str] | None:
        return self._tokens[self._position] if self._position < len(self._tokens) else None

    def _keyword(self, *words: str) -> bool:
        token = self._peek()
        if token and token[0] == "word" and token[1].lower() in words:
            self._position += 1
            return True
        return False

    def _take(self, text: str) -> None:
        token = self._peek()
        if token is None or token[1] != text:
            raise self._error(f"expected {text!r} at token {self._position + 1}")
        self._position += 1

    def end(self) -> None:
        token = self._peek()
        if token is not None:
            raise self._error(f"unexpected {token[1]!r} at token {self._position + 1}")

    def predicate(self) -> Predicate:
        terms = [self._conjunction()]
        while self._keyword("or"):
            terms.append(self._conjunction())
        return terms[0] if len(terms) == 1 else lambda fields: _or(term(fields) for term in terms)

    def _conjunction(self) -> Predicate:
        factors = [self._negation()]
        while self._keyword("and"):
            factors.append(self._negation())
        return factors[0] if len(factors) == 1 else lambda fields: _and(factor(fields) for factor in factors)

    def _negation(self) -> Predicate:
        if self._keyword("not"):
            inner = self._negation()
            return lambda fields: None if (value := inner(fields)) is None else not value
        return self._primary()

    def _primary(self) -> Predicate:
        token = self._peek()
        if token is not None and token[1] == "(":
            self._position += 1
            inner = self.predicate()
            self._take(")")
            return inner
        if self._keyword("exists"):
            self._take("(")
            read = self._property()
            self._take(")")
            return lambda fields: read(fields) is not _MISSING
        read = self._property()
        if self._keyword("is"):
            negated = self._keyword("not")
            if not self._keyword("null"):
                raise self._error("IS must be followed by [NOT] NULL")
            return lambda fields: (_value(read(fields)) is None) != negated
        negated = self._keyword("not")
        if self._keyword("in"):
            self._take("(")
            constants = [self._constant()]
            while self._peek() == ("op", ","):
                self._position += 1
                constants.append(self._constant())
            self._take(")")
            return lambda fields: _negate(_in(_value(read(fields)), constants), negated)
        token = self._peek()
        if token is not None and token[1].lower() in _REFUSED:
            raise self._error(f"{token[1].upper()} is not supported by the local bus")
        if negated:
            raise self._error("NOT after a property must be followed by IN")
        if token is None or token[1] not in ("=", "<>", "!="):
            found = "the end" if token is None else repr(token[1])
            raise self._error(f"expected =, <>, != or IN after a property, found {found}")
        self._position += 1
        constant = self._constant()
        equal = token[1] == "="
        return lambda fields: _negate(_equals(_value(read(fields)), constant), not equal)

    def _property(self) -> Callable[[Message], Any]:
        token = self._peek()
        if token is None or token[0] != "word" or token[1].lower() in _KEYWORDS:
            raise self._error(f"expected a property at token {self._position + 1}")
        self._position += 1
        scope, _, name = token[1].rpartition(".")
        if scope.lower() == "sys":
            system = _SYSTEM.get(name.lower())
            if system is None:
                raise self._error(f"sys.{name} is not a system property the local bus knows")
            return system
        if scope and scope.lower() != "user":
            raise self._error(f"unknown scope {scope!r} (sys or user)")
        return lambda fields: fields.application_properties.get(name, _MISSING)

    def _constant(self) -> Any:
        token = self._peek()
        if token is None:
            raise self._error("expected a constant at the end")
        self._position += 1
        kind, text = token
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return int(text)
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "word" and text.lower() == "null":
            return None
        raise self._error(f"expected a constant, found {text!r} (properties compare with constants only here)")


_MISSING = object()


def _value(read: Any) -> Any:
    return None if read is _MISSING else read


def _equals(value: Any, constant: Any) -> Truth:
    if value is None or constant is None:
        return None
    return value == constant and type(value) is type(constant)


def _in(value: Any, constants: list[Any]) -> Truth:
    if value is None:
        return None
    return any(_equals(value, constant) is True for constant in constants)


def _negate(value: Truth, negated: bool) -> Truth:
    return value if value is None or not negated else not value


def _and(values: Any) -> Truth:
    result: Truth = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def _or(values: Any) -> Truth:
    result: Truth = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def parse_filters(filters: Mapping[str, str]) -> dict[str, SqlFilter]:
    """Subscription path -> its parsed filter; UnsupportedFilter names the subscription and the problem."""
    parsed = {}
    for path, expression in filters.items():
        try:
            parsed[path] = SqlFilter.parse(expression)
        except UnsupportedFilter as error:
            raise UnsupportedFilter(f"subscription {path}: {error}") from None
    return parsed
