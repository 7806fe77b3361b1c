"""Reading a JSON object from the wire into typed values, collecting every bad field before refusing it.

The typed Durable boundaries (orchestration inputs, activity requests, rollout targets) read their dicts
through ``WireFields`` so that bad input raises one ``InvalidInput`` naming each failing field, e.g.
``target.desired: integer required (got "3")``, instead of a ``KeyError`` on the first one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from controlplane.errors import FieldError, InvalidInput, PermanentError

Built = TypeVar("Built")
_ABSENT: Any = object()


class WireFields:
    """The fields of one JSON object; each reader returns a placeholder for a bad field and records why."""

    def __init__(self, data: object, path: str = "", errors: list[FieldError] | None = None) -> None:
        self._path = path
        self.errors: list[FieldError] = [] if errors is None else errors
        self._object = isinstance(data, Mapping)  # not an object: one error for it, none for each of its fields
        self._data: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        if not self._object:
            self.errors.append(FieldError(path, f"JSON object required (got {type(data).__name__})"))

    def _name(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def _get(self, key: str, default: Any, kind: type | tuple[type, ...], wanted: str) -> Any:
        value = self._data.get(key, _ABSENT)
        if value is _ABSENT and (default is not _ABSENT or not self._object):
            return None if default is _ABSENT else default
        if value is _ABSENT:
            self.errors.append(FieldError(self._name(key), f"{wanted} required"))
            return None
        # bool is an int in Python, but never a count on the wire
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind)):
            self.errors.append(FieldError(self._name(key), f"{wanted} required (got {value!r})"))
            return None
        return value

    def text(self, key: str, default: str = _ABSENT) -> str:
        return self._get(key, default, str, "string")

    def optional_text(self, key: str) -> str | None:
        return self._get(key, None, (str, type(None)), "string or null")

    def integer(self, key: str) -> int:
        return self._get(key, _ABSENT, int, "integer")

    def boolean(self, key: str, default: bool = _ABSENT) -> bool:
        return self._get(key, default, bool, "true or false")

    def mapping(self, key: str) -> dict[str, Any]:
        value = self._get(key, _ABSENT, Mapping, "JSON object")
        return dict(value) if value is not None else {}

    def string_list(self, key: str) -> list[str]:
        """A list of strings (every item checked; the first that is not a string is named with its index)."""
        items = self._get(key, _ABSENT, list, "list of strings")
        if items is None:
            return []
        for index, item in enumerate(items):
            if not isinstance(item, str):
                self.errors.append(FieldError(f"{self._name(key)}[{index}]", f"string required (got {item!r})"))
                return []
        return list(items)

    def time(self, key: str) -> datetime:
        """An ISO 8601 time with its offset, as the orchestrators' step clock writes it."""
        text = self._get(key, _ABSENT, str, "ISO 8601 time")
        if text is None:
            return datetime.min
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            self.errors.append(FieldError(self._name(key), f"ISO 8601 time with an offset required (got {text!r})"))
            return datetime.min
        return moment

    def parsed(self, key: str, parse: Callable[[Any], Built], wanted: str) -> Built | None:
        """A value ``parse`` turns into its type (an enum, a step); a ValueError names what was wanted."""
        value = self._data.get(key, _ABSENT)
        if value is _ABSENT:
            if self._object:
                self.errors.append(FieldError(self._name(key), f"{wanted} required"))
            return None
        try:
            return parse(value)
        except InvalidInput as invalid:  # a nested document: keep its field paths, under this key
            self.errors.extend(FieldError(_joined(self._name(key), e.path), e.reason) for e in invalid.errors)
        except (ValueError, TypeError, KeyError, PermanentError) as error:
            self.errors.append(FieldError(self._name(key), f"{wanted} required (got {value!r}): {error}"))
        return None

    def has(self, key: str) -> bool:
        """Whether the object holds ``key`` (for a field whose absence means "none")."""
        return key in self._data

    def nested(self, key: str) -> WireFields:
        """The fields of the object under ``key``; its errors are this reader's, with the path prefixed."""
        return WireFields(self._data.get(key), self._name(key), self.errors)

    def check(self) -> None:
        """Raise InvalidInput listing every field that failed to read (call it after reading them all)."""
        if self.errors:
            raise InvalidInput(self.errors)


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _joined(prefix: str, path: str) -> str:
    return f"{prefix}{'' if path.startswith('[') else '.'}{path}" if path else prefix
