"""Value objects, the canonical codec and the error tree.

Everything here is frozen and free of I/O: transactions (``Tx``, ``TxBody``,
``Endorsement``), blocks (``Header``, ``Block``, ``Commit``, ``Receipt``,
``Event``), the chain configuration (``ChainConfig``) and the errors every
entry point raises for bad input. Encodings are canonical CBOR (``codec``);
what is hashed or signed has exactly one encoding.
"""

from jinglian.types.block import (
    Block,
    Commit,
    CommitSignature,
    Event,
    Header,
    Receipt,
    decode_block,
    decode_commit,
    decode_header,
    decode_receipt,
    encode_block,
    encode_commit,
    encode_header,
    encode_receipt,
    vote_sign_bytes,
)
from jinglian.types.config import (
    ChainConfig,
    ChainParams,
    ConsensusParams,
    Org,
    Policy,
    ValidatorInfo,
    parse_chain_config,
)
from jinglian.types.tx import Endorsement, Tx, TxBody, decode_tx, encode_tx_body, make_tx

__all__ = [
    "Block",
    "ChainConfig",
    "ChainParams",
    "Commit",
    "CommitSignature",
    "ConsensusParams",
    "Endorsement",
    "Event",
    "Header",
    "Org",
    "Policy",
    "Receipt",
    "Tx",
    "TxBody",
    "ValidatorInfo",
    "decode_block",
    "decode_commit",
    "decode_header",
    "decode_receipt",
    "decode_tx",
    "encode_block",
    "encode_commit",
    "encode_header",
    "encode_receipt",
    "encode_tx_body",
    "make_tx",
    "parse_chain_config",
    "vote_sign_bytes",
]
