"""Native system contracts: the contract registry (``contracts``)."""
