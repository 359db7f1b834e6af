"""RFC 6962 / 9162 Merkle trees: reference vectors, proofs, and refusal of bad proofs."""

from __future__ import annotations

import hashlib
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinglian.crypto import get_suite, merkle_proof, merkle_root, verify_merkle_proof
from jinglian.crypto.merkle import (
    MERKLE_DEPTH_MAX,
    merkle_levels,
    merkle_proof_from_levels,
    merkle_root_from_levels,
)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# The certificate-transparency reference tree (merkle_tree_test.cc).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (index, tree size, audit path), zero-based indices.
CT_PROOFS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


@pytest.mark.parametrize("size", range(len(CT_LEAVES) + 1))
def test_roots_match_the_ct_reference_tree(size: int) -> None:
    assert merkle_root(sha256, CT_LEAVES[:size]).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), CT_PROOFS)
def test_proofs_match_the_ct_reference_tree(index: int, size: int, path: list[str]) -> None:
    proof = merkle_proof(sha256, CT_LEAVES[:size], index)
    assert [p.hex() for p in proof] == path
    root = bytes.fromhex(CT_ROOTS[size])
    assert verify_merkle_proof(sha256, CT_LEAVES[index], index, size, proof, root)


def test_empty_tree_is_the_hash_of_nothing_in_both_suites() -> None:
    for name in ("default", "gm"):
        suite = get_suite(name)
        assert merkle_root(suite.hash, []) == suite.hash(b"")


def test_gm_tree_uses_sm3_with_the_same_prefixes() -> None:
    sm3 = get_suite("gm").hash
    left, right = sm3(b"\x00a"), sm3(b"\x00b")
    assert merkle_root(sm3, [b"a", b"b"]) == sm3(b"\x01" + left + right)


def test_proof_of_a_leaf_outside_the_tree_is_an_index_error() -> None:
    with pytest.raises(IndexError):
        merkle_proof(sha256, CT_LEAVES, 8)
    with pytest.raises(IndexError):
        merkle_proof(sha256, CT_LEAVES, -1)
    with pytest.raises(IndexError):
        merkle_proof(sha256, [], 0)


def test_invalid_proof_arguments_return_false() -> None:
    proof = merkle_proof(sha256, CT_LEAVES, 5)
    root = bytes.fromhex(CT_ROOTS[8])
    leaf = CT_LEAVES[5]
    assert verify_merkle_proof(sha256, leaf, 5, 8, proof, root)
    assert not verify_merkle_proof(sha256, leaf, 8, 8, proof, root)
    assert not verify_merkle_proof(sha256, leaf, -1, 8, proof, root)
    assert not verify_merkle_proof(sha256, leaf, 5, 0, proof, root)
    assert not verify_merkle_proof(sha256, leaf, 5, -8, proof, root)
    assert not verify_merkle_proof(sha256, leaf, 5, 8, [], root)
    assert not verify_merkle_proof(sha256, leaf, 5, 8, proof[:-1], root)
    assert not verify_merkle_proof(sha256, leaf, 5, 8, [*proof, proof[0]], root)
    assert not verify_merkle_proof(sha256, leaf, 5, 8, [b""] * 3, root)
    assert not verify_merkle_proof(sha256, leaf, 5, 8, [p[:31] for p in proof], root)
    assert not verify_merkle_proof(sha256, leaf, 5, 8, proof, root[:31])
    assert not verify_merkle_proof(sha256, leaf, 5, 2**64, [b"x" * 32] * 65, root)
    assert not verify_merkle_proof(sha256, leaf, 0, 1, [], root)
    assert len(proof) <= MERKLE_DEPTH_MAX


def test_a_leaf_hash_cannot_pose_as_an_inner_node() -> None:
    leaves = [b"a", b"b", b"c", b"d"]
    levels = merkle_levels(sha256, leaves)
    root = merkle_root_from_levels(sha256, levels)
    # The inner node over a and b, offered as leaf data of a 2-leaf tree.
    inner = levels[1][0]
    assert not verify_merkle_proof(sha256, inner, 0, 2, [levels[1][1]], root)


