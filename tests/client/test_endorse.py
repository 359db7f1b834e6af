"""Endorsements, payload files and gathered approvals (``jinglian.client.endorse``), offline."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from jinglian.client import (
    Client,
    Identity,
    PolicyCheck,
    gather_approvals,
    gather_local_approvals,
    load_network,
    load_payload_file,
    local_approvers,
    save_payload_file,
)
from jinglian.client.endorse import (
    PAYLOAD_FILE_BYTES_MAX,
    approvals_of,
    decode_payload_document,
    encode_payload_document,
)
from jinglian.types import Endorsement, Tx, make_tx
from jinglian.types.errors import (
    ConfigError,
    InvalidInput,
    InvalidSignature,
    InvalidTransaction,
    JinglianError,
    TooLarge,
    WrongChain,
)
from jinglian.types.policy import Policy
from jinglian.types.tx import ENDORSEMENTS_MAX

pytestmark = pytest.mark.filterwarnings("ignore:You should not use the .timeout. argument")

CHAIN = "jinglian-dev"
ARGS = {"name": "kv", "source": "x = 1\n", "blob": b"\x00\xff", "n": [1, {"k": None}]}


def _who(net_dir: Path, name: str) -> Identity:
    return Identity.from_network(net_dir, name)


@pytest.fixture(scope="module")
def tx(network_dir: Path) -> Tx:
    """A deploy signed by org1's admin."""
    return _who(network_dir, "org1/admin").sign_tx(CHAIN, "contracts", "deploy", ARGS)


# -- Identity.endorse ----------------------------------------------------------------------------


def test_endorse_appends_a_signature_and_keeps_the_id(network_dir: Path, tx: Tx) -> None:
    org2 = _who(network_dir, "org2/admin")
    endorsed = org2.endorse(tx, CHAIN)
    assert endorsed.id == tx.id and endorsed.payload == tx.payload
    assert endorsed.endorsements[0] == tx.endorsements[0]
    assert endorsed.endorsements[1].signer == org2.cert.der
    assert org2.cert.public_key.verify(endorsed.endorsements[1].signature, tx.payload)
    assert approvals_of(endorsed) == [("org1", "admin"), ("org2", "admin")]


def test_endorse_refuses_a_second_signature_of_the_same_certificate(
    network_dir: Path, tx: Tx
) -> None:
    with pytest.raises(InvalidTransaction, match="already endorsed by org1/admin"):
        _who(network_dir, "org1/admin").endorse(tx)
    twice = _who(network_dir, "org2/admin").endorse(tx)
    with pytest.raises(InvalidTransaction, match="already endorsed by org2/admin"):
        _who(network_dir, "org2/admin").endorse(twice)


def test_endorse_refuses_another_chain_or_suite(network_dir: Path, gm_dir: Path, tx: Tx) -> None:
    with pytest.raises(WrongChain, match="for chain 'jinglian-dev', not 'other'"):
        _who(network_dir, "org2/admin").endorse(tx, "other")
    with pytest.raises(WrongChain, match="gm crypto suite"):
        _who(gm_dir, "org2/admin").endorse(tx)


def test_endorse_refuses_a_full_transaction(network_dir: Path, tx: Tx) -> None:
    fillers = tuple(Endorsement(bytes([i]) * 40, b"s") for i in range(1, ENDORSEMENTS_MAX))
    full = make_tx(lambda data: tx.id, tx.payload, (tx.endorsements[0], *fillers))
    with pytest.raises(TooLarge, match="32 endorsements"):
        _who(network_dir, "org2/admin").endorse(full)


# -- payload files -------------------------------------------------------------------------------


