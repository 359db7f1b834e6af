"""An in-memory ``NodeServices`` that produces real, verifiable records.

``FakeNode`` loads a network made by ``create_network``, "executes" a toy
contract set (``kv`` and the ``contracts`` system contract) and commits
blocks signed by every genesis validator, with real Merkle roots and a real
sparse-Merkle state root, so the API, the SDK and the offline verifier can be
tested end to end without the node.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinglian.client.network import load_network
from jinglian.crypto import PrivateKey, get_suite, load_certificate, merkle_proof, merkle_root
from jinglian.crypto.state_proof import (
    EMPTY_HASH,
    StateProof,
    compute_internal_hash,
    compute_leaf_hash,
    compute_path_bit,
    encode_state_proof,
)
from jinglian.ledger import Signer, TxAuthenticator
from jinglian.node.readers import ReadGuard, ReadRequest
from jinglian.node.services import (
    BlockRecord,
    ChainInfo,
    EventFilter,
    QueryResult,
    StateRecord,
    StreamItem,
    TxRecord,
)
from jinglian.types import (
    Block,
    ChainConfig,
    Commit,
    CommitSignature,
    Event,
    Header,
    Receipt,
    Tx,
    codec,
    decode_tx,
    encode_header,
    encode_receipt,
    vote_sign_bytes,
)
from jinglian.types.config import compute_genesis_hash, compute_validators_hash
from jinglian.types.errors import (
    DuplicateTransaction,
    InvalidSignature,
    NotFound,
    Timeout,
    UnknownContract,
    UnknownMethod,
    WrongChain,
)

HashFn = Callable[[bytes], bytes]


def state_key(contract: str, key: str) -> bytes:
    """The raw state key of a contract's key."""
    return contract.encode() + b"\x00" + key.encode()


# A compressed binary sparse Merkle tree, as jinglian.crypto.state_proof defines it.


def _split(items: dict[bytes, bytes], depth: int) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
    left = {p: v for p, v in items.items() if not compute_path_bit(p, depth)}
    right = {p: v for p, v in items.items() if compute_path_bit(p, depth)}
    return left, right


def smt_root(hash_fn: HashFn, items: dict[bytes, bytes], depth: int = 0) -> bytes:
    """Root over ``{key path: value hash}``."""
    if not items:
        return EMPTY_HASH
    if len(items) == 1:
        ((path, value_hash),) = items.items()
        return compute_leaf_hash(hash_fn, path, value_hash)
    left, right = _split(items, depth)
    return compute_internal_hash(
        hash_fn, smt_root(hash_fn, left, depth + 1), smt_root(hash_fn, right, depth + 1)
    )


def smt_proof(hash_fn: HashFn, items: dict[bytes, bytes], path: bytes) -> StateProof:
    """The walk from the root along ``path``."""
    siblings = []
    depth = 0
    current = items
    while len(current) > 1:
        left, right = _split(current, depth)
        if compute_path_bit(path, depth):
            siblings.append(smt_root(hash_fn, left, depth + 1))
            current = right
        else:
            siblings.append(smt_root(hash_fn, right, depth + 1))
            current = left
        depth += 1
    leaf = next(iter(current.items())) if current else None
    return StateProof(siblings=tuple(siblings), leaf=leaf)


@dataclass
class _Validator:
    name: str
    id: bytes
    key: PrivateKey


