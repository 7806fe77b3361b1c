"""function_app.py loads on the real Python worker, and the local host registers what the worker loads.

The worker is azure-functions-runtime 1.3.0, run in .venv-worker with exactly requirements.txt: this also
shows that requirements.txt installs on a clean Python 3.11 with no dev packages and that the app indexes.
"""

from __future__ import annotations

import inspect
import subprocess
from typing import Any

from funchost.functions import HTTP
from funchost.tests.conformance.real_worker import WORKER_PYTHON
from tests import product_app

# What requirements-dev.txt adds: none of it may be what makes the app load.
DEV_PACKAGES = ("pytest", "hypothesis", "cloudevents", "ruff", "durabletask", "deepdiff")


def _in_bindings(bindings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The input bindings (the trigger first among them), None fields dropped, in a stable order."""
    kept = [{k: v for k, v in b.items() if v is not None} for b in bindings if b.get("direction", "IN") == "IN"]
    return sorted(kept, key=lambda binding: binding["name"])


def test_the_real_worker_loads_every_function_of_the_app(real_worker_index: dict[str, Any]) -> None:
    loaded = real_worker_index["function_app.py"]
    assert loaded["error"] is None, f"the Python worker refuses function_app.py: {loaded['error']}"
    assert len(loaded["functions"]) == len(list(product_app.index()))


def test_the_local_host_registers_the_functions_bindings_and_parameters_the_worker_loads(
    real_worker_index: dict[str, Any],
) -> None:
    worker = {
        function["name"]: {"bindings": _in_bindings(function["bindings"]), "params": function["params"]}
        for function in real_worker_index["function_app.py"]["functions"]
    }
    local = {
        entry.name: {
            "bindings": _in_bindings([entry.trigger, *entry.inputs]),
            "params": sorted(inspect.signature(entry.handler).parameters),
        }
        for entry in product_app.index()
    }
    assert local == worker


def test_the_local_host_awaits_on_its_event_loop_the_functions_the_worker_awaits_on_its_own(
    real_worker_index: dict[str, Any],
) -> None:
    worker = {function["name"]: function["isAsync"] for function in real_worker_index["function_app.py"]["functions"]}
    local = {entry.name: entry.is_async for entry in product_app.index()}
    assert local == worker
    assert worker["list_deployments"]  # its requests share the listing's version read only on the event loop


def test_every_output_the_worker_loads_is_an_http_return_the_local_gateway_serves(
    real_worker_index: dict[str, Any],
) -> None:
    outputs = {
        (function["name"], binding["name"], binding["type"])
        for function in real_worker_index["function_app.py"]["functions"]
        for binding in function["bindings"]
        if binding["direction"] == "OUT"
    }
    assert outputs == {(entry.name, "$return", "http") for entry in product_app.index().of_type(HTTP)}


def test_the_worker_runs_python_3_11_with_the_runtime_requirements_only(real_worker_index: dict[str, Any]) -> None:
    script = (
        "import importlib.util, sys; "
        f"print(sys.version_info[:2], [name for name in {DEV_PACKAGES!r} if importlib.util.find_spec(name)])"
    )
    run = subprocess.run([str(WORKER_PYTHON), "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert run.stdout.strip() == "(3, 11) []"
