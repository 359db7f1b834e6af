"""``jinglian exchange``: set up and run a department's data-exchange service (ADR 0019)."""

from __future__ import annotations

import json
import logging
import socket
import sys
from pathlib import Path
from typing import Any

import click

from jinglian.cli._base import emit, json_option
from jinglian.client import Client, find_network_dir
from jinglian.exchange import ExchangeService, init_exchange, load_config
from jinglian.exchange.config import CONFIG_FILE, FILE_FORMATS
from jinglian.exchange.service import LOG_EVENT_ATTRIBUTE
from jinglian.types.errors import ConfigError, InvalidInput

__all__ = ["exchange"]

DEFAULT_PORT = 8650
"""The port ``init`` configures unless told otherwise."""

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=CONFIG_FILE,
    show_default=True,
    help="The exchange config file.",
)


@click.group()
def exchange() -> None:
    """Serve your department's granted data to other departments (mutual TLS, sealed).

    One exchange process per department, beside its data. It serves a
    catalog's data only under an active grant on chain, cut to the granted
    items and encrypted to the requester's certificate key, and records the
    delivery on chain before releasing anything. Requesters fetch with
    `jinglian directory fetch` (or jinglian.exchange.fetch). Config format and
    protocol: docs/exchange.md.

    \b
    Example:
      jinglian exchange init --net mynet --identity org1/admin --dir exch1 \\
          --port 8650 --source 301001/000001=data/landuse.csv
      jinglian exchange run --config exch1/exchange.toml
    """


@exchange.command("init")
@click.option(
    "--net",
    type=click.Path(file_okay=False, path_type=Path),
    help="Network directory (default: $JINGLIAN_NET, else the nearest network.json).",
)
@click.option("--identity", required=True, help="The department's admin, e.g. org1/admin.")
@click.option("--node", help="Node to use (default: the first reachable).")
@click.option(
    "--dir",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Where exchange.toml, tls/ and state/ go.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen address.")
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True, help="Listen port.")
@click.option(
    "--public-host", help="Host name or address requesters use (default: --host); in the cert."
)
@click.option("--san", "names", multiple=True, help="Extra DNS name or IP for the certificate.")
@click.option(
    "--source",
    "source_specs",
    multiple=True,
    help="CATALOG=FILE[:FORMAT] (csv, json, bytes; default csv). Repeatable; "
    "SQL sources go in the file by hand.",
)
@click.option("--no-publish", is_flag=True, help="Do not record the URL on chain.")
@click.option("--force", is_flag=True, help="Replace an existing exchange.toml and certificate.")
@json_option
def exchange_init(
    net: Path | None,
    identity: str,
    node: str | None,
    out_dir: Path,
    host: str,
    port: int,
    public_host: str | None,
    names: tuple[str, ...],
    source_specs: tuple[str, ...],
    no_publish: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Write exchange.toml and a TLS certificate, and publish the URL on chain.

    The TLS certificate is a member certificate issued by NET/orgs/ORG/ca
    (the CA key must be on this machine), with the public host, localhost
    and 127.0.0.1 as subjectAltNames. The URL https://PUBLIC_HOST:PORT is
    recorded with the directory's set_exchange, so requesters find it. On gm
    chains (TLS cannot use SM2 keys) the certificate is a self-signed P-256
    transport certificate instead, and the URL pins it: #tls-sha256=HEX.

    \b
    Example:
      jinglian exchange init --net mynet --identity org1/admin --dir exch1 \\
          --port 8650 --source 301001/000001=data/landuse.csv
    """
    net_dir = find_network_dir(net)
    if net_dir is None:
        raise ConfigError("no network found: pass --net DIR or set JINGLIAN_NET")
    if not 0 < port < 65536:
        raise InvalidInput("--port must be from 1 to 65535")
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = dict(_parse_source(spec, out_dir) for spec in source_specs)
    done = init_exchange(
        out_dir,
        net_dir,
        identity,
        host=host,
        port=port,
        public_host=public_host,
        names=names,
        sources=sources,
        node=node,
        publish=not no_publish,
        force=force,
    )
    data = {
        "config": str(done.config.path),
        "org": done.config.org,
        "url": done.config.url,
        "published": done.published,
        "tls_cert": str(done.config.tls_cert),
        "sources": sorted(done.config.sources),
    }
    emit(
        as_json,
        data,
        lambda: [
            f"wrote {data['config']} for {data['org']}",
            f"url {data['url']} ({'published on chain' if done.published else 'not published'})",
            f"next: jinglian exchange run --config {data['config']}",
        ],
    )


@exchange.command("run")
@config_option
@json_option
def exchange_run(config_path: Path, as_json: bool) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM (in-flight fetches finish first).

    Each delivery and each refusal is logged to stderr (delivery id, request
    hash, peer address; the error code and reason). With --json they go to
    stdout instead, one JSON object a line: first {"event": "serving", ...},
    then {"event": "delivered", "delivery", "request_hash", "response_hash",
    "size", "peer"} or {"event": "refused", "peer", "code", "message"}.

    \b
    Example:
      jinglian exchange run --config exch1/exchange.toml
      jinglian exchange run --config exch1/exchange.toml --json >> deliveries.jsonl
    """
    config = load_config(config_path)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not every chain read
    service = ExchangeService(config)
    listening = f"{config.host}:{config.port}"
    if as_json:
        events = logging.getLogger("jinglian.exchange")
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_JsonLines())
        events.addHandler(handler)
        events.propagate = False  # one line per event, on stdout only
        serving = {"event": "serving", "org": config.org, "url": config.url}
        click.echo(_json_line({**serving, "listening": listening}))
    else:
        click.echo(
            f"exchange of {config.org} serving {config.url} (listening {listening})", err=True
        )
    service.run()


