"""jinglian.execution."""
