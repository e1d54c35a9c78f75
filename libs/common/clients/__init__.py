"""Clients other services import: the permissions mediator's, the event producer."""
