"""The command line a pipeline calls: `python -m controlplane validate` and `schema`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controlplane.cli import main
from controlplane.domain.manifest import release_json_schema

RELEASES = Path(__file__).resolve().parents[2] / "examples" / "releases"


def test_valid_releases_exit_zero_with_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(RELEASES / "v1-rolling.yaml"), str(RELEASES / "v2-canary.yaml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "v1-rolling.yaml: ok: release" in lines[0]
    assert "RollingHealthGated, services: orders, payments" in lines[0]


def test_an_invalid_release_exits_one_naming_each_bad_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(RELEASES / "v1-rolling.yaml"), str(RELEASES / "invalid" / "missing-tag.yaml")]) == 1
    captured = capsys.readouterr()
    assert "v1-rolling.yaml: ok" in captured.out
    assert "missing-tag.yaml: invalid (1 error(s))" in captured.err
    assert "spec.services[0].image: tag or digest required" in captured.err


def test_an_unreadable_file_exits_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "absent.yaml")]) == 1
    assert "absent.yaml: cannot read" in capsys.readouterr().err


def test_schema_prints_the_generated_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == release_json_schema()


def test_an_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as raised:
        main(["deploy-everything"])
    assert raised.value.code == 2
