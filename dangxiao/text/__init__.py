"""Text normalisation shared by every package: one place decides what user text may hold."""
