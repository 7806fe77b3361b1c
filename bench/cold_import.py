"""Benchmark: the cold import of ``function_app.py`` (what a new worker does before it serves anything), and the
size of the package a publish uploads.

Run: ``.venv/bin/python bench/cold_import.py [--runs 9]``. Each run is a fresh interpreter that imports, in
the app's own order, the Durable SDK (``azure.durable_functions``, which brings ``azure.functions`` and
``aiohttp``), then the release models (``controlplane.domain.manifest``, pydantic), then the rest of
``function_app``; the figures are medians over the runs. Two setups:

- ``package``: the published package unpacked in a temporary folder, with ``PYTHONDONTWRITEBYTECODE=1``. A
  publish ships no ``__pycache__`` (.funcignore) and Azure mounts the package read-only, so the app's own
  modules are compiled from source at every cold start; the installed libraries keep their bytecode.
- ``project``: the project folder with its ``__pycache__`` (a warm developer machine).

Also checks which heavy SDKs the import loads (none should: their adapters import them when first built).
The package is built as ``func azure functionapp publish`` builds it (``tests/conformance/publish_package.py``).
Prints a table, then one JSON object of the figures as the last line.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conformance.publish_package import publish_package  # noqa: E402

STAGES = ("durable_sdk", "release_models", "rest_of_app")
HEAVY_SDKS = (
    "pulumi",
    "kubernetes",
    "azure.mgmt.appcontainers",
    "azure.mgmt.containerservice",
    "azure.monitor.opentelemetry",
    "azure.monitor.query",
    "azure.servicebus",
    "azure.data.tables",
    "azure.identity",
)
IMPORT = """
import json, sys, time
marks = [(time.perf_counter(), time.process_time())]
import azure.durable_functions
marks.append((time.perf_counter(), time.process_time()))
import controlplane.domain.manifest
marks.append((time.perf_counter(), time.process_time()))
import function_app
marks.append((time.perf_counter(), time.process_time()))
print(json.dumps({"wall": [after[0] - before[0] for before, after in zip(marks, marks[1:])],
                  "cpu": [after[1] - before[1] for before, after in zip(marks, marks[1:])],
                  "loaded": [name for name in sys.argv[1:] if name in sys.modules]}))
"""


def one_run(folder: Path, environment: dict[str, str]) -> dict:
    command = [sys.executable, "-c", IMPORT, *HEAVY_SDKS]
    done = subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def measure(folder: Path, runs: int, **extra: str) -> tuple[dict[str, float], list[str]]:
    """Median wall and CPU seconds per stage and in total over ``runs`` fresh interpreters (keys such as
    ``durable_sdk_s``, ``total_cpu_s``); the heavy SDKs loaded."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | extra
    results = [one_run(folder, environment) for _ in range(runs)]
    medians = {}
    for clock, suffix in (("wall", "s"), ("cpu", "cpu_s")):
        for at, stage in enumerate(STAGES):
            medians[f"{stage}_{suffix}"] = statistics.median(result[clock][at] for result in results)
        medians[f"total_{suffix}"] = statistics.median(sum(result[clock]) for result in results)
    return medians, sorted({name for result in results for name in result["loaded"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs

    files, package = publish_package(ROOT)
    unpacked = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(package)).infolist())
    with tempfile.TemporaryDirectory() as folder:
        zipfile.ZipFile(io.BytesIO(package)).extractall(folder)
        from_package, loaded = measure(Path(folder), runs, PYTHONDONTWRITEBYTECODE="1")
    measure(ROOT, 1)  # writes the project's bytecode if it is missing, so the runs below find it
    from_project, loaded_project = measure(ROOT, runs)

    figures: dict[str, object] = {"runs": runs}
    for setup, medians in (("package", from_package), ("project", from_project)):
        figures |= {f"{setup}_{name}": round(seconds, 3) for name, seconds in medians.items()}
    figures |= {
        "package_files": len(files),
        "package_zip_bytes": len(package),
        "package_unpacked_bytes": unpacked,
        "heavy_sdks_loaded": sorted(set(loaded) | set(loaded_project)),
    }

    print(f"Cold import of function_app.py, median of {runs} fresh interpreters")
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"{'stage':<40} {'package':>9} {'CPU':>7} {'project':>9} {'CPU':>7}  (seconds)")
    labels = {
        "durable_sdk": "Durable SDK (azure.functions, aiohttp)",
        "release_models": "release models (pydantic)",
        "rest_of_app": "rest of function_app",
        "total": "total",
    }
    for stage, label in labels.items():
        cells = [setup[f"{stage}_{suffix}"] for setup in (from_package, from_project) for suffix in ("s", "cpu_s")]
        print(f"{label:<40} {cells[0]:>9.3f} {cells[1]:>7.3f} {cells[2]:>9.3f} {cells[3]:>7.3f}")
    print("package: the app compiled from source (read-only mount, no __pycache__); project: with its bytecode")
    print("wall time counts waiting for a busy CPU too; CPU time is the process's own")
    heavy = ", ".join(figures["heavy_sdks_loaded"]) or "none"  # type: ignore[arg-type]
    print(f"heavy SDKs loaded by the import: {heavy} (checked: {', '.join(HEAVY_SDKS)})")
    print(f"package: {len(files)} files, zip {len(package) / 1024:.0f} KiB ({unpacked / 1024:.0f} KiB unpacked)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
