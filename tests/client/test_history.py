"""Validator-set history proven from genesis forward, on a chain built here block by block.

No chain in this project changes its validators yet (governance does that),
so these tests build the records such a chain serves: a header whose state
root holds a new config document, signed by the old set; later headers signed
by the new set. Real keys, real state proofs, real commit signatures.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from typing import Any

import pytest

from jinglian.api.render import render_commit, render_header
from jinglian.client.history import (
    CONFIG_STATE_KEY,
    ValidatorHistory,
    verify_descendant,
    verify_validator_changes,
)
from jinglian.client.verify import verify_block_evidence
from jinglian.crypto.state_proof import encode_state_proof
from jinglian.storage.kv import Batch, MemoryKV
from jinglian.storage.state_tree import EMPTY_ROOT, StateTree
from jinglian.testing.network import TestIdentity, TestNetwork, make_test_network
from jinglian.types import ChainConfig, Commit, CommitSignature, Header, codec, encode_header
from jinglian.types.block import vote_sign_bytes
from jinglian.types.config import ConsensusParams, ValidatorInfo
from jinglian.types.errors import DecodeError, InvalidBlock
from jinglian.types.jsonval import to_json
from jinglian.types.validators import validator_set_of


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class Chain:
    """Validator sets A (genesis) and B, and helpers to make signed, proven records."""

    def __init__(self) -> None:
        self.net: TestNetwork = make_test_network(orgs=1, chain_id="history")
        self.a = [self.net.issue("org1", "consensus", f"a{n}") for n in range(4)]
        self.b = [self.net.issue("org1", "consensus", f"b{n}") for n in range(4)]
        self.genesis = dataclasses.replace(
            self.net.genesis, validators=self.infos(self.a), consensus=ConsensusParams("tbft")
        )
        self.changed = dataclasses.replace(self.genesis, validators=self.infos(self.b))
        self.kv = MemoryKV()
        self.tree = StateTree(self.kv, sha256)

    @staticmethod
    def infos(ids: list[TestIdentity]) -> tuple[ValidatorInfo, ...]:
        return tuple(ValidatorInfo(i.cert.common_name, "org1", i.cert.pem) for i in ids)

    def state_with(self, config: ChainConfig) -> tuple[bytes, bytes]:
        value = codec.encode(config.to_value())
        root, writes = self.tree.compute_update(EMPTY_ROOT, {CONFIG_STATE_KEY: value})
        batch = Batch()
        batch.extend(writes)
        self.kv.write(batch)
        return root, value

    def block(
        self,
        height: int,
        signers: list[TestIdentity],
        vset_config: ChainConfig,
        state_root: bytes = b"\x00" * 32,
        prev: bytes = b"\x00" * 32,
    ) -> tuple[Header, Commit]:
        header = Header(
            chain_id=self.genesis.chain_id,
            height=height,
            time_ms=self.genesis.genesis_time_ms + height,
            prev_hash=prev,
            tx_root=b"\x00" * 32,
            receipt_root=b"\x00" * 32,
            state_root=state_root,
            validators_hash=validator_set_of(vset_config).hash,
            proposer=signers[0].cert.cert_id,
            tx_count=0,
        )
        block_hash = sha256(encode_header(header))
        message = vote_sign_bytes(self.genesis.chain_id, height, 0, block_hash)
        sigs = sorted(
            (CommitSignature(s.cert.cert_id, s.key.sign(message)) for s in signers),
            key=lambda s: s.validator,
        )
        return header, Commit(height, 0, block_hash, tuple(sigs))

    def change_entry(self, height: int, signers: list[TestIdentity]) -> dict[str, Any]:
        root, value = self.state_with(self.changed)
        header, commit = self.block(height, signers, self.genesis, state_root=root)
        proof = self.tree.prove(root, CONFIG_STATE_KEY)
        return {
            "header": render_header(header),
            "commit": render_commit(commit),
            "value": base64.b64encode(value).decode(),
            "proof": to_json(encode_state_proof(proof)),
        }


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain()


def test_a_proven_change_puts_the_new_set_in_charge_two_blocks_later(chain: Chain) -> None:
    history = verify_validator_changes([chain.change_entry(10, chain.a[:3])], chain.genesis)
    assert history.set_at(11) == validator_set_of(chain.genesis)
    assert history.set_at(12) == validator_set_of(chain.changed)
    header, commit = chain.block(20, chain.b[1:], chain.changed)
    block = verify_block_evidence(
        render_header(header), render_commit(commit), chain.genesis, history.set_at(20)
    )
    assert set(block.signers) == {"b1", "b2", "b3"}
    assert block.power == 3 and block.total_power == 4


def test_without_the_change_a_later_block_names_a_missing_change(chain: Chain) -> None:
    header, commit = chain.block(20, chain.b[1:], chain.changed)
    with pytest.raises(InvalidBlock, match="a validator-set change is missing"):
        verify_block_evidence(render_header(header), render_commit(commit), chain.genesis)


def test_a_change_signed_by_the_new_set_is_forged(chain: Chain) -> None:
    with pytest.raises(
        InvalidBlock, match=r"validator change 0: commit is signed by .*not a validator"
    ):
        verify_validator_changes([chain.change_entry(10, chain.b[:3])], chain.genesis)


def test_a_change_signed_by_too_few_is_refused(chain: Chain) -> None:
    with pytest.raises(InvalidBlock, match="validator change 0: commit is signed by 2 of 4"):
        verify_validator_changes([chain.change_entry(10, chain.a[:2])], chain.genesis)


def test_a_change_whose_value_is_not_proven_is_refused(chain: Chain) -> None:
    entry = chain.change_entry(10, chain.a[:3])
    other = dataclasses.replace(chain.changed, validators=chain.infos(chain.a[:1] + chain.b[1:]))
    entry["value"] = base64.b64encode(codec.encode(other.to_value())).decode()
    with pytest.raises(InvalidBlock, match="validator change 0: state proof of the value"):
        verify_validator_changes([entry], chain.genesis)


def test_a_change_with_a_cut_proof_is_refused(chain: Chain) -> None:
    entry = chain.change_entry(10, chain.a[:3])
    entry["proof"] = None
    with pytest.raises(InvalidBlock, match=r"validator change 0: .*no state proof"):
        verify_validator_changes([entry], chain.genesis)


def test_changes_out_of_order_are_refused(chain: Chain) -> None:
    first = chain.change_entry(10, chain.a[:3])
    with pytest.raises(InvalidBlock, match="validator change 1: height 9 is not after"):
        verify_validator_changes([first, chain.change_entry(9, chain.a[:3])], chain.genesis)


def test_a_malformed_list_is_a_decode_error(chain: Chain) -> None:
    with pytest.raises(DecodeError, match="validator_changes must be a list"):
        verify_validator_changes({"header": 1}, chain.genesis)
    with pytest.raises(DecodeError, match="validator change 0: must be an object"):
        verify_validator_changes([5], chain.genesis)


def test_a_checkpoint_links_headers_to_a_final_block(chain: Chain) -> None:
    first, first_commit = chain.block(5, chain.a[:3], chain.genesis)
    base = verify_block_evidence(render_header(first), render_commit(first_commit), chain.genesis)
    prev = base.block_hash
    headers = []
    for height in (6, 7, 8):
        header, commit = chain.block(height, chain.a[:3], chain.genesis, prev=prev)
        headers.append(render_header(header))
        prev = sha256(encode_header(header))
    checkpoint = {"headers": headers, "commit": render_commit(commit)}
    later = verify_descendant(base, checkpoint, chain.genesis, ValidatorHistory(chain.genesis))
    assert later.header.height == 8
    headers[1]["prev_hash"] = "00" * 32
    with pytest.raises(InvalidBlock, match=r"checkpoint header 1 .* does not link to block 6"):
        verify_descendant(base, checkpoint, chain.genesis)
    with pytest.raises(DecodeError, match="a checkpoint links 1 to 64 headers, not 0"):
        verify_descendant(base, {"headers": [], "commit": None}, chain.genesis)
