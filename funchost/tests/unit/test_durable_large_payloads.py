"""Which payloads leave the Table row for a blob: past 60 KB of UTF-16 as stored (AzureTableTrackingStore's
MaxTablePropertySizeInBytes), measured on the JSON-escaped text the row holds."""

from __future__ import annotations

from funchost.durable.large_payloads import MAX_INLINE_BYTES, is_large


def test_a_payload_of_60_kb_stays_in_the_row_and_one_more_character_moves_it() -> None:
    characters = MAX_INLINE_BYTES // 2 - 2  # the stored text has its two quotes

    assert not is_large("a" * characters)
    assert is_large("a" * (characters + 1))


def test_escaped_characters_count_as_stored() -> None:
    """A quote is stored as two characters and a non-ASCII one as six (``\\uXXXX``)."""
    assert is_large('"' * (MAX_INLINE_BYTES // 4))
    assert is_large("é" * (MAX_INLINE_BYTES // 12 + 1))
    assert not is_large("é" * (MAX_INLINE_BYTES // 12 - 1))


def test_only_strings_are_payloads() -> None:
    assert not is_large(None)
    assert not is_large(12)
