"""State proof verification against a reference tree written from the spec (ADR 0005).

The reference here is deliberately naive (a recursive split of a dict) and
independent of ``jinglian.storage``, so it checks the verifier against the
hashing rules themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinglian.crypto.state_proof import (
    EMPTY_HASH,
    PROOF_SIBLINGS_MAX,
    StateProof,
    compute_internal_hash,
    compute_leaf_hash,
    compute_path_bit,
    decode_state_proof,
    encode_state_proof,
    verify_state_proof,
)
from jinglian.types import codec
from jinglian.types.errors import DecodeError

HashFn = Callable[[bytes], bytes]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def identity_path_hash(data: bytes) -> bytes:
    """SHA-256, except that 32-byte inputs are their own hash: lets tests choose key paths."""
    return data if len(data) == 32 else sha256(data)


# --- reference tree -----------------------------------------------------------


def ref_root(hash_fn: HashFn, leaves: dict[bytes, bytes], depth: int = 0) -> bytes:
    """Root of the compressed tree over ``leaves`` (key_path -> value_hash)."""
    if not leaves:
        return EMPTY_HASH
    if len(leaves) == 1:
        ((path, value_hash),) = leaves.items()
        return compute_leaf_hash(hash_fn, path, value_hash)
    left, right = split(leaves, depth)
    return compute_internal_hash(
        hash_fn, ref_root(hash_fn, left, depth + 1), ref_root(hash_fn, right, depth + 1)
    )


def split(leaves: dict[bytes, bytes], depth: int) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
    left = {p: v for p, v in leaves.items() if not compute_path_bit(p, depth)}
    right = {p: v for p, v in leaves.items() if compute_path_bit(p, depth)}
    return left, right


def ref_prove(hash_fn: HashFn, leaves: dict[bytes, bytes], path: bytes) -> StateProof:
    siblings: list[bytes] = []
    depth = 0
    while len(leaves) > 1:
        left, right = split(leaves, depth)
        if compute_path_bit(path, depth):
            siblings.append(ref_root(hash_fn, left, depth + 1))
            leaves = right
        else:
            siblings.append(ref_root(hash_fn, right, depth + 1))
            leaves = left
        depth += 1
    leaf = next(iter(leaves.items())) if leaves else None
    return StateProof(tuple(siblings), leaf)


def build(hash_fn: HashFn, state: dict[bytes, bytes]) -> tuple[bytes, dict[bytes, bytes]]:
    leaves = {hash_fn(k): hash_fn(v) for k, v in state.items()}
    return ref_root(hash_fn, leaves), leaves


# --- strategies -----------------------------------------------------------------

values = st.binary(min_size=0, max_size=40)
random_states = st.dictionaries(st.binary(min_size=1, max_size=20), values, max_size=40)


@st.composite
def clustered_paths(draw: st.DrawFn) -> dict[bytes, bytes]:
    """States whose keys (32 bytes, so their own paths) share long prefixes: deep trees."""
    base = draw(st.binary(min_size=32, max_size=32))
    tails = draw(st.lists(st.binary(min_size=1, max_size=2), min_size=1, max_size=12))
    keys = {base[: 32 - len(t)] + t for t in tails}
    return {k: draw(values) for k in keys}


HASHES = [sha256, sm3]


# --- membership and non-membership ---------------------------------------------------


@pytest.mark.parametrize("hash_fn", HASHES)
@given(state=random_states, absent=st.lists(st.binary(max_size=20), max_size=5))
@settings(max_examples=60, deadline=None)
def test_every_key_proves_its_value_and_absent_keys_prove_absence(
    hash_fn: HashFn, state: dict[bytes, bytes], absent: list[bytes]
) -> None:
    root, leaves = build(hash_fn, state)
    for key, value in state.items():
        proof = ref_prove(hash_fn, leaves, hash_fn(key))
        assert verify_state_proof(hash_fn, root, key, value, proof)
        assert not verify_state_proof(hash_fn, root, key, None, proof)
        assert not verify_state_proof(hash_fn, root, key, value + b"x", proof)
    for key in absent:
        if key in state:
            continue
        proof = ref_prove(hash_fn, leaves, hash_fn(key))
        assert verify_state_proof(hash_fn, root, key, None, proof)
        assert not verify_state_proof(hash_fn, root, key, b"", proof)


@given(state=clustered_paths(), probe=st.binary(min_size=1, max_size=2))
@settings(max_examples=60, deadline=None)
def test_deep_trees_prove_membership_and_absence(state: dict[bytes, bytes], probe: bytes) -> None:
    hash_fn = identity_path_hash
    root, leaves = build(hash_fn, state)
    for key, value in state.items():
        proof = ref_prove(hash_fn, leaves, key)
        assert len(proof.siblings) <= PROOF_SIBLINGS_MAX
        assert verify_state_proof(hash_fn, root, key, value, proof)
    some_key = next(iter(state))
    absent = some_key[: 32 - len(probe)] + probe
    if absent not in state:
        assert verify_state_proof(hash_fn, root, absent, None, ref_prove(hash_fn, leaves, absent))


def test_keys_differing_in_the_last_bit_need_all_256_siblings() -> None:
    hash_fn = identity_path_hash
    a, b = bytes(32), bytes(31) + b"\x01"
    root, leaves = build(hash_fn, {a: b"A", b: b"B"})
    proof = ref_prove(hash_fn, leaves, a)
    assert len(proof.siblings) == PROOF_SIBLINGS_MAX
    assert verify_state_proof(hash_fn, root, a, b"A", proof)
    decoded = decode_state_proof(codec.decode(codec.encode(encode_state_proof(proof)), 1 << 16))
    assert decoded == proof


def test_empty_tree_proves_every_key_absent() -> None:
    proof = StateProof((), None)
    assert verify_state_proof(sha256, EMPTY_HASH, b"anything", None, proof)
    assert not verify_state_proof(sha256, EMPTY_HASH, b"anything", b"", proof)


def test_single_leaf_root_proves_other_keys_absent_with_that_leaf() -> None:
    root, leaves = build(sha256, {b"only": b"1"})
    proof = ref_prove(sha256, leaves, sha256(b"other"))
    assert proof.siblings == () and proof.leaf == (sha256(b"only"), sha256(b"1"))
    assert verify_state_proof(sha256, root, b"other", None, proof)
    assert verify_state_proof(sha256, root, b"only", b"1", proof)


# --- tampering -------------------------------------------------------------------


def proof_bytes(proof: StateProof) -> list[bytes]:
    leaf = [] if proof.leaf is None else list(proof.leaf)
    return [*proof.siblings, *leaf]


def with_part(proof: StateProof, index: int, part: bytes) -> StateProof:
    parts = proof_bytes(proof)
    parts[index] = part
    n = len(proof.siblings)
    leaf = None if proof.leaf is None else (parts[n], parts[n + 1])
    return StateProof(tuple(parts[:n]), leaf)


@given(
    state=random_states.filter(lambda s: len(s) >= 1),
    probe=st.binary(max_size=20),
    choice=st.integers(min_value=0),
    byte_index=st.integers(min_value=0, max_value=31),
    flip=st.integers(min_value=1, max_value=255),
)
@settings(max_examples=150, deadline=None)
def test_any_flipped_byte_fails(
    state: dict[bytes, bytes], probe: bytes, choice: int, byte_index: int, flip: int
) -> None:
    root, leaves = build(sha256, state)
    key = sorted(state)[choice % len(state)] if choice % 2 else probe
    value = state.get(key)
    proof = ref_prove(sha256, leaves, sha256(key))
    assert verify_state_proof(sha256, root, key, value, proof)
    parts = proof_bytes(proof)
    bad_root = bytearray(root)
    bad_root[byte_index] ^= flip
    assert not verify_state_proof(sha256, bytes(bad_root), key, value, proof)
    if parts:
        index = choice % len(parts)
        part = bytearray(parts[index])
        part[byte_index] ^= flip
        tampered = with_part(proof, index, bytes(part))
        assert not verify_state_proof(sha256, root, key, value, tampered)


@given(state=random_states.filter(lambda s: len(s) >= 2), choice=st.integers(min_value=0))
@settings(max_examples=60, deadline=None)
def test_wrong_key_and_truncated_or_padded_siblings_fail(
    state: dict[bytes, bytes], choice: int
) -> None:
    root, leaves = build(sha256, state)
    keys = sorted(state)
    key = keys[choice % len(keys)]
    other = keys[(choice + 1) % len(keys)]
    proof = ref_prove(sha256, leaves, sha256(key))
    assert not verify_state_proof(sha256, root, other, state[key], proof)
    # ``other`` is present, so no proof of another key can show it absent.
    assert not verify_state_proof(sha256, root, other, None, proof)
    for siblings in (
        proof.siblings[:-1],
        proof.siblings[1:],
        (*proof.siblings, EMPTY_HASH),
        (EMPTY_HASH, *proof.siblings),
        (*proof.siblings, root),
    ):
        bad = StateProof(siblings, proof.leaf)
        assert not verify_state_proof(sha256, root, key, state[key], bad)
        assert not verify_state_proof(sha256, root, key, None, bad)


def test_absence_claimed_with_a_leaf_off_the_path_fails() -> None:
    # Two keys forming a root Internal(leaf_a, leaf_b) with paths 0... and 1...
    a, b = bytes(32), b"\x80" + bytes(31)
    root, leaves = build(identity_path_hash, {a: b"A", b: b"B"})
    proof_a = ref_prove(identity_path_hash, leaves, a)
    # c goes right at depth 0, but the proof's leaf (a) sits on the left.
    c = b"\xc0" + bytes(31)
    assert not verify_state_proof(identity_path_hash, root, c, None, proof_a)


@pytest.mark.parametrize(
    "root, key, value, proof",
    [
        (b"short", b"k", None, StateProof((), None)),
        (EMPTY_HASH, "k", None, StateProof((), None)),
        (EMPTY_HASH, b"k", "v", StateProof((), None)),
        (EMPTY_HASH, b"k", None, StateProof((b"x",), None)),
        (EMPTY_HASH, b"k", None, StateProof([EMPTY_HASH], None)),  # type: ignore[arg-type]
        (EMPTY_HASH, b"k", None, StateProof((EMPTY_HASH,) * 257, None)),
        (EMPTY_HASH, b"k", None, StateProof((), (EMPTY_HASH,))),  # type: ignore[arg-type]
        (EMPTY_HASH, b"k", None, StateProof((), (EMPTY_HASH, 3))),  # type: ignore[arg-type]
        (EMPTY_HASH, b"k", None, {"siblings": [], "leaf": None}),
        (EMPTY_HASH, b"k", None, None),
    ],
)
def test_invalid_inputs_give_false_never_raise(
    root: object, key: object, value: object, proof: object
) -> None:
    assert verify_state_proof(sha256, root, key, value, proof) is False  # type: ignore[arg-type]


# --- encoding ----------------------------------------------------------------------


@given(state=random_states, key=st.binary(max_size=20))
@settings(max_examples=40, deadline=None)
def test_encoding_round_trips_through_canonical_cbor(state: dict[bytes, bytes], key: bytes) -> None:
    _, leaves = build(sha256, state)
    proof = ref_prove(sha256, leaves, sha256(key))
    data = codec.encode(encode_state_proof(proof))
    assert decode_state_proof(codec.decode(data, 1 << 16)) == proof


H = EMPTY_HASH


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        {},
        {"siblings": []},
        {"siblings": [], "leaf": None, "extra": 1},
        {"siblings": None, "leaf": None},
        {"siblings": [b"short"], "leaf": None},
        {"siblings": [H + b"\x00"], "leaf": None},
        {"siblings": ["text" * 8], "leaf": None},
        {"siblings": [H] * (PROOF_SIBLINGS_MAX + 1), "leaf": None},
        {"siblings": [], "leaf": [H]},
        {"siblings": [], "leaf": [H, H, H]},
        {"siblings": [], "leaf": [H, b"short"]},
        {"siblings": [], "leaf": b"x" * 64},
        {"siblings": [], "leaf": {"a": H}},
        {1: [], "leaf": None},
    ],
)
def test_invalid_encodings_raise_decode_error(obj: object) -> None:
    with pytest.raises(DecodeError):
        decode_state_proof(obj)


@given(st.recursive(st.none() | st.binary(max_size=40) | st.integers(), st.lists, max_leaves=8))
def test_decode_raises_only_decode_error_on_garbage(siblings: object) -> None:
    for obj in ({"siblings": siblings, "leaf": None}, {"siblings": [], "leaf": siblings}):
        try:
            proof = decode_state_proof(obj)
        except DecodeError:
            continue
        assert verify_state_proof(sha256, EMPTY_HASH, b"k", None, proof) in (True, False)


# --- test vectors (also in ADR 0005) --------------------------------------------------

VECTORS = [
    (
        sha256,
        "565388d4bc00257133f799d9366ac97f6e949c18acc53d17457f8859ba0f08d3",
        "8e2a164a410203f51300d7c6645b7a37f549768457be109acc126c63573a9e0a",
    ),
    (
        sm3,
        "11d7c415611ca503345281bf03a60c8209a2df303c0d670a2b5d571f67dd5ae2",
        "1ffcb8e886a820fb323bfed9ee6d9d92d717a648c091383f509e42449b82b366",
    ),
]

SHA256_PROOF_OF_B = bytes.fromhex(
    "a2646c6561668258203e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
    "5820d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35687369626c696e"
    "6773845820565388d4bc00257133f799d9366ac97f6e949c18acc53d17457f8859ba0f08d358200000"
    "000000000000000000000000000000000000000000000000000000000000582000000000000000000000"
    "0000000000000000000000000000000000000000000058206dc4a0fe4285844b9c64ba063f6a8b808a07"
    "eb2e8c124cda2babd55a2a7f3d24"
)


@pytest.mark.parametrize("hash_fn, root_a, root_abc", VECTORS)
def test_vectors(hash_fn: HashFn, root_a: str, root_abc: str) -> None:
    assert build(hash_fn, {b"a": b"1"})[0].hex() == root_a
    root, leaves = build(hash_fn, {b"a": b"1", b"b": b"2", b"c": b"3"})
    assert root.hex() == root_abc
    for key in (b"a", b"b", b"c", b"d"):
        proof = ref_prove(hash_fn, leaves, hash_fn(key))
        value = {b"a": b"1", b"b": b"2", b"c": b"3"}.get(key)
        assert verify_state_proof(hash_fn, root, key, value, proof)


def test_vector_proof_encoding() -> None:
    root = bytes.fromhex(VECTORS[0][2])
    proof = decode_state_proof(codec.decode(SHA256_PROOF_OF_B, 1 << 16))
    assert proof.siblings[1:3] == (EMPTY_HASH, EMPTY_HASH)
    assert verify_state_proof(sha256, root, b"b", b"2", proof)
    assert codec.encode(encode_state_proof(proof)) == SHA256_PROOF_OF_B
