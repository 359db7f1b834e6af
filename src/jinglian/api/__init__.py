"""jinglian.api."""
