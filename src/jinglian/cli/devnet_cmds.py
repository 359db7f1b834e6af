"""``jinglian devnet``: a local network on this machine, one process per node.

``devnet up`` creates the network directory if it has no ``network.json``
(one organisation and validator per node: ``tbft``, or ``solo`` for one
node), starts every node that is not running as a child process (``python -m
jinglian.cli node start``, output appended to ``nodes/<node>/node.log``),
waits until each answers on its API and, on tbft, sees all its peers, and
records the process ids in ``DIR/devnet.json``. In the foreground it then
shows a live status (state, height, peers, round, tx/s per node) until
Ctrl-C, SIGTERM or SIGHUP, and stops every node of the devnet; with
``--detach`` it returns, and ``devnet status`` and ``devnet down`` work on
the running nodes later. Running ``up`` again starts only the nodes that are
down, on their existing data.

``devnet up --demo`` brings up the directory demo whole (``docs/apps/directory.md``):
every node reads the SQL index ``DIR/index.sqlite`` (``index_db`` in its
``node.toml``, set before it starts), the demo data is loaded once
(``jinglian directory demo``; ``DIR/demo/devnet-demo.json`` records it), and
four companion processes run beside the nodes: the indexer, the exchange
services of the planning commission and of the water authority, and the
planning commission's ``directory watch`` approving the water authority's
flood-control requests for the land-use data by rule. Companions are recorded,
shown and stopped like nodes; a later ``up --demo`` restarts those that are
down.

This module holds the commands, their options and what they print; the
supervision itself (state file, lock, starting, probing and stopping
processes) is ``jinglian.cli.devnet``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import click

from jinglian.apps.directory import CONTRACT_NAME as DIRECTORY_CONTRACT_NAME
from jinglian.apps.directory import CONTRACT_SOURCE_PATH as DIRECTORY_SOURCE_PATH
from jinglian.apps.directory.demo import LANDUSE_CATALOG, PLANNING, WATER, WATER_DUTY
from jinglian.apps.evidence import CONTRACT_NAME
from jinglian.apps.evidence import CONTRACT_SOURCE_PATH as EVIDENCE_SOURCE_PATH
from jinglian.cli._base import emit, json_option
from jinglian.cli.devnet import (
    COMPANIONS_DIR,
    NODE_LOG_FILE,
    STATE_FILE,
    STOP_TIMEOUT_S,
    CompanionSpec,
    CompanionView,
    Devnet,
    NodeProcesses,
    NodeView,
    Stopped,
    TxRates,
    create_network,
    interrupt_on_signals,
    is_network_dir,
    open_network,
)
from jinglian.client import (
    Client,
    Network,
    NodeEntry,
    find_network_dir,
    gather_approvals,
    get_policy_check,
    load_network,
    local_approvers,
)
from jinglian.exchange import ExchangeConfig
from jinglian.exchange import load_config as load_exchange_config
from jinglian.node.config import load_node_config, save_node_config
from jinglian.types.errors import ConfigError, JinglianError, NotFound, Timeout, error_from_code

# TxRates is re-exported: it lived here before ``jinglian.cli.devnet`` existed.
__all__ = ["TxRates", "devnet"]

DEFAULT_DIR = Path(".devnet")
DEFAULT_NODES = 4
DEFAULT_CRYPTO = "default"
HEARTBEAT_S = 10.0
"""Without a TTY, an unchanged status is printed again after this long."""
EXAMPLE_CONTRACT = Path("examples") / "contracts" / "kv.py"
WALK_SCRIPT = Path("examples") / "directory_walk.py"

DEMO_SIZES = {
    "full": {"departments": 60, "catalogs": 5000, "items": 50_000, "divisions": 1000},
    "small": {"departments": 5, "catalogs": 50, "items": 500, "divisions": 20},
}
"""``--demo-size``: what ``jinglian directory demo`` loads (``full`` is its default)."""
DEMO_MARKER = Path("demo") / "devnet-demo.json"
"""Records, in the network directory, that ``up --demo`` loaded the demo and at which size."""
INDEX_FILE = "index.sqlite"
"""The SQL index the indexer companion writes, in the network directory."""
NODE_INDEX_DB = f"sqlite:///../../{INDEX_FILE}"
"""``index_db`` of every node of a demo devnet (relative to the node directory)."""
EXCHANGE_PORT_OFFSET = 49
"""The planning commission's exchange listens on node1's API port + this (8650 by
default), the water authority's on the next port."""
EXCHANGE_DIR = "exchange"
"""Where each department's exchange service lives: ``DIR/exchange/<org>/exchange.toml``."""
AUTO_APPROVE_FILE = Path("demo") / "auto-approve.toml"
"""The planning commission's watch rules, in the network directory."""
WATCH_STATE_FILE = Path("demo") / "planning.watch"
"""The planning commission's watch position, so a restarted watch resumes."""
AUTO_APPROVE_DAYS_MAX = 90
"""Longest period of use the demo's rule approves without a person."""
AUTO_APPROVE_RULES = f"""# Written by `jinglian devnet up --demo`: the planning commission's watch approves
# the water authority's requests for the land-use planning data made for its
# flood-control duty, for at most {AUTO_APPROVE_DAYS_MAX} days. Any other request waits for a person.
[[rule]]
catalogs = ["{LANDUSE_CATALOG}"]
requesters = ["{WATER}"]
duties = ["{WATER_DUTY}"]
period_days_max = {AUTO_APPROVE_DAYS_MAX}
"""
DEMO_TIMEOUT_S = 1800.0
"""Longest wait for ``jinglian directory demo`` (the full demo loads in about 3 minutes)."""
SETUP_TIMEOUT_S = 120.0
"""Longest wait for one ``jinglian exchange init``."""


