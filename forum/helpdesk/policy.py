"""Help-desk policy rules (being written)."""
