"""Review-queue kinds "help" and "help_msg" (being written)."""