def _resolve_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    """``--dir``, else ``.devnet`` if it exists, else the network directory around the cwd."""
    if value is not None:
        return value
    if is_network_dir(DEFAULT_DIR):
        return DEFAULT_DIR
    return find_network_dir() or DEFAULT_DIR


dir_option = click.option(
    "--dir",
    "--net",
    "net_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    callback=_resolve_dir,
    help="Network directory [default: .devnet, or the network directory you are in].",
)


@click.group()
def devnet() -> None:
    """Run a local network: one process per node on this machine.

    \b
    Example:
      jinglian devnet up --nodes 4 --dir .devnet --detach
      jinglian devnet status --dir .devnet
      jinglian devnet down --dir .devnet
    """


@devnet.command("up")
@click.option(
    "--nodes",
    type=click.IntRange(1, 16),
    default=None,
    help=(
        f"Nodes, one organisation and validator each: tbft, or solo for 1 "
        f"[default: {DEFAULT_NODES}, or as many as the existing network has]."
    ),
)
@dir_option
@click.option(
    "--crypto",
    type=click.Choice(["default", "gm"]),
    default=None,
    help="Crypto suite of a new network [default: default].",
)
@click.option("--api-port", type=click.IntRange(1, 65535), help="node1's API port (node i: +i-1).")
@click.option("--p2p-port", type=click.IntRange(1, 65535), help="node1's peer port (node i: +i-1).")
@click.option("--detach", is_flag=True, help="Start the nodes and return; stop with `devnet down`.")
@click.option(
    "--demo",
    is_flag=True,
    help="Also load the directory demo (once) and run the indexer, the planning commission's "
    "and the water authority's exchange services and an auto-approving watch.",
)
@click.option(
    "--demo-size",
    type=click.Choice(sorted(DEMO_SIZES)),
    default="full",
    show_default=True,
    help="With --demo: full (60 departments, 5,000 catalogs, 50,000 items; about 3 min "
    "to load) or small (5, 50, 500).",
)
def devnet_up(
    nodes: int | None,
    net_dir: Path,
    crypto: str | None,
    api_port: int | None,
    p2p_port: int | None,
    detach: bool,
    demo: bool,
    demo_size: str,
) -> None:
    """Create (if needed) and start a local network; show its live status until Ctrl-C.

    Starts only the nodes that are down, on their existing data. Ports apply
    when the network is created (default 8601.. and 9601..).

    With --demo, the directory demo as well: every node reads the SQL index
    DIR/index.sqlite; the demo data is loaded unless already there; and the
    indexer, the exchange services of the planning commission (node1's API
    port + 49, 8650 by default) and of the water authority (+ 50), and the
    planning commission's watch (approving the water authority's flood-control
    requests for the land-use data by rule) run as companions, logged to
    DIR/companions/, stopped with the nodes, restarted by `up --demo`.

    \b
    Example:
      jinglian devnet up
      jinglian devnet up --nodes 4 --crypto gm --dir gmnet --detach
      jinglian devnet up --dir net2 --api-port 18601 --p2p-port 19601
      jinglian devnet up --demo --detach
    """
    if demo_size != "full" and not demo:
        raise click.UsageError("--demo-size needs --demo")
    net = Devnet(_ensure_network(net_dir, nodes, crypto, api_port, p2p_port), net_dir)
    if demo:
        _set_index_db(net)
    with interrupt_on_signals():
        procs = _start_down_nodes(net)
        try:
            net.wait_ready(procs, on_answering=_echo_answering, on_waiting_peers=_echo_waiting)
        except (JinglianError, KeyboardInterrupt):
            # Nodes that cannot start or connect are stopped; any other failure (a closed
            # stdout, say) leaves them running and recorded for `devnet status` and `down`.
            _echo_stopped(net.stop_started(procs, on_interrupted=_echo_interrupted_again))
            raise
        _deploy_apps(net.net_dir)
        if demo:
            try:
                _start_demo(net, demo_size, procs)
            except (JinglianError, KeyboardInterrupt):
                # What this command started is stopped; the data loaded so far stays, and
                # `up --demo` again carries on from there.
                _echo_stopped(net.stop_started(procs, on_interrupted=_echo_interrupted_again))
                raise
        if detach:
            _show_detached(net)
            return
        _run_foreground(net, procs)