class _JsonLines(logging.Formatter):
    """A log record as one JSON line: its fetch outcome (``LOG_EVENT_ATTRIBUTE``) if it has
    one, else its level and message; with the time in Unix milliseconds."""

    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, LOG_EVENT_ATTRIBUTE, None)
        if not isinstance(event, dict):
            event = {
                "event": "log",
                "level": record.levelname.lower(),
                "message": record.getMessage(),
            }
        return _json_line({"time_ms": int(record.created * 1000), **event})


def _json_line(data: dict[str, Any]) -> str:
    """``data`` as compact JSON with sorted keys, on one line."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


@exchange.command("status")
@config_option
@json_option
def exchange_status(config_path: Path, as_json: bool) -> None:
    """Show the config, what the chain publishes for the department, and stored responses.

    \b
    Example:
      jinglian exchange status --config exch1/exchange.toml --json
    """
    from jinglian.apps import directory

    config = load_config(config_path)
    with Client.from_network(config.net, config.identity, config.node) as client:
        published = directory.exchange(client, config.org, contract=config.contract)
    responses = config.state_dir / "responses"
    stored = len(list(responses.glob("*.json"))) if responses.is_dir() else 0
    data: dict[str, Any] = {
        "org": config.org,
        "url": config.url,
        "published": published,
        "listening": f"{config.host}:{config.port}",
        "sources": {code: _describe(config.sources[code]) for code in sorted(config.sources)},
        "stored_responses": stored,
        "up": _is_up(config.host, config.port),
    }
    emit(
        as_json,
        data,
        lambda: [
            f"{config.org}: {config.url} (on chain: {(published or {}).get('url') or 'none'})",
            f"listening {data['listening']}: {'up' if data['up'] else 'down'}",
            f"{stored} stored responses",
            *[f"source {code}: {text}" for code, text in data["sources"].items()],
        ],
    )


def _parse_source(spec: str, out_dir: Path) -> tuple[str, dict[str, str]]:
    catalog, sep, rest = spec.partition("=")
    if not sep or not catalog or not rest:
        raise InvalidInput(f"--source {spec!r}: use CATALOG=FILE[:FORMAT]")
    path, _, fmt = (
        rest.rpartition(":") if rest.rsplit(":", 1)[-1] in FILE_FORMATS else (rest, "", "csv")
    )
    absolute = Path(path).resolve()
    try:
        shown = str(absolute.relative_to(out_dir.resolve()))
    except ValueError:
        shown = str(absolute)
    return catalog, {"file": shown, "format": fmt}


def _describe(source: Any) -> str:
    if source.file is not None:
        return f"file {source.file} ({source.format})"
    return f"SQL ({source.format})"


def _is_up(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on the listen address."""
    try:
        with socket.create_connection((host, port), timeout=2.0):
            return True
    except OSError:
        return False
