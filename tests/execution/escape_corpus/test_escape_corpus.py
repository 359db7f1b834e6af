"""Every known escape or exhaustion attempt is refused, quickly, with the same typed error.

After each attempt the same in-memory chain (and so the same runtime and
process) must still deploy and run an ordinary contract.
"""

from __future__ import annotations

import textwrap
import time

import pytest

from jinglian.execution import get_gas_used
from jinglian.execution.testing import ADMIN, ContractHarness
from jinglian.types.errors import JinglianError

from .cases import CASES, DEPLOY, Case

CASE_SECONDS_MAX = 1.0
GAS_LIMIT = 1_000_000


HEADER = "from jinglian.contract import invoke\n"
VALID_METHOD = "\n\n@invoke\ndef ok(ctx):\n    return 1\n"


def source_of(case: Case) -> str:
    """The attempt as a module that would be valid without the attempt itself."""
    if case.module:
        return HEADER + case.code + VALID_METHOD
    body = textwrap.indent(case.code, "    ")
    return f"{HEADER}\n@invoke\ndef run(ctx):\n{body}\n"


def attempt(chain: ContractHarness, case: Case) -> JinglianError:
    """Deploy (and for run-time cases, invoke) the attempt; return the error it raised."""
    with pytest.raises(case.error) as caught:
        chain.deploy("attack", source_of(case))
        chain.invoke("attack", "run", sender=ADMIN)
    return caught.value


def test_corpus_is_large_and_named_uniquely() -> None:
    assert len(CASES) >= 30
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_attempt_is_refused(case: Case, kv_source: str) -> None:
    chain = ContractHarness(gas_limit=GAS_LIMIT)
    started = time.perf_counter()
    error = attempt(chain, case)
    elapsed = time.perf_counter() - started
    assert type(error) is case.error, error
    assert elapsed < CASE_SECONDS_MAX
    if case.phase == DEPLOY:
        assert chain.state.snapshot() == ContractHarness().state.snapshot()
    chain.deploy("kv", kv_source)
    chain.invoke("kv", "set", {"key": "after", "value": case.id})
    assert chain.query("kv", "get", {"key": "after"}).value == case.id


@pytest.mark.parametrize(
    "case", [case for case in CASES if case.phase != DEPLOY], ids=lambda case: case.id
)
def test_run_time_outcome_is_the_same_every_time(case: Case) -> None:
    outcomes = []
    for _ in range(2):
        error = attempt(ContractHarness(gas_limit=GAS_LIMIT), case)
        outcomes.append((type(error), error.message, get_gas_used(error)))
    assert outcomes[0] == outcomes[1]
    assert 0 < outcomes[0][2] <= GAS_LIMIT
