"""Saved-filter subscriptions: conditions, what they look at, their in-memory evaluation, deadline
reminders."""
