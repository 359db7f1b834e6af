"""jinglian.console."""
