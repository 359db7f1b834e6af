"""jinglian.crypto."""
