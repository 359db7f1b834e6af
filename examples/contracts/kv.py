"""A key-value store."""

from jinglian.contract import invoke, query


@invoke
def set(ctx, key, value):
    ctx.state.set(key, value)
    ctx.emit("set", {"key": key})


@query
def get(ctx, key):
    return ctx.state.get(key)
