"""The web service's rules, pure: accounts and who manages whom, passwords, lockout and
rate limits, sessions and CSRF, personal API tokens, where a person lands."""
