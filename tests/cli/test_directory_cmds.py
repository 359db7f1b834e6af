"""`jinglian directory` against a real solo node of three departments (org1, org2, org3):
publishing, bulk import (a bad file refused with line numbers and nothing sent), the
sharing workflow, `watch` with automatic approval across a node restart, `head --verify`,
and every refusal: another department's entries, another department's request, a catalog
hung from no duty, a not-shared catalog, oversized and malformed entries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from jinglian.apps.directory import demo
from jinglian.cli import cli
from jinglian.crypto import load_certificate
from jinglian.testing.process import NodeProcess, find_free_port, find_free_ports

PLAN = "301001/000001"  # org1's conditional land-use catalog
OPEN = "301001/000002"  # org1's unconditional catalog
SECRET = "301001/000003"  # org1's not-shared catalog
WATCH_TIMEOUT_S = 60.0


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def _error(result: Result, code: str, exit_code: int = 1) -> str:
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and lines[-1].endswith(f"({code})"), result.stderr
    assert "Traceback" not in result.output
    return result.stderr


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A three-organisation solo network marked as a devnet, its node running (reading the
    SQL index ``NET/index.sqlite``), the directory contract deployed."""
    root = tmp_path_factory.mktemp("dir") / "net"
    api, p2p = find_free_ports(3), find_free_ports(3)
    _ok(_run(
        "init", str(root), "--orgs", "3", "--consensus", "solo",
        "--api-port", str(api), "--p2p-port", str(p2p),
    ))  # fmt: skip
    manifest = json.loads((root / "network.json").read_text())
    (root / "network.json").write_text(json.dumps({**manifest, "devnet": True}))
    node_toml = root / "nodes" / "node1" / "node.toml"
    lines = [line for line in node_toml.read_text().splitlines() if "index_db" not in line]
    node_toml.write_text("\n".join([*lines, 'index_db = "sqlite:///../../index.sqlite"', ""]))
    with NodeProcess(root / "nodes" / "node1") as process:
        process.start()
        _ok(_run("directory", "deploy", "--net", str(root)))
        yield process


@pytest.fixture(scope="module")
def net(node: NodeProcess) -> Path:
    """The network directory, with org1's and org2's directories published by commands."""
    root = node.node_dir.parent.parent
    for args in (
        ["duty", "put", "planning", "--name", "国土空间规划 Spatial planning",
         "--legal-basis", "《中华人民共和国城乡规划法》第十二条"],
        ["catalog", "put", PLAN, "--name", "土地利用规划数据 Land-use planning data",
         "--summary", "Parcels of the land-use plan", "--duty", "planning",
         "--share-type", "conditional", "--condition", "for flood control",
         "--format", "csv", "--cycle", "quarterly", "--release-date", "2024-03-15"],
        ["items", "put", PLAN, "--item", "parcel_id,宗地编号 Parcel id,string,internal",
         "--item", "land_use_class,用地分类,string,public,GB/T 21010-2017",
         "--item", "area_m2,面积,decimal,public"],
        ["catalog", "put", OPEN, "--name", "Open parcels", "--summary", "Open data",
         "--duty", "planning", "--share-type", "unconditional", "--format", "csv",
         "--release-date", "2024-03-15"],
        ["items", "put", OPEN, "--item", "parcel_id,Parcel id,string,public"],
        ["catalog", "put", SECRET, "--name", "Owners", "--summary", "Owners of parcels",
         "--duty", "planning", "--share-type", "not_shared", "--condition", "personal data",
         "--format", "csv", "--release-date", "2024-03-15"],
        ["items", "put", SECRET, "--item", "owner,Owner,string,restricted"],
        ["division", "put", "office", "--name", "办公室 General office"],
    ):  # fmt: skip
        _ok(_run("directory", *args, "--net", str(root)))
    for args in (
        ["duty", "put", "flood", "--name", "防汛排涝 Flood control",
         "--legal-basis", "《中华人民共和国防洪法》第八条"],
        ["division", "put", "flood-office", "--name", "防汛办公室 Flood office"],
    ):  # fmt: skip
        _ok(_run("directory", *args, "--net", str(root), "--identity", "org2/admin"))
    return root


def _on(net: Path, *args: str, identity: str = "org1/admin") -> Result:
    return _run("directory", *args, "--net", str(net), "--identity", identity)


