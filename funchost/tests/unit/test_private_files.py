"""Private state: folders 0700, files 0600, whatever the umask; never a torn file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from funchost.private_files import private_directory, write_json_atomically


def test_state_is_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        wide = tmp_path / "existing"
        wide.mkdir(mode=0o755)
        write_json_atomically(tmp_path / "a" / "b" / "state.json", {"k": "v"})
        private_directory(wide)
    finally:
        os.umask(previous)
    assert json.loads((tmp_path / "a" / "b" / "state.json").read_text()) == {"k": "v"}
    assert (tmp_path / "a" / "b" / "state.json").stat().st_mode & 0o777 == 0o600
    assert all((tmp_path / sub).stat().st_mode & 0o777 == 0o700 for sub in ("a", "a/b", "existing"))
    assert [path.name for path in (tmp_path / "a" / "b").iterdir()] == ["state.json"], "no temporary file left"
