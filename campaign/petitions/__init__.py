"""Petitions: their texts, categories and lifecycle."""