def _json(result: Result) -> Any:
    return json.loads(_ok(result))


def _head(net: Path, org: str) -> dict[str, Any]:
    return _json(_on(net, "head", org, "--json"))  # type: ignore[no-any-return]


# -- publishing ----------------------------------------------------------------------------------


def test_published_entries_read_back(net: Path) -> None:
    shown = _json(
        _on(net, "catalog", "show", PLAN, "--org", "org1", "--json", identity="org2/client")
    )
    missing = _on(net, "catalog", "show", PLAN, identity="org2/client")
    assert "org2 has no catalog '301001/000001'" in _error(missing, "not_found")
    assert shown["catalog"]["org"] == "org1"
    assert shown["catalog"]["duties"] == ["planning"]
    assert [i["code"] for i in shown["items"]] == ["area_m2", "land_use_class", "parcel_id"]
    text = _ok(_on(net, "catalog", "show", PLAN, "--org", "org1", identity="org2/client"))
    assert "土地利用规划数据" in text and "GB/T 21010-2017" in text
    listed = _json(_on(net, "catalog", "list", "--org", "org1", "--json"))
    assert [c["code"] for c in listed] == [PLAN, OPEN, SECRET]
    items = _json(_on(net, "items", "list", PLAN, "--org", "org1", "--json"))
    assert len(items) == 3
    divisions = _json(_on(net, "division", "list", "--org", "org2", "--json"))
    assert [d["id"] for d in divisions] == ["flood-office"]


def test_another_department_cannot_change_org1_entries(net: Path) -> None:
    before = _head(net, "org1")
    retired = _on(net, "duty", "retire", "planning", identity="org2/admin")
    assert "org2 has no active duty 'planning'" in _error(retired, "contract_failed")
    items = _on(net, "items", "retire", PLAN, "parcel_id", identity="org2/admin")
    assert "org2 has no active catalog" in _error(items, "contract_failed")
    # the same code from org2 is org2's own catalog (needs org2's own duty), never org1's
    hung = _on(
        net, "catalog", "put", PLAN, "--name", "x", "--summary", "y", "--duty", "planning",
        "--share-type", "unconditional", "--format", "csv", "--release-date", "2024-01-01",
        identity="org2/admin",
    )  # fmt: skip
    assert "duties[0]: org2 has no active duty 'planning'" in _error(hung, "contract_failed")
    client = _on(net, "duty", "put", "planning", "--name", "x", "--legal-basis", "y",
                 identity="org1/client")  # fmt: skip
    assert "put_duty needs the role admin in org1" in _error(client, "contract_failed")
    assert _head(net, "org1") == before


def test_catalog_not_hung_from_a_duty_and_bad_entries_are_refused(net: Path) -> None:
    before = _head(net, "org1")
    common = ["--summary", "s", "--share-type", "unconditional", "--format", "csv"]
    no_duty = _on(net, "catalog", "put", "301001/000009", "--name", "n", "--duty", "nope",
                  *common, "--release-date", "2024-01-01")  # fmt: skip
    assert "duties[0]: org1 has no active duty 'nope'" in _error(no_duty, "contract_failed")
    bad_code = _on(net, "catalog", "put", "401001/000001", "--name", "n", "--duty", "planning",
                   *common, "--release-date", "2024-01-01")  # fmt: skip
    assert "code must be a catalog code" in _error(bad_code, "contract_failed")
    bad_date = _on(net, "catalog", "put", "301001/000009", "--name", "n", "--duty", "planning",
                   *common, "--release-date", "2023-02-29")  # fmt: skip
    assert "release_date is not a valid date" in _error(bad_date, "contract_failed")
    long_name = _on(net, "duty", "put", "d2", "--name", "x" * 129, "--legal-basis", "y")
    assert "name is 129 characters, over 128" in _error(long_name, "contract_failed")
    bad_item = _on(net, "items", "put", PLAN, "--item", "a,b,string")
    assert "has 3 parts" in _error(bad_item, "invalid_input")
    bad_type = _on(net, "items", "put", PLAN, "--item", "a,b,text,public")
    assert "items[0].data_type must be one of" in _error(bad_type, "contract_failed")
    assert _head(net, "org1") == before


# -- bulk import ---------------------------------------------------------------------------------


