"""jinglian.apps."""