@pytest.mark.parametrize(("which", "crypto"), [("network_dir", "default"), ("gm_dir", "gm")])
def test_payload_file_round_trip(
    which: str, crypto: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    net_dir: Path = request.getfixturevalue(which)
    created = _who(net_dir, "org1/admin").sign_tx(CHAIN, "contracts", "deploy", ARGS)
    path = tmp_path / "deploy.json"
    save_payload_file(path, created, crypto)
    loaded = load_payload_file(path, chain_id=CHAIN)
    assert loaded.tx == created and loaded.crypto == crypto
    assert [e.label for e in loaded.endorsers] == ["org1/admin (admin.org1)"]
    signed = _who(net_dir, "org2/admin").endorse(loaded.tx, CHAIN)
    save_payload_file(path, signed, crypto)
    again = load_payload_file(path)
    assert again.tx == signed
    assert [e.org for e in again.endorsers] == ["org1", "org2"]
    document = json.loads(path.read_text())
    assert document["args"]["blob"] == {"$bytes": base64.b64encode(b"\x00\xff").decode()}
    assert document["tx_id"] == signed.id.hex() and document["crypto"] == crypto
    assert [p.name for p in tmp_path.iterdir()] == ["deploy.json"]


def _document(net_dir: Path, tx: Tx) -> dict[str, Any]:
    signed = _who(net_dir, "org2/admin").endorse(tx)
    return encode_payload_document(signed, "default")


def _refused(
    document: Any, kind: type[JinglianError], match: str, chain_id: str | None = None
) -> None:
    with pytest.raises(kind, match=match) as raised:
        decode_payload_document(document, chain_id=chain_id, where="p.json")
    assert raised.value.message.startswith("p.json: ")
    assert "\n" not in raised.value.message


def test_a_good_document_is_accepted(network_dir: Path, tx: Tx) -> None:
    assert decode_payload_document(_document(network_dir, tx), chain_id=CHAIN).tx.id == tx.id


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.pop("nonce"), r"missing \['nonce'\]"),
        (lambda d: d.update(extra=1), r"unexpected \['extra'\]"),
        (lambda d: d.update(format="other"), "format is 'other'"),
        (lambda d: d.update(version=2), "version 2 is not supported"),
        (lambda d: d.update(crypto="rsa"), "crypto 'rsa' is not one of"),
        (lambda d: d.update(endorsements=[]), "non-empty list"),
        (lambda d: d.update(endorsements={"a": 1}), "non-empty list"),
        (lambda d: d.update(payload="%%%"), "payload is not valid base64"),
        (lambda d: d.update(payload=42), "payload must be base64 text"),
        (lambda d: d.update(payload=base64.b64encode(b"junk").decode()), "not a transaction"),
        (lambda d: d.update(method="upgrade"), "method does not match the signed payload"),
        (lambda d: d.update(args={"name": "evil"}), "args does not match"),
        (lambda d: d.update(timestamp_ms="1"), "timestamp_ms does not match"),
        (lambda d: d.update(expires_ms=True), "expires_ms does not match"),
        (lambda d: d.update(tx_id="00" * 32), "tx_id does not match"),
        (lambda d: d.update(crypto="gm"), "default certificate on a gm chain"),
        (lambda d: d["endorsements"][1].update(org="org3"), r"endorsement 2.org is 'org3'"),
        (lambda d: d["endorsements"][1].update(role="client"), "endorsement 2.role"),
        (lambda d: d["endorsements"][0].pop("cert_id"), "endorsement 1 has wrong fields"),
        (lambda d: d["endorsements"][0].update(cert="AAAA"), "endorsement 1.cert"),
        (lambda d: d["endorsements"].__setitem__(1, "x"), "endorsement 2 must be a JSON object"),
        (lambda d: d["endorsements"][1].update(signature=5), "signature must be base64"),
        (
            lambda d: d["endorsements"].append(d["endorsements"][1]),
            "endorsement 3 .* repeats a certificate",
        ),
    ],
)
def test_invalid_documents_are_refused(network_dir: Path, tx: Tx, edit: Any, match: str) -> None:
    document = _document(network_dir, tx)
    edit(document)
    _refused(document, InvalidInput, match)


def test_invalid_document_that_is_not_an_object() -> None:
    _refused([1, 2], InvalidInput, "must be a JSON object")


