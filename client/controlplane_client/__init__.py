"""cpctl: the runtime control plane's remote CLI. It talks only to the app's public HTTP API and needs only the
standard library (the ``entra`` extra adds azure-identity for Entra ID tokens)."""
