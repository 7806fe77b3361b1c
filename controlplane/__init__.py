"""Runtime control plane core: domain, ports, services, adapters, the composition root and the CLI.

The core (``domain``, ``ports``, ``services``, ``adapters``) never imports ``azure.functions``; the Functions
bindings live in ``triggers/``, ``orchestrators/`` and ``activities/``. The embedded local Functions host is a
package of its own, ``funchost``, which never imports this one.
"""
