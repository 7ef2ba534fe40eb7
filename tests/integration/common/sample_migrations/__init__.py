"""A service's migrations package, as the runner sees it (used by test_common_db.py)."""
