"""Transactions several organisations sign: payload files, policy checks, gathered approvals.

A governed call (``jinglian.types.policy.GOVERNED_METHODS``: deploying a
contract, adding an organisation, ...) or a call of a user-contract method
that has a policy commits only if the endorsements of its transaction come
from enough organisations. This module is the client side of that:

- ``save_payload_file`` / ``load_payload_file``: the portable JSON file one
  organisation creates (``jinglian tx create``), the others endorse in turn
  (``jinglian tx sign``) and anyone submits (``jinglian tx submit``). The
  signed payload in it is authoritative; every readable field beside it must
  agree with the payload and every signature must verify, or the file is
  refused;
- ``get_policy_check``: what the policy of a call needs, and
  ``PolicyCheck.approving`` which organisations a transaction already brings;
- ``gather_approvals`` / ``gather_local_approvals``: endorse a transaction
  with identities held on this machine (a devnet's or a test cluster's admins)
  until its policy is met;
- ``invoke_governed``: sign, check, gather, submit and wait in one call.

Example::

    from jinglian.client import Client, load_network
    from jinglian.client.endorse import invoke_governed, local_approvers

    network = load_network(Path("mynet"))
    with Client.from_network("mynet") as client:
        outcome = invoke_governed(client, "contracts", "freeze", {"name": "kv"},
                                  approvers=local_approvers(network))
        print(outcome.approving, outcome.result.height)
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinglian.client.identity import DEFAULT_EXPIRY_S, Identity
from jinglian.client.network import Network
from jinglian.crypto import Certificate, get_suite, load_certificate
from jinglian.crypto.suite import SUITE_NAMES
from jinglian.types import Endorsement, Tx, make_tx
from jinglian.types.errors import (
    ConfigError,
    CryptoError,
    InvalidInput,
    InvalidSignature,
    JinglianError,
    NotFound,
    PolicyNotSatisfied,
    TooLarge,
    WrongChain,
)
from jinglian.types.jsonval import to_json
from jinglian.types.policy import Policy, orgs_needed, parse_policy, resource_of, satisfied

if TYPE_CHECKING:
    from jinglian.client.records import TxResult
    from jinglian.client.sync import Client

__all__ = [
    "PAYLOAD_FILE_BYTES_MAX",
    "PAYLOAD_FILE_FORMAT",
    "PAYLOAD_FILE_VERSION",
    "Endorser",
    "GovernedResult",
    "PayloadFile",
    "PolicyCheck",
    "approvals_of",
    "decode_payload_document",
    "encode_payload_document",
    "gather_approvals",
    "gather_local_approvals",
    "get_policy_check",
    "invoke_governed",
    "load_payload_file",
    "local_approvers",
    "save_payload_file",
]

PAYLOAD_FILE_FORMAT = "jinglian-tx-payload"
"""The ``format`` field every payload file carries."""
PAYLOAD_FILE_VERSION = 1
"""The ``version`` field this release reads and writes."""
PAYLOAD_FILE_BYTES_MAX = 1024 * 1024
"""Largest payload file read: a 128 KiB transaction with 32 certificates, in base64, fits."""
CHAIN_CONFIG = "chain_config"
CONTRACTS = "contracts"
_FILE_FIELDS = (
    "format",
    "version",
    "crypto",
    "chain_id",
    "tx_id",
    "contract",
    "method",
    "args",
    "sender",
    "nonce",
    "timestamp_ms",
    "expires_ms",
    "payload",
    "endorsements",
)
_ENDORSEMENT_FIELDS = ("org", "role", "common_name", "cert_id", "cert", "signature")


# -- who signed --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endorser:
    """Who one endorsement is from, as its certificate says."""

    org: str
    """Organisation (the certificate's ``O``)."""
    role: str
    """Role (``OU``): ``admin``, ``client``, ..."""
    common_name: str
    """Name (``CN``), e.g. ``admin.org1``."""
    cert_id: bytes
    """Chain hash of the DER certificate."""

    @property
    def label(self) -> str:
        """``org1/admin (admin.org1)``, for people."""
        return f"{self.org}/{self.role} ({self.common_name})"


def _endorser(cert: Certificate) -> Endorser:
    return Endorser(cert.org_id, cert.role, cert.common_name, cert.cert_id)


def approvals_of(tx: Tx, known: Iterable[Certificate] = ()) -> list[tuple[str, str]]:
    """The ``(org, role)`` of each endorsement whose certificate is known here.

    Endorsements that carry the whole certificate are read from it; those that
    name a certificate by id count only if it is among ``known``.
    """
    by_id = {cert.cert_id: cert for cert in known}
    found: list[tuple[str, str]] = []
    for endorsement in tx.endorsements:
        cert = (
            by_id.get(endorsement.signer) if endorsement.is_cert_id else _cert_or_none(endorsement)
        )
        if cert is not None:
            found.append((cert.org_id, cert.role))
    return found


def _cert_or_none(endorsement: Endorsement) -> Certificate | None:
    try:
        return load_certificate(endorsement.signer)
    except CryptoError:
        return None


# -- the payload file --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PayloadFile:
    """A checked payload file: the transaction, its suite and who endorsed it so far."""

    tx: Tx
    """The transaction, with every endorsement in the file."""
    crypto: str
    """Crypto suite of the chain (``default`` or ``gm``)."""
    endorsers: tuple[Endorser, ...]
    """Who each endorsement is from, the sender first."""


def encode_payload_document(tx: Tx, crypto: str) -> dict[str, Any]:
    """The JSON document of a payload file holding ``tx`` (``crypto``: the chain's suite).

    Every endorsement must carry its whole certificate, so whoever reads the
    file can check each signature and see who made it without a node.
    """
    endorsements = []
    for index, endorsement in enumerate(tx.endorsements, 1):
        cert = _certificate_of(endorsement, index, "the transaction")
        endorsements.append(
            {
                "org": cert.org_id,
                "role": cert.role,
                "common_name": cert.common_name,
                "cert_id": cert.cert_id.hex(),
                "cert": _b64(cert.der),
                "signature": _b64(endorsement.signature),
            }
        )
    body = tx.body
    return {
        "format": PAYLOAD_FILE_FORMAT,
        "version": PAYLOAD_FILE_VERSION,
        "crypto": crypto,
        "chain_id": body.chain_id,
        "tx_id": tx.id.hex(),
        "contract": body.contract,
        "method": body.method,
        "args": to_json(body.args),
        "sender": body.sender.hex(),
        "nonce": body.nonce.hex(),
        "timestamp_ms": body.timestamp_ms,
        "expires_ms": body.expires_ms,
        "payload": _b64(tx.payload),
        "endorsements": endorsements,
    }


def decode_payload_document(
    value: Any, *, chain_id: str | None = None, where: str = "payload file"
) -> PayloadFile:
    """Check a payload file's JSON document and rebuild its transaction.

    Raises ``InvalidInput`` for anything malformed or edited (a readable field
    that disagrees with the signed payload, a certificate given only by id, a
    certificate that endorses twice), ``InvalidSignature`` for a signature
    that does not verify over the payload (the payload or signature was
    changed after signing) and ``WrongChain`` for a transaction of a chain
    other than ``chain_id``. Every message starts with ``where``.
    """
    try:
        return _decode_document(value, chain_id)
    except JinglianError as exc:
        raise type(exc)(f"{where}: {exc.message}") from None


def _decode_document(value: Any, chain_id: str | None) -> PayloadFile:
    _check_fields(value, _FILE_FIELDS, "the file")
    if value["format"] != PAYLOAD_FILE_FORMAT:
        raise InvalidInput(f"format is {value['format']!r}, not {PAYLOAD_FILE_FORMAT!r}")
    if value["version"] != PAYLOAD_FILE_VERSION:
        raise InvalidInput(f"version {value['version']!r} is not supported (only 1)")
    crypto = value["crypto"]
    if crypto not in SUITE_NAMES:
        raise InvalidInput(f"crypto {crypto!r} is not one of {', '.join(SUITE_NAMES)}")
    raw = value["endorsements"]
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("endorsements must be a non-empty list")
    pairs = [_decode_endorsement(item, index) for index, item in enumerate(raw, 1)]
    payload = _unb64(value["payload"], "payload")
    try:
        tx = make_tx(get_suite(crypto).hash, payload, tuple(e for e, _ in pairs))
    except JinglianError as exc:
        raise InvalidInput(f"the payload is not a transaction: {exc.message}") from None
    endorsers = _verify_endorsements(tx, [c for _, c in pairs], crypto)
    _check_readable_fields(value, tx, crypto)
    _check_endorser_fields(raw, endorsers)
    if chain_id is not None and tx.body.chain_id != chain_id:
        raise WrongChain(
            f"the transaction is for chain {tx.body.chain_id!r}, but this network is {chain_id!r}"
        )
    return PayloadFile(tx=tx, crypto=crypto, endorsers=endorsers)


def _check_fields(value: Any, names: Sequence[str], what: str) -> None:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    missing = [n for n in names if n not in value]
    extra = sorted(str(k) for k in value if k not in names)
    if missing or extra:
        raise InvalidInput(f"{what} has wrong fields: missing {missing}, unexpected {extra}")


def _decode_endorsement(item: Any, index: int) -> tuple[Endorsement, Certificate]:
    what = f"endorsement {index}"
    _check_fields(item, _ENDORSEMENT_FIELDS, what)
    der = _unb64(item["cert"], f"{what}.cert")
    try:
        cert = load_certificate(der)
    except CryptoError as exc:
        raise InvalidInput(f"{what}.cert: {exc.message}") from None
    signature = _unb64(item["signature"], f"{what}.signature")
    return Endorsement(signer=cert.der, signature=signature), cert


def _verify_endorsements(tx: Tx, certs: Sequence[Certificate], crypto: str) -> tuple[Endorser, ...]:
    seen: set[bytes] = set()
    endorsers = []
    for index, (endorsement, cert) in enumerate(zip(tx.endorsements, certs, strict=True), 1):
        who = f"endorsement {index} ({cert.org_id}/{cert.role} {cert.common_name})"
        if cert.suite_name != crypto:
            raise InvalidInput(f"{who} is a {cert.suite_name} certificate on a {crypto} chain")
        if cert.cert_id in seen:
            raise InvalidInput(f"{who} repeats a certificate that already endorsed the transaction")
        seen.add(cert.cert_id)
        if not cert.public_key.verify(endorsement.signature, tx.payload):
            raise InvalidSignature(
                f"{who} does not verify over the payload: the payload or the signature was "
                "changed after signing"
            )
        endorsers.append(_endorser(cert))
    if endorsers[0].cert_id != tx.body.sender:
        raise InvalidSignature("the first endorsement is not by the transaction's sender")
    return tuple(endorsers)


def _check_readable_fields(value: dict[str, Any], tx: Tx, crypto: str) -> None:
    expected = encode_payload_document(tx, crypto)
    for name in _FILE_FIELDS:
        if name in ("endorsements", "payload"):
            continue
        if value[name] != expected[name] or type(value[name]) is not type(expected[name]):
            raise InvalidInput(
                f"{name} does not match the signed payload (the file was edited by hand?); "
                "the payload is what counts: create the file again with `jinglian tx create`"
            )


def _check_endorser_fields(raw: list[Any], endorsers: Sequence[Endorser]) -> None:
    for index, (item, endorser) in enumerate(zip(raw, endorsers, strict=True), 1):
        for name, actual in (
            ("org", endorser.org),
            ("role", endorser.role),
            ("common_name", endorser.common_name),
            ("cert_id", endorser.cert_id.hex()),
        ):
            if item[name] != actual:
                raise InvalidInput(
                    f"endorsement {index}.{name} is {item[name]!r}, but its certificate says "
                    f"{actual!r}"
                )


def save_payload_file(path: Path | str, tx: Tx, crypto: str) -> None:
    """Write ``tx`` as a payload file at ``path``, atomically (a reader never sees half a file)."""
    text = json.dumps(encode_payload_document(tx, crypto), indent=2, ensure_ascii=False) + "\n"
    data = text.encode()
    if len(data) > PAYLOAD_FILE_BYTES_MAX:
        raise TooLarge(
            f"the payload file would be {len(data)} bytes, limit {PAYLOAD_FILE_BYTES_MAX}"
        )
    target = Path(path)
    try:
        handle, temp = tempfile.mkstemp(dir=target.parent or Path("."), prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.chmod(temp, 0o644)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror}") from exc


def load_payload_file(path: Path | str, *, chain_id: str | None = None) -> PayloadFile:
    """Read and check a payload file; see ``decode_payload_document`` for what is refused."""
    target = Path(path)
    try:
        with target.open("rb") as handle:
            data = handle.read(PAYLOAD_FILE_BYTES_MAX + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {target}: {exc.strerror}") from exc
    if len(data) > PAYLOAD_FILE_BYTES_MAX:
        raise TooLarge(f"{target} is larger than {PAYLOAD_FILE_BYTES_MAX} bytes")
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"{target} is not a payload file: not valid JSON ({exc})") from None
    return decode_payload_document(value, chain_id=chain_id, where=str(target))


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _certificate_of(endorsement: Endorsement, index: int, where: str) -> Certificate:
    if endorsement.is_cert_id:
        raise InvalidInput(
            f"endorsement {index} of {where} names its certificate only by id; a payload file "
            "needs whole certificates"
        )
    try:
        return load_certificate(endorsement.signer)
    except CryptoError as exc:
        raise InvalidInput(f"endorsement {index} of {where}: {exc.message}") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: object, where: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidInput(f"{where} must be base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{where} is not valid base64") from None


# -- what a policy needs -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyCheck:
    """The policy one call must meet, with the member organisations it is counted against."""

    resource: str
    """``contract.deploy``, ``org.add``, ... or ``<contract>.<method>`` for a user method."""
    policy: Policy
    """The rule, the roles that count and the organisations counted."""
    members: tuple[str, ...]
    """Member organisations in force."""
    needed: int | None
    """Organisations that must approve; None if nobody can (``FORBIDDEN``, ...)."""
    self_org: str | None = None
    """The organisation a ``SELF`` rule means, when known."""

    def approving(self, approvals: Iterable[tuple[str, str]]) -> list[str]:
        """The counted organisations among ``(org, role)`` approvals, first-seen order."""
        verdict_orgs = [org for org, role in approvals if role in self.policy.roles]
        counted = self.counted()
        found: list[str] = []
        for org in verdict_orgs:
            if org in counted and org not in found:
                found.append(org)
        return found

    def counted(self) -> tuple[str, ...]:
        """Organisations whose approval counts (``SELF``: only the organisation concerned)."""
        if self.policy.rule == "SELF":
            return (self.self_org,) if self.self_org is not None else ()
        if not self.policy.orgs:
            return self.members
        return tuple(org for org in self.members if org in self.policy.orgs)

    def is_met(self, approvals: Iterable[tuple[str, str]]) -> bool:
        """Whether the approvals meet the policy."""
        return satisfied(self.policy, self.members, approvals, self.self_org)[0]

    def missing(self, approvals: Iterable[tuple[str, str]]) -> int | None:
        """How many more organisations must approve; None if the policy cannot be met."""
        if self.needed is None:
            return None
        return max(0, self.needed - len(self.approving(approvals)))

    def explain(self, approvals: Iterable[tuple[str, str]]) -> str:
        """One sentence: what is approved and what is missing."""
        return satisfied(self.policy, self.members, approvals, self.self_org)[1]


def get_policy_check(
    client: Client, contract: str, method: str, args: Mapping[str, Any] | None = None
) -> PolicyCheck | None:
    """The policy ``contract.method(**args)`` must meet, or None if it has none beyond ``ANY``.

    Governed system methods ask ``chain_config.policy``; a user-contract
    method asks ``contracts.get`` for a per-method policy. A chain without
    governance (no ``chain_config.policy``) gives None.
    """
    resource = resource_of(contract, method)
    if resource is not None:
        return _system_check(client, resource, _self_org(client, resource, args or {}))
    return _method_check(client, contract, method)


def _self_org(client: Client, resource: str, args: Mapping[str, Any]) -> str | None:
    if (
        resource.startswith("contract.")
        and resource != "contract.deploy"
        and isinstance(args.get("name"), str)
    ):
        info = _contract_info(client, args["name"])
        org = None if info is None else info.get("deployer_org")
        return org if isinstance(org, str) else None
    if resource == "cert.revoke" and isinstance(args.get("cert"), str | bytes):
        cert = args["cert"]
        try:
            return load_certificate(cert.encode() if isinstance(cert, str) else cert).org_id
        except CryptoError:
            return None
    return None


def _system_check(client: Client, resource: str, self_org: str | None) -> PolicyCheck | None:
    query_args: dict[str, Any] = {"resource": resource}
    if self_org is not None:
        query_args["self_org"] = self_org
    try:
        value = client.query(CHAIN_CONFIG, "policy", query_args).value
    except NotFound:
        return None
    return _check_from_record(value, resource, self_org)


def _check_from_record(value: Any, resource: str, self_org: str | None) -> PolicyCheck:
    if not isinstance(value, dict) or not isinstance(value.get("members"), list):
        raise InvalidInput(f"chain_config.policy({resource!r}) answered {value!r}")
    policy = parse_policy({k: value[k] for k in ("rule", "roles", "orgs") if k in value})
    members = tuple(str(m) for m in value["members"])
    needed = value.get("needed")
    return PolicyCheck(
        resource=resource,
        policy=policy,
        members=members,
        needed=needed if isinstance(needed, int) else orgs_needed(policy, members, self_org),
        self_org=self_org,
    )


def _method_check(client: Client, contract: str, method: str) -> PolicyCheck | None:
    info = _contract_info(client, contract)
    policies = None if info is None else info.get("policies")
    if not isinstance(policies, dict) or policies.get(method) is None:
        return None
    policy = parse_policy(policies[method])
    config = client.query(CHAIN_CONFIG, "get", {}).value
    members = tuple(str(o["id"]) for o in config["orgs"])
    self_org = info.get("deployer_org") if info is not None else None
    self_org = self_org if isinstance(self_org, str) else None
    return PolicyCheck(
        resource=f"{contract}.{method}",
        policy=policy,
        members=members,
        needed=orgs_needed(policy, members, self_org),
        self_org=self_org,
    )


def _contract_info(client: Client, name: str) -> dict[str, Any] | None:
    try:
        value = client.query(CONTRACTS, "get", {"name": name}).value
    except NotFound:
        return None
    return value if isinstance(value, dict) else None


# -- gathering approvals from identities held here ---------------------------------------------


def local_approvers(
    network: Network, *, first_org: str | None = None, roles: Sequence[str] = ("admin",)
) -> list[Identity]:
    """The identities of ``network`` with one of ``roles``: ``first_org``'s first, then manifest order."""
    entries = [e for e in network.identities.values() if e.role in roles]
    entries.sort(key=lambda e: e.org != first_org)
    return [Identity.load(e.cert, e.key) for e in entries]


def gather_approvals(
    tx: Tx, needed: PolicyCheck | int, approvers: Sequence[Identity]
) -> tuple[Tx, tuple[str, ...]]:
    """``tx`` endorsed by ``approvers`` (in order) until the policy is met; and the orgs added.

    With an int, ``needed`` distinct organisations must endorse through an
    admin certificate. Only an approver whose organisation counts and does not
    approve yet signs, one per organisation. If the approvers cannot meet the
    policy the transaction comes back with what they could add.
    """
    check = needed if isinstance(needed, PolicyCheck) else _admins_check(needed, approvers)
    if check.needed is None:
        return tx, ()
    known = [a.cert for a in approvers]
    added: list[str] = []
    for approver in approvers:
        approvals = approvals_of(tx, known)
        if check.is_met(approvals):
            break
        org, role = approver.cert.org_id, approver.cert.role
        if role not in check.policy.roles or org not in check.counted():
            continue
        if org in check.approving(approvals):
            continue
        tx = approver.endorse(tx)
        added.append(org)
    return tx, tuple(added)


def _admins_check(needed: int, approvers: Sequence[Identity]) -> PolicyCheck:
    members: list[str] = []
    for approver in approvers:
        if approver.cert.org_id not in members:
            members.append(approver.cert.org_id)
    return PolicyCheck(
        resource="(count)",
        policy=Policy(rule=str(max(needed, 1)), roles=("admin",)),
        members=tuple(members),
        needed=needed,
    )


def gather_local_approvals(
    network: Network, tx: Tx, needed: PolicyCheck | int
) -> tuple[Tx, tuple[str, ...]]:
    """``gather_approvals`` with ``network``'s local identities, the sender's organisation first.

    Whether to do this is the caller's decision: the CLI does it only on a
    devnet (``network.devnet``), where one directory holds every organisation's
    keys; a test cluster does it always.
    """
    roles = needed.policy.roles if isinstance(needed, PolicyCheck) else ("admin",)
    sender_org = next(iter(approvals_of(tx)), (None, None))[0]
    approvers = local_approvers(network, first_org=sender_org, roles=roles)
    return gather_approvals(tx, needed, approvers)


# -- one call ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GovernedResult:
    """What ``invoke_governed`` did."""

    result: TxResult
    """The committed transaction (its receipt is ``ok``)."""
    check: PolicyCheck | None
    """The policy the call had to meet, if any."""
    approving: tuple[str, ...]
    """Counted organisations whose endorsements the transaction carried."""
    added: tuple[str, ...]
    """Organisations whose local identities were asked to endorse (auto-approval)."""


def invoke_governed(
    client: Client,
    contract: str,
    method: str,
    args: Mapping[str, Any] | None = None,
    *,
    approvers: Sequence[Identity] = (),
    timeout: float = 30.0,
    expiry_s: int = DEFAULT_EXPIRY_S,
    refuse_unmet: bool = False,
) -> GovernedResult:
    """Sign ``contract.method(**args)``, endorse it by ``approvers`` as its policy needs, submit, wait.

    Without approvers only the client's identity signs. With ``refuse_unmet``
    a policy the endorsements do not meet raises ``PolicyNotSatisfied``
    before anything is submitted (its ``missing`` attribute: how many more
    organisations must approve, None if none can). A failed receipt raises its
    error class (``PolicyNotSatisfied`` when too few organisations endorsed),
    with the ``TxResult`` as ``.receipt``.
    """
    from jinglian.client._ops import receipt_error

    tx = client.sign(contract, method, args, expiry_s=expiry_s)
    check = get_policy_check(client, contract, method, args)
    added: tuple[str, ...] = ()
    if check is not None and approvers:
        tx, added = gather_approvals(tx, check, approvers)
    approvals = approvals_of(tx, [a.cert for a in approvers])
    if refuse_unmet and check is not None and not check.is_met(approvals):
        raise _unmet(check, approvals)
    result = client.submit_and_wait(tx, timeout)
    if not result.ok:
        raise receipt_error(result)
    approving = tuple(check.approving(approvals)) if check is not None else ()
    return GovernedResult(result=result, check=check, approving=approving, added=added)


def _unmet(check: PolicyCheck, approvals: list[tuple[str, str]]) -> PolicyNotSatisfied:
    error = PolicyNotSatisfied(
        f"{check.resource}: {check.explain(approvals)}; nothing was submitted"
    )
    error.missing = check.missing(approvals)  # type: ignore[attr-defined]
    return error
