"""jinglian.testing."""
