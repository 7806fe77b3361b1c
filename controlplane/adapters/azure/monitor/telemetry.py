"""Where spans and logs go: Azure Monitor (Application Insights) in Azure, the console locally when asked.

Configured once per process. With ``APPLICATIONINSIGHTS_CONNECTION_STRING`` set, ``azure-monitor-opentelemetry``
exports traces, logs and metrics; with ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD`` (the
infra sets it: local auth is off on the App Insights resource) it authenticates with DefaultAzureCredential,
the Function App's managed identity. ``console=True`` (``python -m controlplane up --trace-console``) prints
every finished span to stderr instead.
"""

from __future__ import annotations

import sys
import threading

from controlplane.config import Settings
from controlplane.telemetry import install_log_context

_configured = False
_lock = threading.Lock()


def configure(settings: Settings, console: bool = False) -> str:
    """Install the exporters the settings ask for (once); returns where spans go: azure-monitor, console, none."""
    global _configured
    with _lock:
        destination = "azure-monitor" if settings.app_insights_connection else "console" if console else "none"
        if _configured:
            return destination
        _configured = True
        install_log_context()
        if destination == "azure-monitor":
            _azure_monitor(settings)
        elif destination == "console":
            _console()
        return destination


def _azure_monitor(settings: Settings) -> None:
    from azure.monitor.opentelemetry import configure_azure_monitor

    credential = None
    if settings.app_insights_aad:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    configure_azure_monitor(
        connection_string=settings.app_insights_connection, credential=credential, logger_name="controlplane"
    )


def _console() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "runtime-control-plane"}))
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    trace.set_tracer_provider(provider)