@devnet.command("status")
@dir_option
@click.option(
    "--companions",
    "only_companions",
    is_flag=True,
    help="Only the companions (indexer, exchange services, watch) of `up --demo`.",
)
@json_option
def devnet_status(net_dir: Path, only_companions: bool, as_json: bool) -> None:
    """Show each node of the devnet (pid, state, height, peers, round, ports) and each
    companion process (pid, state, what it is).

    With --json, a list of the nodes, or with --companions of the companions.

    \b
    Example:
      jinglian devnet status --dir .devnet
      jinglian devnet status --json
      jinglian devnet status --companions --json
    """
    net = Devnet.load(net_dir)
    companions = net.get_companion_statuses()
    if only_companions:
        emit(
            as_json,
            [dataclasses.asdict(v) for v in companions],
            lambda: _companion_table(companions),
        )
        return
    views = net.get_node_statuses()
    emit(
        as_json,
        [dataclasses.asdict(v) for v in views],
        lambda: _table(views, None) + _companion_table(companions),
    )


@devnet.command("down")
@dir_option
def devnet_down(net_dir: Path) -> None:
    """Stop the companions, then the nodes of a devnet (SIGTERM, then SIGKILL after 15 s).

    \b
    Example:
      jinglian devnet down --dir .devnet
    """
    stopped = Devnet.load(net_dir).down(on_interrupted=_echo_interrupted_again)
    if not stopped.names and not stopped.companions:
        click.echo("no devnet nodes were running", err=True)
        return
    _echo_stopped(stopped)


# -- creating or reusing the network, starting nodes ---------------------------------------------


def _ensure_network(
    net_dir: Path, nodes: int | None, crypto: str | None, api_port: int | None, p2p_port: int | None
) -> Network:
    if not is_network_dir(net_dir):
        count = nodes or DEFAULT_NODES
        network = create_network(net_dir, count, crypto or DEFAULT_CRYPTO, api_port, p2p_port)
        click.echo(
            f"created a {len(network.nodes)}-node {network.consensus} network "
            f"({network.crypto} crypto) "
            f"in {net_dir}",
            err=True,
        )
        return network
    network = open_network(net_dir, nodes, crypto, api_port, p2p_port)
    click.echo(f"using the {len(network.nodes)}-node network in {net_dir}", err=True)
    return network


def _start_down_nodes(net: Devnet) -> NodeProcesses:
    started = net.start_down_nodes()
    running, procs = started.running, started.procs
    if running and procs:
        click.echo(f"{', '.join(running)} already running; starting {', '.join(procs)}", err=True)
    elif running:
        click.echo(f"all {len(running)} nodes already running", err=True)
    return procs


