"""The local image catalog: which command runs an image reference on local compute."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from controlplane.adapters.local.image_catalog import ImageCatalog
from controlplane.config import APP_ROOT
from controlplane.domain.images import split_image
from controlplane.errors import PermanentError

DIGEST = "sha256:" + "0123456789abcdef" * 4
SAMPLE_SERVICE = str(APP_ROOT / "examples" / "workload" / "sample_service.py")


def catalog_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    return path


def test_the_shipped_catalog_runs_orders_and_payments_as_the_sample_workload() -> None:
    catalog = ImageCatalog.load(APP_ROOT / "examples" / "image-catalog.yaml")
    for image in (
        "example.azurecr.io/orders:1.0.0",
        "example.azurecr.io/orders:3.0.0",
        "example.azurecr.io/payments:1.0.0",
    ):
        assert catalog.command_for(image) == [sys.executable, SAMPLE_SERVICE]
    assert Path(SAMPLE_SERVICE).is_file()


def test_every_image_of_the_example_releases_is_in_the_shipped_catalog() -> None:
    catalog = ImageCatalog.load(APP_ROOT / "examples" / "image-catalog.yaml")
    releases = sorted((APP_ROOT / "examples" / "releases").glob("*.yaml"))
    images = {
        line.split("image:")[1].strip()
        for path in releases
        for line in path.read_text().splitlines()
        if "image:" in line
    }
    assert images, "the example releases name no images"
    for image in images:
        assert catalog.command_for(image)


def test_a_specific_tag_or_digest_wins_over_the_repository_entry(tmp_path: Path) -> None:
    path = catalog_file(
        tmp_path,
        f"""
images:
  example.azurecr.io/orders: {{command: [any]}}
  example.azurecr.io/orders:3.0.0: {{command: [three]}}
  example.azurecr.io/orders@{DIGEST}: {{command: [pinned]}}
""",
    )
    catalog = ImageCatalog.load(path)
    assert catalog.command_for("example.azurecr.io/orders:2.0.0") == ["any"]
    assert catalog.command_for("example.azurecr.io/orders:3.0.0") == ["three"]
    assert catalog.command_for(f"example.azurecr.io/orders@{DIGEST}") == ["pinned"]
    assert catalog.command_for(f"example.azurecr.io/orders:3.0.0@{DIGEST}") == ["pinned"]
    assert catalog.command_for("example.azurecr.io/orders@sha256:" + "f" * 64) == ["any"]


def test_placeholders_and_relative_paths_resolve_against_the_project_root(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "serve.py").write_text("")
    path = catalog_file(
        tmp_path,
        'images:\n  reg.io/app: {command: ["{python}", "bin/serve.py", "--root={root}", "-m", "not/a/file"]}\n',
    )
    catalog = ImageCatalog.load(path, root=tmp_path, python="/opt/python3")
    assert catalog.command_for("reg.io/app:1") == [
        "/opt/python3",
        str(tmp_path / "bin" / "serve.py"),
        f"--root={tmp_path}",
        "-m",
        "not/a/file",
    ]


def test_an_unknown_image_names_the_image_the_catalog_and_the_fix() -> None:
    catalog = ImageCatalog.load(APP_ROOT / "examples" / "image-catalog.yaml")
    with pytest.raises(PermanentError) as raised:
        catalog.command_for("example.azurecr.io/inventory:1.0.0")
    message = str(raised.value)
    assert '"example.azurecr.io/inventory:1.0.0"' in message
    assert "image-catalog.yaml" in message
    assert 'add an entry for "example.azurecr.io/inventory"' in message


def test_a_registry_port_is_not_mistaken_for_a_tag(tmp_path: Path) -> None:
    catalog = ImageCatalog.load(catalog_file(tmp_path, "images:\n  localhost:5000/orders: {command: [run]}\n"))
    assert catalog.command_for("localhost:5000/orders:1.0") == ["run"]
    assert split_image("localhost:5000/orders") == ("localhost:5000/orders", None, None)
    assert split_image(f"localhost:5000/orders:1.0@{DIGEST}") == ("localhost:5000/orders", "1.0", DIGEST)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("images: [a, b]\n", "images: expected a mapping"),
        ("services: {}\n", "expected one top-level key, images"),
        ("images:\n  reg.io/app: {cmd: [run]}\n", "images['reg.io/app']: expected exactly one key, command"),
        ("images:\n  reg.io/app: {command: run}\n", "images['reg.io/app'].command: expected a non-empty list"),
        ("images:\n  reg.io/app: {command: []}\n", "images['reg.io/app'].command: expected a non-empty list"),
        ("images:\n  reg.io/app: {command: [run]}\n  reg.io/app: {command: [x]}\n", "duplicate key 'reg.io/app'"),
        ("images:\n  reg.io/app: {command: [run\n", "not valid YAML at line"),
    ],
)
def test_a_bad_catalog_is_refused_naming_the_file_and_the_field(tmp_path: Path, text: str, expected: str) -> None:
    path = catalog_file(tmp_path, text)
    with pytest.raises(PermanentError) as raised:
        ImageCatalog.load(path)
    assert expected in str(raised.value)
    assert str(path) in str(raised.value)


def test_a_missing_catalog_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match=r"nowhere\.yaml: file not found"):
        ImageCatalog.load(tmp_path / "nowhere.yaml")
