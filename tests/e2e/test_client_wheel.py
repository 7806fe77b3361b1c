"""The cpctl distribution (client/) builds into a wheel that installs alone into a fresh venv: no checkout of the
app, no dependency at all (the Entra path is an extra), and running it imports no azure.* module.

Building uses pip's isolated build, which fetches setuptools from the package index (or pip's cache) as a
pipeline's ``pip install ./client`` does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

from tests.e2e.host_process import ROOT

NO_AZURE = (
    "import sys, controlplane_client.cli, controlplane_client.timeline; "
    "loaded = sorted(name for name in sys.modules if name.split('.')[0] == 'azure'); "
    "assert not loaded, loaded; print('no azure')"
)


def test_the_client_wheel_installs_alone_and_runs_without_azure_modules(tmp_path: Path) -> None:
    source = tmp_path / "client"  # a copy: an in-tree build would leave build/ and *.egg-info in client/
    shutil.copytree(ROOT / "client", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("controlplane_client-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        requires = [line for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist")]
    assert requires and all('extra == "entra"' in line for line in requires), requires
    assert all(name.startswith(("controlplane_client/", "controlplane_client-")) for name in names), names

    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=False)
    python = fresh / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index", "--no-deps"]
    subprocess.run([*install, str(wheel)], check=True, capture_output=True, timeout=120)

    helped = subprocess.run([str(fresh / "bin" / "cpctl"), "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0, helped.stderr
    commands = ("deploy", "get", "watch", "approve", "abort", "rollback", "findings", "approve-finding")
    commands += ("dismiss-finding",)
    assert all(command in helped.stdout for command in commands), helped.stdout
    assert "--token" in helped.stdout and "--key" not in helped.stdout
    imported = subprocess.run([str(python), "-c", NO_AZURE], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert imported.stdout.strip() == "no azure", imported.stderr
    # Where azure-identity is installed too (the app's venv), the --token path still loads none of it.
    beside = subprocess.run(
        [sys.executable, "-c", NO_AZURE], capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(source)}
    )
    assert beside.stdout.strip() == "no azure", beside.stderr
    # With no checkout and no credentials it says what to set, and exits 3.
    bare = subprocess.run(
        [str(fresh / "bin" / "cpctl"), "--url", "http://127.0.0.1:9", "findings"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert bare.returncode == 3 and "no credentials: set CONTROLPLANE_TOKEN" in bare.stderr
