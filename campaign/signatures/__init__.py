"""Signatures: sign, confirm, withdraw, and the public list."""
