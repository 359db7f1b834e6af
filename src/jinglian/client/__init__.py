"""jinglian.client."""