def flip(data: bytes, position: int) -> bytes:
    position %= len(data)
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[bytes], int]:
    leaves = draw(st.lists(st.binary(max_size=12), min_size=1, max_size=200, unique=True))
    index = draw(st.integers(0, len(leaves) - 1))
    return leaves, index


@settings(max_examples=150, deadline=None)
@given(trees())
def test_every_leaf_of_random_trees_proves(tree: tuple[list[bytes], int]) -> None:
    leaves, _ = tree
    levels = merkle_levels(sha256, leaves)
    root = merkle_root_from_levels(sha256, levels)
    assert root == merkle_root(sha256, leaves)
    for index, leaf in enumerate(leaves):
        proof = merkle_proof_from_levels(levels, index)
        assert verify_merkle_proof(sha256, leaf, index, len(leaves), proof, root)


@settings(max_examples=300, deadline=None)
@given(trees(), st.integers(0, 2**16), st.integers(-3, 3), st.integers(-3, 3))
def test_any_change_breaks_the_proof(
    tree: tuple[list[bytes], int], position: int, index_shift: int, size_shift: int
) -> None:
    leaves, index = tree
    size, leaf = len(leaves), leaves[index]
    root = merkle_root(sha256, leaves)
    proof = merkle_proof(sha256, leaves, index)
    assert verify_merkle_proof(sha256, leaf, index, size, proof, root)
    assert not verify_merkle_proof(sha256, leaf, index, size, proof, flip(root, position))
    if leaf:
        assert not verify_merkle_proof(sha256, flip(leaf, position), index, size, proof, root)
    if proof:
        element = position % len(proof)
        bad = [*proof[:element], flip(proof[element], position), *proof[element + 1 :]]
        assert not verify_merkle_proof(sha256, leaf, index, size, bad, root)
    for other_index, other_size in ((index + index_shift, size), (index, size + size_shift)):
        if (other_index, other_size) == (index, size):
            continue
        # The proof only fits a position whose path has the very same shape.
        fits = 0 <= other_index < other_size and path_shape(other_index, other_size) == path_shape(
            index, size
        )
        assert verify_merkle_proof(sha256, leaf, other_index, other_size, proof, root) == fits


def path_shape(index: int, size: int) -> list[int]:
    """For each audit-path element, 1 if the sibling is on the left (derived level by level)."""
    bits: list[int] = []
    width = size
    while width > 1:
        if index ^ 1 < width:
            bits.append(index & 1)
        index >>= 1
        width = (width + 1) // 2
    return bits


def test_a_proof_fits_another_size_only_with_the_same_shape() -> None:
    # RFC 9162 proofs do not commit to the tree size: the signer of the root does.
    leaves = [bytes([i]) for i in range(8)]
    proof = merkle_proof(sha256, leaves, 0)
    root = merkle_root(sha256, leaves)
    assert path_shape(0, 7) == path_shape(0, 8)
    assert verify_merkle_proof(sha256, leaves[0], 0, 7, proof, root)
    assert not verify_merkle_proof(sha256, leaves[0], 0, 4, proof, root)


def test_a_thousand_leaf_block_is_fast() -> None:
    leaves = [i.to_bytes(4, "big") * 50 for i in range(1000)]
    for name in ("default", "gm"):
        hash_fn = get_suite(name).hash
        start = time.perf_counter()
        levels = merkle_levels(hash_fn, leaves)
        root = merkle_root_from_levels(hash_fn, levels)
        proofs = [merkle_proof_from_levels(levels, i) for i in range(len(leaves))]
        elapsed = time.perf_counter() - start
        assert max(len(p) for p in proofs) == 10
        assert verify_merkle_proof(hash_fn, leaves[999], 999, 1000, proofs[999], root)
        assert elapsed < 0.25, f"{name}: root and 1000 proofs took {elapsed * 1000:.1f} ms"
