"""Channels and when they deliver: the registry and its rules, e-mail addresses, escalation chains,
digest schedules."""
