"""The state transition: from the committed head and a list of transactions to a block.

``build_block`` is the proposer's path: it drops transactions that are no
longer acceptable (expired, duplicate, unauthorised) and builds the header.
``apply_block`` is every other node's path (consensus replicas, block sync): it
re-executes a block it received and refuses it unless every transaction is
acceptable and every root in the header matches what it computed. Both read as
an outline of named steps over the same helpers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from jinglian.crypto import merkle_root
from jinglian.ledger.auth import Signer, TxAuthenticator
from jinglian.ledger.keys import CERTS_CONTRACT, state_key
from jinglian.ledger.state import BlockState, KVReader, StateView
from jinglian.types import (
    Block,
    ChainConfig,
    Event,
    Header,
    Receipt,
    Tx,
    codec,
    encode_header,
    encode_receipt,
)
from jinglian.types.errors import (
    DuplicateTransaction,
    InvalidBlock,
    JinglianError,
    PolicyNotSatisfied,
    TransactionExpired,
    WrongChain,
)
from jinglian.types.policy import satisfied

__all__ = [
    "PROPOSAL_GAS_BUDGET",
    "BlockResult",
    "ChainView",
    "Head",
    "Outcome",
    "TxExecutor",
    "apply_block",
    "build_block",
    "check_tx",
]

PROPOSAL_GAS_BUDGET = 20_000_000
"""Gas after which a proposer stops adding transactions to its block. About one second of
contract work on the reference machine (a 500-item evidence deposit uses 0.64M gas; a
``kv.set`` 1,176, so 2,000 of them stay far below). Every validator re-executes the block
before voting, so this keeps a block's execution within the consensus timeouts."""


EVIDENCE_CALL = ("consensus", "report_misbehaviour")
"""The one call consensus nodes may sign (besides the roles of the ``tx.submit`` policy)."""


@dataclass(frozen=True, slots=True)
class Head:
    """The latest committed block as the state transition needs it."""

    height: int
    hash: bytes
    state_root: bytes
    time_ms: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What executing one transaction produced."""

    status: str
    """``"ok"`` or an error code."""
    result: Any
    error: str
    gas_used: int
    writes: Mapping[bytes, bytes | None]
    """Raw state writes; empty unless ``status == "ok"``."""
    events: tuple[Event, ...]


class TxExecutor(Protocol):
    """Runs one transaction's contract call (implemented over ``jinglian.execution``)."""

    def execute(
        self,
        state: StateView,
        tx: Tx,
        signers: tuple[Signer, ...],
        height: int,
        time_ms: int,
        gas_limit: int,
    ) -> Outcome: ...


class ChainView(Protocol):
    """What the state transition reads from the ledger."""

    authenticator: TxAuthenticator
    executor: TxExecutor

    def suite_hash(self, data: bytes) -> bytes: ...

    def head(self) -> Head: ...

    def config(self) -> ChainConfig: ...

    def reader(self) -> KVReader: ...

    def is_committed(self, tx_id: bytes) -> bool: ...

    def validators_hash(self) -> bytes: ...

    def compute_state_root(
        self, root: bytes, changes: Mapping[bytes, bytes | None]
    ) -> tuple[bytes, list[tuple[bytes, bytes]]]: ...


@dataclass(frozen=True, slots=True)
class BlockResult:
    """A block together with everything needed to commit it."""

    block: Block
    hash: bytes
    """Hash of the block header."""
    receipts: tuple[Receipt, ...]
    encoded_receipts: tuple[bytes, ...]
    """Canonical encoding of each receipt (the receipt-root leaves), computed once."""
    state_changes: dict[bytes, bytes | None]
    """Raw state key -> value (``None`` deletes) after the whole block."""
    tree_writes: list[tuple[bytes, bytes]]
    """New state-tree nodes and values to store."""
    key_changes: list[tuple[bytes, int]] = field(default_factory=list)
    """(state key, tx index) for the key-history index."""
    dropped: list[tuple[Tx, JinglianError]] = field(default_factory=list)
    """Transactions the proposer left out, and why."""

    @property
    def height(self) -> int:
        """Height of the block."""
        return self.block.header.height

    @property
    def tx_count(self) -> int:
        """Number of transactions in the block."""
        return self.block.header.tx_count