GOOD_JSON = {
    "duties": [{"id": "supply", "name": "供水 Water supply", "legal_basis": "《城市供水条例》"}],
    "divisions": [{"id": "supply-office", "name": "供水处 Supply division"}],
    "catalogs": [
        {
            "code": "302001/000001",
            "name": "供水管网 Water mains",
            "summary": "The city's water mains",
            "duties": ["supply"],
            "share_type": "unconditional",
            "share_condition": "",
            "share_mode": "file",
            "format": "shp",
            "update_cycle": "yearly",
            "open_attribute": "open",
            "release_date": "2023-05-01",
            "items": [
                {"code": "pipe_id", "name": "管段编号", "data_type": "string", "sensitivity": "public"},
                {"code": "diameter_mm", "name": "管径", "data_type": "integer",
                 "sensitivity": "public", "standard": "CJJ 101"},
            ],
        }
    ],
}  # fmt: skip


def test_import_json_and_csv_then_again_sends_nothing(net: Path, tmp_path: Path) -> None:
    source = tmp_path / "water.json"
    source.write_text(json.dumps(GOOD_JSON, ensure_ascii=False, indent=2))
    first = _json(_on(net, "import", str(source), "--json", identity="org2/admin"))
    assert first["to_send"] == {"duties": 1, "divisions": 1, "catalogs": 1, "items": 2}
    assert first["committed"] == first["transactions"] == 4 and not first["failed"]
    again = _json(_on(net, "import", str(source), "--json", identity="org2/admin"))
    assert again["transactions"] == 0
    assert again["unchanged"] == {"duties": 1, "divisions": 1, "catalogs": 1, "items": 2}
    assert "nothing to send" in _ok(_on(net, "import", str(source), identity="org2/admin"))
    catalogs = tmp_path / "catalogs.csv"
    catalogs.write_text(
        "code,name,summary,duties,share_type,share_condition,share_mode,format,update_cycle,"
        "open_attribute,release_date,related\n"
        "302001/000002,排水管网 Drains,Drains of the city,supply;flood,conditional,"
        "for planning,api,json,monthly,not_open,2024-01-01,org1:301001/000001\n"
    )
    items = tmp_path / "items.csv"
    items.write_text(
        "catalog,code,name,data_type,sensitivity,standard\n"
        "302001/000002,drain_id,排水管编号,string,internal,\n"
        "302001/000001,diameter_mm,管径 (mm),integer,public,CJJ 101\n"
    )
    dry = _json(_on(net, "import", str(catalogs), str(items), "--dry-run", "--json",
                    identity="org2/admin"))  # fmt: skip
    assert dry["to_send"] == {"duties": 0, "divisions": 0, "catalogs": 1, "items": 2}
    assert dry["committed"] == 0
    done = _json(_on(net, "import", str(catalogs), str(items), "--json", identity="org2/admin"))
    assert done["committed"] == 3  # one catalog, and one items batch for each of 2 catalogs
    shown = _json(_on(net, "catalog", "show", "302001/000001", "--org", "org2", "--json"))
    assert {i["code"]: i["name"] for i in shown["items"]}["diameter_mm"] == "管径 (mm)"


