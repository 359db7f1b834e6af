"""jinglian.cli."""
