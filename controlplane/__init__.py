"""Runtime control plane core: domain, ports, adapters and the embedded local host.

Nothing in this package imports ``azure.functions``; the Functions bindings live in
``triggers/``, ``orchestrators/`` and ``activities/``.
"""
