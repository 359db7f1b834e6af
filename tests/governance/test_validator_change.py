"""A validator-set change on four BFT node processes: the h + 2 rule, liveness, restart, receipts.

The organisations change node1's voting power by endorsements (every
organisation's admin on this devnet) while node4 is stopped. The change
commits in block h; blocks h and h + 1 are signed by the old set, block h + 2
on by the new one, as each header's ``validators_hash`` shows. The chain
keeps committing with three validators; node4, resumed, catches up across
the change, and killed and restarted, reads the changed config back from its
store; and an evidence receipt for a later block verifies offline from
genesis with the proven change.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from jinglian.apps.evidence import fetch_receipt, put_files, verify_receipt
from jinglian.client import Client, Identity
from jinglian.client.endorse import invoke_governed, local_approvers
from jinglian.client.network import load_genesis, load_network
from jinglian.testing.process import NodeProcess, detached_devnet, devnet_pids
from jinglian.types.validators import validator_set_of

CATCH_UP_TIMEOUT_S = 60.0


def _validators_hash(client: Client, height: int) -> str:
    return str(client.get_block(height)["header"]["validators_hash"])


def test_power_change_applies_two_blocks_later(tmp_path: Path) -> None:
    with detached_devnet(tmp_path / "net") as net:
        network = load_network(net)
        genesis = load_genesis(net / "genesis.json")
        with Client.from_network(net, "org1/admin") as client:
            # node4 is stopped (SIGSTOP: it keeps its ports) while the set changes; resumed,
            # it catches up across the change.
            node4_pid = devnet_pids(net)["node4"]
            os.kill(node4_pid, signal.SIGSTOP)
            changed = invoke_governed(
                client,
                "chain_config",
                "set_validator_power",
                {"name": "node1", "power": 2},
                approvers=local_approvers(network, first_org="org1"),
            )
            h = changed.result.height
            assert h is not None
            doc = tmp_path / "doc.txt"
            doc.write_text("minutes of the meeting\n")
            for _ in range(3):  # three more blocks at least
                put_files(client, [doc])
            old = _validators_hash(client, h)
            assert old == validator_set_of(genesis).hash.hex()
            assert _validators_hash(client, h + 1) == old
            assert _validators_hash(client, h + 2) != old
            assert client.query("chain_config", "get").value["validators"][0]["power"] == 2

            deposited = put_files(client, [doc])[0]
            verified = verify_receipt(fetch_receipt(client, deposited.deposit_id), genesis)
            assert verified.validator_changes == 1
            reader = Identity.from_network(net, "org1/admin")
            os.kill(node4_pid, signal.SIGCONT)
            _same_head(client, network.node("node4").api_url, reader, doc)
            # Killed and restarted at once, node4 reads the changed set from its store.
            os.kill(node4_pid, signal.SIGKILL)
            with NodeProcess(net / "nodes" / "node4") as node4:
                node4.start()
                _same_head(client, network.node("node4").api_url, reader, doc)


def _same_head(client: Client, url: str, reader: Identity, doc: Path) -> None:
    """After one more deposit, the node at ``url`` reaches the head with the same header."""
    put_files(client, [doc])
    target = client.chain_info()["height"]
    with Client(url, reader) as other:
        _wait_for_height(other, target)
        assert client.get_block(target)["header"] == other.get_block(target)["header"]


def _wait_for_height(client: Client, height: int) -> None:
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while client.chain_info()["height"] < height:
        assert time.monotonic() < deadline, f"the restarted node did not reach block {height}"
        time.sleep(0.2)