def check_tx(chain: ChainView, tx: Tx, time_ms: int, in_block: set[bytes]) -> tuple[Signer, ...]:
    """Raise unless ``tx`` may be included in a block at ``time_ms``; return its signers."""
    config = chain.config()
    if tx.body.chain_id != config.chain_id:
        raise WrongChain(
            f"transaction is for chain {tx.body.chain_id!r}, this is {config.chain_id!r}"
        )
    if len(tx.encoded) > config.params.tx_bytes_max:
        raise InvalidBlock(
            f"transaction of {len(tx.encoded)} bytes exceeds {config.params.tx_bytes_max}"
        )
    validate_tx_window(config, tx, time_ms)
    if tx.id in in_block or chain.is_committed(tx.id):
        raise DuplicateTransaction(f"transaction {tx.id.hex()} is already on chain")
    policy = config.policy("tx.submit")
    roles = policy.roles
    if (tx.body.contract, tx.body.method) == EVIDENCE_CALL:
        # A validator's node reports equivocation evidence with its own consensus identity.
        return chain.authenticator.authenticate(tx, time_ms, (*roles, "consensus"))
    signers = chain.authenticator.authenticate(tx, time_ms, roles)
    if policy.rule != "ANY" or policy.orgs:
        ok, why = satisfied(
            policy, config.member_ids(), [(s.org, s.role) for s in signers], signers[0].org
        )
        if not ok:
            raise PolicyNotSatisfied(f"tx.submit: {why}")
    return signers


def validate_tx_window(config: ChainConfig, tx: Tx, time_ms: int) -> None:
    """Raise ``TransactionExpired`` unless ``time_ms`` lies in the transaction's validity window."""
    params = config.params
    if tx.body.expires_ms - tx.body.timestamp_ms > params.tx_expiry_ms_max:
        raise TransactionExpired(
            f"transaction validity window exceeds the chain's {params.tx_expiry_ms_max} ms"
        )
    if tx.body.timestamp_ms > time_ms + params.clock_skew_ms_max:
        raise TransactionExpired(
            "transaction timestamp is too far in the future; check the client clock"
        )
    if time_ms > tx.body.expires_ms:
        raise TransactionExpired("transaction has expired; sign it again")


def build_block(
    chain: ChainView,
    txs: Sequence[Tx],
    time_ms: int,
    proposer: bytes,
    gas_budget: int | None = None,
) -> BlockResult:
    """Proposer: execute acceptable transactions on top of the head and build the block.

    With ``gas_budget``, no further transaction is included once the included
    ones used that much gas: a proposer's choice that bounds how long every
    validator takes to re-execute the block (not a validity rule; the rest
    stay in the pool for the next block).
    """
    head = chain.head()
    time_ms = max(time_ms, head.time_ms + 1)
    state = BlockState(chain.reader())
    included, receipts, key_changes, dropped = process_txs(
        chain, state, txs, head.height + 1, time_ms, strict=False, gas_budget=gas_budget
    )
    state_root, tree_writes = chain.compute_state_root(head.state_root, state.pending)
    encoded_receipts = [encode_receipt(r) for r in receipts]
    header = make_header(chain, head, time_ms, proposer, included, encoded_receipts, state_root)
    return _result(
        chain,
        Block(header=header, txs=tuple(included)),
        (receipts, encoded_receipts),
        state,
        tree_writes,
        key_changes,
        dropped,
    )


def apply_block(chain: ChainView, block: Block) -> BlockResult:
    """Replica: re-execute a received block; raise ``InvalidBlock`` unless it is exactly right."""
    head = chain.head()
    process_header(chain, head, block.header)
    state = BlockState(chain.reader())
    _, receipts, key_changes, _ = process_txs(
        chain, state, block.txs, block.header.height, block.header.time_ms, strict=True
    )
    state_root, tree_writes = chain.compute_state_root(head.state_root, state.pending)
    encoded_receipts = [encode_receipt(r) for r in receipts]
    expected = make_header(
        chain,
        head,
        block.header.time_ms,
        block.header.proposer,
        list(block.txs),
        encoded_receipts,
        state_root,
    )
    verify_commitments(expected, block.header)
    return _result(chain, block, (receipts, encoded_receipts), state, tree_writes, key_changes, [])


def process_header(chain: ChainView, head: Head, header: Header) -> None:
    """Check the header's place in the chain before executing anything."""
    if header.chain_id != chain.config().chain_id:
        raise InvalidBlock(f"block is for chain {header.chain_id!r}")
    if header.height != head.height + 1:
        raise InvalidBlock(f"block height {header.height} does not follow {head.height}")
    if header.prev_hash != head.hash:
        raise InvalidBlock("block does not extend the committed head")
    if header.time_ms <= head.time_ms:
        raise InvalidBlock("block time does not increase")


