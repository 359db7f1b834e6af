"""Evidence preservation (存证): deposit the digest of a record on chain, look it up later.

The contract (``contract.py``, deployed from its text) stores deposits that
are never modified; ``hash_file``, ``deposit``, ``lookup`` and
``deploy_evidence_contract`` are the SDK over ``jinglian.client.Client``.
Deposits of one digest are listed earliest first. See ``docs/apps/evidence.md``.
"""

from jinglian.apps.evidence.service import (
    CHUNK_BYTES,
    CONTRACT_NAME,
    CONTRACT_SOURCE_PATH,
    LOOKUP_LIMIT_DEFAULT,
    deploy_evidence_contract,
    deposit,
    hash_file,
    lookup,
)

__all__ = [
    "CHUNK_BYTES",
    "CONTRACT_NAME",
    "CONTRACT_SOURCE_PATH",
    "LOOKUP_LIMIT_DEFAULT",
    "deploy_evidence_contract",
    "deposit",
    "hash_file",
    "lookup",
]
