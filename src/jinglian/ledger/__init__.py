"""jinglian.ledger."""
