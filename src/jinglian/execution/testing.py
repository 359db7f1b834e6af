"""``ContractHarness``: deploy and call contracts on in-memory state, as the chain would.

For contract authors' tests and for jinglian's own::

    chain = ContractHarness()
    chain.deploy("kv", Path("examples/contracts/kv.py").read_text())
    chain.invoke("kv", "set", {"key": "a", "value": 1})
    assert chain.query("kv", "get", {"key": "a"}).value == 1

Every call goes through the real ``Runtime`` and the registry system contract;
successful invokes apply their writes, failed ones raise the typed error
(with ``gas_used``) and change nothing. The hash is SHA-256. The state starts
with a chain config of one organisation, ``org1`` (default policies), so a
deploy by ``ADMIN`` meets the ``contract.deploy`` policy as on a one-org chain.
"""

from __future__ import annotations

import hashlib

from jinglian.execution._model import CallContext, CallResult, Sender
from jinglian.execution.memory import MemoryState
from jinglian.execution.runtime import Runtime
from jinglian.execution.system.chain_config import CHAIN_CONFIG
from jinglian.execution.system.identity import IDENTITY
from jinglian.types.codec import Value, encode
from jinglian.types.config import ChainConfig, ConsensusParams, Org, ValidatorInfo

__all__ = ["ADMIN", "CLIENT", "GAS_LIMIT_DEFAULT", "ContractHarness", "harness_config", "sha256"]

GAS_LIMIT_DEFAULT = 10_000_000
"""Gas each harness call may use unless told otherwise."""

ADMIN = Sender(org="org1", role="admin", cert_id=b"\xa1" * 32, common_name="admin@org1")
CLIENT = Sender(org="org1", role="client", cert_id=b"\xc1" * 32, common_name="user@org1")


def sha256(data: bytes) -> bytes:
    """SHA-256 of ``data``."""
    return hashlib.sha256(data).digest()


def harness_config(org_ids: tuple[str, ...] = ("org1",), validators: int = 1) -> ChainConfig:
    """A chain config for in-memory tests: these organisations (no CA certificates), default
    policies, ``validators`` nodes of the first organisation (``tbft`` if more than one).
    Enough for policies and governance: the harness never parses the certificate fields."""
    return ChainConfig(
        chain_id="harness",
        crypto="default",
        genesis_time_ms=1_700_000_000_000,
        orgs=tuple(Org(org_id, org_id, "") for org_id in org_ids),
        validators=tuple(
            ValidatorInfo(f"node{n}", org_ids[0], f"certificate of node{n}")
            for n in range(1, validators + 1)
        ),
        consensus=ConsensusParams(type="solo" if validators == 1 else "tbft"),
    )


class ContractHarness:
    """One in-memory chain: state, a runtime, a block height that moves on each invoke."""

    def __init__(
        self, gas_limit: int = GAS_LIMIT_DEFAULT, config: ChainConfig | None = None
    ) -> None:
        self.state = MemoryState()
        """World state."""
        document = (config or harness_config()).to_value()
        self.state.apply({b"chain_config\x00config": encode(document)})
        self.runtime = Runtime(hash_fn=sha256, natives=[CHAIN_CONFIG, IDENTITY])
        """The runtime every call goes through."""
        self.gas_limit = gas_limit
        """Gas each call may use."""
        self.height = 1
        """Height of the next block."""

    def context(self, sender: Sender = CLIENT, endorsers: tuple[Sender, ...] = ()) -> CallContext:
        """The transaction context of the next call (``endorsers``: co-signers after the sender)."""
        tx_id = sha256(b"tx%d" % self.height)
        time_ms = 1_700_000_000_000 + self.height * 1000
        signers = (sender, *endorsers) if endorsers else ()
        return CallContext(tx_id, sender, self.height, time_ms, signers)

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
        endorsers: tuple[Sender, ...] = (),
    ) -> CallResult:
        """Run a transaction; on success apply its writes and move to the next block."""
        ctx = self.context(sender, endorsers)
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