def test_a_bad_file_is_refused_with_line_numbers_and_nothing_sent(
    net: Path, tmp_path: Path
) -> None:
    before = _head(net, "org2")
    bad = tmp_path / "bad.json"
    bad.write_text(
        "{\n"
        '  "duties": [\n'
        '    {"id": "ok-duty", "name": "fine", "legal_basis": "law"},\n'
        '    {"id": "bad id", "name": "x", "legal_basis": "y"}\n'
        "  ],\n"
        '  "catalogs": [\n'
        '    {"code": "302001/000003", "name": "' + "n" * 129 + '", "summary": "s",\n'
        '     "duties": ["ok-duty"], "share_type": "sometimes", "share_condition": "",\n'
        '     "share_mode": "file", "format": "csv", "update_cycle": "yearly",\n'
        '     "open_attribute": "open", "release_date": "2023-01-01",\n'
        '     "items": [{"code": "x", "name": "", "data_type": "string",\n'
        '                "sensitivity": "public"}]}\n'
        "  ]\n"
        "}\n"
    )
    refused = _on(net, "import", str(bad), identity="org2/admin")
    stderr = _error(refused, "invalid_input")
    assert f"{bad}:4: id may hold only letters" in stderr
    assert f"{bad}:7: name is 129 characters, over 128" in stderr
    assert f"{bad}:11: name must not be empty" in stderr
    assert f"{bad}:7: share_type must be one of unconditional" in stderr
    assert "4 problems" in stderr and "nothing was sent" in stderr
    csv_file = tmp_path / "items.csv"
    csv_file.write_text(
        "catalog,code,name,data_type,sensitivity\n"
        "302001/000001,a,A,string,public\n"
        "302001/000001,b,B,number,public\n"
        "302001/000001,a,A again,string,public\n"
        "302001/000099,c,C,string,public\n"
        "302001/000001,d,D\n"
    )
    refused_csv = _error(_on(net, "import", str(csv_file), identity="org2/admin"), "invalid_input")
    assert f"{csv_file}:3: data_type must be one of" in refused_csv
    assert f"{csv_file}:4: item '302001/000001 a' repeats {csv_file}:2" in refused_csv
    assert f"{csv_file}:6: 3 columns, the header has 5" in refused_csv
    # an item of a catalog that exists nowhere is found when compared with the chain
    orphan = tmp_path / "orphan.csv"
    orphan.write_text("catalog,code,name,data_type,sensitivity\n302001/000099,c,C,string,public\n")
    refused_orphan = _error(_on(net, "import", str(orphan), identity="org2/admin"), "invalid_input")
    assert f"{orphan}:2: org2 has no active catalog '302001/000099'" in refused_orphan
    rootless = tmp_path / "rootless.csv"
    rootless.write_text(
        "code,name,summary,duties,share_type,share_condition,share_mode,format,update_cycle,"
        "open_attribute,release_date\n"
        "302001/000005,No duty,Hangs from nothing,,unconditional,,file,csv,yearly,open,2024-01-01\n"
    )
    no_root = _error(_on(net, "import", str(rootless), identity="org2/admin"), "invalid_input")
    assert f"{rootless}:2: duties must hold 1 to 16 entries, not 0" in no_root
    header = tmp_path / "weird.csv"
    header.write_text("what,ever\n1,2\n")
    assert "weird.csv:1: header" in _error(_on(net, "import", str(header)), "invalid_input")
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "duties": [\n    {"id": "a",}\n  ]\n}\n')
    assert "broken.json:3: not valid JSON" in _error(
        _on(net, "import", str(broken)), "invalid_input"
    )
    deep = tmp_path / "deep.json"
    deep.write_text('{"duties": ' + "[" * 100_000 + "]" * 100_000 + "}")
    nested = _error(_on(net, "import", str(deep)), "invalid_input")
    assert "deep.json:1: nested too deeply" in nested
    source = tmp_path / "water.json"
    source.write_text(json.dumps(GOOD_JSON))
    client = _on(net, "import", str(source), identity="org2/client")
    assert "publishing needs an admin" in _error(client, "invalid_input")
    assert _head(net, "org2") == before


# -- sharing -------------------------------------------------------------------------------------


def _request(net: Path, catalog: str, *extra: str, identity: str = "org2/client") -> Result:
    return _on(
        net, "request", "org1", catalog, "--items", "parcel_id", "--duty", "flood",
        "--purpose", "flood risk map", "--days", "30", *extra, identity=identity,
    )  # fmt: skip


