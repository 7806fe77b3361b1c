"""The app installs what it runs: requirements.txt (what a publish's remote build installs) has no Pulumi SDK.

The Pulumi Provisioner drives the pulumi CLI, which Flex Consumption workers do not have, so its SDK and the
OpenTelemetry packages it pulls in live in requirements-pulumi.txt. The app must then import and declare all
its functions without pulumi, and settings that ask for the Provisioner must say what to install.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from controlplane.adapters.storage.stores import Stores
from controlplane.bootstrap.azure import azure_ports
from controlplane.config import InvalidSettings, Settings
from controlplane.testing.memory_documents import MemoryDocumentTables

ROOT = Path(__file__).resolve().parents[2]
PULUMI_ONLY = {"pulumi", "opentelemetry-exporter-otlp-proto-grpc", "opentelemetry-instrumentation-grpc"}
# Imported by the adapters that need them, when first built: a cold start loads none of them.
HEAVY_SDKS = ("kubernetes", "azure.mgmt", "azure.monitor.opentelemetry", "azure.monitor.query", "azure.servicebus")

# Runs in a fresh interpreter with pulumi unimportable (None in sys.modules stops the import system).
WITHOUT_PULUMI = """
import json, sys
sys.modules["pulumi"] = None
import function_app
functions = function_app.app.get_functions()
bindings = {f.get_function_name(): f.get_raw_bindings() for f in functions}
loaded = sorted(name for name, module in sys.modules.items() if module is not None)
print(json.dumps({"functions": len(functions), "bound": sum(map(bool, bindings.values())), "loaded": loaded}))
"""


def pinned_names(path: Path) -> set[str]:
    """The distributions a requirements file pins itself (``-r`` includes are not followed)."""
    lines = (line.partition("#")[0].strip() for line in path.read_text().splitlines())
    return {line.partition("==")[0].lower() for line in lines if line and not line.startswith("-")}


def test_requirements_txt_leaves_the_pulumi_sdk_and_its_opentelemetry_pins_to_requirements_pulumi() -> None:
    assert not pinned_names(ROOT / "requirements.txt") & PULUMI_ONLY
    assert pinned_names(ROOT / "requirements-pulumi.txt") == PULUMI_ONLY
    assert "-r requirements.txt" in (ROOT / "requirements-pulumi.txt").read_text()
    assert "-r requirements-pulumi.txt" in (ROOT / "requirements-dev.txt").read_text()


def test_the_app_imports_and_declares_every_function_without_pulumi_and_loads_no_heavy_sdk() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_PULUMI], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["functions"] > 0 and report["bound"] == report["functions"]
    heavy = [name for name in report["loaded"] if name.startswith(("pulumi", *HEAVY_SDKS))]
    assert heavy == []


def test_pulumi_settings_without_the_pulumi_package_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pulumi", None)
    monkeypatch.delitem(sys.modules, "controlplane.adapters.azure.pulumi.provisioner", raising=False)
    settings = Settings.from_environment(
        {
            "AzureWebJobsStorage__tableServiceUri": "https://cpstate.table.core.windows.net/",
            "PULUMI_BACKEND_URL": "azblob://state?storage_account=cpstate",
        }
    )

    with pytest.raises(InvalidSettings, match=r"PULUMI_BACKEND_URL: .*install requirements-pulumi\.txt") as raised:
        azure_ports(settings, root=ROOT, store=Stores.over(MemoryDocumentTables()))
    assert "unset PULUMI_BACKEND_URL" in str(raised.value)
