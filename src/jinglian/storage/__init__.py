"""jinglian.storage."""
