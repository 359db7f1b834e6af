"""Every route is documented: OpenAPI summaries, and docs/api.md names each one (STYLE 16)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from jinglian.api import create_app
from tests.api.fake_node import FakeNode

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
WEBSOCKET_ROUTES = ["/api/v1/ws"]


def test_every_route_has_a_summary_and_description(node: FakeNode) -> None:
    paths = create_app(node).openapi()["paths"]
    assert paths, "no routes documented"
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            assert operation.get("description"), f"{method.upper()} {path} has no description"


def test_every_route_is_in_docs_api_md(node: FakeNode) -> None:
    text = API_DOC.read_text()
    paths = create_app(node).openapi()["paths"]
    for path, operations in paths.items():
        for method in operations:
            assert f"{method.upper()} {path}" in text, (
                f"docs/api.md lacks `{method.upper()} {path}`"
            )
    for path in WEBSOCKET_ROUTES:
        assert f"WebSocket {path}" in text, f"docs/api.md lacks the WebSocket route {path}"


def test_every_error_code_is_in_docs_api_md() -> None:
    from jinglian.types import errors

    text = API_DOC.read_text()
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, errors.JinglianError):
            assert f"`{cls.code}`" in text, f"docs/api.md lacks error code {cls.code}"


def test_docs_pages_are_served(http: TestClient) -> None:
    assert http.get("/docs").status_code == 200
    spec = http.get("/openapi.json").json()
    assert spec["info"]["title"] == "jinglian node API"
    assert "/api/v1/txs" in spec["paths"]
