"""Test support: in-memory chains with real certificates, and invariant checkers.

``make_test_network`` builds organisations, CAs, identities and a genesis
config in memory; ``TestIdentity.sign`` makes signed transactions. Used by the
test suite and by benchmarks; never by a running node.
"""

from jinglian.testing.network import TestIdentity, TestNetwork, make_test_network

__all__ = ["TestIdentity", "TestNetwork", "make_test_network"]
