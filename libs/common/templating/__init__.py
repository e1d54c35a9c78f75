"""Templates: the sandbox, its limits and budget, what a template sees, a tenant's e-mail layout."""
