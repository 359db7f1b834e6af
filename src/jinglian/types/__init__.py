"""jinglian.types."""