def test_invalid_tampered_payload_fails_the_signatures(network_dir: Path, tx: Tx) -> None:
    other = _who(network_dir, "org1/admin").sign_tx(CHAIN, "contracts", "deploy", {"name": "x"})
    document = _document(network_dir, tx)
    document["payload"] = base64.b64encode(other.payload).decode()
    _refused(document, InvalidSignature, "endorsement 1 .* does not verify over the payload")


def test_invalid_tampered_signature(network_dir: Path, tx: Tx) -> None:
    document = _document(network_dir, tx)
    signature = bytearray(base64.b64decode(document["endorsements"][1]["signature"]))
    signature[-1] ^= 1
    document["endorsements"][1]["signature"] = base64.b64encode(bytes(signature)).decode()
    _refused(document, InvalidSignature, r"endorsement 2 \(org2/admin admin.org2\) does not verify")


def test_invalid_first_endorsement_not_by_the_sender(network_dir: Path, tx: Tx) -> None:
    document = _document(network_dir, tx)
    document["endorsements"].reverse()
    _refused(document, InvalidSignature, "first endorsement is not by the transaction's sender")


def test_invalid_other_chain(network_dir: Path, tx: Tx) -> None:
    _refused(_document(network_dir, tx), WrongChain, "for chain 'jinglian-dev'", chain_id="prod")


def test_a_certificate_id_endorsement_cannot_go_in_a_file(network_dir: Path) -> None:
    by_id = _who(network_dir, "org1/admin").sign_tx(CHAIN, "kv", "set", include_cert=False)
    with pytest.raises(InvalidInput, match="only by id"):
        encode_payload_document(by_id, "default")


