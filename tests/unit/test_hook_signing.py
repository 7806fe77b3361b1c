"""Signing rollout webhook requests: the signature a receiver recomputes, and what ``verify`` refuses."""

from __future__ import annotations

import pytest

from controlplane.domain.hooks import TOLERANCE_SECONDS, signature, verify

SECRET = b"whsec-test"
BODY = b'{"a":1}'
SENT = 1_700_000_000
# openssl: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec-test
KNOWN = "sha256=fed7a1a6c799a6367d73724d76bc70c16678908a32a879cd1ded6565ac05cece"


def test_the_signature_is_the_hmac_sha256_of_timestamp_dot_body() -> None:
    assert signature(SECRET, SENT, BODY) == KNOWN


def test_a_request_signed_with_the_secret_verifies_within_the_tolerance() -> None:
    assert verify(SECRET, str(SENT), KNOWN, BODY, now=SENT)
    assert verify(SECRET, str(SENT), KNOWN, BODY, now=SENT + TOLERANCE_SECONDS)
    assert verify(SECRET, f" {SENT} ", f"{KNOWN} ", BODY, now=SENT - 10)  # header whitespace is not the signature


@pytest.mark.parametrize(
    ("secret", "body"), [(b"another-secret", BODY), (SECRET, b'{"a":2}'), (SECRET, b'{"a": 1}')], ids=str
)
def test_another_secret_or_any_change_to_the_body_fails(secret: bytes, body: bytes) -> None:
    assert not verify(secret, str(SENT), KNOWN, body, now=SENT)


def test_a_timestamp_too_old_or_too_far_ahead_fails_even_with_its_signature() -> None:
    assert not verify(SECRET, str(SENT), KNOWN, BODY, now=SENT + TOLERANCE_SECONDS + 1)  # a replay
    assert not verify(SECRET, str(SENT), KNOWN, BODY, now=SENT - TOLERANCE_SECONDS - 1)
    assert verify(SECRET, str(SENT), KNOWN, BODY, now=SENT + 50, tolerance_seconds=60)
    assert not verify(SECRET, str(SENT), KNOWN, BODY, now=SENT + 61, tolerance_seconds=60)


def test_a_replay_with_a_fresh_timestamp_fails_because_the_timestamp_is_signed() -> None:
    assert not verify(SECRET, str(SENT + 600), KNOWN, BODY, now=SENT + 600)


@pytest.mark.parametrize(
    ("timestamp", "signed"),
    [
        (None, KNOWN),
        (str(SENT), None),
        ("", KNOWN),
        ("-1700000000", KNOWN),
        ("1.7e9", KNOWN),
        ("\uff11\uff17" + "\uff10" * 8, KNOWN),  # fullwidth digits: isdigit() says yes, int() would read them
        ("9" * 40, KNOWN),
        (str(SENT), KNOWN.removeprefix("sha256=")),
        (str(SENT), KNOWN.upper()),
        (str(SENT), "sha256=é" + KNOWN[8:]),
        (str(SENT), ""),
    ],
)
def test_a_missing_or_malformed_header_fails_without_raising(timestamp: str | None, signed: str | None) -> None:
    assert not verify(SECRET, timestamp, signed, BODY, now=SENT)
