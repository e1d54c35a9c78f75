"""Shared library: settings, database, bus, wire schemas, templates, auth, metrics."""
