"""SDK functions over ``jinglian.client.Client`` for the directory contract.

One thin function per contract method: invokes wait for the commit and
return the method's value (a refusal raises the contract's error, naming the
bad field); queries return the decoded value. ``deploy_directory_contract``
deploys the contract as a governed action; ``set_settings`` gathers the
admin endorsements of a majority of member organisations that the contract
asks for. ``canon`` and ``verify_log`` recompute entry and head hashes off
chain, exactly as the contract does, so anyone can check a department's head
against its log. See ``docs/apps/directory.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jinglian.apps.directory import contract as _chain_code
from jinglian.client import Client, GovernedResult, Identity, gather_approvals, invoke_governed
from jinglian.types.errors import DecodeError, InvalidInput, error_from_code

__all__ = [
    "CONTRACT_NAME",
    "CONTRACT_SOURCE_PATH",
    "approve",
    "canon",
    "catalog",
    "catalogs",
    "confirm",
    "deliver",
    "deliveries",
    "deploy_directory_contract",
    "division",
    "divisions",
    "duty",
    "get_delivery",
    "get_grant",
    "get_request",
    "head",
    "item",
    "items",
    "log",
    "put_catalog",
    "put_division",
    "put_duty",
    "put_items",
    "reject",
    "request",
    "requests_from",
    "requests_to",
    "retire_catalog",
    "retire_division",
    "retire_duty",
    "retire_items",
    "revoke_grant",
    "set_settings",
    "settings",
    "verify_log",
]

CONTRACT_NAME = "directory"
"""The name the directory contract is deployed under unless told otherwise."""

CONTRACT_SOURCE_PATH = Path(__file__).with_name("contract.py")
"""The contract's source file."""

CATALOG_FIELDS = (
    "name",
    "summary",
    "duties",
    "share_type",
    "share_condition",
    "share_mode",
    "data_format",
    "update_cycle",
    "open_attribute",
    "release_date",
    "related",
)


def deploy_directory_contract(
    client: Client, name: str = CONTRACT_NAME, *, approvers: Sequence[Identity] = ()
) -> GovernedResult:
    """Deploy the directory contract as ``name`` (a governed action: policy ``contract.deploy``).

    The client's identity (an admin) signs; ``approvers`` (say a devnet's
    local admins, ``jinglian.client.local_approvers(network)``) endorse as the
    policy needs. Too few organisations raise ``PolicyNotSatisfied``.
    """
    source = CONTRACT_SOURCE_PATH.read_text()
    return invoke_governed(
        client, "contracts", "deploy", {"name": name, "source": source}, approvers=approvers
    )


# -- canonical text and head hashes -------------------------------------------------------------


def canon(value: Any) -> str:
    """The contract's unambiguous text of a value (``None``, bools, ints, text, lists and
    maps, as decoded from the chain): the contract's own function, so the two cannot differ."""
    return str(_chain_code.canon(value))  # type: ignore[no-untyped-call]


def verify_log(
    org: str,
    entries: Sequence[Mapping[str, Any]],
    hash_fn: Callable[[bytes], bytes] = lambda data: hashlib.sha256(data).digest(),
    *,
    prev: str = "",
    first_seq: int = 1,
) -> str:
    """Recompute ``org``'s head from its log ``entries`` (in seq order); return the last head.

    Each entry must continue the chain from ``prev`` (the head before
    ``first_seq``; empty for the whole log) and carry the head the contract
    computed; a gap, a reordering or a wrong hash raises ``InvalidInput``.
    ``hash_fn`` is the chain's hash (SHA-256 on ``default`` chains; SM3 on
    ``gm``).
    """
    head_hex = prev
    for offset, entry in enumerate(entries):
        seq = first_seq + offset
        if entry.get("seq") != seq or entry.get("org") != org:
            raise InvalidInput(f"log entry {offset} is not {org}'s change {seq}")
        if entry.get("prev") != head_hex:
            raise InvalidInput(f"log entry {seq} does not follow the head before it")
        change = canon([org, seq, entry["kind"], entry["action"], entry["key"], entry["hash"]])
        head_hex = hash_fn(bytes.fromhex(head_hex) + change.encode()).hex()
        if entry.get("head") != head_hex:
            raise InvalidInput(f"log entry {seq} records head {entry.get('head')}, not {head_hex}")
    return head_hex


