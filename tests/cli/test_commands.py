"""The CLI against a fake node served by a real uvicorn server (in a thread)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jinglian.api import ApiServer
from jinglian.cli import cli
from jinglian.node.init import create_network
from tests.api.fake_node import FakeNode


@pytest.fixture()
def endpoint(node: FakeNode) -> Iterator[str]:
    """URL of a real API server over the fake node."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = ApiServer(node, "127.0.0.1", 0)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    yield f"http://127.0.0.1:{server.port}"
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture()
def run(network_dir: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Invoke `jinglian ARGS` inside the network directory, pointed at the live fake node."""
    monkeypatch.chdir(network_dir)
    monkeypatch.delenv("JINGLIAN_NET", raising=False)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--endpoint", endpoint])

    yield invoke


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def _one_error_line(result: Result, code: str, exit_code: int = 1) -> str:
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and lines[0].endswith(f"({code})"), lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def test_chain_info(run) -> None:  # type: ignore[no-untyped-def]
    text = _ok(run("chain", "info"))
    assert "chain id    jinglian-dev" in text and "validators  node1 (org1)" in text
    info = json.loads(_ok(run("chain", "info", "--json")))
    assert info["height"] == 0 and info["consensus"] == "tbft"


def test_tx_invoke_and_get(run) -> None:  # type: ignore[no-untyped-def]
    text = _ok(run("tx", "invoke", "kv", "echo", "--args", '{"x": {"$bytes": "AAE="}}'))
    assert "status   ok" in text and "height   1" in text
    assert 'result   {"x": {"$bytes": "AAE="}}' in text
    summary = json.loads(
        _ok(run("tx", "invoke", "kv", "put", "--args", '{"key": "a", "value": 2}', "--json"))
    )
    assert summary["status"] == "ok" and summary["height"] == 2
    assert summary["events"] == [{"contract": "kv", "topic": "put", "data": {"key": "a"}}]
    verified = _ok(run("tx", "get", summary["tx_id"], "--verify"))
    assert "verified block 2" in verified and "4 of 4 voting power" in verified
    record = json.loads(_ok(run("tx", "get", summary["tx_id"], "--json")))
    assert record["verified"] is False and record["id"] == summary["tx_id"]
    assert json.loads(_ok(run("tx", "get", summary["tx_id"], "--verify", "--json")))["verified"]


def test_tx_invoke_no_wait(run, node: FakeNode) -> None:  # type: ignore[no-untyped-def]
    node.hold = True
    text = _ok(run("tx", "invoke", "kv", "put", "--args", '{"key": "a", "value": 1}', "--no-wait"))
    assert "status   pending" in text


def test_failed_call_is_one_line_with_the_receipt_code(run) -> None:  # type: ignore[no-untyped-def]
    line = _one_error_line(run("tx", "invoke", "kv", "nothing"), "contract_failed")
    assert "no kv.nothing" in line
    _one_error_line(run("tx", "invoke", "kv", "burn"), "out_of_gas")


def test_query_and_state(run) -> None:  # type: ignore[no-untyped-def]
    _ok(run("tx", "invoke", "kv", "put", "--args", '{"key": "k", "value": [1, "two"]}'))
    assert _ok(run("query", "kv", "get", "--args", '{"key": "k"}')).strip() == '[1, "two"]'
    proven = _ok(run("query", "kv", "get", "--args", '{"key": "k"}', "--prove"))
    assert "proven   1 state reads" in proven
    state = _ok(run("state", "get", "kv", "k"))
    assert 'kv/k = [1, "two"]' in state and "value proven" in state
    assert "absence proven" in _ok(run("state", "get", "kv", "missing"))
    as_json = json.loads(_ok(run("state", "get", "kv", "k", "--json")))
    assert as_json["verified"] and as_json["decoded"] == [1, "two"]
    unverified = json.loads(_ok(run("state", "get", "kv", "k", "--no-verify", "--json")))
    assert unverified["verified"] is False


def test_blocks(run) -> None:  # type: ignore[no-untyped-def]
    _one_error_line(run("block", "get", "latest"), "not_found")
    _ok(run("tx", "invoke", "kv", "echo"))
    text = _ok(run("block", "get", "latest"))
    assert "height      1" in text and "commit      round 0, 4 signatures" in text
    assert json.loads(_ok(run("block", "get", "1", "--json")))["height"] == 1
    _one_error_line(run("block", "get", "first"), "invalid_input")


def test_contracts(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "token.py"
    source.write_text("def transfer(ctx, to, amount):\n    pass\n")
    assert "status   ok" in _ok(run("contract", "deploy", "token", str(source)))
    assert "status   ok" in _ok(run("contract", "upgrade", "token", str(source)))
    assert _ok(run("contract", "list")).split() == ["token"]
    assert json.loads(_ok(run("contract", "list", "--json"))) == ["token"]
    assert "source_bytes" in _ok(run("contract", "show", "token"))
    _one_error_line(run("contract", "deploy", "x", str(tmp_path / "none.py")), "config_error")


@pytest.mark.parametrize(
    ("args", "code", "reason"),
    [
        (["--args", "{not json"], "invalid_input", "not valid JSON"),
        (["--args", '{"a": 1.5}'], "invalid_input", "floating-point"),
        (["--args", '{"a": NaN}'], "invalid_input", "NaN"),
        (["--args", "[1, 2]"], "invalid_input", "JSON object"),
        (["--args", '{"a": 99999999999999999999}'], "invalid_input", "64-bit"),
        (["--identity", "org9/admin"], "config_error", "known identities"),
    ],
)
def test_invalid_invoke_arguments(run, args: list[str], code: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    line = _one_error_line(run("tx", "invoke", "kv", "put", *args), code)
    assert reason in line


def test_usage_errors_exit_2(run) -> None:  # type: ignore[no-untyped-def]
    line = _one_error_line(run("tx", "invoke", "kv"), "usage_error", exit_code=2)
    assert "Missing argument 'METHOD'" in line and "jinglian tx invoke --help" in line
    _one_error_line(run("tx", "frobnicate"), "usage_error", exit_code=2)
    _one_error_line(run("query", "kv", "get", "--height", "-1"), "usage_error", exit_code=2)


def test_missing_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JINGLIAN_NET", raising=False)
    line = _one_error_line(CliRunner().invoke(cli, ["chain", "info"]), "config_error")
    assert "no network found" in line and "jinglian init" in line
    line = _one_error_line(
        CliRunner().invoke(cli, ["chain", "info", "--net", str(tmp_path)]), "config_error"
    )
    assert "not a network directory" in line


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_node_not_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    create_network(tmp_path / "net", 1, consensus="solo", api_port=_free_port())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JINGLIAN_NET", str(tmp_path / "net"))
    line = _one_error_line(CliRunner().invoke(cli, ["chain", "info"]), "unreachable")
    assert "cannot reach node at http://127.0.0.1:" in line
    assert "jinglian node start net/nodes/node1" in line


def test_init_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "net"), "--orgs", "2", "--json"])
    manifest = json.loads(_ok(result))
    assert manifest["crypto"] == "default" and len(manifest["nodes"]) == 4
    text = _ok(
        CliRunner().invoke(
            cli,
            ["init", str(tmp_path / "gm"), "--orgs", "1", "--crypto", "gm", "--consensus", "solo"],
        )
    )
    assert "crypto gm, consensus solo" in text and "jinglian node start" in text
    again = CliRunner().invoke(cli, ["init", str(tmp_path / "net"), "--orgs", "2"])
    assert "not empty" in _one_error_line(again, "config_error")
    _one_error_line(CliRunner().invoke(cli, ["init", str(tmp_path / "x")]), "usage_error", 2)
    _one_error_line(
        CliRunner().invoke(cli, ["init", str(tmp_path / "x"), "--orgs", "2", "--crypto", "rsa"]),
        "usage_error",
        2,
    )


def test_devnet_status_and_down_without_running_nodes(tmp_path: Path) -> None:
    create_network(tmp_path / "dev", 1, consensus="solo", api_port=_free_port())
    status = CliRunner().invoke(cli, ["devnet", "status", "--dir", str(tmp_path / "dev"), "--json"])
    rows = json.loads(_ok(status))
    assert [(r["name"], r["pid"], r["state"], r["height"]) for r in rows] == [
        ("node1", None, "down", None)
    ]
    (tmp_path / "dev" / "devnet.json").write_text('{"pids": {"node1": 1}}')
    down = CliRunner().invoke(cli, ["devnet", "down", "--dir", str(tmp_path / "dev")])
    assert down.exit_code == 0 and "no devnet nodes were running" in down.stderr
    assert not (tmp_path / "dev" / "devnet.json").exists()