APP_DEPLOY_TIMEOUT_S = 60.0
"""How long a new devnet waits for its app contracts' deployment to commit."""


def _deploy_apps(net_dir: Path) -> None:
    """Deploy the application contracts a new devnet lacks (evidence and directory), both
    submitted at once so they commit in the same block, each approved by the local admins."""
    apps = [
        (
            CONTRACT_NAME,
            EVIDENCE_SOURCE_PATH,
            f"  deployed the evidence contract as {CONTRACT_NAME!r} "
            "(try `jinglian evidence put FILE`)",
        ),
        (
            DIRECTORY_CONTRACT_NAME,
            DIRECTORY_SOURCE_PATH,
            f"  deployed the directory contract as {DIRECTORY_CONTRACT_NAME!r} "
            "(try `jinglian directory demo`, then `jinglian directory search 土地`)",
        ),
    ]
    with Client.from_network(net_dir, identity=None) as reader:
        missing = [app for app in apps if not _is_deployed(reader, app[0])]
    if not missing:
        return
    network = load_network(net_dir)
    with Client.from_network(net_dir) as admin:
        assert admin.identity is not None
        org = admin.identity.cert.org_id
        approvers = local_approvers(network, first_org=org) if network.devnet else []
        txs = []
        added: set[str] = set()
        for name, source, _ in missing:
            args = {"name": name, "source": source.read_text()}
            tx = admin.sign("contracts", "deploy", args)
            check = get_policy_check(admin, "contracts", "deploy", args)
            if check is not None and approvers:
                tx, orgs = gather_approvals(tx, check, approvers)
                added.update(orgs)
            txs.append(tx)
        for outcome in admin.submit_many(txs):
            if not isinstance(outcome, str):
                raise outcome
        for tx in txs:
            result = admin.wait_tx(tx.id.hex(), APP_DEPLOY_TIMEOUT_S)
            if not result.ok:
                raise error_from_code(result.status, result.error or result.status)
    for _, _, hint in missing:
        click.echo(hint, err=True)
    if added:
        click.echo(
            f"  approved by {', '.join(sorted(added))}: devnet auto-approval with the local "
            "admin identities",
            err=True,
        )


def _is_deployed(reader: Client, name: str) -> bool:
    try:
        reader.query("contracts", "get", {"name": name})
    except NotFound:
        return False
    return True


# -- the directory demo (--demo) -----------------------------------------------------------------


def _set_index_db(net: Devnet) -> None:
    """Point every node that is not running at ``DIR/index.sqlite``, before it starts.

    A node that already names an index is left as it is; a running node without one
    cannot read it until it restarts, which is said.
    """
    running = net.get_running_pids()
    for entry in net.network.nodes:
        config = load_node_config(entry.dir)
        if config.index_db:
            continue
        if entry.name in running:
            click.echo(
                f"  {entry.name} runs without index_db, so its directory search answers "
                f"unavailable: restart it (`jinglian devnet down --dir {net.net_dir}`, then "
                "`up --demo` again)",
                err=True,
            )
            continue
        save_node_config(dataclasses.replace(config, index_db=NODE_INDEX_DB))
        click.echo(f"  {entry.name} reads the SQL index ({NODE_INDEX_DB})", err=True)


def _start_demo(net: Devnet, size: str, procs: NodeProcesses) -> None:
    """Load the demo unless it is there, set up the exchange services, start the companions
    that are down and wait until they listen and the index reaches the chain's head.

    The companions this process starts are added to ``procs`` as soon as they start.
    """
    _load_demo(net.net_dir, size)
    specs = _companion_specs(net)
    started = net.start_down_companions(specs)
    procs.update(started.procs)
    if started.running:
        click.echo(f"  companions already running: {', '.join(started.running)}", err=True)
    for name, proc in started.procs.items():
        click.echo(f"  started {name} (pid {proc.pid})", err=True)
    net.wait_companions_ready(started.procs)
    heights = [v.height for v in net.get_node_statuses() if v.height is not None]
    head = max(heights, default=0)
    click.echo(f"  indexer: catching up to block {head}...", err=True)
    net.wait_indexed(
        "indexer",
        head,
        started.procs,
        on_progress=lambda h: click.echo(f"  indexer: {h or 0} of {head} blocks", err=True),
    )


