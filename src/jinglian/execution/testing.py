"""``ContractHarness``: deploy and call contracts on in-memory state, as the chain would.

For contract authors' tests and for jinglian's own::

    chain = ContractHarness()
    chain.deploy("kv", Path("examples/contracts/kv.py").read_text())
    chain.invoke("kv", "set", {"key": "a", "value": 1})
    assert chain.query("kv", "get", {"key": "a"}).value == 1

Every call goes through the real ``Runtime`` and the registry system contract;
successful invokes apply their writes, failed ones raise the typed error
(with ``gas_used``) and change nothing. The hash is SHA-256.
"""

from __future__ import annotations

import hashlib

from jinglian.execution._model import CallContext, CallResult, Sender
from jinglian.execution.memory import MemoryState
from jinglian.execution.runtime import Runtime
from jinglian.types.codec import Value

__all__ = ["ADMIN", "CLIENT", "GAS_LIMIT_DEFAULT", "ContractHarness", "sha256"]

GAS_LIMIT_DEFAULT = 10_000_000
"""Gas each harness call may use unless told otherwise."""

ADMIN = Sender(org="org1", role="admin", cert_id=b"\xa1" * 32, common_name="admin@org1")
CLIENT = Sender(org="org1", role="client", cert_id=b"\xc1" * 32, common_name="user@org1")


def sha256(data: bytes) -> bytes:
    """SHA-256 of ``data``."""
    return hashlib.sha256(data).digest()


class ContractHarness:
    """One in-memory chain: state, a runtime, a block height that moves on each invoke."""

    def __init__(self, gas_limit: int = GAS_LIMIT_DEFAULT) -> None:
        self.state = MemoryState()
        """World state."""
        self.runtime = Runtime(hash_fn=sha256)
        """The runtime every call goes through."""
        self.gas_limit = gas_limit
        """Gas each call may use."""
        self.height = 1
        """Height of the next block."""

    def context(self, sender: Sender = CLIENT) -> CallContext:
        """The transaction context of the next call."""
        tx_id = sha256(b"tx%d" % self.height)
        return CallContext(tx_id, sender, self.height, 1_700_000_000_000 + self.height * 1000)

    def deploy(self, name: str, source: str, sender: Sender = ADMIN) -> CallResult:
        """Deploy ``source`` as ``name`` through the registry."""
        return self.invoke("contracts", "deploy", {"name": name, "source": source}, sender=sender)

    def upgrade(self, name: str, source: str, sender: Sender = ADMIN) -> CallResult:
        """Upgrade ``name`` to ``source`` through the registry."""
        return self.invoke("contracts", "upgrade", {"name": name, "source": source}, sender=sender)

    def invoke(
        self,
        contract: str,
        method: str,
        args: dict[str, Value] | None = None,
        *,
        sender: Sender = CLIENT,
    ) -> CallResult:
        """Run a transaction; on success apply its writes and move to the next block."""
        ctx = self.context(sender)
        result = self.runtime.invoke(self.state, ctx, contract, method, args or {}, self.gas_limit)
        self.state.apply(result.writes)
        self.height += 1
        return result

    def query(
        self,
        contract: str,
        method: str,
        args: dict[str, Value] | None = None,
        *,
        sender: Sender = CLIENT,
    ) -> CallResult:
        """Run a read-only call."""
        ctx = self.context(sender)
        return self.runtime.query(self.state, ctx, contract, method, args or {}, self.gas_limit)
