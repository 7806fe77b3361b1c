"""The embedded durable engine: runs Durable Functions orchestrations through the SDK's own replay,
with instances, history and messages persisted in Table storage (Azurite locally)."""