def _load_demo(net_dir: Path, size: str) -> None:
    """Run ``jinglian directory demo`` at ``size`` unless ``DEMO_MARKER`` says it ran."""
    sizes = DEMO_SIZES[size]
    marker = net_dir / DEMO_MARKER
    try:
        loaded = json.loads(marker.read_text())
    except (OSError, ValueError):
        loaded = None
    if isinstance(loaded, dict) and loaded.get("sizes") == sizes:
        click.echo(
            f"  the {size} demo is already loaded ({marker}); "
            "`jinglian directory demo` would load only what is missing",
            err=True,
        )
        return
    click.echo(
        f"  loading the {size} directory demo ({sizes['departments']} departments, "
        f"{sizes['catalogs']:,} catalogs, {sizes['items']:,} items"
        + (", about 3 minutes" if size == "full" else "")
        + ")...",
        err=True,
    )
    args = ["directory", "demo", "--net", str(net_dir)]
    for option, value in sizes.items():
        args += [f"--{option}", str(value)]
    _run_jinglian(args, DEMO_TIMEOUT_S, show_progress=True)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"sizes": sizes, "loaded_ms": int(time.time() * 1000)}) + "\n")


def _companion_specs(net: Devnet) -> list[CompanionSpec]:
    """The demo's companions; writes the exchange configs and the watch rules if missing."""
    net_dir = net.net_dir.resolve()
    base = urlsplit(net.network.nodes[0].api_url).port or 80
    source = net_dir / "demo" / "sources" / "landuse.csv"
    exchanges = [
        (PLANNING, base + EXCHANGE_PORT_OFFSET, [f"{LANDUSE_CATALOG}={source}"]),
        (WATER, base + EXCHANGE_PORT_OFFSET + 1, []),
    ]
    specs = [
        CompanionSpec(
            name="indexer",
            args=("indexer", "run", "--net", str(net_dir)),
            note=f"SQL index {net_dir / INDEX_FILE}",
            index_db=net_dir / INDEX_FILE,
        )
    ]
    for org, port, sources in exchanges:
        config = _ensure_exchange(net_dir, org, port, sources)
        specs.append(
            CompanionSpec(
                name=f"exchange-{org}",
                args=("exchange", "run", "--config", str(config.path)),
                note=f"{org}'s exchange {config.url}"
                + (f" serving {', '.join(sorted(config.sources))}" if config.sources else ""),
                port=config.port,
            )
        )
    rules = net_dir / AUTO_APPROVE_FILE
    if not rules.is_file():
        rules.parent.mkdir(parents=True, exist_ok=True)
        rules.write_text(AUTO_APPROVE_RULES)
    specs.append(
        CompanionSpec(
            name=f"watch-{PLANNING}",
            args=(
                "directory",
                "watch",
                "--net",
                str(net_dir),
                "--identity",
                f"{PLANNING}/admin",
                "--auto-approve",
                str(rules),
                "--state",
                str(net_dir / WATCH_STATE_FILE),
            ),
            note=f"{PLANNING} approves {WATER}'s {WATER_DUTY} requests for "
            f"{LANDUSE_CATALOG} by rule ({AUTO_APPROVE_FILE})",
        )
    )
    return specs


def _ensure_exchange(net_dir: Path, org: str, port: int, sources: list[str]) -> ExchangeConfig:
    """``DIR/exchange/<org>/exchange.toml``, made by ``jinglian exchange init`` if missing
    (which also publishes the service's URL on chain)."""
    config_path = net_dir / EXCHANGE_DIR / org / "exchange.toml"
    if not config_path.is_file():
        args = [
            "exchange",
            "init",
            "--net",
            str(net_dir),
            "--identity",
            f"{org}/admin",
            "--dir",
            str(config_path.parent),
            "--port",
            str(port),
        ]
        for spec in sources:
            args += ["--source", spec]
        _run_jinglian(args, SETUP_TIMEOUT_S)
        click.echo(f"  {org}'s exchange service set up in {config_path.parent}", err=True)
    return load_exchange_config(config_path)


