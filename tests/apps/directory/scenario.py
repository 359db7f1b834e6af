"""A real two-department chain for the index and route tests: org1 (planning) publishes, org2
(water) requests; every step of the workflow happens once, through the SDK on a solo node.

``run_scenario`` returns what it did (ids) so tests can compare the index with the contract.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinglian.apps.directory import service
from jinglian.client import Client, load_network, local_approvers
from jinglian.node.init import create_network
from jinglian.testing.process import find_free_port

PLAN = "301001/000001"
"""org1's conditional catalog (a Chinese name)."""
OPEN = "301001/000002"
"""org1's unconditional catalog."""
WATER = "202003/000001"
"""org2's own catalog."""
PLAN_NAME = "土地利用规划数据"
EXCHANGE_URL = "https://org1.example:7443"


def make_net(tmp: Path) -> Path:
    """A two-organisation solo network on free ports."""
    net = tmp / "net"
    create_network(net, 2, consensus="solo", api_port=find_free_port(), p2p_port=find_free_port())
    return net


def catalog_fields(name: str, share_type: str, duty: str = "planning") -> dict[str, Any]:
    return {
        "name": name,
        "summary": f"{name}: parcels, zoning and land use of the city (Land-Use Plan)",
        "duties": [duty],
        "share_type": share_type,
        "share_condition": "" if share_type == "unconditional" else "for water planning only",
        "share_mode": "file",
        "data_format": "csv",
        "update_cycle": "quarterly",
        "open_attribute": "not_open",
        "release_date": "2024-02-29",
        "related": [],
    }


def make_items(count: int, prefix: str = "f", name: str = "字段") -> list[dict[str, Any]]:
    return [
        {
            "code": f"{prefix}{n:03d}",
            "name": f"{name}{n} Parcel",
            "data_type": "string",
            "sensitivity": "internal",
            "standard": "GB/T 21010-2017",
        }
        for n in range(count)
    ]


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


@dataclass
class Done:
    """Ids the scenario created."""

    approved: int
    rejected: int
    revoked: int
    pending: int
    confirmed_delivery: int
    mismatched_delivery: int


def deploy(net: Path) -> None:
    with Client.from_network(net, "org1/admin") as admin:
        service.deploy_directory_contract(admin, approvers=local_approvers(load_network(net)))


def run_scenario(net: Path) -> Done:
    """Publish, request, approve, reject, grant at once, revoke, deliver, confirm (and mismatch)."""
    with (
        Client.from_network(net, "org1/admin") as a1,
        Client.from_network(net, "org1/client") as c1,
        Client.from_network(net, "org2/admin") as a2,
        Client.from_network(net, "org2/client") as c2,
    ):
        service.put_duty(a1, "planning", "城市规划", "城乡规划法")
        service.put_catalog(a1, PLAN, catalog_fields(PLAN_NAME, "conditional"))
        service.put_items(a1, PLAN, make_items(30))
        service.put_catalog(a1, OPEN, catalog_fields("Road network", "unconditional"))
        service.put_items(a1, OPEN, make_items(3, "r", "Road"))
        service.retire_items(a1, OPEN, ["r002"])
        service.put_catalog(a1, PLAN, catalog_fields(PLAN_NAME + "(2024)", "conditional"))
        service.put_division(a1, "zoning", "Zoning office")
        service.set_exchange(a1, EXCHANGE_URL)
        service.put_duty(a2, "water", "Water supply", "Water Law")
        service.put_division(a2, "flood", "防汛办公室")
        service.put_catalog(a2, WATER, catalog_fields("Water mains", "not_shared", "water"))
        approved = service.request(c2, "org1", PLAN, ["f000", "f001"], "water", "flood model", 30)
        service.approve(c1, approved["id"])
        rejected = service.request(
            c2, "org1", PLAN, ["f002"], "water", "curiosity", 10, division_id="flood"
        )
        service.reject(c1, rejected["id"], "no duty for this")
        revoked = service.request(c2, "org1", OPEN, ["r000"], "water", "routing", 5)
        service.revoke_grant(a1, revoked["grant"], "road data withdrawn")
        pending = service.request(c2, "org1", PLAN, ["f003"], "water", "later", 7)
        first = service.deliver(c1, approved["id"], digest("q1"), digest("r1"), 1024)
        service.confirm(c2, first["id"], digest("r1"))
        second = service.deliver(c1, approved["id"], digest("q2"), digest("r2"), 2048)
        service.confirm(c2, second["id"], digest("tampered"))
    return Done(
        approved=approved["id"],
        rejected=rejected["id"],
        revoked=revoked["id"],
        pending=pending["id"],
        confirmed_delivery=first["id"],
        mismatched_delivery=second["id"],
    )
