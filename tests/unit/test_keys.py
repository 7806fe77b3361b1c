"""The local host key: environment, then local.settings.json, then .local/host-key, else a new stored key."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from controlplane.errors import PermanentError
from controlplane.local.keys import KEY_FILE, resolve_host_key


def _settings(root: Path, values: dict[str, str]) -> None:
    (root / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": values}))


def test_the_environment_wins_over_settings_and_file(tmp_path: Path) -> None:
    _settings(tmp_path, {"FUNCTIONS_HOST_KEY": "from-settings"})
    assert resolve_host_key(tmp_path, {"FUNCTIONS_HOST_KEY": "from-env"}) == "from-env"
    assert not (tmp_path / KEY_FILE).exists()


def test_local_settings_values_win_over_the_key_file(tmp_path: Path) -> None:
    _settings(tmp_path, {"FUNCTIONS_HOST_KEY": "from-settings"})
    (tmp_path / KEY_FILE).parent.mkdir()
    (tmp_path / KEY_FILE).write_text("from-file\n")
    assert resolve_host_key(tmp_path, {"FUNCTIONS_HOST_KEY": "  "}) == "from-settings"


def test_the_key_file_is_read_when_nothing_else_is_set(tmp_path: Path) -> None:
    _settings(tmp_path, {"OTHER": "x"})
    (tmp_path / KEY_FILE).parent.mkdir()
    (tmp_path / KEY_FILE).write_text("from-file\n")
    assert resolve_host_key(tmp_path, {}) == "from-file"


def test_a_key_is_generated_once_stored_private_and_reused(tmp_path: Path) -> None:
    key = resolve_host_key(tmp_path, {})
    stored = tmp_path / KEY_FILE
    assert len(key) >= 43  # 32 random bytes, url-safe base64
    assert set(key) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stored.read_text().strip() == key
    assert resolve_host_key(tmp_path, {}) == key


def test_an_empty_key_file_is_replaced_by_a_new_key(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).parent.mkdir()
    (tmp_path / KEY_FILE).write_text("")
    key = resolve_host_key(tmp_path, {})
    assert key
    assert (tmp_path / KEY_FILE).read_text().strip() == key
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600


def test_different_projects_get_different_keys(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert resolve_host_key(tmp_path / "a", {}) != resolve_host_key(tmp_path / "b", {})


def test_a_malformed_local_settings_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text("{not json")
    with pytest.raises(PermanentError, match=r"local\.settings\.json: not valid JSON"):
        resolve_host_key(tmp_path, {})
