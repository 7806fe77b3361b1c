"""Conformance with Azure: the app and the local host against the real Python worker library."""
