"""The exchange's parts without a node: config checks, sources cut to granted items, the
durable response store and its pruning, and request parsing and hashing."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from pathlib import Path

import pytest

from jinglian.crypto import get_suite
from jinglian.exchange import FetchRequest, SourceError, load_config, read_payload, request_hash
from jinglian.exchange.config import Source, render_config
from jinglian.exchange.protocol import (
    REQUEST_BYTES_MAX,
    parse_request,
    response_hash,
    signing_bytes,
)
from jinglian.exchange.store import ResponseStore, StoredResponse
from jinglian.types.errors import ConfigError, DecodeError, InvalidInput, TooLarge

BASE = {
    "net": "net",
    "identity": "org1/admin",
    "host": "127.0.0.1",
    "port": 8650,
    "url": "https://127.0.0.1:8650",
    "tls_cert": "tls/c.pem",
    "tls_key": "tls/c.key",
    "state_dir": "state",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exchange.toml"
    path.write_text(text)
    return path


def test_config_round_trip_and_relative_paths(tmp_path: Path) -> None:
    sources = {
        "301001/000001": {"file": "data/a.csv", "format": "csv"},
        "301001/000002": {"url": "sqlite:///x.db", "query": "SELECT 1", "format": "json"},
    }
    config = load_config(write(tmp_path, render_config(dict(BASE), sources)))
    assert config.org == "org1" and config.net == tmp_path / "net"
    assert config.sources["301001/000001"].file == tmp_path / "data" / "a.csv"
    assert config.sources["301001/000002"].query == "SELECT 1"
    assert config.skew_ms == 300_000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"port": 70000}, "port"),
        ({"port": "8650"}, "port"),
        ({"identity": "admin"}, "org/role"),
        ({"url": "http://x"}, "https://"),
        ({"skew_ms": 10}, "skew_ms"),
        ({"payload_bytes_max": 0}, "payload_bytes_max"),
    ],
)
def test_config_refusals_name_the_key(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    values = {**BASE, **change}
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, render_config(values, {})))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('file = "a"\nurl = "sqlite://"\nquery = "x"', "not both"),
        ('file = "a"\nformat = "xml"', "format"),
        ('url = "sqlite://"\nquery = "x"\nformat = "bytes"', "format"),
        ('url = "sqlite://"', "needs file"),
        ('file = "a"\npassword = "x"', "unknown key"),
    ],
)
def test_source_refusals(tmp_path: Path, entry: str, message: str) -> None:
    text = render_config(dict(BASE), {}) + f'\n[sources."c"]\n{entry}\n'  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))
    with pytest.raises(ConfigError, match="not TOML"):
        load_config(write(tmp_path, "port = = 1"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_sources_are_cut_to_granted_items_in_grant_order(tmp_path: Path) -> None:
    csv_path = tmp_path / "a.csv"
    csv_path.write_bytes("\ufeffa,b,c\r\n1,2,3\r\n4,5,6\r\n".encode())
    source = Source("c", "csv", file=csv_path)
    assert read_payload(source, ["c", "a"], 1000) == b"c,a\r\n3,1\r\n6,4\r\n"
    with pytest.raises(SourceError, match="no column for granted item 'd'"):
        read_payload(source, ["a", "d"], 1000)
    with pytest.raises(TooLarge):
        read_payload(source, ["a", "b", "c"], 10)
    json_path = tmp_path / "a.json"
    json_path.write_text(json.dumps([{"a": 1, "b": "x"}, {"a": 2, "c": True}]))
    rows = json.loads(read_payload(Source("c", "json", file=json_path), ["b", "a"], 1000))
    assert rows == [{"b": "x", "a": 1}, {"b": None, "a": 2}]
    json_path.write_text('{"not": "a list"}')
    with pytest.raises(SourceError, match="list of objects"):
        read_payload(Source("c", "json", file=json_path), ["a"], 1000)
    raw = os.urandom(100)
    (tmp_path / "blob").write_bytes(raw)
    assert read_payload(Source("c", "bytes", file=tmp_path / "blob"), ["x"], 1000) == raw
    with pytest.raises(SourceError, match="No such file"):
        read_payload(Source("c", "csv", file=tmp_path / "gone.csv"), ["a"], 1000)


def test_sql_source_and_its_errors(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE t (a INTEGER, b TEXT, d DATE)")
        connection.execute("INSERT INTO t VALUES (1, 'é', '2024-02-29')")
    source = Source("c", "csv", url=f"sqlite:///{db}", query="SELECT a, b, d FROM t")
    assert read_payload(source, ["b", "d"], 1000).decode() == "b,d\r\né,2024-02-29\r\n"
    bad = Source("c", "csv", url=f"sqlite:///{db}", query="SELECT x FROM nowhere")
    with pytest.raises(SourceError, match="no such table"):
        read_payload(bad, ["a"], 1000)
    with pytest.raises(SourceError, match="bad URL"):
        read_payload(Source("c", "csv", url="nonsense://", query="SELECT 1"), ["a"], 1000)


def test_store_writes_whole_entries_and_prunes_old_ones(tmp_path: Path) -> None:
    store = ResponseStore(tmp_path)
    first = StoredResponse("a" * 64, 1, "c" * 64, "d" * 64, 5, created_ms=1_000)
    second = StoredResponse("b" * 64, 1, "c" * 64, "e" * 64, 6, created_ms=9_000)
    store.put(first, b"envelope-a")
    store.put(second, b"envelope-b")
    assert store.get("a" * 64) == first and store.envelope("a" * 64) == b"envelope-a"
    assert not list(store.root.glob("*.tmp")), "temporary files are renamed into place"
    store.set_record(dataclasses.replace(first, delivery=3))
    assert store.get("a" * 64) == dataclasses.replace(first, delivery=3)
    assert store.get("f" * 64) is None
    (store.root / ("f" * 64 + ".sealed")).write_bytes(b"orphan: no record")
    assert store.get("f" * 64) is None, "an envelope without its record is not stored"
    assert store.prune(created_before_ms=5_000) == 1
    assert store.get("a" * 64) is None and store.get("b" * 64) == second
    with pytest.raises(ValueError):
        store.get("../../etc/passwd")


def test_request_parsing_refuses_bad_shapes() -> None:
    request = FetchRequest.new("chain", 7, "org1", b"\x01" * 32, 123)
    body = json.loads(
        FetchRequest(
            request.chain_id, 7, "org1", request.cert_id, request.nonce, 123, b"\x30\x02"
        ).to_json()
    )
    assert parse_request(json.dumps(body).encode()).grant == 7
    cases = [
        (b"x" * (REQUEST_BYTES_MAX + 1), TooLarge),
        (b"\xff\xfe", DecodeError),
        (b"[]", InvalidInput),
        (json.dumps({**body, "v": 2}).encode(), InvalidInput),
        (json.dumps({**body, "v": True}).encode(), InvalidInput),
        (json.dumps({**body, "grant": 0}).encode(), InvalidInput),
        (json.dumps({**body, "grant": True}).encode(), InvalidInput),
        (json.dumps({**body, "cert_id": "AB" * 32}).encode(), InvalidInput),
        (json.dumps({**body, "nonce": "00"}).encode(), InvalidInput),
        (json.dumps({**body, "extra": 1}).encode(), InvalidInput),
        (json.dumps({**body, "server": "00" * 31}).encode(), InvalidInput),
    ]
    for raw, error in cases:
        with pytest.raises(error):
            parse_request(raw)


def test_hashes_bind_the_signature_and_the_request() -> None:
    suite = get_suite("default")
    key = suite.generate_key()
    base = FetchRequest.new("chain", 7, "org1", b"\x01" * 32, 123)
    signed = dataclasses.replace(base, signature=key.sign(signing_bytes(base)))
    again = parse_request(signed.to_json())
    assert request_hash(suite, again) == request_hash(suite, signed)
    other = FetchRequest.new("chain", 7, "org1", b"\x01" * 32, 123)
    assert signing_bytes(other) != signing_bytes(base), "a fresh nonce"
    req_hash = request_hash(suite, signed)
    assert response_hash(suite, req_hash, b"data") == suite.hash(req_hash + b"data")
    assert response_hash(suite, req_hash, b"data") != response_hash(suite, bytes(32), b"data")
