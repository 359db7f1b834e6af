from __future__ import annotations

import dataclasses

import pytest

from jinglian.crypto import get_suite, issue_ca_certificate, issue_certificate
from jinglian.types import ChainConfig, Commit, CommitSignature, Org, ValidatorInfo, vote_sign_bytes
from jinglian.types.errors import InvalidBlock
from jinglian.types.validators import validate_commit, validator_set_of

SUITE = get_suite("default")
CA_KEY = SUITE.generate_key()
CA = issue_ca_certificate(SUITE, CA_KEY, "org1")
KEYS = [SUITE.generate_key() for _ in range(4)]
CERTS = [
    issue_certificate(SUITE, CA_KEY, CA, k.public_key(), "org1", "consensus", f"node{i}")
    for i, k in enumerate(KEYS)
]
CONFIG = ChainConfig(
    chain_id="test",
    crypto="default",
    genesis_time_ms=1,
    orgs=(Org("org1", "Org 1", CA.pem),),
    validators=tuple(ValidatorInfo(f"node{i}", "org1", c.pem) for i, c in enumerate(CERTS)),
)
BLOCK = b"\x07" * 32


def commit(signers: list[int], message_block: bytes = BLOCK) -> Commit:
    message = vote_sign_bytes("test", 5, 0, message_block)
    sigs = tuple(CommitSignature(CERTS[i].cert_id, KEYS[i].sign(message)) for i in signers)
    return Commit(height=5, round=0, block_hash=BLOCK, signatures=sigs)


def test_set_has_ids_power_and_hash() -> None:
    vset = validator_set_of(CONFIG)
    assert set(vset.members) == {c.cert_id for c in CERTS}
    assert vset.total_power == 4 and len(vset.hash) == 32


def test_three_of_four_is_final() -> None:
    assert validate_commit(CONFIG, commit([0, 1, 2])) == (("node0", "node1", "node2"), 3)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (commit([0, 1]), "more than 2/3"),
        (commit([0, 0, 1, 2]), "two signatures"),
        (commit([0, 1, 2], message_block=b"\x08" * 32), "does not verify"),
        (dataclasses.replace(commit([0, 1, 2]), round=1), "does not verify"),
    ],
    ids=["two-thirds-exactly", "repeated", "other-block", "other-round"],
)
def test_invalid_commits_refused(bad: Commit, reason: str) -> None:
    with pytest.raises(InvalidBlock, match=reason):
        validate_commit(CONFIG, bad)


def test_invalid_stranger_refused() -> None:
    stranger = SUITE.generate_key()
    sig = CommitSignature(b"\x01" * 32, stranger.sign(vote_sign_bytes("test", 5, 0, BLOCK)))
    good = commit([0, 1, 2])
    with pytest.raises(InvalidBlock, match="not a validator"):
        validate_commit(CONFIG, dataclasses.replace(good, signatures=(*good.signatures, sig)))
