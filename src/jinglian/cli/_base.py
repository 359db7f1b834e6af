"""What every command shares: error reporting, output, and finding the node to talk to.

Errors leave as one line on stderr, ``error: <message> (<code>)``, with exit
code 1 (2 for usage errors) and never a traceback (set ``JINGLIAN_DEBUG=1``
to see one). A command finds its network directory from ``--net``, else
``$JINGLIAN_NET``, else the nearest ``network.json`` from the current
directory upwards; ``--node`` picks the node (default: the first),
``--identity`` the signer (default: the manifest's), ``--endpoint`` overrides
the URL.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx

from jinglian.client import Client, Network, find_network_dir, load_genesis, load_network
from jinglian.client.identity import Identity
from jinglian.types import ChainConfig
from jinglian.types.errors import ConfigError, InvalidInput, JinglianError
from jinglian.types.jsonval import from_json

__all__ = [
    "JinglianGroup",
    "Target",
    "emit",
    "json_option",
    "parse_args_json",
    "target_options",
]

F = TypeVar("F", bound=Callable[..., Any])
ARGS_JSON_CHARS_MAX = 256 * 1024
"""Longest ``--args`` JSON text accepted."""
DEBUG_ENV = "JINGLIAN_DEBUG"


@dataclass
class _Session:
    """What the current invocation is talking to, for error hints."""

    endpoint: str | None = None
    node_dir: str | None = None

    def reset(self) -> None:
        """Forget the previous invocation's target."""
        self.endpoint = None
        self.node_dir = None


SESSION = _Session()


def fail_line(message: str, code: str) -> None:
    """Write the one error line."""
    click.echo(f"error: {message} ({code})", err=True)


def _unreachable(exc: httpx.TransportError) -> str:
    url = SESSION.endpoint or "the node"
    node_dir = SESSION.node_dir or "DIR/nodes/node1"
    if isinstance(exc, httpx.TimeoutException):
        return f"node at {url} did not answer in time: {exc.__class__.__name__}"
    return (
        f"cannot reach node at {url}: is it running? start it with `jinglian node start {node_dir}`"
    )


class JinglianGroup(click.Group):
    """A click group whose failures are one line on stderr."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run a command; turn every failure into one line and an exit code."""
        SESSION.reset()
        code = self._run(args, prog_name, complete_var, extra)
        sys.exit(code)

    def _run(
        self,
        args: Sequence[str] | None,
        prog_name: str | None,
        complete_var: str | None,
        extra: dict[str, Any],
    ) -> int:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f"; see `{exc.ctx.command_path} --help`" if exc.ctx is not None else ""
            fail_line(exc.format_message().rstrip(".") + hint, "usage_error")
            return 2
        except click.ClickException as exc:
            fail_line(exc.format_message(), "error")
            return exc.exit_code
        except click.Abort:
            fail_line("interrupted", "aborted")
            return 130
        except JinglianError as exc:
            fail_line(exc.message, exc.code)
            return 1
        except httpx.TransportError as exc:
            fail_line(_unreachable(exc), "unreachable")
            return 1
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            fail_line(f"unexpected {exc.__class__.__name__}: {exc}", "internal")
            return 1
        return result if isinstance(result, int) else 0


def json_option(func: F) -> F:
    """``--json``: print machine-readable JSON instead of text."""
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(
        func
    )


def target_options(func: F) -> F:
    """``--net``, ``--node``, ``--identity``, ``--endpoint``."""
    options = [
        click.option(
            "--net",
            type=click.Path(file_okay=False, path_type=Path),
            help="Network directory (default: $JINGLIAN_NET, else the nearest network.json).",
        ),
        click.option("--node", help="Node to talk to, e.g. node2 (default: the first)."),
        click.option("--identity", help="Identity to sign with, e.g. org1/client."),
        click.option("--endpoint", help="API base URL, e.g. http://127.0.0.1:8601."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@dataclass
class Target:
    """The node, identity and genesis a command works with."""

    net: Path | None
    node: str | None
    identity: str | None
    endpoint: str | None
    genesis_file: Path | None = None

    def network(self) -> Network | None:
        """The network manifest, if one is found."""
        net_dir = find_network_dir(self.net)
        return None if net_dir is None else load_network(net_dir)

    def client(self, *, sign: bool = False, verify: bool = False) -> Client:
        """A client of the chosen node; ``sign``/``verify`` require an identity/genesis.

        With a network the client always has an identity: reads are signed too (the
        chain's query policy); with only ``--endpoint`` it reads unsigned.
        """
        network = self.network()
        base_url = self._base_url(network)
        SESSION.endpoint = base_url
        identity = self._identity(network) if sign or network is not None else None
        genesis = self._genesis(network) if verify else None
        return Client(base_url, identity, genesis)

    def _base_url(self, network: Network | None) -> str:
        if self.endpoint:
            return self.endpoint
        if network is None:
            raise ConfigError(_NO_NETWORK)
        node = network.node(self.node)
        SESSION.node_dir = os.path.relpath(node.dir)
        return node.api_url

    def _identity(self, network: Network | None) -> Identity:
        if network is None:
            raise ConfigError(_NO_NETWORK)
        entry = network.identity(self.identity)
        return Identity.load(entry.cert, entry.key)

    def _genesis(self, network: Network | None) -> ChainConfig:
        if self.genesis_file is not None:
            return load_genesis(self.genesis_file)
        if network is None:
            raise ConfigError("verification needs the genesis file: pass --genesis FILE or --net")
        return network.load_genesis()


_NO_NETWORK = (
    "no network found: pass --net DIR, set JINGLIAN_NET or run inside a network directory "
    "(create one with `jinglian init DIR --orgs 4`)"
)


def parse_args_json(text: str | None) -> dict[str, Any]:
    """``--args`` JSON object to codec values; ``InvalidInput`` on bad JSON or floats."""
    if text is None or text == "":
        return {}
    if len(text) > ARGS_JSON_CHARS_MAX:
        raise InvalidInput(f"--args is longer than {ARGS_JSON_CHARS_MAX} characters")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise InvalidInput(f"--args is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput('--args must be a JSON object, e.g. \'{"key": "a"}\'')
    try:
        return from_json(value)  # type: ignore[no-any-return]
    except InvalidInput as exc:
        raise InvalidInput(f"--args: {exc.message}") from exc


def _refuse_constant(name: str) -> None:
    raise InvalidInput(f"--args holds {name}, which is not allowed")


def emit(as_json: bool, data: Any, lines: Callable[[], Sequence[str]]) -> None:
    """Print ``data`` as JSON, or the human-readable ``lines``."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    for line in lines():
        click.echo(line)


def show_value(value: Any) -> str:
    """A codec JSON value on one line."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
