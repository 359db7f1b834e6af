"""jinglian.node."""
