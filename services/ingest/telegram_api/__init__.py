"""Linking a user's Telegram chat (user side, JWT): /v1/telegram/link."""
