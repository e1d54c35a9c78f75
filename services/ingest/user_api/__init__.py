"""The user API (DESIGN §1): inbox, counters, preferences, subscriptions — JWT-authenticated.

Every query is scoped to the token's (tenant, user); another user's item answers 404. The
routes are gathered in ``endpoints.py``; this package's own import stays light (the settings
import ``throttle.py``'s).
"""
