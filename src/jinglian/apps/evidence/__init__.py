"""Evidence preservation (存证): deposit the digest of a record on chain, prove it offline later.

The contract (``contract.py``, deployed from its text) stores deposits that
are never modified. ``service`` is the SDK over ``jinglian.client.Client``:
hash files locally, deposit in batches, fetch receipts, look deposits up.
``receipt`` builds and verifies receipts: ``verify_receipt`` needs nothing but
the chain's genesis file. Deposits of one digest are listed earliest first.
See ``docs/apps/evidence.md`` and ``docs/spec/evidence-receipt.md``.
"""

from jinglian.apps.evidence.receipt import (
    CONTRACT_NAME,
    RECEIPT_FORMAT,
    RECEIPT_VERSION,
    Member,
    VerifiedReceipt,
    build_receipt,
    digest_sign_bytes,
    verify_receipt,
)
from jinglian.apps.evidence.service import (
    BATCH_BYTES_MAX,
    BATCH_ITEMS_DEFAULT,
    CHUNK_BYTES,
    CONTRACT_SOURCE_PATH,
    LOOKUP_LIMIT_DEFAULT,
    Deposited,
    by_depositor,
    chain_alg,
    deploy_evidence_contract,
    deposit,
    fetch_receipt,
    hash_file,
    load_receipt,
    lookup,
    make_item,
    put_digests,
    put_files,
    split_batches,
    verify_file,
)

__all__ = [
    "BATCH_BYTES_MAX",
    "BATCH_ITEMS_DEFAULT",
    "CHUNK_BYTES",
    "CONTRACT_NAME",
    "CONTRACT_SOURCE_PATH",
    "LOOKUP_LIMIT_DEFAULT",
    "RECEIPT_FORMAT",
    "RECEIPT_VERSION",
    "Deposited",
    "Member",
    "VerifiedReceipt",
    "build_receipt",
    "by_depositor",
    "chain_alg",
    "deploy_evidence_contract",
    "deposit",
    "digest_sign_bytes",
    "fetch_receipt",
    "hash_file",
    "load_receipt",
    "lookup",
    "make_item",
    "put_digests",
    "put_files",
    "split_batches",
    "verify_file",
    "verify_receipt",
]