@dataclass
class FakeNode:
    """A single-process chain that commits each submitted transaction at once (or on demand)."""

    net_dir: Path
    hold: bool = False
    """Keep submitted transactions pending until ``commit_pending``."""
    config: ChainConfig = field(init=False)
    hash: HashFn = field(init=False)
    validators: list[_Validator] = field(init=False)
    states: list[dict[bytes, bytes]] = field(init=False)
    blocks: list[BlockRecord] = field(init=False)
    txs: dict[bytes, tuple[int, int]] = field(init=False)
    pending: list[Tx] = field(init=False)
    stream: list[StreamItem] = field(init=False)
    readers: ReadGuard = field(init=False)

    def __post_init__(self) -> None:
        network = load_network(self.net_dir)
        self.config = network.load_genesis()
        self.hash = get_suite(self.config.crypto).hash
        suite = get_suite(self.config.crypto)
        self.validators = []
        for info in self.config.validators:
            key = suite.load_private_key((network.node(info.name).dir / "sign.key").read_bytes())
            cert_id = load_certificate(info.cert.encode()).cert_id
            self.validators.append(_Validator(info.name, cert_id, key))
        genesis_value = codec.encode(self.config.to_value())
        self.states = [{state_key("chain_config", "config"): genesis_value}]
        self.blocks, self.txs, self.pending, self.stream = [], {}, [], []
        auth = TxAuthenticator(suite, lambda: self.config, lambda _: None, lambda _: False)
        self.readers = ReadGuard(lambda: self.config, auth.certificate, lambda _: False)

    # NodeServices

    def chain_info(self) -> ChainInfo:
        head = self.blocks[-1] if self.blocks else None
        return ChainInfo(
            chain_id=self.config.chain_id,
            crypto=self.config.crypto,
            consensus=self.config.consensus.type,
            genesis_hash=self.genesis_hash,
            height=len(self.blocks),
            head_hash=head.hash if head else self.genesis_hash,
            state_root=self._root(len(self.blocks)),
            head_time_ms=head.block.header.time_ms if head else self.config.genesis_time_ms,
            node_name="node1",
            config=self.config,
        )

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "node": "node1", "height": len(self.blocks)}

    def submit_tx(self, data: bytes) -> bytes:
        tx = decode_tx(data, self.hash)
        if tx.body.chain_id != self.config.chain_id:
            raise WrongChain(f"transaction is for chain {tx.body.chain_id!r}")
        if tx.id in self.txs or any(p.id == tx.id for p in self.pending):
            raise DuplicateTransaction(f"transaction {tx.id.hex()} was already submitted")
        self._check_signature(tx)
        self.pending.append(tx)
        if not self.hold:
            self.commit_pending()
        return tx.id

    async def wait_tx(self, tx_id: bytes, timeout_s: float) -> TxRecord:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while tx_id not in self.txs:
            if asyncio.get_running_loop().time() > deadline:
                raise Timeout(f"transaction {tx_id.hex()} did not commit in {timeout_s} s")
            await asyncio.sleep(0.01)
        record = self.get_tx(tx_id)
        assert record is not None
        return record

    def get_tx(self, tx_id: bytes) -> TxRecord | None:
        if tx_id not in self.txs:
            return None
        height, index = self.txs[tx_id]
        record = self.blocks[height - 1]
        txs = record.block.txs
        receipts = [encode_receipt(r) for r in record.receipts]
        return TxRecord(
            tx=txs[index],
            receipt=record.receipts[index],
            height=height,
            index=index,
            header=record.block.header,
            commit=record.commit,
            tx_proof=tuple(merkle_proof(self.hash, [t.encoded for t in txs], index)),
            receipt_proof=tuple(merkle_proof(self.hash, receipts, index)),
        )

    def get_block(self, height: int | None) -> BlockRecord | None:
        if height is None:
            return self.blocks[-1] if self.blocks else None
        return self.blocks[height - 1] if 1 <= height <= len(self.blocks) else None

    def get_block_by_hash(self, block_hash: bytes) -> BlockRecord | None:
        return next((b for b in self.blocks if b.hash == block_hash), None)

    def query(
        self, contract: str, method: str, args: dict[str, Any], height: int | None, prove: bool
    ) -> QueryResult:
        at = self._height(height)
        state = self.states[at]
        reads: list[StateRecord] = []

        def read(key: bytes) -> Any:
            value = state.get(key)
            reads.append(self._state_record(key, at))
            return None if value is None else codec.decode(value, 1 << 24)

        value = self._run_query(contract, method, args, read, state)
        block = self.blocks[at - 1] if at else None
        return QueryResult(
            value=value,
            height=at,
            gas_used=10 * len(reads),
            reads=tuple(reads) if prove else (),
            header=block.block.header if prove and block else None,
            commit=block.commit if prove and block else None,
        )

    def authorize_read(self, resource: str, request: ReadRequest) -> Signer:
        return self.readers.authorize(resource, request)

    def config_change_heights(self) -> list[int]:
        return []

    def get_state(
        self, key: bytes, height: int | None
    ) -> tuple[StateRecord, Header, Commit | None]:
        at = self._height(height)
        if at == 0:
            raise NotFound("no block has been committed yet")
        block = self.blocks[at - 1]
        return self._state_record(key, at), block.block.header, block.commit

    async def subscribe(self, flt: EventFilter) -> AsyncIterator[StreamItem]:
        for item in list(self.stream):
            if item.kind == "block" and flt.blocks:
                yield item
            if item.kind == "event" and _matches(item, flt):
                yield item

    def metrics_text(self) -> bytes:
        return f"jinglian_height {len(self.blocks)}\n".encode()

    # Helpers for tests

    @property
    def genesis_hash(self) -> bytes:
        return compute_genesis_hash(self.hash, self.config)

    def commit_pending(self) -> BlockRecord:
        """Execute every pending transaction in one new block and sign it."""
        state = dict(self.states[-1])
        receipts = tuple(self._execute(tx, state) for tx in self.pending)
        txs, self.pending = tuple(self.pending), []
        height = len(self.blocks) + 1
        header = self._header(height, txs, receipts, state)
        block_hash = self.hash(encode_header(header))
        record = BlockRecord(
            Block(header, txs), block_hash, self._commit(height, block_hash), receipts
        )
        self.blocks.append(record)
        self.states.append(state)
        for index, tx in enumerate(txs):
            self.txs[tx.id] = (height, index)
        self._announce(record)
        return record

    # Internals

    def _check_signature(self, tx: Tx) -> None:
        endorsement = tx.endorsements[0]
        if endorsement.is_cert_id:
            return
        cert = load_certificate(endorsement.signer)
        if self.hash(cert.der) != tx.body.sender:
            raise InvalidSignature("sender is not the endorsing certificate")
        if not cert.public_key.verify(endorsement.signature, tx.payload):
            raise InvalidSignature("sender signature does not verify")

    def _height(self, height: int | None) -> int:
        latest = len(self.blocks)
        if height is None:
            return latest
        if height > latest:
            raise NotFound(f"height {height} is above the head {latest}")
        return height

    def _root(self, height: int) -> bytes:
        return smt_root(self.hash, self._items(self.states[height]))

    def _items(self, state: dict[bytes, bytes]) -> dict[bytes, bytes]:
        return {self.hash(k): self.hash(v) for k, v in state.items()}

    def _state_record(self, key: bytes, height: int) -> StateRecord:
        state = self.states[height]
        proof = smt_proof(self.hash, self._items(state), self.hash(key))
        return StateRecord(
            key=key, value=state.get(key), height=height, proof=encode_state_proof(proof)
        )

    def _execute(self, tx: Tx, state: dict[bytes, bytes]) -> Receipt:
        body = tx.body
        events: tuple[Event, ...] = ()
        if body.contract == "kv" and body.method == "put":
            state[state_key("kv", body.args["key"])] = codec.encode(body.args["value"])
            events = (Event("kv", "put", {"key": body.args["key"]}),)
            return Receipt(tx.id, "ok", None, "", 100, events)
        if body.contract == "kv" and body.method == "echo":
            return Receipt(tx.id, "ok", body.args, "", 50, ())
        if body.contract == "contracts" and body.method in ("deploy", "upgrade"):
            name = body.args["name"]
            record = {"name": name, "source_bytes": len(body.args["source"]), "version": 1}
            state[state_key("contracts", name)] = codec.encode(record)
            return Receipt(tx.id, "ok", {"name": name}, "", 1000, ())
        if body.method == "burn":
            return Receipt(tx.id, "out_of_gas", None, "ran out of gas after 10 steps", 10, ())
        return Receipt(tx.id, "contract_failed", None, f"no {body.contract}.{body.method}", 5, ())

    def _run_query(
        self,
        contract: str,
        method: str,
        args: dict[str, Any],
        read: Callable[[bytes], Any],
        state: dict[bytes, bytes],
    ) -> Any:
        if contract == "kv" and method == "get":
            return read(state_key("kv", str(args.get("key"))))
        if contract == "contracts" and method == "list":
            prefix = b"contracts\x00"
            return sorted(k[len(prefix) :].decode() for k in state if k.startswith(prefix))
        if contract == "contracts" and method == "get":
            return read(state_key("contracts", str(args.get("name"))))
        if contract not in ("kv", "contracts"):
            raise UnknownContract(f"no contract {contract!r}")
        raise UnknownMethod(f"{contract} has no query method {method!r}")

    def _header(
        self,
        height: int,
        txs: tuple[Tx, ...],
        receipts: tuple[Receipt, ...],
        state: dict[bytes, bytes],
    ) -> Header:
        prev = self.blocks[-1].hash if self.blocks else self.genesis_hash
        return Header(
            chain_id=self.config.chain_id,
            height=height,
            time_ms=self.config.genesis_time_ms + height * 1000,
            prev_hash=prev,
            tx_root=merkle_root(self.hash, [t.encoded for t in txs]),
            receipt_root=merkle_root(self.hash, [encode_receipt(r) for r in receipts]),
            state_root=smt_root(self.hash, self._items(state)),
            validators_hash=compute_validators_hash(
                self.hash, [(v.id, 1) for v in self.validators]
            ),
            proposer=self.validators[0].id,
            tx_count=len(txs),
        )

    def _commit(self, height: int, block_hash: bytes) -> Commit:
        message = vote_sign_bytes(self.config.chain_id, height, 0, block_hash)
        signatures = sorted(
            (CommitSignature(v.id, v.key.sign(message)) for v in self.validators),
            key=lambda s: s.validator,
        )
        return Commit(height=height, round=0, block_hash=block_hash, signatures=tuple(signatures))

    def _announce(self, record: BlockRecord) -> None:
        header = record.block.header
        self.stream.append(
            StreamItem("block", header.height, {"hash": record.hash.hex(), "txs": header.tx_count})
        )
        for receipt in record.receipts:
            for event in receipt.events:
                data = {
                    "contract": event.contract,
                    "topic": event.topic,
                    "tx_id": receipt.tx_id.hex(),
                }
                self.stream.append(StreamItem("event", header.height, data))


def _matches(item: StreamItem, flt: EventFilter) -> bool:
    if flt.contract is not None and item.data.get("contract") != flt.contract:
        return False
    return flt.topic is None or item.data.get("topic") == flt.topic
