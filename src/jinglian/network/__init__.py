"""jinglian.network."""