def test_request_approve_reject_revoke(net: Path) -> None:
    pending = _json(_request(net, PLAN, "--json", "--division", "flood-office"))
    assert pending["status"] == "pending"
    text = _ok(_on(net, "requests", "--to", "org1"))
    assert f"{pending['id']}  pending" in text
    stranger = _on(net, "approve", str(pending["id"]), identity="org3/admin")
    assert "addressed to org1, not to org3" in _error(stranger, "contract_failed")
    requester = _on(net, "approve", str(pending["id"]), identity="org2/admin")
    assert "not to org2" in _error(requester, "contract_failed")
    approved = _json(_on(net, "approve", str(pending["id"]), "--json", identity="org1/client"))
    assert approved["grant"] == pending["id"] and approved["end"] > 0
    grant = _json(_on(net, "show", "grant", str(pending["id"]), "--json"))
    assert grant["requester"] == "org2" and grant["items"] == ["parcel_id"]
    again = _on(net, "approve", str(pending["id"]))
    assert "contract_failed" in _error(again, "contract_failed")
    second = _json(_request(net, PLAN, "--json"))
    _ok(_on(net, "reject", str(second["id"]), "--reason", "use the open catalog"))
    rejected = _json(_on(net, "show", "request", str(second["id"]), "--json"))
    assert rejected["status"] == "rejected" and rejected["reason"] == "use the open catalog"
    stranger_revoke = _on(net, "revoke", str(pending["id"]), "--reason", "x", identity="org3/admin")
    _error(stranger_revoke, "contract_failed")
    _ok(_on(net, "revoke", str(pending["id"]), "--reason", "project ended"))
    assert _json(_on(net, "show", "grant", str(pending["id"]), "--json"))["status"] == "revoked"
    opened = _json(_request(net, OPEN, "--json"))
    assert opened["status"] == "granted"
    secret = _request(net, SECRET)
    assert "is not shared" in _error(secret, "contract_failed")
    unjustified = _on(
        net, "request", "org1", PLAN, "--items", "parcel_id", "--duty", "no-such-duty",
        "--purpose", "p", "--days", "30", identity="org2/client",
    )  # fmt: skip
    assert "org2 has no active duty 'no-such-duty'" in _error(unjustified, "contract_failed")
    mine = _json(_on(net, "requests", "--from", "org2", "--json"))
    assert {r["id"] for r in mine} >= {pending["id"], second["id"], opened["id"]}
    _error(_on(net, "requests"), "usage_error", exit_code=2)


def test_division_members_request_in_their_division(net: Path) -> None:
    for division in ("flood", "drains"):
        _ok(
            _on(
                net,
                "division",
                "put",
                division,
                "--name",
                f"{division} office",
                identity="org2/admin",
            )
        )
    added = _json(_on(net, "member", "add", "flood", "li.na", "--json", identity="org2/admin"))
    assert added == {
        "identity": "org2/li.na",
        "division": "flood",
        "org": "org2",
        "role": "client",
        "cert": "orgs/org2/users/li.na/cert.pem",
        "key": "orgs/org2/users/li.na/key.pem",
    }
    cert = load_certificate((net / added["cert"]).read_bytes())
    assert (cert.org_id, cert.role, cert.division, cert.common_name) == (
        "org2", "client", "flood", "li.na.org2",
    )  # fmt: skip
    assert (net / added["key"]).stat().st_mode & 0o777 == 0o600
    assert "org2/li.na" in json.loads((net / "network.json").read_text())["identities"]
    done = _json(_request(net, OPEN, "--json", identity="org2/li.na"))
    assert _json(_on(net, "show", "request", str(done["id"]), "--json"))["division"] == "flood"
    assert "division       flood" in _ok(_on(net, "show", "request", str(done["id"])))
    assert f"{done['id']}  granted   org2 (flood) -> org1" in _ok(
        _on(net, "requests", "--from", "org2")
    )
    other = _request(net, OPEN, "--division", "flood-office", identity="org2/li.na")
    assert "your certificate is of division 'flood'" in _error(other, "contract_failed")
    _ok(_on(net, "member", "add", "drains", "wu.gang", identity="org2/admin"))
    _ok(_on(net, "division", "retire", "drains", identity="org2/admin"))
    retired = _request(net, OPEN, identity="org2/wu.gang")
    assert "'drains' is not an active division of org2" in _error(retired, "contract_failed")
    before = (net / "network.json").read_text()
    users = sorted(path.name for path in (net / "orgs" / "org2" / "users").iterdir())
    for args, message in (
        (["drains", "x1"], "org2 has no active division 'drains'"),
        (["nowhere", "x1"], "org2 has no active division 'nowhere'"),
        (["flood", "li.na"], "identity org2/li.na already exists"),
        (["flood", "admin"], "identity org2/admin already exists"),
        (["flood", "../x1"], "member name '../x1' must be"),
    ):
        refused = _on(net, "member", "add", *args, identity="org2/admin")
        assert message in _error(refused, "invalid_input")
    assert (net / "network.json").read_text() == before
    assert sorted(path.name for path in (net / "orgs" / "org2" / "users").iterdir()) == users


