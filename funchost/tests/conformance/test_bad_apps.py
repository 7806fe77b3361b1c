"""The local host refuses, at start-up and in Azure's words, every app that Azure refuses to load.

Each app in funchost/tests/apps/bad_apps carries one refusal. Refusals by the Python SDK or the worker are checked
against the real worker library (in .venv-worker); refusals by the Functions host, which the worker does not
make, against the host's own messages in Azure/azure-functions-host src/WebJobs.Script:
Host/WorkerFunctionMetadataProvider.cs (ValidateName, ValidateBindings), Utility.cs (FunctionNameValidationRegex,
BindingNameValidationRegex, ValidateBinding), Host/ScriptHost.cs (ValidateHttpFunction, HttpRoutesConflict) and
Diagnostics/Extensions/ScriptHostLoggerExtension.cs ("The '{functionName}' function is in error: ...").
The local host's checks run twice: through the worker library installed in .venv, and through the
re-implementation it falls back on when the library is not installed.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from funchost import worker_checks
from funchost.function_checks import FunctionAppRefused
from funchost.functions import FunctionIndex
from funchost.tests.apps.bad_apps import BAD_APPS, BadApp
from funchost.tests.conformance.real_worker import PROJECT_ROOT
from funchost.tests.e2e.host_process import START_COMMAND

CHECKS = ["worker library", "re-implementation"]


def _load(app: BadApp) -> FunctionIndex:
    sys.modules.pop(app.import_name, None)  # a fresh app: the SDK indexes an app object only once
    return FunctionIndex.load(app.import_name, "app")


@pytest.fixture(params=CHECKS)
def checks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The local host's worker checks: the real library (installed in .venv by make) or the fallback."""
    if request.param == "re-implementation":
        monkeypatch.setattr(worker_checks, "_real_worker", lambda: None)
    else:
        assert worker_checks.real_worker_installed(), "azure-functions-runtime is missing from .venv: run `make setup`"
    return request.param


@pytest.mark.parametrize("app", BAD_APPS, ids=lambda app: app.module)
def test_the_real_worker_refuses_what_it_refuses_and_loads_what_only_the_host_refuses(
    app: BadApp, real_worker_index: dict[str, Any]
) -> None:
    worker = real_worker_index[app.path]
    if app.refused_by == "worker":
        assert (worker["error"], worker["functions"]) == (app.message, [])
    else:
        assert worker["error"] is None
        assert worker["functions"]


@pytest.mark.parametrize("app", BAD_APPS, ids=lambda app: app.module)
def test_the_local_host_refuses_the_app_with_azures_message(app: BadApp, checks: str) -> None:
    with pytest.raises(FunctionAppRefused) as refused:
        _load(app)
    assert str(refused.value) == app.message


def test_a_host_refusal_names_the_function_in_error(checks: str) -> None:
    with pytest.raises(FunctionAppRefused) as refused:
        _load(next(app for app in BAD_APPS if app.module == "duplicate_route"))
    assert [error.function for error in refused.value.errors] == ["services_page"]


def test_start_exits_non_zero_with_the_refusal_before_starting_anything() -> None:
    app = BAD_APPS[0]
    run = subprocess.run(
        [*START_COMMAND, "--port", "0", "--app", f"{app.import_name}:app"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert app.message in run.stderr
    assert "READY" not in run.stdout
