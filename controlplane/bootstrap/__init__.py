"""The composition root: the one place that builds the ports (``Ports``) for Azure, the local host and tests.

``ports()`` is the process-wide ``Ports`` the functions work with: built from settings on first use (a function
host reuses its process) by ``azure_ports``, or installed with ``use_ports`` by the local host's startup
(``controlplane.bootstrap.local``) and by tests (``controlplane.bootstrap.testing.fake_ports``). Nothing is built
at import time. The local and testing modules are not imported here: they are not published to Azure.
"""

from __future__ import annotations

from controlplane.adapters.azure.monitor import telemetry as telemetry_setup
from controlplane.bootstrap.azure import azure_ports
from controlplane.bootstrap.container import Ports
from controlplane.config import load_settings

__all__ = ["Ports", "azure_ports", "ports", "use_ports"]

_current: Ports | None = None


def ports() -> Ports:
    """The process-wide ports: those installed with ``use_ports``, else the Azure ports built from settings."""
    global _current
    if _current is None:
        settings = load_settings()
        telemetry_setup.configure(settings)
        _current = azure_ports(settings)
    return _current


def use_ports(replacement: Ports | None) -> None:
    """Install ``replacement`` (tests, the local host) or, with None, go back to building from settings."""
    global _current
    _current = replacement
