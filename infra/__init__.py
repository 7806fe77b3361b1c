"""The Pulumi program (pulumi-azure-native) for the control plane's platform and its runtime environments.

A package so the tests and the Provisioner import it as ``infra.*``; ``__main__.py`` is what ``pulumi up`` runs.
"""
