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

This module holds the commands, their options and what they print; the
supervision itself (state file, lock, starting, probing and stopping
processes) is ``jinglian.cli.devnet``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from pathlib import Path

import click

from jinglian.apps.directory import CONTRACT_NAME as DIRECTORY_CONTRACT_NAME
from jinglian.apps.directory import CONTRACT_SOURCE_PATH as DIRECTORY_SOURCE_PATH
from jinglian.apps.evidence import CONTRACT_NAME
from jinglian.apps.evidence import CONTRACT_SOURCE_PATH as EVIDENCE_SOURCE_PATH
from jinglian.cli._base import emit, json_option
from jinglian.cli.devnet import (
    NODE_LOG_FILE,
    STATE_FILE,
    STOP_TIMEOUT_S,
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
from jinglian.types.errors import JinglianError, NotFound, error_from_code

# TxRates is re-exported: it lived here before ``jinglian.cli.devnet`` existed.
__all__ = ["TxRates", "devnet"]

DEFAULT_DIR = Path(".devnet")
DEFAULT_NODES = 4
DEFAULT_CRYPTO = "default"
HEARTBEAT_S = 10.0
"""Without a TTY, an unchanged status is printed again after this long."""
EXAMPLE_CONTRACT = Path("examples") / "contracts" / "kv.py"


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
def devnet_up(
    nodes: int | None,
    net_dir: Path,
    crypto: str | None,
    api_port: int | None,
    p2p_port: int | None,
    detach: bool,
) -> None:
    """Create (if needed) and start a local network; show its live status until Ctrl-C.

    Starts only the nodes that are down, on their existing data. Ports apply
    when the network is created (default 8601.. and 9601..).

    \b
    Example:
      jinglian devnet up
      jinglian devnet up --nodes 4 --crypto gm --dir gmnet --detach
      jinglian devnet up --dir net2 --api-port 18601 --p2p-port 19601
    """
    net = Devnet(_ensure_network(net_dir, nodes, crypto, api_port, p2p_port), net_dir)
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
        if detach:
            _show_detached(net)
            return
        _run_foreground(net, procs)


@devnet.command("status")
@dir_option
@json_option
def devnet_status(net_dir: Path, as_json: bool) -> None:
    """Show each node of the devnet: pid, state, height, peers, round, ports.

    \b
    Example:
      jinglian devnet status --dir .devnet
      jinglian devnet status --json
    """
    views = Devnet.load(net_dir).get_node_statuses()
    emit(as_json, [dataclasses.asdict(v) for v in views], lambda: _table(views, None))


@devnet.command("down")
@dir_option
def devnet_down(net_dir: Path) -> None:
    """Stop the nodes of a devnet (SIGTERM, then SIGKILL after 15 s).

    \b
    Example:
      jinglian devnet down --dir .devnet
    """
    stopped = Devnet.load(net_dir).down(on_interrupted=_echo_interrupted_again)
    if not stopped.names:
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


def _echo_answering(entry: NodeEntry) -> None:
    click.echo(f"  {entry.name} answers at {entry.api_url}", err=True)


def _echo_waiting(expected: int) -> None:
    click.echo(f"  waiting for each node to see its {expected} peers...", err=True)


# -- foreground and detached ---------------------------------------------------------------------


def _show_detached(net: Devnet) -> None:
    for line in _table(net.get_node_statuses(), None):
        click.echo(line)
    _echo_hints(net.network, net.net_dir)
    click.echo(f"stop it with: jinglian devnet down --dir {net.net_dir}", err=True)


def _run_foreground(net: Devnet, procs: NodeProcesses) -> None:
    _echo_hints(net.network, net.net_dir)
    click.echo("Ctrl-C stops all nodes", err=True)
    try:
        screen = LiveStatus(
            sys.stdout.isatty(), f"API {net.network.nodes[0].api_url}, Ctrl-C stops all"
        )
        for refresh in net.watch(procs):
            screen.show(refresh.views, refresh.rates)
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


def _echo_interrupted_again() -> None:
    click.echo("interrupted again: killing the nodes", err=True)


def _echo_stopped(stopped: Stopped) -> None:
    count = len(stopped.names)
    message = f"stopped {count} node{'s' if count != 1 else ''}"
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

    def show(self, views: list[NodeView], rates: dict[str, float | None]) -> None:
        """Show one refresh."""
        if self.tty:
            self._redraw([f"{time.strftime('%H:%M:%S')}  {self.title}", *_table(views, rates)])
        else:
            self._print_line(views, rates)

    def _redraw(self, lines: list[str]) -> None:
        width = max(shutil.get_terminal_size().columns - 1, 20)
        up = f"\x1b[{self._lines_drawn}A" if self._lines_drawn else ""
        click.echo(up + "".join(f"\r{line[:width]}\x1b[K\n" for line in lines), nl=False)
        self._lines_drawn = len(lines)

    def _print_line(self, views: list[NodeView], rates: dict[str, float | None]) -> None:
        for view in views:
            if view.state == "down" and view.name not in self._down:
                click.echo(f"{view.name} is down; its log ends: {view.last_log}", err=True)
        self._down = {v.name for v in views if v.state == "down"}
        line = " | ".join(_compact(v, rates.get(v.name)) for v in views)
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
