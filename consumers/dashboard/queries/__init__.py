"""Read-only queries over the consumers' store, one module per view."""
