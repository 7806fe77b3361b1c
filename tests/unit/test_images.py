"""Image references and their versions (controlplane/domain/images.py)."""

from __future__ import annotations

import pytest

from controlplane.domain.images import image_version, short_version, split_image
from controlplane.errors import PermanentError

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("example.azurecr.io/orders:3.0.0", "3.0.0"),
        (f"example.azurecr.io/orders@{DIGEST}", "0123456789ab"),
        (f"example.azurecr.io/orders:3.0.0@{DIGEST}", "3.0.0"),
        ("localhost:5000/orders:1.0", "1.0"),
    ],
)
def test_the_version_is_the_tag_or_the_digest_prefix(image: str, version: str) -> None:
    assert short_version(image) == version


def test_an_unpinned_image_has_no_version() -> None:
    with pytest.raises(PermanentError, match="tag or digest required"):
        short_version("localhost:5000/orders")


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("reg.io/orders:1.2.0", "1.2.0"),
        (f"reg.io/orders@{DIGEST}", DIGEST),
        (f"reg.io/orders:1.2.0@{DIGEST}", DIGEST),
        ("localhost:5000/orders", "latest"),
        ("localhost:5000/orders:1.0", "1.0"),
        ("orders", "latest"),
    ],
)
def test_a_workload_runs_the_digest_when_pinned_else_the_tag_else_latest(image: str, version: str) -> None:
    assert image_version(image) == version


def test_a_registry_port_is_not_a_tag() -> None:
    assert split_image("localhost:5000/orders") == ("localhost:5000/orders", None, None)
    assert split_image(f"localhost:5000/orders:1.0@{DIGEST}") == ("localhost:5000/orders", "1.0", DIGEST)
