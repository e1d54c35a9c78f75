"""Database: engine, sessions, models (PostgreSQL in production, SQLite embedded)."""
