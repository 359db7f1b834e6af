"""Fixtures shared by the API, SDK and CLI tests: networks, a fake node, clients."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its test client; the pinned httpx works.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from jinglian.api import create_app
from jinglian.client import Client, Identity
from jinglian.client.reads import ReadAuth
from jinglian.node.init import create_network
from tests.api.fake_node import FakeNode


@pytest.fixture(scope="session")
def network_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-organisation tbft network (default suite)."""
    path = tmp_path_factory.mktemp("nets") / "tbft"
    create_network(path, 4)
    return path


@pytest.fixture(scope="session")
def solo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-organisation solo network (default suite)."""
    path = tmp_path_factory.mktemp("nets") / "solo"
    create_network(path, 1, consensus="solo")
    return path


@pytest.fixture(scope="session")
def gm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-organisation tbft network on the gm suite."""
    path = tmp_path_factory.mktemp("nets") / "gm"
    create_network(path, 2, crypto="gm")
    return path


@pytest.fixture()
def node(network_dir: Path) -> FakeNode:
    """A fresh fake node of the tbft network."""
    return FakeNode(network_dir)


@pytest.fixture()
def http(node: FakeNode, admin: Identity) -> Iterator[TestClient]:
    """FastAPI's test client over the fake node (server errors become 500s, not raises); it
    signs every request as org1's admin, as the SDK does (``ReadAuth``)."""
    with TestClient(create_app(node), raise_server_exceptions=False) as client:
        client.auth = ReadAuth(admin)
        yield client


@pytest.fixture(scope="session")
def admin(network_dir: Path) -> Identity:
    """org1's admin identity."""
    return Identity.from_network(network_dir, "org1/admin")


@pytest.fixture()
def sdk(http: TestClient, node: FakeNode, admin: Identity) -> Client:
    """The sync SDK calling the fake node's app in-process, with identity and genesis."""
    return Client(str(http.base_url), admin, node.config, http=http)
