"""Turn manifest text (JSON or YAML) into plain data, refusing what a careful reader would not trust.

Refused, each as ``InvalidManifest``: documents over 256 KiB, text that is not UTF-8, syntax errors
(with line and column), duplicate mapping keys (named by path), more than one YAML document, and YAML
whose aliases expand to an unreasonable number of nodes. YAML is read with PyYAML's safe loader only.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from controlplane.domain.manifest.errors import key_segment
from controlplane.domain.manifest.rules import join_path
from controlplane.errors import FieldError, InvalidManifest

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_YAML_NODES = 100_000  # far above any real manifest; stops alias ("billion laughs") expansion
_MERGE_TAG = "tag:yaml.org,2002:merge"


def read_document(text: str | bytes, *, source: str = "<input>") -> Any:
    """Parse ``text`` as JSON (if it starts with ``{``) or YAML; raise ``InvalidManifest`` if unreadable."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8"))
    if size > MAX_DOCUMENT_BYTES:
        raise _document_error(source, f"document is {size} bytes; the limit is {MAX_DOCUMENT_BYTES} (256 KiB)")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise _document_error(source, f"not UTF-8 text (bad byte at offset {error.start})") from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise _document_error(source, "document is empty")
    try:
        return _read_json(text, source) if text.lstrip().startswith("{") else _read_yaml(text, source)
    except RecursionError:
        raise _document_error(source, "document nests too deeply") from None


def _document_error(source: str, reason: str) -> InvalidManifest:
    return InvalidManifest([FieldError("", f"{source}: {reason}")])


class _KeysSeenTwice(dict[str, Any]):
    """A JSON object that had repeated keys; ``json.loads`` keeps the last value, we report them all."""

    repeated: list[str]


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    repeated = []
    for key, value in pairs:
        if key in result:
            repeated.append(key)
        result[key] = value
    if not repeated:
        return result
    marked = _KeysSeenTwice(result)
    marked.repeated = repeated
    return marked


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _read_json(text: str, source: str) -> Any:
    try:
        data = json.loads(text, object_pairs_hook=_json_object, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise _document_error(
            source, f"JSON syntax error at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except ValueError as error:
        raise _document_error(source, f"JSON error: {error}") from None
    duplicates = list(_json_duplicates(data, ""))
    if duplicates:
        raise InvalidManifest(duplicates)
    return data


def _json_duplicates(node: Any, path: str) -> Any:
    if isinstance(node, dict):
        for key in getattr(node, "repeated", []):
            yield FieldError(join_path(path, key_segment(key)), f'duplicate key "{key}"; each key may appear once')
        for key, value in node.items():
            yield from _json_duplicates(value, join_path(path, key_segment(key)))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _json_duplicates(item, f"{path}[{index}]")


def _read_yaml(text: str, source: str) -> Any:
    try:
        loader = yaml.SafeLoader(text)  # its reader refuses control characters at once, before any parsing
    except yaml.reader.ReaderError as error:
        character = f"#x{error.character:04x}" if isinstance(error.character, int) else repr(error.character)
        raise _document_error(source, f"YAML error at character {error.position}: {error.reason} {character}") from None
    try:
        root = _next_document(loader)
        if root is None:
            raise _document_error(source, "document is empty")
        following = _next_document(loader)
        if following is not None:
            line = following.start_mark.line + 1
            raise _document_error(source, f"one YAML document per manifest; another starts at line {line}")
        _check_yaml_nodes(root, source)
        return loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise _document_error(source, f"YAML syntax error{where}: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise _document_error(source, f"YAML error: {error}") from None
    finally:
        loader.dispose()


def _next_document(loader: yaml.SafeLoader) -> Node | None:
    """The root node of the stream's next document, or None at its end."""
    return loader.get_node() if loader.check_node() else None


def _check_yaml_nodes(root: Node, source: str) -> None:
    duplicates: list[FieldError] = []
    budget = [MAX_YAML_NODES]

    def walk(node: Node, path: str) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise _document_error(source, f"document expands to more than {MAX_YAML_NODES} nodes (YAML aliases?)")
        if isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, f"{path}[{index}]")
        elif isinstance(node, MappingNode):
            first: dict[tuple[str, str], ScalarNode] = {}
            for key, value in node.value:
                if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                    walk(value, path)
                    continue
                here = join_path(path, key_segment(key.value))
                earlier = first.setdefault((key.tag, key.value), key)
                if earlier is not key:
                    first_line, line = earlier.start_mark.line + 1, key.start_mark.line + 1
                    reason = f'duplicate key "{key.value}" (first at line {first_line}, again at line {line})'
                    duplicates.append(FieldError(here, reason))
                walk(value, here)

    walk(root, "")
    if duplicates:
        raise InvalidManifest(duplicates)
