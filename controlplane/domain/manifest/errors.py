"""Translate pydantic validation errors into ``FieldError``s with document paths and human reasons.

Pydantic's ``loc`` mixes real keys with union and discriminator tags (``('spec', 'strategy', 'Canary',
'steps', 2, 'weight')``). Rather than guess which parts are tags, the path is found by walking the
input document along ``loc``: a part that is a key (or index) of the current node is part of the path,
anything else is a tag and is dropped. A ``missing`` field is the one part that is allowed to be absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from controlplane.domain.manifest import fields as t
from controlplane.domain.manifest.rules import RULE_ERROR, join_path, key_segment
from controlplane.errors import FieldError

_SECRET_VALUE_REASON = (
    "secret values are never accepted in a manifest; store the value in Key Vault and reference it "
    "with keyVaultSecretUri (https://<vault>.vault.azure.net/secrets/<name>)"
)
_SCALAR = (str, int, float, bool)

_TYPE_REASONS = {
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
    "finite_number": "must be a finite number",
}
_BOUNDS = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}


def field_errors(error: ValidationError, document: Any) -> list[FieldError]:
    """Every error in ``error`` as a FieldError whose path is relative to ``document``."""
    found: list[FieldError] = []
    for detail in error.errors(include_url=False):
        path = document_path(detail["loc"], document, missing=detail["type"] == "missing")
        if detail["type"] == RULE_ERROR:
            ctx = detail.get("ctx") or {}
            found.extend(FieldError(join_path(path, rel), reason) for rel, reason in ctx.get("errors", []))
        else:
            found.append(_translate(detail, path))
    return found


def document_path(loc: Sequence[int | str], document: Any, *, missing: bool = False) -> str:
    """The dotted path of ``loc`` in ``document``, with pydantic's tags left out."""
    path, node = "", document
    for position, part in enumerate(loc):
        if isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node):
            path, node = f"{path}[{part}]", node[part]
        elif isinstance(node, Mapping) and part in node:
            path, node = join_path(path, key_segment(part)), node[part]
        elif missing and position == len(loc) - 1:
            path = join_path(path, key_segment(part))
    return path


def _translate(detail: ErrorDetails, path: str) -> FieldError:
    kind, ctx, value, loc = detail["type"], detail.get("ctx") or {}, detail["input"], detail["loc"]
    got = f" (got {t.shown(value)})"
    if kind == "extra_forbidden":
        is_secret = len(loc) >= 3 and loc[-3] == "secrets" and isinstance(loc[-2], int)
        return FieldError(path, _SECRET_VALUE_REASON if is_secret else "unknown field")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        options = ", ".join(t.STRATEGY_TYPES) if ctx.get("discriminator") == "'type'" else "a known tag"
        tag_path = join_path(path, str(ctx.get("discriminator", "")).strip("'"))
        if kind == "union_tag_not_found":
            return FieldError(tag_path, f"required: one of {options}")
        return FieldError(tag_path, f"must be one of {options} (got {t.shown(ctx.get('tag'))})")
    reason = _reason(kind, ctx, value, got, detail["msg"])
    if loc and loc[-1] == "[key]":
        reason = f"invalid key: {reason}"
    return FieldError(path, reason)


def _reason(kind: str, ctx: dict[str, Any], value: Any, got: str, message: str) -> str:
    if kind == "missing":
        return "required"
    if kind == "string_type":
        hint = f'; quote it in YAML: "{t.shown(value).strip(chr(34))}"' if isinstance(value, _SCALAR) else ""
        return f"must be a string{got}{hint}"
    if kind in _TYPE_REASONS:
        return _TYPE_REASONS[kind] + got
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", ""))) or [str(ctx.get("expected"))]
        return f"must be {options[0]}{got}" if len(options) == 1 else f"must be one of {', '.join(options)}{got}"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()), "?")
        return f"must be {_BOUNDS[kind]} {bound}{got}"
    if kind in ("string_too_short", "string_too_long"):
        limit = ctx.get("min_length", ctx.get("max_length"))
        words = "at least" if kind == "string_too_short" else "at most"
        return f"must be {words} {limit} characters (got {len(value)})"
    if kind in ("too_short", "too_long"):
        limit = ctx.get("min_length", ctx.get("max_length"))
        words = "at least" if kind == "too_short" else "at most"
        noun = "entry" if limit == 1 else "entries"
        actual = ctx.get("actual_length")
        return f"must have {words} {limit} {noun} (got {len(value) if actual is None else actual})"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return t.PATTERN_HINTS.get(pattern, f"must match {pattern}") + got
    if kind.startswith(("image_", "key_vault_", "label_", "int_or_percent", "config_")):
        return message  # our own PydanticCustomError, already worded for people
    return f"{message}{got}"