def test_head_verify(net: Path) -> None:
    verified = _json(_on(net, "head", "org1", "--verify", "--json"))
    assert verified["verified"] is True and verified["log_entries"] == verified["seq"] > 0
    assert "verified: the log's" in _ok(_on(net, "head", "org1", "--verify"))
    empty = _json(_on(net, "head", "org3", "--json"))
    assert empty["seq"] == 0 and empty["head"] == ""


# -- watch ---------------------------------------------------------------------------------------


def _watch(net: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "jinglian.cli", "directory", "watch", "--net", str(net),
         "--json", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _connected(process: subprocess.Popen[str]) -> None:
    """Wait until the watch says it has caught up with the chain (its stderr)."""
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("connected"):
            return
    raise AssertionError("watch ended before connecting")


def _finish(process: subprocess.Popen[str], notes: list[str] | None = None) -> list[dict[str, Any]]:
    try:
        out, err = process.communicate(timeout=WATCH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"watch did not finish: {out}\n{err}") from None
    assert process.returncode == 0, err
    if notes is not None:
        notes += err.splitlines()
    return [json.loads(line) for line in out.splitlines()]


def _height(net: Path) -> int:
    return int(json.loads(_ok(_run("chain", "info", "--json", "--net", str(net))))["height"])


def test_watch_auto_approves_by_rule_and_resumes_after_a_node_restart(
    net: Path, node: NodeProcess, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\ncatalogs = ["301001/000001"]\nrequesters = ["org2"]\nduties = ["flood"]\n'
        "period_days_max = 60\n"
    )
    state = tmp_path / "org1.watch"
    start = _height(net)
    watcher = _watch(
        net, "--identity", "org1/admin", "--auto-approve", str(rules), "--since", str(start),
        "--state", str(state), "--exit-after", "4",
    )  # fmt: skip
    notes: list[str] = []
    try:
        _connected(watcher)
        node.stop()
        node.start()
        allowed = _json(_request(net, PLAN, "--json"))
        too_long = _json(
            _on(net, "request", "org1", PLAN, "--items", "parcel_id", "--duty", "flood",
                "--purpose", "a long study", "--days", "90", "--json", identity="org2/client")
        )  # fmt: skip
        lines = _finish(watcher, notes)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert any("reconnecting" in note for note in notes), notes
    assert any(note.startswith("connected") for note in notes), notes
    events = [(line["event"], line.get("request")) for line in lines]
    assert events == [
        ("requested", allowed["id"]),
        ("approved", allowed["id"]),
        ("requested", too_long["id"]),
        ("left", too_long["id"]),
    ], lines
    assert _json(_on(net, "show", "request", str(allowed["id"]), "--json"))["status"] == "granted"
    assert _json(_on(net, "show", "request", str(too_long["id"]), "--json"))["status"] == "pending"
    # the requester's watch, from the same height, sees the decisions on its own requests once
    saved = json.loads(state.read_text())
    assert saved["org"] == "org1" and saved["height"] >= start
    _ok(_on(net, "reject", str(too_long["id"]), "--reason", "90 days is too long"))
    requester = _watch(net, "--identity", "org2/client", "--since", str(start), "--exit-after", "2")
    seen = [(line["event"], line.get("request")) for line in _finish(requester)]
    assert seen == [("granted", allowed["id"]), ("rejected", too_long["id"])]
    # org1's watch started again from its state file handles nothing twice: the next
    # thing it prints is a new request
    resumed = _watch(net, "--identity", "org1/admin", "--auto-approve", str(rules),
                     "--state", str(state), "--exit-after", "2")  # fmt: skip
    try:
        _connected(resumed)
        newest = _json(_request(net, PLAN, "--json"))
        again = [(line["event"], line.get("request")) for line in _finish(resumed)]
    finally:
        if resumed.poll() is None:
            resumed.kill()
    assert again == [("requested", newest["id"]), ("approved", newest["id"])]


def test_watch_refuses_bad_rule_files(net: Path, tmp_path: Path) -> None:
    for text, message in (
        ("[[rule]]\ncatalogs = []\nrequesters = ['org2']\n", "catalogs must be a non-empty list"),
        ("[[rule]]\ncatalogs = ['*']\nrequesters = ['*']\nwho = 1\n", "unknown key 'who'"),
        ("rule = 3\n", "no rules"),
        ("[[rule]\n", "not valid TOML"),
        ("[[rule]]\ncatalogs = '*'\nrequesters = '*'\nperiod_days_max = -1\n", "period_days_max"),
    ):
        rules = tmp_path / "rules.toml"
        rules.write_text(text)
        refused = _on(net, "watch", "--auto-approve", str(rules))
        assert message in _error(refused, "invalid_input"), text


# -- search, report and fetch --------------------------------------------------------------------


def _serve_exchange(net: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    sources = demo.write_sources(tmp_path / "sources", count=40)
    config_dir = tmp_path / "exchange"
    port = find_free_port()
    _ok(_run(
        "exchange", "init", "--net", str(net), "--identity", "org1/admin", "--dir",
        str(config_dir), "--port", str(port), "--source", f"{PLAN}={sources['landuse.csv']}",
    ))  # fmt: skip
    service = subprocess.Popen(
        [sys.executable, "-m", "jinglian.cli", "exchange", "run", "--config",
         str(config_dir / "exchange.toml")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + WATCH_TIMEOUT_S
    while time.monotonic() < deadline:
        status = _run("exchange", "status", "--config", str(config_dir / "exchange.toml"), "--json")
        if status.exit_code == 0 and json.loads(status.stdout).get("up"):
            return service
        time.sleep(0.2)
    service.kill()
    raise AssertionError("the exchange service did not come up")


def test_fetch_search_and_report(net: Path, tmp_path: Path) -> None:
    service = _serve_exchange(net, tmp_path)
    try:
        asked = _json(_request(net, PLAN, "--json"))
        _ok(_on(net, "approve", str(asked["id"])))
        out = tmp_path / "landuse.csv"
        started = time.monotonic()
        fetched = _json(_on(net, "fetch", str(asked["id"]), "-o", str(out), "--json",
                            identity="org2/client"))  # fmt: skip
        seconds = time.monotonic() - started
        assert fetched["status"] == "confirmed" and fetched["size"] == out.stat().st_size
        rows = out.read_text().splitlines()
        assert rows[0] == "parcel_id" and len(rows) == 41, rows[:3]
        delivery = _json(_on(net, "show", "delivery", str(fetched["delivery"]), "--json"))
        assert delivery["response_hash"] == fetched["payload_hash"]
        assert delivery["status"] == "confirmed"
        print(f"request-to-file fetch took {seconds:.2f} s")
        _ok(_on(net, "revoke", str(asked["id"]), "--reason", "done"))
        revoked = _on(net, "fetch", str(asked["id"]), "-o", str(tmp_path / "again.csv"),
                      identity="org2/client")  # fmt: skip
        assert "revoked" in _error(revoked, "permission_denied")
        assert not (tmp_path / "again.csv").exists()
        stranger = _on(net, "fetch", str(asked["id"]), "-o", str(tmp_path / "x.csv"),
                       identity="org3/client")  # fmt: skip
        _error(stranger, stranger.stderr.strip().rsplit("(", 1)[-1].rstrip(")"))
        assert not (tmp_path / "x.csv").exists()
    finally:
        service.terminate()
        service.wait(timeout=30)
    _ok(_run("indexer", "run", "--once", "--net", str(net)))
    hits = _json(_on(net, "search", "土地利用", "--json"))
    assert [(c["org"], c["code"]) for c in hits["catalogs"]] == [("org1", PLAN)]
    listed = _ok(_on(net, "search", "--class", "301", "--provider", "org1"))
    assert "org1:301001/000001" in listed
    assert listed.startswith("3 catalogs match; 1-3 shown:")
    assert _ok(_on(net, "search", "土地利用", "--start", "5")).startswith(
        "1 catalog matches; none shown from position 6"
    )
    report = _json(_on(net, "report", "--org", "org1", "--json"))
    assert report["delivery"]["by_provider"][0]["count"] >= 1
    assert "request to decision" in _ok(_on(net, "report", "--since", "2020-01-01"))
    bad = _on(net, "report", "--since", "yesterday")
    assert "--since takes YYYY-MM-DD" in _error(bad, "invalid_input")


def test_an_undeployed_contract_says_how_to_deploy_it(net: Path) -> None:
    missing = _on(net, "catalog", "list", "--contract", "nosuch")
    assert "jinglian directory deploy --contract nosuch" in _error(missing, "unknown_contract")
