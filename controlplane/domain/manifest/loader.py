"""Turn manifest text (JSON or YAML) into plain data, refusing what a careful reader would not trust.

Refused, each as ``InvalidManifest``: documents over 256 KiB, text that is not UTF-8, syntax errors
(with line and column), duplicate mapping keys (named by path), more than one YAML document, nesting
deeper than ``MAX_NESTING`` (JSON or YAML, aliases expanded), more than ``MAX_YAML_ALIASES`` YAML aliases,
and YAML of more than ``MAX_YAML_NODES`` nodes, aliases expanded ("billion laughs"). YAML is read with
PyYAML's safe loader on libyaml (C; pure-Python PyYAML took 13 s for a 240 KB list), and the limits are
checked on libyaml's event stream before a node is built, so a hostile body costs one fast scan up to its
first excess. The deepest real manifest path nests 7 levels (``spec.services[0].scaling.rules[0].metric``);
32 leaves room. Callers run this off the event loop (triggers/http.py): a valid 256 KiB body still costs
up to a second of CPU.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from controlplane.domain.manifest.rules import join_path, key_segment
from controlplane.errors import FieldError, InvalidManifest

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_YAML_NODES = 50_000  # above the largest valid manifest (50 services of 200 settings and 100 secrets)
MAX_YAML_ALIASES = 100  # enough for anchors shared between services; a real manifest needs few or none
MAX_NESTING = 32  # mappings and lists inside each other; see the module docstring
Syntax = Literal["json", "yaml"]
_MERGE_TAG = "tag:yaml.org,2002:merge"


def read_document(text: str | bytes, *, source: str = "<input>", syntax: Syntax | None = None) -> Any:
    """Parse ``text`` as ``syntax``, or (None) as JSON if it starts with ``{`` and YAML otherwise; raise
    ``InvalidManifest`` if it is unreadable or over a limit."""
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
        if syntax is None:
            syntax = "json" if text.lstrip().startswith("{") else "yaml"
        return _read_json(text, source) if syntax == "json" else _read_yaml(text, source)
    except RecursionError:
        raise _too_deep(source) from None


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
    _check_json_nesting(data, source)
    duplicates = list(_json_duplicates(data, ""))
    if duplicates:
        raise InvalidManifest(duplicates)
    return data


def _check_json_nesting(data: Any, source: str) -> None:
    """Refuse JSON nested deeper than MAX_NESTING (iterative, so any depth the parser accepted is safe)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_NESTING:
                raise _too_deep(source)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))


def _too_deep(source: str) -> InvalidManifest:
    return _document_error(source, f"document nests deeper than {MAX_NESTING} levels of mappings and lists")


def _json_duplicates(node: Any, path: str) -> Any:
    if isinstance(node, dict):
        for key in getattr(node, "repeated", []):
            yield FieldError(join_path(path, key_segment(key)), f'duplicate key "{key}"; each key may appear once')
        for key, value in node.items():
            yield from _json_duplicates(value, join_path(path, key_segment(key)))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _json_duplicates(item, f"{path}[{index}]")


def _check_yaml_events(text: str, source: str) -> None:
    """Refuse, from libyaml's event stream and before anything is built, YAML nested deeper than MAX_NESTING,
    with more than MAX_YAML_ALIASES aliases or more than MAX_YAML_NODES nodes; stops at the first excess."""
    depth = aliases = nodes = 0
    events = yaml.CSafeLoader(text)
    try:
        while events.check_event():
            event = events.get_event()
            if isinstance(event, CollectionEndEvent):
                depth -= 1
                continue
            nodes += 1
            if nodes > MAX_YAML_NODES:
                raise _document_error(source, f"document has more than {MAX_YAML_NODES} nodes")
            if isinstance(event, AliasEvent):
                aliases += 1
                if aliases > MAX_YAML_ALIASES:
                    raise _document_error(source, f"more than {MAX_YAML_ALIASES} YAML aliases")
            elif isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    raise _too_deep(source)
    finally:
        events.dispose()


def _read_yaml(text: str, source: str) -> Any:
    loader = yaml.CSafeLoader(text)
    try:
        _check_yaml_events(text, source)
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
        if "maximum nesting depth" in str(error.problem):  # libyaml's own cap (1000), met while scanning ahead
            raise _too_deep(source) from None
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise _document_error(source, f"YAML syntax error{where}: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise _document_error(source, f"YAML error: {error}") from None
    finally:
        loader.dispose()


def _next_document(loader: yaml.CSafeLoader) -> Node | None:
    """The root node of the stream's next document, or None at its end."""
    return loader.get_node() if loader.check_node() else None


def _check_yaml_nodes(root: Node, source: str) -> None:
    duplicates: list[FieldError] = []
    budget = [MAX_YAML_NODES]

    def walk(node: Node, path: str, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise _document_error(source, f"document expands to more than {MAX_YAML_NODES} nodes (YAML aliases?)")
        if depth > MAX_NESTING and isinstance(node, SequenceNode | MappingNode):
            raise _too_deep(source)  # aliases nest what the composer saw shallow
        if isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, f"{path}[{index}]", depth + 1)
        elif isinstance(node, MappingNode):
            first: dict[tuple[str, str], ScalarNode] = {}
            for key, value in node.value:
                if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                    walk(value, path, depth + 1)
                    continue
                here = join_path(path, key_segment(key.value))
                earlier = first.setdefault((key.tag, key.value), key)
                if earlier is not key:
                    first_line, line = earlier.start_mark.line + 1, key.start_mark.line + 1
                    reason = f'duplicate key "{key.value}" (first at line {first_line}, again at line {line})'
                    duplicates.append(FieldError(here, reason))
                walk(value, here, depth + 1)

    walk(root, "", 1)
    if duplicates:
        raise InvalidManifest(duplicates)