def _run_jinglian(args: list[str], timeout_s: float, *, show_progress: bool = False) -> None:
    """Run ``jinglian ARGS`` in a child process; ``ConfigError`` with its error if it fails.

    With ``show_progress`` its stderr (progress lines) goes to ours as it comes and its
    stdout (the summary) after it ends; else both are kept for the error message.
    """
    try:
        result = subprocess.run(
            [sys.executable, "-m", "jinglian.cli", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None if show_progress else subprocess.PIPE,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise Timeout(
            f"`jinglian {' '.join(args[:2])}` did not end within {timeout_s:g} s"
        ) from exc
    if show_progress:
        for line in result.stdout.splitlines():
            click.echo(f"    {line}", err=True)
    if result.returncode != 0:
        lines = (result.stderr or "").strip().splitlines()
        why = lines[-1] if lines else "see its output above"
        raise ConfigError(f"`jinglian {' '.join(args[:2])}` failed: {why}")


def _echo_answering(entry: NodeEntry) -> None:
    click.echo(f"  {entry.name} answers at {entry.api_url}", err=True)


def _echo_waiting(expected: int) -> None:
    click.echo(f"  waiting for each node to see its {expected} peers...", err=True)


# -- foreground and detached ---------------------------------------------------------------------


def _show_detached(net: Devnet) -> None:
    companions = net.get_companion_statuses()
    for line in _table(net.get_node_statuses(), None) + _companion_table(companions):
        click.echo(line)
    _echo_hints(net.network, net.net_dir)
    _echo_demo_hints(net.net_dir, companions)
    click.echo(f"stop it with: jinglian devnet down --dir {net.net_dir}", err=True)


def _run_foreground(net: Devnet, procs: NodeProcesses) -> None:
    _echo_hints(net.network, net.net_dir)
    _echo_demo_hints(net.net_dir, net.get_companion_statuses())
    click.echo("Ctrl-C stops all nodes", err=True)
    try:
        screen = LiveStatus(
            sys.stdout.isatty(), f"API {net.network.nodes[0].api_url}, Ctrl-C stops all"
        )
        for refresh in net.watch(procs):
            screen.show(refresh.views, refresh.rates, refresh.companions)
        click.echo(f"{STATE_FILE} was removed (`devnet down`?); stopping", err=True)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: stopping all nodes...", err=True)
    finally:
        _echo_stopped(net.stop_all(procs, on_interrupted=_echo_interrupted_again))


def _echo_hints(network: Network, net_dir: Path) -> None:
    first = network.nodes[0]
    lines = [
        f"devnet {network.chain_id!r}: {len(network.nodes)} {network.consensus} nodes in "
        f"{net_dir}, logs in {net_dir}/nodes/<node>/{NODE_LOG_FILE}",
        f"API {first.api_url}/api/v1 (docs {first.api_url}/docs)",
        f"commands run in {net_dir} (or given --net {net_dir}) use its nodes and identities:",
        f"  cd {net_dir}",
        "  jinglian chain info",
    ]
    example = EXAMPLE_CONTRACT.resolve()
    if example.is_file():
        lines.append(f"  jinglian contract deploy kv {os.path.relpath(example, net_dir.resolve())}")
        lines.append("""  jinglian tx invoke kv set --args '{"key": "a", "value": 1}'""")
    else:
        lines.append("  jinglian tx invoke CONTRACT METHOD --args JSON")
    for line in lines:
        click.echo(line, err=True)


def _echo_demo_hints(net_dir: Path, companions: list[CompanionView]) -> None:
    """With the demo's companions running: what serves what, and the walk to try."""
    if not companions:
        return
    lines = [
        f"directory demo: companions logged to {net_dir}/{COMPANIONS_DIR}/<name>.log",
        *(f"  {view.name}: {view.note}" for view in companions),
        f"  jinglian directory search 土地利用 --identity {WATER}/client",
    ]
    walk = WALK_SCRIPT.resolve()
    if walk.is_file():
        lines.append(
            f"  python {os.path.relpath(walk, net_dir.resolve())}   "
            f"# as {WATER}: search, request, grant, fetch, decrypt, check, timed"
        )
    for line in lines:
        click.echo(line, err=True)


def _echo_interrupted_again() -> None:
    click.echo("interrupted again: killing the nodes", err=True)


def _echo_stopped(stopped: Stopped) -> None:
    count = len(stopped.names)
    message = f"stopped {count} node{'s' if count != 1 else ''}"
    if stopped.companions:
        message += f" and {len(stopped.companions)} companions ({', '.join(stopped.companions)})"
    if stopped.killed:
        message += (
            f"; {', '.join(stopped.killed)} did not exit within {STOP_TIMEOUT_S:g} s of SIGTERM "
            "and got SIGKILL"
        )
    click.echo(message, err=True)


class LiveStatus:
    """Draws the status: a table redrawn in place on a TTY, else one line per change."""

    def __init__(self, tty: bool, title: str) -> None:
        self.tty = tty
        """Whether stdout is a terminal."""
        self.title = title
        """Shown after the time above the table."""
        self._lines_drawn = 0
        self._last_line = ""
        self._last_print = 0.0
        self._down: set[str] = set()

    def show(
        self,
        views: list[NodeView],
        rates: dict[str, float | None],
        companions: list[CompanionView] | None = None,
    ) -> None:
        """Show one refresh."""
        companions = companions or []
        if self.tty:
            self._redraw(
                [
                    f"{time.strftime('%H:%M:%S')}  {self.title}",
                    *_table(views, rates),
                    *_companion_table(companions),
                ]
            )
        else:
            self._print_line(views, rates, companions)

    def _redraw(self, lines: list[str]) -> None:
        width = max(shutil.get_terminal_size().columns - 1, 20)
        up = f"\x1b[{self._lines_drawn}A" if self._lines_drawn else ""
        click.echo(up + "".join(f"\r{line[:width]}\x1b[K\n" for line in lines), nl=False)
        self._lines_drawn = len(lines)

    def _print_line(
        self,
        views: list[NodeView],
        rates: dict[str, float | None],
        companions: list[CompanionView],
    ) -> None:
        states = [(v.name, v.state, v.last_log) for v in views]
        states += [(c.name, c.state, c.last_log) for c in companions]
        for name, state, last_log in states:
            if state == "down" and name not in self._down:
                click.echo(f"{name} is down; its log ends: {last_log}", err=True)
        self._down = {name for name, state, _ in states if state == "down"}
        line = " | ".join(
            [_compact(v, rates.get(v.name)) for v in views]
            + [f"{c.name} {c.state}" for c in companions]
        )
        now = time.monotonic()
        if line != self._last_line or now - self._last_print >= HEARTBEAT_S:
            click.echo(f"{time.strftime('%H:%M:%S')} {line}")
            self._last_line, self._last_print = line, now


# -- rendering -----------------------------------------------------------------------------------


def _table(views: list[NodeView], rates: dict[str, float | None] | None) -> list[str]:
    """Status table; with ``rates`` a tx/s column, without it the API URL."""
    last = "tx/s" if rates is not None else "api"
    lines = [f"{'node':<8}{'pid':>8}  {'state':<9}{'height':>8}{'peers':>7}{'round':>7}  {last}"]
    for view in views:
        extra: str | None = _rate(rates.get(view.name)) if rates is not None else view.api_url
        if view.state == "down":
            extra = f"{extra}  last log: {view.last_log}" if rates is not None else view.last_log
        lines.append(
            f"{view.name:<8}{_cell(view.pid):>8}  {view.state:<9}{_cell(view.height):>8}"
            f"{_cell(view.peers):>7}{_cell(view.round):>7}  {extra}"
        )
    return lines


def _companion_table(views: list[CompanionView]) -> list[str]:
    """Companion rows below the node table; nothing when there are none."""
    if not views:
        return []
    width = max(len(v.name) for v in views) + 2
    lines = [f"{'companion':<{width}}{'pid':>8}  {'state':<9}what"]
    for view in views:
        what = view.note
        if view.indexed_height is not None:
            what = f"indexed to block {view.indexed_height}; {what}"
        if view.state == "down":
            what = f"{what}  last log: {view.last_log}"
        lines.append(f"{view.name:<{width}}{_cell(view.pid):>8}  {view.state:<9}{what}")
    return lines


def _compact(view: NodeView, rate: float | None) -> str:
    if view.state != "up":
        return f"{view.name} {view.state}"
    return (
        f"{view.name} up h={_cell(view.height)} peers={_cell(view.peers)} "
        f"r={_cell(view.round)} {_rate(rate)} tx/s"
    )


def _cell(value: int | None) -> str:
    return "-" if value is None else str(value)


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1f}"
