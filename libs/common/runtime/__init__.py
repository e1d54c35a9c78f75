"""Process plumbing every service runs on: settings, logs, metrics, errors, the lifespan's
resources, micro-batching, refused imports."""
