"""jinglian.consensus."""