# -- invokes ------------------------------------------------------------------------------------


def _invoke(client: Client, name: str, method: str, args: dict[str, Any]) -> Any:
    return client.invoke(name, method, args).result


def put_duty(
    client: Client, duty_id: str, name: str, legal_basis: str, *, contract: str = CONTRACT_NAME
) -> dict[str, Any]:
    """Publish or update a duty of the client's department: ``{"org", "seq", "head", ...}``."""
    args = {"duty_id": duty_id, "name": name, "legal_basis": legal_basis}
    return _invoke(client, contract, "put_duty", args)  # type: ignore[no-any-return]


def retire_duty(client: Client, duty_id: str, *, contract: str = CONTRACT_NAME) -> dict[str, Any]:
    """Retire a duty (refused while active catalogs hang from it)."""
    return _invoke(client, contract, "retire_duty", {"duty_id": duty_id})  # type: ignore[no-any-return]


def put_catalog(
    client: Client, code: str, fields: Mapping[str, Any], *, contract: str = CONTRACT_NAME
) -> dict[str, Any]:
    """Publish or update catalog ``code``; ``fields`` are the contract's other arguments."""
    unknown = sorted(set(fields) - set(CATALOG_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown catalog field {unknown[0]!r}: use {', '.join(CATALOG_FIELDS)}")
    args = {"code": code, **fields}
    return _invoke(client, contract, "put_catalog", args)  # type: ignore[no-any-return]


def retire_catalog(client: Client, code: str, *, contract: str = CONTRACT_NAME) -> dict[str, Any]:
    """Retire a catalog: it takes no new requests."""
    return _invoke(client, contract, "retire_catalog", {"code": code})  # type: ignore[no-any-return]


def put_items(
    client: Client,
    catalog_code: str,
    entries: Sequence[Mapping[str, Any]],
    *,
    contract: str = CONTRACT_NAME,
) -> dict[str, Any]:
    """Publish or update data items (one batch) of one of the department's catalogs."""
    args = {"catalog": catalog_code, "items": [dict(entry) for entry in entries]}
    return _invoke(client, contract, "put_items", args)  # type: ignore[no-any-return]


def retire_items(
    client: Client, catalog_code: str, codes: Sequence[str], *, contract: str = CONTRACT_NAME
) -> dict[str, Any]:
    """Retire data items of one of the department's catalogs."""
    args = {"catalog": catalog_code, "codes": list(codes)}
    return _invoke(client, contract, "retire_items", args)  # type: ignore[no-any-return]


def put_division(
    client: Client, division_id: str, name: str, *, contract: str = CONTRACT_NAME
) -> dict[str, Any]:
    """Publish or update a division of the client's department."""
    args = {"division_id": division_id, "name": name}
    return _invoke(client, contract, "put_division", args)  # type: ignore[no-any-return]


def set_exchange(client: Client, url: str, *, contract: str = CONTRACT_NAME) -> dict[str, Any]:
    """Publish the department's exchange service URL (``https://host:port``; ``""`` withdraws it)."""
    return _invoke(client, contract, "set_exchange", {"url": url})  # type: ignore[no-any-return]


def retire_division(
    client: Client, division_id: str, *, contract: str = CONTRACT_NAME
) -> dict[str, Any]:
    """Retire a division."""
    args = {"division_id": division_id}
    return _invoke(client, contract, "retire_division", args)  # type: ignore[no-any-return]


def request(
    client: Client,
    provider: str,
    catalog_code: str,
    item_codes: Sequence[str],
    duty_id: str,
    purpose: str,
    period_days: int,
    *,
    division_id: str | None = None,
    contract: str = CONTRACT_NAME,
) -> dict[str, Any]:
    """Ask ``provider`` for data: ``{"id", "status" (granted or pending), "grant"}``."""
    args = {
        "provider": provider,
        "catalog": catalog_code,
        "items": list(item_codes),
        "duty": duty_id,
        "purpose": purpose,
        "period_days": period_days,
        "division": division_id,
    }
    return _invoke(client, contract, "request", args)  # type: ignore[no-any-return]


def approve(client: Client, request_id: int, *, contract: str = CONTRACT_NAME) -> dict[str, Any]:
    """Grant a pending request addressed to the client's department."""
    return _invoke(client, contract, "approve", {"request_id": request_id})  # type: ignore[no-any-return]


def reject(
    client: Client, request_id: int, reason: str, *, contract: str = CONTRACT_NAME
) -> dict[str, Any]:
    """Refuse a pending request addressed to the client's department, with a reason."""
    args = {"request_id": request_id, "reason": reason}
    return _invoke(client, contract, "reject", args)  # type: ignore[no-any-return]


def revoke_grant(
    client: Client, grant_id: int, reason: str, *, contract: str = CONTRACT_NAME
) -> dict[str, Any]:
    """Withdraw an active grant the client's department gave."""
    args = {"grant_id": grant_id, "reason": reason}
    return _invoke(client, contract, "revoke_grant", args)  # type: ignore[no-any-return]


def deliver(
    client: Client,
    grant_id: int,
    request_hash: bytes,
    response_hash: bytes,
    size: int,
    *,
    contract: str = CONTRACT_NAME,
) -> dict[str, Any]:
    """Record a delivery under an active grant: ``{"id", "again"}`` (again: already recorded)."""
    args = {
        "grant_id": grant_id,
        "request_hash": request_hash,
        "response_hash": response_hash,
        "size": size,
    }
    return _invoke(client, contract, "deliver", args)  # type: ignore[no-any-return]


def confirm(
    client: Client, delivery_id: int, payload_hash: bytes, *, contract: str = CONTRACT_NAME
) -> dict[str, Any]:
    """Record receipt of a delivery: ``{"id", "status" (confirmed or mismatch), "match"}``."""
    args = {"delivery_id": delivery_id, "payload_hash": payload_hash}
    return _invoke(client, contract, "confirm", args)  # type: ignore[no-any-return]


def set_settings(
    client: Client,
    *,
    reply_deadline_ms: int | None = None,
    period_days_max: int | None = None,
    approvers: Sequence[Identity] = (),
    contract: str = CONTRACT_NAME,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Change the sharing settings, endorsed by ``approvers`` (admins) up to a majority.

    The contract accepts the change only with admin endorsements of more than
    half of the member organisations; the client's own identity is the first.
    """
    args = {"reply_deadline_ms": reply_deadline_ms, "period_days_max": period_days_max}
    members = client.query("chain_config", "orgs").value
    if not isinstance(members, list):
        raise DecodeError("chain_config.orgs did not return a list")
    tx = client.sign(contract, "set_settings", args)
    tx, _ = gather_approvals(tx, len(members) // 2 + 1, approvers)
    result = client.submit_and_wait(tx, timeout)
    if not result.ok:
        raise error_from_code(result.status, result.error or result.status)
    return result.result  # type: ignore[no-any-return]


# -- queries ------------------------------------------------------------------------------------


def _query(client: Client, name: str, method: str, args: dict[str, Any]) -> Any:
    return client.query(name, method, args).value


def _query_list(client: Client, name: str, method: str, args: dict[str, Any]) -> list[Any]:
    value = _query(client, name, method, args)
    if not isinstance(value, list):
        raise DecodeError(f"{name}.{method} returned a {type(value).__name__}, not a list")
    return value


def exchange(client: Client, org: str, *, contract: str = CONTRACT_NAME) -> dict[str, Any] | None:
    """Where ``org`` serves granted data: ``{"org", "url", "status", ...}``, or None."""
    return _query(client, contract, "exchange", {"org": org})  # type: ignore[no-any-return]


def duty(
    client: Client, org: str, duty_id: str, *, contract: str = CONTRACT_NAME
) -> dict[str, Any] | None:
    """A duty of ``org``, or None."""
    return _query(client, contract, "duty", {"org": org, "duty_id": duty_id})  # type: ignore[no-any-return]


def catalog(
    client: Client, org: str, code: str, *, contract: str = CONTRACT_NAME
) -> dict[str, Any] | None:
    """A catalog of ``org`` (with its ``item_count``), or None."""
    return _query(client, contract, "catalog", {"org": org, "code": code})  # type: ignore[no-any-return]


def item(
    client: Client, org: str, catalog_code: str, code: str, *, contract: str = CONTRACT_NAME
) -> dict[str, Any] | None:
    """One data item, or None."""
    args = {"org": org, "catalog": catalog_code, "code": code}
    return _query(client, contract, "item", args)  # type: ignore[no-any-return]


def items(
    client: Client,
    org: str,
    catalog_code: str,
    *,
    start: int = 0,
    limit: int = 100,
    contract: str = CONTRACT_NAME,
) -> list[dict[str, Any]]:
    """A catalog's data items in code order, from the ``start``-th."""
    args = {"org": org, "catalog": catalog_code, "start": start, "limit": limit}
    return _query_list(client, contract, "items", args)


def catalogs(
    client: Client, org: str, *, start: int = 0, limit: int = 100, contract: str = CONTRACT_NAME
) -> list[dict[str, Any]]:
    """``org``'s catalogs in publication order, from the ``start``-th."""
    args = {"org": org, "start": start, "limit": limit}
    return _query_list(client, contract, "catalogs", args)


def division(
    client: Client, org: str, division_id: str, *, contract: str = CONTRACT_NAME
) -> dict[str, Any] | None:
    """A division of ``org``, or None."""
    args = {"org": org, "division_id": division_id}
    return _query(client, contract, "division", args)  # type: ignore[no-any-return]


def divisions(
    client: Client, org: str, *, start: int = 0, limit: int = 100, contract: str = CONTRACT_NAME
) -> list[dict[str, Any]]:
    """``org``'s divisions in id order, from the ``start``-th."""
    args = {"org": org, "start": start, "limit": limit}
    return _query_list(client, contract, "divisions", args)


def head(client: Client, org: str, *, contract: str = CONTRACT_NAME) -> dict[str, Any]:
    """``org``'s head: ``{"org", "seq", "head", "height", "time"}``."""
    return _query(client, contract, "head", {"org": org})  # type: ignore[no-any-return]


def log(
    client: Client, org: str, *, start: int = 1, limit: int = 100, contract: str = CONTRACT_NAME
) -> list[dict[str, Any]]:
    """``org``'s changes from seq ``start`` on."""
    args = {"org": org, "start": start, "limit": limit}
    return _query_list(client, contract, "log", args)


def settings(client: Client, *, contract: str = CONTRACT_NAME) -> dict[str, Any]:
    """The sharing settings."""
    return _query(client, contract, "settings", {})  # type: ignore[no-any-return]


def get_request(
    client: Client, request_id: int, *, contract: str = CONTRACT_NAME
) -> dict[str, Any]:
    """A request (a pending one past its deadline reads as ``expired``)."""
    return _query(client, contract, "get_request", {"request_id": request_id})  # type: ignore[no-any-return]


def get_grant(client: Client, grant_id: int, *, contract: str = CONTRACT_NAME) -> dict[str, Any]:
    """A grant (an active one past its end reads as ``expired``)."""
    return _query(client, contract, "get_grant", {"grant_id": grant_id})  # type: ignore[no-any-return]


def get_delivery(
    client: Client, delivery_id: int, *, contract: str = CONTRACT_NAME
) -> dict[str, Any]:
    """A delivery record."""
    args = {"delivery_id": delivery_id}
    return _query(client, contract, "get_delivery", args)  # type: ignore[no-any-return]


def deliveries(
    client: Client,
    grant_id: int,
    *,
    start: int = 0,
    limit: int = 100,
    contract: str = CONTRACT_NAME,
) -> list[dict[str, Any]]:
    """Deliveries under a grant, oldest first."""
    args = {"grant_id": grant_id, "start": start, "limit": limit}
    return _query_list(client, contract, "deliveries", args)


def requests_to(
    client: Client, org: str, *, start: int = 0, limit: int = 100, contract: str = CONTRACT_NAME
) -> list[dict[str, Any]]:
    """Requests addressed to ``org``, oldest first."""
    args = {"org": org, "start": start, "limit": limit}
    return _query_list(client, contract, "requests_to", args)


def requests_from(
    client: Client, org: str, *, start: int = 0, limit: int = 100, contract: str = CONTRACT_NAME
) -> list[dict[str, Any]]:
    """Requests made by ``org``, oldest first."""
    args = {"org": org, "start": start, "limit": limit}
    return _query_list(client, contract, "requests_from", args)


# -- REST reads (the node's /directory routes: SQL index and contract state) --------------------


def _get(client: Client, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``GET /api/v1/directory<path>`` with the parameters that are set; a JSON object."""
    wanted = {name: value for name, value in (params or {}).items() if value is not None}
    found = client.call_api("GET", "/directory" + path, params=wanted)
    if not isinstance(found, dict):
        raise DecodeError(f"the node's answer to /directory{path} is not a JSON object")
    return found


def _catalog_path(org: str, code: str) -> str:
    class_code, slash, sequence = code.partition("/")
    if not slash or len(class_code) != 6 or len(sequence) != 6:
        raise InvalidInput(f"code must be a catalog code CIISSS/NNNNNN, not {code!r}")
    return f"/catalogs/{org}/{class_code}/{sequence}"


def search(
    client: Client,
    *,
    keyword: str | None = None,
    classification: str | None = None,
    provider: str | None = None,
    share_type: str | None = None,
    status: str = "active",
    start: int = 0,
    limit: int = 20,
) -> dict[str, Any]:
    """Search catalogs in the node's index: ``{"total", "start", "limit", "catalogs"}``.

    ``keyword`` terms must all occur in a catalog's name, summary or active
    item names (case-insensitive); ``classification`` is a class (``3``),
    item (``301``), sub-item (``301001``) or whole code; ``status`` is
    ``active``, ``retired`` or ``any``. A node with no index raises
    ``Unavailable``.
    """
    params = {
        "keyword": keyword,
        "classification": classification,
        "provider": provider,
        "share_type": share_type,
        "status": status,
        "start": start,
        "limit": limit,
    }
    return _get(client, "/catalogs", params)


def catalog_detail(
    client: Client,
    org: str,
    code: str,
    *,
    start: int = 0,
    limit: int = 100,
    contract: str = CONTRACT_NAME,
) -> dict[str, Any]:
    """A catalog and a page of its items from contract state: ``{"catalog", "start", "items"}``."""
    params = {"start": start, "limit": limit, "contract": contract}
    return _get(client, _catalog_path(org, code), params)


def department_view(client: Client, org: str) -> dict[str, Any]:
    """A department from the node's index: head, exchange, duties with catalogs, counts."""
    return _get(client, f"/departments/{org}")


def requests_of(
    client: Client,
    org: str,
    *,
    direction: str = "to",
    status: str | None = None,
    start: int = 0,
    limit: int = 20,
) -> dict[str, Any]:
    """Requests ``to`` or ``from`` a department from the index, newest first, one page."""
    params = {"direction": direction, "status": status, "start": start, "limit": limit}
    return _get(client, f"/departments/{org}/requests", params)


def report(
    client: Client,
    *,
    org: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> dict[str, Any]:
    """SLA figures from chain timestamps (``apps.directory.sla``), from the node's index."""
    return _get(client, "/report", {"org": org, "since_ms": since_ms, "until_ms": until_ms})


def request_record(
    client: Client, request_id: int, *, contract: str = CONTRACT_NAME
) -> dict[str, Any]:
    """A request from contract state through REST (``NotFound`` if there is none)."""
    return _get(client, f"/requests/{request_id}", {"contract": contract})


def grant_record(client: Client, grant_id: int, *, contract: str = CONTRACT_NAME) -> dict[str, Any]:
    """A grant with its ``deliveries`` from contract state through REST."""
    return _get(client, f"/grants/{grant_id}", {"contract": contract})


def delivery_record(
    client: Client, delivery_id: int, *, contract: str = CONTRACT_NAME
) -> dict[str, Any]:
    """A delivery record from contract state through REST."""
    return _get(client, f"/deliveries/{delivery_id}", {"contract": contract})


def head_proof(
    client: Client, org: str, *, prove: bool = True, contract: str = CONTRACT_NAME
) -> dict[str, Any]:
    """A department's head as the node's query answer: ``value`` and, with ``prove``, the
    read's state proof with the header and commit it verifies against."""
    params = {"prove": "true" if prove else "false", "contract": contract}
    return _get(client, f"/departments/{org}/head", params)
