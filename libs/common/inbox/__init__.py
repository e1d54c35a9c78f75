"""The inbox: visibility, the per-user cursor, unread counters and their push."""
