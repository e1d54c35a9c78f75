"""The tenant registry, a tenant's own settings, changing the registry."""
