"""A points ledger: admins issue points, holders transfer them.

Accounts are identified by certificate id (``ctx.sender.id``, hex); points
may be sent to any account id. Every change emits an event.

    issue(to, amount)      admin only: create points in account ``to``
    transfer(to, amount)   move points from the signer's account to ``to``
    balance(account)       query: points held by ``account``
    supply()               query: points issued in total
"""

from jinglian.contract import invoke, query

ADMIN_ROLE = "admin"
ACCOUNT_CHARS_MAX = 128
SUPPLY_MAX = 4611686018427387904  # 2**62: keeps every balance a 64-bit integer


def balance_key(account):
    return "balance:" + account


def read_balance(ctx, account):
    return ctx.state.get(balance_key(account), 0)


def check_account(ctx, account):
    if not isinstance(account, str) or not 0 < len(account) <= ACCOUNT_CHARS_MAX:
        ctx.fail(f"an account is a non-empty str of at most {ACCOUNT_CHARS_MAX} characters")


def check_amount(ctx, amount):
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        ctx.fail("amount must be a positive integer")


@invoke
def issue(ctx, to, amount):
    """Create ``amount`` new points in account ``to`` (admins only)."""
    if ctx.sender.role != ADMIN_ROLE:
        ctx.fail("only an admin may issue points")
    check_account(ctx, to)
    check_amount(ctx, amount)
    supply = ctx.state.get("supply", 0) + amount
    if supply > SUPPLY_MAX:
        ctx.fail("issuing this much would pass the supply limit")
    ctx.state.set("supply", supply)
    ctx.state.set(balance_key(to), read_balance(ctx, to) + amount)
    ctx.emit("issue", {"to": to, "amount": amount})


@invoke
def transfer(ctx, to, amount):
    """Move ``amount`` points from the signer's account to ``to``."""
    check_account(ctx, to)
    check_amount(ctx, amount)
    sender = ctx.sender.id
    available = read_balance(ctx, sender)
    if available < amount:
        ctx.fail(f"insufficient funds: balance {available}, transfer {amount}")
    ctx.state.set(balance_key(sender), available - amount)
    ctx.state.set(balance_key(to), read_balance(ctx, to) + amount)
    ctx.emit("transfer", {"from": sender, "to": to, "amount": amount})


@query
def balance(ctx, account):
    """Points held by ``account``."""
    check_account(ctx, account)
    return read_balance(ctx, account)


@query
def supply(ctx):
    """Points issued in total."""
    return ctx.state.get("supply", 0)
