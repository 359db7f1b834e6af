"""The evidence page in headless Chromium against a stub node: hashing, requests, rendering."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import StubNode
from tests.browser.page import page_digest, verify_on_page, write_receipt

pytestmark = pytest.mark.browser

PAGE_CHUNK_BYTES = 4 * 1024 * 1024
"""The page's CHUNK_BYTES: the record below spans three chunks, the last one partial."""


def make_receipt(alg: str = "sha256", digest: str = "00" * 32) -> dict[str, Any]:
    return {
        "format": "jinglian-evidence-receipt",
        "version": 1,
        "deposit": {"digest": digest, "alg": alg, "title": "a record"},
    }


NOT_VALID = {"valid": False, "code": "digest_mismatch", "reason": "The digest differs."}


@pytest.mark.parametrize("alg", ["sha256", "sm3"])
def test_page_hashes_a_multi_chunk_file_and_sends_only_digest_and_receipt(
    driver: WebDriver, stub: StubNode, tmp_path: Path, alg: str
) -> None:
    data = random.Random(alg).randbytes(9 * 1024 * 1024 + 7)
    assert len(data) > 2 * PAGE_CHUNK_BYTES
    record = tmp_path / "record.bin"
    record.write_bytes(data)
    receipt = make_receipt(alg)
    stub.answer = NOT_VALID

    result = verify_on_page(
        driver, stub.page_url, record, write_receipt(tmp_path / "r.json", receipt)
    )

    expected = hashlib.new(alg, data).hexdigest()
    assert page_digest(driver) == expected
    assert stub.requests == [{"digest": expected, "receipt": receipt}]
    assert driver.find_element(By.ID, "progress").get_attribute("value") == "100"
    assert result.get_attribute("data-valid") == "false"
    assert "Not valid" in result.text
    assert "The digest differs." in result.text


def test_page_hashes_an_empty_file(driver: WebDriver, stub: StubNode, tmp_path: Path) -> None:
    record = tmp_path / "empty"
    record.write_bytes(b"")
    stub.answer = NOT_VALID
    verify_on_page(
        driver, stub.page_url, record, write_receipt(tmp_path / "r.json", make_receipt())
    )
    assert page_digest(driver) == hashlib.sha256(b"").hexdigest()


def test_page_shows_a_valid_result_with_its_details(
    driver: WebDriver, stub: StubNode, tmp_path: Path
) -> None:
    record = tmp_path / "contract.pdf"
    record.write_bytes(b"%PDF-1.7 a contract")
    digest = hashlib.sha256(record.read_bytes()).hexdigest()
    stub.answer = {
        "valid": True,
        "result": {
            "deposit_id": "ab" * 32 + ":0",
            "digest": digest,
            "alg": "sha256",
            "title": "Sales contract",
            "type": "pdf",
            "ref": "A-17",
            "depositor": {"id": "cd" * 32, "org": "org1", "role": "client", "name": "alice"},
            "signer": None,
            "chain_id": "testnet",
            "height": 42,
            "time_ms": 1_700_000_000_000,
            "time": "2023-11-14T22:13:20Z",
            "tx_id": "ab" * 32,
            "validators": ["node1", "node2", "node3"],
            "power": 3,
            "total_power": 4,
            "checkpoint_height": None,
        },
    }
    receipt = write_receipt(tmp_path / "r.json", make_receipt(digest=digest))

    result = verify_on_page(driver, stub.page_url, record, receipt)

    assert result.get_attribute("data-valid") == "true"
    text = result.text
    for shown in ("Valid", "alice", "org1", "2023-11-14T22:13:20Z", "42", "ab" * 32):
        assert shown in text
    assert "node1, node2, node3 (power 3 of 4)" in text
    assert "Checkpoint" not in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("this is not json {", "is not JSON"),
        ('{"format": "something-else"}', "not a jinglian evidence receipt"),
        ('{"format": "jinglian-evidence-receipt", "version": 1, "deposit": {"alg": "md5"}}', "md5"),
    ],
)
def test_page_refuses_a_bad_receipt_without_asking_the_node(
    driver: WebDriver, stub: StubNode, tmp_path: Path, content: str, message: str
) -> None:
    record = tmp_path / "record.bin"
    record.write_bytes(b"data")
    receipt = tmp_path / "receipt.json"
    receipt.write_text(content)

    result = verify_on_page(driver, stub.page_url, record, receipt)

    assert result.get_attribute("data-state") == "error"
    assert result.get_attribute("data-valid") is None
    assert message in result.text
    assert stub.requests == []


def test_page_shows_the_nodes_refusal(driver: WebDriver, stub: StubNode, tmp_path: Path) -> None:
    record = tmp_path / "record.bin"
    record.write_bytes(b"data")
    stub.status = 400
    stub.answer = {"error": {"code": "invalid_input", "message": "receipt.deposit: missing"}}

    result = verify_on_page(
        driver, stub.page_url, record, write_receipt(tmp_path / "r.json", make_receipt())
    )

    assert result.get_attribute("data-state") == "error"
    assert "HTTP 400, invalid_input" in result.text
    assert "receipt.deposit: missing" in result.text


def test_page_tells_how_to_verify_without_trusting_the_node(
    driver: WebDriver, stub: StubNode
) -> None:
    driver.get(stub.page_url)
    text = driver.find_element(By.TAG_NAME, "body").text
    assert "this node's word" in text
    assert "jinglian evidence verify FILE RECEIPT --genesis GENESIS" in text
    assert "never leaves this browser" in text
