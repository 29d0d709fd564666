"""Accounts: tenants, users, authentication, sessions, API tokens, roles."""
