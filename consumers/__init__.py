"""Consumer processes that read the bridge's topics (push, pull, other, relay)."""
