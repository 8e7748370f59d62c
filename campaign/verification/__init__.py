"""Verified categories: domain rules, the RPPS register, the officials roster, the queue."""