def test_invalid_files(network_dir: Path, tx: Tx, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    with pytest.raises(ConfigError, match="cannot read"):
        load_payload_file(path)
    path.write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_payload_file(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_payload_file(path)
    path.write_text('{"a": NaN}')
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_payload_file(path)
    path.write_bytes(b" " * (PAYLOAD_FILE_BYTES_MAX + 1))
    with pytest.raises(TooLarge, match="larger than"):
        load_payload_file(path)
    save_payload_file(path, tx, "default")
    document = json.loads(path.read_text())
    document["chain_id"] = "x"
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidInput, match=f"^{path}: chain_id does not match"):
        load_payload_file(path)


def test_save_refuses_an_unwritable_place(tx: Tx, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write"):
        save_payload_file(tmp_path / "missing" / "p.json", tx, "default")


# -- policy checks and gathering ------------------------------------------------------------------

MEMBERS = ("org1", "org2", "org3", "org4")


def _check(rule: str, **extra: Any) -> PolicyCheck:
    from jinglian.types.policy import orgs_needed

    policy = Policy(rule, extra.pop("roles", ("admin",)), extra.pop("orgs", ()))
    self_org = extra.pop("self_org", None)
    needed = orgs_needed(policy, MEMBERS, self_org)
    return PolicyCheck("contract.deploy", policy, MEMBERS, needed, self_org)


def test_policy_check_counts_organisations_once_and_by_role() -> None:
    check = _check("MAJORITY")
    approvals = [("org1", "admin"), ("org1", "admin"), ("org2", "client")]
    assert check.needed == 3
    assert check.approving(approvals) == ["org1"]
    assert check.missing(approvals) == 2 and not check.is_met(approvals)
    assert "needs 3 of 4 organisations" in check.explain(approvals)
    more = [*approvals, ("org2", "admin"), ("org4", "admin")]
    assert check.is_met(more) and check.missing(more) == 0
    narrowed = _check("ALL", orgs=("org2", "org3"))
    assert narrowed.counted() == ("org2", "org3") and narrowed.needed == 2
    assert _check("FORBIDDEN").missing(more) is None


@pytest.fixture(scope="module")
def admins(network_dir: Path) -> list[Identity]:
    return local_approvers(load_network(network_dir))


def test_gather_approvals_meets_a_majority_sender_first(tx: Tx, admins: list[Identity]) -> None:
    gathered, added = gather_approvals(tx, _check("MAJORITY"), admins)
    assert added == ("org2", "org3")
    assert approvals_of(gathered) == [("org1", "admin"), ("org2", "admin"), ("org3", "admin")]
    assert gathered.id == tx.id
    again, more = gather_approvals(gathered, _check("MAJORITY"), admins)
    assert more == () and again == gathered


def test_gather_approvals_respects_self_narrowing_and_counts(
    tx: Tx, admins: list[Identity]
) -> None:
    _, added = gather_approvals(tx, _check("SELF", self_org="org3"), admins)
    assert added == ("org3",)
    _, added = gather_approvals(tx, _check("2", orgs=("org3", "org4")), admins)
    assert added == ("org3", "org4")
    _, added = gather_approvals(tx, 2, admins)
    assert added == ("org2",)
    _, added = gather_approvals(tx, _check("FORBIDDEN"), admins)
    assert added == ()


def test_gather_local_approvals_starts_with_the_senders_org(network_dir: Path) -> None:
    client_tx = _who(network_dir, "org3/client").sign_tx(CHAIN, "contracts", "freeze", {})
    gathered, added = gather_local_approvals(load_network(network_dir), client_tx, _check("ANY"))
    assert added == ("org3",)
    assert approvals_of(gathered)[1] == ("org3", "admin")


def test_local_approvers_order(network_dir: Path) -> None:
    network = load_network(network_dir)
    orgs = [a.cert.org_id for a in local_approvers(network, first_org="org3")]
    assert orgs == ["org3", "org1", "org2", "org4"]
    roles = {a.cert.role for a in local_approvers(network, roles=("admin", "client"))}
    assert roles == {"admin", "client"}


# -- the devnet flag in network.json --------------------------------------------------------------


def test_network_devnet_flag(network_dir: Path, tmp_path: Path) -> None:
    assert load_network(network_dir).devnet is False
    copy = tmp_path / "net"
    shutil.copytree(network_dir, copy)
    manifest = json.loads((copy / "network.json").read_text())
    (copy / "network.json").write_text(json.dumps({**manifest, "devnet": True}))
    assert load_network(copy).devnet is True
    (copy / "network.json").write_text(json.dumps({**manifest, "devnet": "yes"}))
    with pytest.raises(ConfigError, match="devnet must be bool"):
        load_network(copy)


# -- the SDK over a (fake) node --------------------------------------------------------------------


def test_client_sign_and_submit_file(sdk: Client, network_dir: Path, tmp_path: Path) -> None:
    signed = sdk.sign("kv", "echo", {"x": 1})
    assert signed.body.chain_id == CHAIN and approvals_of(signed) == [("org1", "admin")]
    endorsed = _who(network_dir, "org2/client").endorse(signed, CHAIN)
    path = tmp_path / "echo.json"
    save_payload_file(path, endorsed, "default")
    result = sdk.submit_file(path)
    assert result.ok and result.id == signed.id.hex() and result.result == {"x": 1}
    assert sdk.find_tx(signed.id.hex()) is not None
    assert sdk.find_tx("00" * 32) is None
    failing = sdk.sign("kv", "nothing")
    save_payload_file(path, failing, "default")
    with pytest.raises(JinglianError, match=r"no kv\.nothing") as raised:
        sdk.submit_file(path)
    assert raised.value.code == "contract_failed"
    pending = sdk.sign("kv", "echo", {"x": 2})
    save_payload_file(path, pending, "default")
    assert sdk.submit_file(path, wait=False).status == "pending"


def test_client_submit_file_refuses_another_chain(
    sdk: Client, network_dir: Path, tmp_path: Path
) -> None:
    other = _who(network_dir, "org1/admin").sign_tx("prod", "kv", "echo", {})
    path = tmp_path / "other.json"
    save_payload_file(path, other, "default")
    with pytest.raises(WrongChain, match="for chain 'prod', but the node's chain is"):
        sdk.submit_file(path)
