"""The one module a smart contract may import.

::

    from jinglian.contract import invoke, query

    @invoke
    def set(ctx, key, value):
        ctx.state.set(key, value)

    @query
    def get(ctx, key):
        return ctx.state.get(key)

See ``docs/contracts.md`` for the context object, limits and gas costs.
"""

from __future__ import annotations

from jinglian.execution.sdk import invoke, query

__all__ = ["invoke", "query"]
