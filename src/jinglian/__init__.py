"""jinglian (京链): a consortium blockchain platform.

Packages follow the layering of docs/architecture.md: ``crypto`` and ``types``
at the bottom, then ``storage``, ``ledger``, ``execution``, ``mempool``,
``consensus``, ``network``, the ``node`` composition root, and the user-facing
``api``, ``client`` and ``cli`` on top.
"""

__version__ = "0.1.0"

if not __debug__:  # pragma: no cover - exercised by tests/test_optimized.py
    raise SystemExit("jinglian refuses to run under python -O: its invariant checks are asserts")
