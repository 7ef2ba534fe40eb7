"""Plumbing tables every service schema gets before its own migrations (see db.migrate)."""