def process_txs(
    chain: ChainView,
    state: BlockState,
    txs: Sequence[Tx],
    height: int,
    time_ms: int,
    strict: bool,
    gas_budget: int | None = None,
) -> tuple[list[Tx], list[Receipt], list[tuple[bytes, int]], list[tuple[Tx, JinglianError]]]:
    """Check and execute each transaction in order; invalid ones are dropped or, if ``strict``, fatal.

    Stops before the next transaction once ``gas_budget`` (if given) is used up.
    """
    gas_limit = chain.config().params.gas_tx_max
    gas_total = 0
    included: list[Tx] = []
    receipts: list[Receipt] = []
    key_changes: list[tuple[bytes, int]] = []
    dropped: list[tuple[Tx, JinglianError]] = []
    seen: set[bytes] = set()
    for tx in txs:
        if gas_budget is not None and gas_total >= gas_budget:
            break
        try:
            signers = check_tx(chain, tx, time_ms, seen)
        except JinglianError as exc:
            if strict:
                raise InvalidBlock(
                    f"block holds an unacceptable transaction {tx.id.hex()}: {exc.message}"
                ) from exc
            dropped.append((tx, exc))
            continue
        registrations = process_cert_registrations(chain, state, tx)
        outcome = chain.executor.execute(state, tx, signers, height, time_ms, gas_limit)
        state.apply(outcome.writes)
        key_changes.extend((key, len(included)) for key in [*registrations, *outcome.writes])
        receipts.append(make_receipt(tx, outcome))
        included.append(tx)
        seen.add(tx.id)
        gas_total += outcome.gas_used
    return included, receipts, key_changes, dropped


def process_cert_registrations(chain: ChainView, state: BlockState, tx: Tx) -> list[bytes]:
    """Register on chain each certificate the transaction carries in full, so later ones may cite its id."""
    written = []
    for endorsement in tx.endorsements:
        if endorsement.is_cert_id:
            continue
        cert = chain.authenticator.certificate(endorsement.signer)
        key = state_key(CERTS_CONTRACT, "cert:" + cert.cert_id.hex())
        if state.get(key) is None:
            state.apply({key: codec.encode_trusted(cert.der)})
            written.append(key)
    return written


def make_receipt(tx: Tx, outcome: Outcome) -> Receipt:
    """The receipt of one executed transaction."""
    return Receipt(
        tx_id=tx.id,
        status=outcome.status,
        result=outcome.result,
        error=outcome.error,
        gas_used=outcome.gas_used,
        events=outcome.events,
    )


def make_header(
    chain: ChainView,
    head: Head,
    time_ms: int,
    proposer: bytes,
    txs: Sequence[Tx],
    encoded_receipts: Sequence[bytes],
    state_root: bytes,
) -> Header:
    """The header committing to this block's transactions, outcomes and post-state."""
    return Header(
        chain_id=chain.config().chain_id,
        height=head.height + 1,
        time_ms=time_ms,
        prev_hash=head.hash,
        tx_root=merkle_root(chain.suite_hash, [tx.encoded for tx in txs]),
        receipt_root=merkle_root(chain.suite_hash, encoded_receipts),
        state_root=state_root,
        validators_hash=chain.validators_hash(),
        proposer=proposer,
        tx_count=len(txs),
    )


def verify_commitments(expected: Header, received: Header) -> None:
    """Raise ``InvalidBlock`` naming the first root that differs."""
    for name in ("tx_root", "receipt_root", "state_root", "validators_hash", "tx_count"):
        if getattr(expected, name) != getattr(received, name):
            raise InvalidBlock(f"block {name} does not match re-execution")


def _result(
    chain: ChainView,
    block: Block,
    receipts: tuple[list[Receipt], list[bytes]],
    state: BlockState,
    tree_writes: list[tuple[bytes, bytes]],
    key_changes: list[tuple[bytes, int]],
    dropped: list[tuple[Tx, JinglianError]],
) -> BlockResult:
    return BlockResult(
        block=block,
        hash=chain.suite_hash(encode_header(block.header)),
        receipts=tuple(receipts[0]),
        encoded_receipts=tuple(receipts[1]),
        state_changes=state.pending,
        tree_writes=tree_writes,
        key_changes=key_changes,
        dropped=dropped,
    )
