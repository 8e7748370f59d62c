"""What every blueprint shares: the visitor's language, safe redirects."""
