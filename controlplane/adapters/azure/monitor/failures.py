"""One line for a failed Azure Monitor call: a refusal names the role to grant, a timeout the bound it hit."""

from __future__ import annotations

from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestTimeoutError, ServiceResponseError


def describe(error: AzureError, timeout: float, role: str) -> str:
    """The failure in one line; a refusal (401/403) names the role the control plane's identity needs."""
    if isinstance(error, HttpResponseError) and error.status_code in (401, 403):
        return f"HTTP {error.status_code}: access denied; grant the control plane's identity {role}"
    if isinstance(error, ServiceRequestTimeoutError | ServiceResponseError) and "time" in str(error).lower():
        return f"no answer within {timeout:g}s ({type(error).__name__})"
    if isinstance(error, HttpResponseError) and error.status_code is not None:
        message = (error.message or "").splitlines()[0] if error.message else ""
        return f"HTTP {error.status_code} {error.reason or ''}: {message}".strip()
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
