"""The evidence page served by a real solo node, checking a receipt the SDK got from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from jinglian.apps.evidence import deploy_evidence_contract, put_files
from jinglian.client import Client
from jinglian.testing.process import NodeProcess, make_solo_network
from tests.browser.page import page_digest, verify_on_page, write_receipt

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def net_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_solo_network(tmp_path_factory.mktemp("evidence-page"))


@pytest.fixture(scope="module")
def node(net_dir: Path) -> Iterator[NodeProcess]:
    with NodeProcess(net_dir / "nodes" / "node1") as process:
        process.start()
        yield process


def test_page_on_a_node_verifies_a_receipt_and_refuses_a_changed_file(
    driver: WebDriver, net_dir: Path, node: NodeProcess, tmp_path: Path
) -> None:
    record = tmp_path / "contract.pdf"
    record.write_bytes(b"%PDF-1.7 a sales contract\n" * 4096)
    with Client.from_network(net_dir, identity="org1/admin") as client:
        deploy_evidence_contract(client)
        [deposited] = put_files(client, [record], {"ref": "A-17"})
    receipt = write_receipt(tmp_path / "contract.receipt.json", deposited.receipt)
    # Without the trailing slash: the node redirects, and the page's relative URLs still work.
    page_url = f"{node.api_url}/evidence/page"

    result = verify_on_page(driver, page_url, record, receipt)

    assert result.get_attribute("data-valid") == "true", result.text
    assert page_digest(driver) == deposited.digest.hex()
    for shown in ("Valid", "org1", "admin", deposited.deposit_id, "node1", "A-17"):
        assert shown in result.text

    changed = tmp_path / "contract-changed.pdf"
    data = bytearray(record.read_bytes())
    data[1000] ^= 0x01
    changed.write_bytes(data)

    result = verify_on_page(driver, page_url, changed, receipt)

    assert result.get_attribute("data-valid") == "false", result.text
    assert "Not valid" in result.text
    assert "digest" in result.text
