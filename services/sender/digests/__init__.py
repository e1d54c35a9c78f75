"""Digests (DESIGN §7): the sender's scheduler builds each user's digest once, on time."""
