"""jinglian.mempool."""
