"""Bounded computation: a contract whose calls spend their gas on arithmetic, not storage.

``jinglian bench --workload contract-cpu`` calls ``work`` with a random seed:
the cost of a transaction that executes real code, beside ``kv.set`` (one
state write) and the evidence deposits (validation and storage).

    work(seed, rounds)   mix ``seed`` through ``rounds`` rounds (1 to ROUNDS_MAX) of 64-bit
                         integer arithmetic; store the result under the seed
    result(seed)         query: the stored result of ``work(seed, ...)``, or None
"""

from jinglian.contract import invoke, query

ROUNDS_MAX = 10000
MASK = 18446744073709551615  # 2**64 - 1: every intermediate value is kept to 64 bits
MULTIPLIER = 6364136223846793005
INCREMENT = 1442695040888963407


def mix(value, rounds):
    """A 64-bit linear congruential step followed by an xor-shift, ``rounds`` times."""
    for _ in range(rounds):
        value = (value * MULTIPLIER + INCREMENT) & MASK
        value = value ^ (value >> 29)
    return value


def check_int(ctx, name, value, low, high):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        ctx.fail(f"{name} must be an integer from {low} to {high}")


@invoke
def work(ctx, seed, rounds):
    """Mix ``seed`` for ``rounds`` rounds and store the result (as decimal text) under the seed."""
    check_int(ctx, "seed", seed, 0, MASK >> 1)
    check_int(ctx, "rounds", rounds, 1, ROUNDS_MAX)
    ctx.state.set(str(seed), str(mix(seed, rounds)))


@query
def result(ctx, seed):
    """The stored result for ``seed``, or None before ``work(seed, ...)`` ran."""
    return ctx.state.get(str(seed))
