"""Which media types carry a release manifest to POST /api/deployments."""

from __future__ import annotations

import pytest

from triggers.manifest_body import body_syntax


@pytest.mark.parametrize(
    ("content_type", "syntax"),
    [
        (None, "json"), ("", "json"), ("application/json", "json"), ("Application/JSON; charset=utf-8", "json"),
        ("application/merge-patch+json", "json"), ("application/yaml", "yaml"), ("application/x-yaml", "yaml"),
        ("text/yaml; charset=utf-8", "yaml"), ("text/plain", None), ("application/x-www-form-urlencoded", None),
        ("multipart/form-data; boundary=x", None), ("text/x-yaml", None),
    ],
)  # fmt: skip
def test_json_by_default_yaml_only_under_a_yaml_media_type(content_type: str | None, syntax: str | None) -> None:
    assert body_syntax(content_type) == syntax
