"""What event types are configured with: the runtime defaults and the tenant overrides (the most
specific row wins)."""
