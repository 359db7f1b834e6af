"""Run a fixed scenario of contract calls and print its outcome, canonically encoded, as hex.

``test_determinism`` runs this in subprocesses with different ``PYTHONHASHSEED``
values and requires byte-identical output.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jinglian.execution import get_gas_used
from jinglian.execution.testing import ADMIN, CLIENT, ContractHarness
from jinglian.types.codec import Value, encode
from jinglian.types.errors import JinglianError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"

MIXER = """
from jinglian.contract import invoke, query

WORDS = ("pear", "apple", "fig", "kiwi", "plum", "date", "lime", "yuzu")


@invoke
def shuffle(ctx, seed):
    table = {}
    for i in range(40):
        word = WORDS[(i * seed) % len(WORDS)] + str(i % 7)
        table[word] = table.get(word, 0) + i
    ctx.state.set("table", table)
    ctx.state.set("index:" + str(seed), sorted(table))
    for key, value in table.items():
        if value % 3 == 0:
            ctx.emit("multiple", {"key": key, "value": value})
    merged = {k: v for k, v in table.items() if k[0] in "apf"} | {"zz": 1}
    return [str(merged), list(merged), f"{table}", "fig0" in table, len(table)]


@query
def listing(ctx):
    return ctx.state.items("index:")


@invoke
def burn(ctx):
    total = 0
    while True:
        total = total + 1


@invoke
def explode(ctx, key):
    ctx.state.set("before", 1)
    return {"a": 1}[key]


@invoke
def escape(ctx):
    return {"a": 1}.keys() & {"b": 2}.keys()
"""


def outcome(
    chain: ContractHarness,
    contract: str,
    method: str,
    args: dict[str, Value],
    *,
    sender=CLIENT,
    query: bool = False,
) -> Value:
    """A call's result, or its error, as a codec value."""
    call = chain.query if query else chain.invoke
    try:
        result = call(contract, method, args, sender=sender)
    except JinglianError as error:
        return ["error", error.code, error.message, get_gas_used(error)]
    writes = [[key, value] for key, value in result.writes.items()]
    events = [[event.contract, event.topic, event.data] for event in result.events]
    return ["ok", result.value, writes, events, result.gas_used]


def scenario() -> list[Value]:
    """Deploys and calls that succeed, fail, run out of gas and break sandbox rules."""
    chain = ContractHarness(gas_limit=300_000)
    outcomes = [
        outcome(
            chain,
            "contracts",
            "deploy",
            {"name": "kv", "source": (EXAMPLES / "kv.py").read_text()},
            sender=ADMIN,
        ),
        outcome(
            chain,
            "contracts",
            "deploy",
            {"name": "asset", "source": (EXAMPLES / "asset.py").read_text()},
            sender=ADMIN,
        ),
        outcome(chain, "contracts", "deploy", {"name": "mixer", "source": MIXER}, sender=ADMIN),
        outcome(chain, "kv", "set", {"key": "k", "value": {"b": 1, "a": [2, "x"]}}),
        outcome(chain, "asset", "issue", {"to": CLIENT.cert_id.hex(), "amount": 100}, sender=ADMIN),
        outcome(chain, "asset", "transfer", {"to": "bob", "amount": 30}),
        outcome(chain, "asset", "transfer", {"to": "bob", "amount": 1000}),
    ]
    for seed in (1, 3, 5, 7):
        outcomes.append(outcome(chain, "mixer", "shuffle", {"seed": seed}))
    outcomes += [
        outcome(chain, "mixer", "listing", {}, query=True),
        outcome(chain, "mixer", "burn", {}),
        outcome(chain, "mixer", "explode", {"key": "missing"}),
        outcome(chain, "mixer", "escape", {}),
        outcome(chain, "contracts", "list", {}, query=True),
        [[key, value] for key, value in chain.state.snapshot().items()],
    ]
    return outcomes


if __name__ == "__main__":
    sys.stdout.write(encode(scenario()).hex())
