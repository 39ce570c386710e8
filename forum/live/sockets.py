"""Socket.IO handlers of the "/live" namespace (stub until written)."""
