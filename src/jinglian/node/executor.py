"""The ledger's ``TxExecutor`` over the contract runtime.

Each executing thread gets its own ``Runtime`` (a runtime runs one call at a
time): the consensus thread executes blocks, API worker threads run queries.
A failed call becomes a failed receipt with the error's code and message and
the gas it used; it writes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from jinglian.execution import CallContext, Runtime, Sender, get_gas_used
from jinglian.execution.system.chain_config import CHAIN_CONFIG
from jinglian.execution.system.consensus import CONSENSUS
from jinglian.execution.system.identity import IDENTITY
from jinglian.ledger import Outcome, Signer, StateView
from jinglian.types import Event, Tx
from jinglian.types.errors import JinglianError
from jinglian.types.tx import args_encoded_size

__all__ = ["QUERY_SENDER", "ContractExecutor"]

QUERY_SENDER = Sender(org="", role="anonymous", cert_id=b"", common_name="")
"""``ctx.sender`` of a query: REST queries are not signed, so the reader is anonymous."""


class ContractExecutor:
    """Runs transactions' contract calls and queries."""

    def __init__(self, hash_fn: Callable[[bytes], bytes]) -> None:
        self._hash_fn = hash_fn
        self._local = threading.local()

    def _runtime(self) -> Runtime:
        runtime: Runtime | None = getattr(self._local, "runtime", None)
        if runtime is None:
            runtime = self._local.runtime = Runtime(
                self._hash_fn, natives=[IDENTITY, CHAIN_CONFIG, CONSENSUS]
            )
        return runtime

    def execute(
        self,
        state: StateView,
        tx: Tx,
        signers: tuple[Signer, ...],
        height: int,
        time_ms: int,
        gas_limit: int,
    ) -> Outcome:
        """Run the transaction's call; a failure is an outcome, not an exception."""
        endorsers = tuple(
            Sender(s.org, s.role, s.cert_id, s.common_name, s.division) for s in signers
        )
        ctx = CallContext(
            tx_id=tx.id,
            sender=endorsers[0],
            block_height=height,
            block_time_ms=time_ms,
            endorsers=endorsers,
        )
        body = tx.body
        try:
            result = self._runtime().invoke(
                state,
                ctx,
                body.contract,
                body.method,
                body.args,
                gas_limit,
                args_size=args_encoded_size(tx),
            )
        except JinglianError as exc:
            return Outcome(
                status=exc.code,
                result=None,
                error=exc.message,
                gas_used=get_gas_used(exc),
                writes={},
                events=(),
            )
        events = tuple(
            Event(contract=e.contract, topic=e.topic, data=e.data) for e in result.events
        )
        return Outcome(
            status="ok",
            result=result.value,
            error="",
            gas_used=result.gas_used,
            writes=result.writes,
            events=events,
        )

    def query(
        self,
        state: StateView,
        contract: str,
        method: str,
        args: dict[str, Any],
        height: int,
        time_ms: int,
        gas_limit: int,
    ) -> tuple[Any, int]:
        """Run a query method read-only; raises the typed error on failure."""
        ctx = CallContext(
            tx_id=b"", sender=QUERY_SENDER, block_height=height, block_time_ms=time_ms
        )
        result = self._runtime().query(state, ctx, contract, method, args, gas_limit)
        return result.value, result.gas_used
