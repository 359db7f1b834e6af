"""The ``consensus`` system contract: evidence of validators that signed conflicting votes.

A validator that signs two different prevotes (or precommits, or proposals)
for the same height and round is lying: honest validators never do, the WAL
sees to it even across crashes. The node that notices submits both signed
messages here, signed with its own consensus identity; the contract checks
them against the chain's validator set and keeps them forever.

State, in the ``consensus`` namespace:

- ``misbehaviour:<validator hex>:<height>:<round>:<kind>`` -- ``{"validator",
  "name", "height", "round", "kind", "first", "second", "reported_by",
  "reported_at"}`` where ``first`` and ``second`` are the encoded signed
  messages (anyone can re-check the signatures offline).

Methods:

- ``report_misbehaviour(first, second)`` -- two encoded signed votes (or
  proposals) of one validator for the same height, round and kind but
  different blocks. Refused unless both verify against a validator of the
  current set; a second report of the same offence is refused too. Any
  member's consensus node, admin or client may report.
- ``misbehaviour(validator)`` -- query: the recorded offences of a validator
  (certificate id hex), oldest first.
"""

from __future__ import annotations

from jinglian.crypto import Certificate, load_certificate
from jinglian.execution._context import Context
from jinglian.execution.native import NativeContract
from jinglian.execution.sdk import invoke, query
from jinglian.types.codec import Value
from jinglian.types.consensus import (
    Proposal,
    Vote,
    decode_proposal,
    decode_vote,
    proposal_sign_bytes,
    vote_sign_bytes_of,
)
from jinglian.types.errors import CryptoError, InvalidInput, JinglianError

__all__ = ["CONSENSUS", "CONSENSUS_NAME", "MISBEHAVIOUR_PREFIX", "REPORT_METHOD"]

CONSENSUS_NAME = "consensus"
REPORT_METHOD = "report_misbehaviour"
MISBEHAVIOUR_PREFIX = "misbehaviour:"
CONFIG_CONTRACT = "chain_config"


def _decode(kind: object, data: object) -> Proposal | Vote:
    if type(data) is not bytes:
        raise InvalidInput("evidence messages are encoded proposals or votes (bytes)")
    try:
        return decode_proposal(data) if kind == "proposal" else decode_vote(data)
    except JinglianError as exc:
        raise InvalidInput(f"evidence message cannot be read: {exc.message}") from exc


def _raw(data: object) -> bytes:
    assert type(data) is bytes, "checked by _decode"
    return data


def _offence(first: Proposal | Vote, second: Proposal | Vote) -> tuple[bytes, str]:
    if isinstance(first, Proposal) and isinstance(second, Proposal):
        same = (first.proposer, first.height, first.round) == (
            second.proposer,
            second.height,
            second.round,
        )
        return (first.proposer, "proposal") if same else (b"", "")
    if isinstance(first, Vote) and isinstance(second, Vote):
        same = (first.validator, first.kind, first.height, first.round) == (
            second.validator,
            second.kind,
            second.height,
            second.round,
        )
        return (first.validator, first.kind) if same else (b"", "")
    return b"", ""


@invoke
def report_misbehaviour(
    ctx: Context, first: object, second: object, kind: object = "vote"
) -> Value:
    """Record two conflicting signed messages of one validator."""
    if kind not in ("vote", "proposal"):
        raise InvalidInput("kind must be 'vote' or 'proposal'")
    a, b = _decode(kind, first), _decode(kind, second)
    validator, what = _offence(a, b)
    if not validator:
        raise InvalidInput("the two messages are not of one signer, height, round and kind")
    if a.block_hash == b.block_hash:
        raise InvalidInput("the two messages do not conflict: same block")
    config = ctx.call(CONFIG_CONTRACT, "get")
    assert isinstance(config, dict), "the chain config is a document"
    chain_id = config["chain_id"]
    assert isinstance(chain_id, str)
    name, cert = _validator_cert(config, validator)
    for message in (a, b):
        signed = (
            proposal_sign_bytes(chain_id, message)
            if isinstance(message, Proposal)
            else vote_sign_bytes_of(chain_id, message)
        )
        if not cert.public_key.verify(message.signature, signed):
            raise InvalidInput("an evidence signature does not verify")
    key = f"{MISBEHAVIOUR_PREFIX}{validator.hex()}:{a.height}:{a.round}:{what}"
    if ctx.state.has(key):
        raise InvalidInput("this offence is already recorded")
    record: dict[str, Value] = {
        "validator": validator.hex(),
        "name": name,
        "height": a.height,
        "round": a.round,
        "kind": what,
        "first": _raw(first),
        "second": _raw(second),
        "reported_by": ctx.sender.id,
        "reported_at": ctx.block_height,
    }
    ctx.state.set(key, record)
    ctx.emit("misbehaviour", {"validator": validator.hex(), "name": name, "height": a.height})
    return {"key": key}


def _validator_cert(config: dict[str, Value], validator: bytes) -> tuple[str, Certificate]:
    validators = config.get("validators")
    assert isinstance(validators, list)
    for info in validators:
        if not isinstance(info, dict) or not isinstance(info.get("cert"), str):
            continue
        try:
            cert = load_certificate(str(info["cert"]).encode())
        except CryptoError:
            continue
        if cert.cert_id == validator:
            return str(info.get("name", "")), cert
    raise InvalidInput(f"{validator.hex()} is not a validator of this chain")


@query
def misbehaviour(ctx: Context, validator: object) -> Value:
    """Recorded offences of a validator, oldest first."""
    if type(validator) is not str or len(validator) != 64 or validator.strip("0123456789abcdef"):
        raise InvalidInput("validator must be a certificate id as 64 lowercase hex characters")
    found = [value for _, value in ctx.state.items(prefix=f"{MISBEHAVIOUR_PREFIX}{validator}:")]
    return sorted(found, key=lambda r: (r["height"], r["round"]) if isinstance(r, dict) else (0, 0))


CONSENSUS = NativeContract(
    CONSENSUS_NAME, {REPORT_METHOD: report_misbehaviour, "misbehaviour": misbehaviour}
)
"""The consensus contract as the runtime runs it."""
