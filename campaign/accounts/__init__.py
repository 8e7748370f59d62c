"""Organiser accounts: users, roles, login, second factor."""
