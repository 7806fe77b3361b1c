"""Continuation tokens: where the next page of a listing starts, opaque to the client.

A token is base64url JSON naming its listing (``kind``) and the position's fields; it carries no filter, so a
client repeats its filters with it (as Azure Table storage's own continuation does). A token that does not decode
to the listing's fields, each a string matching its pattern, is not one of ours and is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping

MAX_TOKEN_CHARS = 2048
DEFAULT_LIMIT = 50  # items a page holds unless the client asks for fewer or more
MAX_LIMIT = 200


class InvalidToken(ValueError):
    """A continuation that this listing did not hand out."""


def encode_token(kind: str, position: Mapping[str, str]) -> str:
    text = json.dumps({"k": kind, **position}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_token(kind: str, token: str, fields: Mapping[str, re.Pattern[str]]) -> dict[str, str]:
    """The position ``token`` holds; InvalidToken unless it is a ``kind`` token with exactly ``fields``."""
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken(f"longer than {MAX_TOKEN_CHARS} characters")
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidToken("not a continuation this listing handed out") from None
    if not isinstance(decoded, dict) or decoded.get("k") != kind or set(decoded) != {"k", *fields}:
        raise InvalidToken("not a continuation this listing handed out")
    position = {name: decoded[name] for name in fields}
    for name, pattern in fields.items():
        if not isinstance(position[name], str) or not pattern.fullmatch(position[name]):
            raise InvalidToken("not a continuation this listing handed out")
    return position
