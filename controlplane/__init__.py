"""Runtime control plane core: domain, ports, adapters and the embedded local host.

The core (``domain``, ``ports``, ``adapters``) never imports ``azure.functions``; the Functions bindings
live in ``triggers/``, ``orchestrators/`` and ``activities/``. ``controlplane.local`` is the exception:
it plays the Functions host, so it builds the binding objects (HttpRequest, ServiceBusMessage, ...)
that the host hands to functions.
"""
