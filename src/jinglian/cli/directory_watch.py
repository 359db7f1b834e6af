"""``jinglian directory watch``: follow the sharing workflow as it commits, and approve
conditional requests by local rule (``--auto-approve``), resuming where it stopped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx
from websockets.exceptions import WebSocketException

from jinglian.cli._base import json_option, target_options
from jinglian.cli.directory_cmds import (
    _client,
    _own_org,
    _time,
    contract_option,
    directory,
)
from jinglian.client import (
    AsyncClient,
)
from jinglian.types.errors import (
    ConfigError,
    InvalidInput,
    JinglianError,
)

RULES_BYTES_MAX = 1024 * 1024
"""Largest ``--auto-approve`` rule file."""
RULES_MAX = 1000
"""Most rules one rule file holds."""
WATCH_WAKE_S = 2.0
"""``watch`` reads new blocks at least this often even if the stream says nothing."""
WATCH_RETRY_S_MAX = 10.0
"""Longest pause between reconnection attempts of ``watch``."""
REQUESTER_TOPICS = ("granted", "rejected", "revoked", "delivered")
"""Events ``watch`` shows a requester: the decisions and deliveries on its own requests."""


# -- watch ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApprovalRule:
    """One ``--auto-approve`` rule: a request matching every listed field is approved."""

    catalogs: tuple[str, ...]
    """Catalog codes of your department (``*``: any)."""
    requesters: tuple[str, ...]
    """Requesting departments (``*``: any)."""
    duties: tuple[str, ...]
    """The requester's duties (``*``: any)."""
    period_days_max: int | None
    """Longest period approved, or no limit."""

    def allows(self, request: dict[str, Any]) -> bool:
        """Whether this rule approves ``request`` (a ``requested`` event or a request record)."""

        def match(values: tuple[str, ...], value: Any) -> bool:
            return "*" in values or value in values

        return (
            match(self.catalogs, request.get("catalog"))
            and match(self.requesters, request.get("requester"))
            and match(self.duties, request.get("duty"))
            and (
                self.period_days_max is None
                or int(request.get("period_days", 0)) <= self.period_days_max
            )
        )


def load_rules(path: Path) -> list[ApprovalRule]:
    """Read an auto-approval rule file (TOML ``[[rule]]`` tables, or JSON ``{"rules": [...]}``).

    Each rule lists ``catalogs``, ``requesters`` and optionally ``duties`` (``"*"``
    for any) and ``period_days_max``; a request is approved when one rule matches
    it entirely. Anything else in the file is an error.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(RULES_BYTES_MAX + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > RULES_BYTES_MAX:
        raise InvalidInput(f"{path} is larger than {RULES_BYTES_MAX} bytes")
    try:
        if path.suffix.lower() == ".json":
            document = json.loads(data.decode())
            raw = document.get("rules") if isinstance(document, dict) else None
        else:
            document = tomllib.loads(data.decode())
            raw = document.get("rule")
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise InvalidInput(f"{path}: not valid {kind}: {exc}") from exc
    if not isinstance(raw, list) or not raw:
        raise InvalidInput(f'{path}: no rules (TOML [[rule]] tables, or JSON {{"rules": [...]}})')
    if len(raw) > RULES_MAX:
        raise InvalidInput(f"{path}: {len(raw)} rules, over {RULES_MAX}")
    return [_rule(path, index, value) for index, value in enumerate(raw)]


def _rule(path: Path, index: int, value: Any) -> ApprovalRule:
    where = f"{path}: rule {index + 1}"
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a table")
    known = {"catalogs", "requesters", "duties", "period_days_max"}
    unknown = sorted(set(value) - known)
    if unknown:
        raise InvalidInput(f"{where}: unknown key {unknown[0]!r}; keys: {', '.join(sorted(known))}")

    def names(key: str, required: bool) -> tuple[str, ...]:
        listed = value.get(key, None if required else ["*"])
        if isinstance(listed, str):
            listed = [listed]
        if (
            not isinstance(listed, list)
            or not listed
            or not all(isinstance(v, str) for v in listed)
        ):
            raise InvalidInput(f'{where}: {key} must be a non-empty list of strings (or "*")')
        return tuple(listed)

    period = value.get("period_days_max")
    if period is not None and (
        not isinstance(period, int) or isinstance(period, bool) or period < 1
    ):
        raise InvalidInput(f"{where}: period_days_max must be a positive integer")
    return ApprovalRule(
        catalogs=names("catalogs", True),
        requesters=names("requesters", True),
        duties=names("duties", False),
        period_days_max=period,
    )


@dataclass
class _Watch:
    """What ``watch`` keeps between blocks: the last height handled and its options."""

    org: str
    contract: str
    rules: list[ApprovalRule] | None
    as_json: bool
    state_file: Path | None
    exit_after: int | None
    height: int = 0
    partial: int = 0
    """Directory events of block ``height + 1`` already handled."""
    shown: int = 0
    """Notifications printed so far (for ``--exit-after``)."""
    seen_requests: set[int] = field(default_factory=set)
    """Requests this process already decided on (a block read again decides nothing twice)."""

    def save(self) -> None:
        """Write the position to the state file (beside it, then renamed into place)."""
        if self.state_file is not None:
            tmp = self.state_file.with_name(self.state_file.name + ".tmp")
            state = {"height": self.height, "partial": self.partial, "org": self.org}
            tmp.write_text(json.dumps(state) + "\n")
            tmp.replace(self.state_file)

    @property
    def done(self) -> bool:
        """Whether ``--exit-after`` notifications were printed."""
        return self.exit_after is not None and self.shown >= self.exit_after


@directory.command("watch")
@click.option(
    "--auto-approve",
    "rules_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Approve conditional requests a rule in this TOML/JSON file allows.",
)
@click.option(
    "--since",
    type=click.IntRange(0),
    help="Handle the blocks after this height first (default: from now on).",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the last handled height here; a restarted watch resumes after it.",
)
@click.option(
    "--exit-after",
    type=click.IntRange(1),
    help="Stop at the end of the block in which this many notifications were printed.",
)
@contract_option
@target_options
@json_option
def directory_watch(
    rules_file: Path | None,
    since: int | None,
    state_file: Path | None,
    exit_after: int | None,
    contract_name: str,
    as_json: bool,
    **target: Any,
) -> None:
    """Print, as they commit, requests addressed to your department and decisions,
    revocations and deliveries on its own requests; optionally approve by rule.

    Follows the node's event stream (WebSocket) and reads each new block's
    transactions, so nothing is missed: if the node restarts, watch reconnects
    and resumes after the last block it handled (with --state, even across
    its own restarts). With --json, one JSON object per line.

    Rule file (TOML), approving a matching pending request:

    \b
      [[rule]]
      catalogs = ["301001/000001"]     # your catalogs, or "*"
      requesters = ["water"]           # requesting departments, or "*"
      duties = ["flood"]               # the requester's duties (default "*")
      period_days_max = 90             # optional

    \b
    Example:
      jinglian directory watch --identity planning/admin --auto-approve rules.toml
      jinglian directory watch --identity water/client --json --state water.watch
    """
    rules = load_rules(rules_file) if rules_file is not None else None
    _, client = _client(target)
    with client:
        org = _own_org(client)
        start, partial = since, 0
        if start is None and state_file is not None and state_file.is_file():
            start, partial = _saved_position(state_file, org)
        if start is None:
            start = int(client.get_block("latest")["height"])
        base_url, identity = client.base_url, client.identity
    watch = _Watch(org, contract_name, rules, as_json, state_file, exit_after, start, partial)
    click.echo(
        f"watching {org}'s requests and decisions after block {start} at {base_url}"
        + (f", approving by {len(rules)} rule(s)" if rules else "")
        + " (Ctrl-C stops)",
        err=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_watch_loop(base_url, identity, watch))


def _saved_position(path: Path, org: str) -> tuple[int, int]:
    """The height and the events of the next block a watch state file says were handled."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the watch state {path}: {exc}") from exc
    if (
        not isinstance(saved, dict)
        or saved.get("org") != org
        or not isinstance(saved.get("height"), int)
        or not isinstance(saved.get("partial", 0), int)
    ):
        raise ConfigError(f"{path} is not a watch state of {org}")
    return int(saved["height"]), int(saved.get("partial", 0))


async def _watch_loop(base_url: str, identity: Any, watch: _Watch) -> None:
    """Follow blocks forever (or until ``exit_after``), reconnecting with a growing pause."""
    pause = 0.5
    while not watch.done:
        try:
            async with AsyncClient(base_url, identity) as client:
                await _follow(client, watch)
                pause = 0.5
        except (httpx.TransportError, OSError, WebSocketException, JinglianError) as exc:
            if isinstance(exc, JinglianError) and exc.code not in (
                "busy",
                "unavailable",
                "internal",
            ):
                raise
            _note(f"connection lost ({exc.__class__.__name__}); reconnecting in {pause:g} s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, WATCH_RETRY_S_MAX)


async def _follow(client: AsyncClient, watch: _Watch) -> None:
    """Read every block after ``watch.height``, then each new one the stream announces."""
    wake: asyncio.Queue[object] = asyncio.Queue()
    lost = object()

    async def pump() -> None:
        try:
            async for _message in client.subscribe(watch.contract, blocks=True):
                wake.put_nowait(None)
        except (OSError, WebSocketException):
            pass
        wake.put_nowait(lost)

    task = asyncio.create_task(pump())
    try:
        await _catch_up(client, watch)
        _note(f"connected: handled every block up to {watch.height}")
        while not watch.done:
            await _catch_up(client, watch)
            if watch.done:
                return
            try:
                signal = await asyncio.wait_for(wake.get(), WATCH_WAKE_S)
            except TimeoutError:
                continue
            if signal is lost:
                await _catch_up(client, watch)
                raise httpx.TransportError("the event stream closed")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def _catch_up(client: AsyncClient, watch: _Watch) -> None:
    """Handle every block after ``watch.height`` up to the latest, each event once: the
    events of a block cut short (a lost connection) are counted in ``watch.partial`` and
    skipped when the block is read again."""
    latest = int((await client.get_block("latest"))["height"])
    while watch.height < latest and not watch.done:
        height = watch.height + 1
        start = 0
        seen = 0
        while True:
            page = await client.call_api("GET", f"/blocks/{height}/txs", params={"start": start})
            for tx in page["txs"]:
                if tx["receipt"]["status"] != "ok":
                    continue
                for event in tx["receipt"]["events"]:
                    if event["contract"] != watch.contract:
                        continue
                    seen += 1
                    if seen <= watch.partial:
                        continue
                    await _handle(client, watch, height, event["topic"], event["data"])
                    watch.partial = seen
                    watch.save()
            start += len(page["txs"])
            if not page["txs"] or start >= int(page["tx_count"]):
                break
        watch.height = height
        watch.partial = 0
        watch.save()


async def _handle(
    client: AsyncClient, watch: _Watch, height: int, topic: str, data: dict[str, Any]
) -> None:
    org = watch.org
    if org not in data.get("orgs", []) or topic in ("changed", "settings"):
        return
    mine = data.get("requester") == org
    addressed = data.get("provider") == org
    if topic == "requested" and addressed:
        await _show(watch, height, topic, data, _request_line(data))
        if watch.rules is not None and data.get("status") == "pending":
            await _decide(client, watch, height, data)
        return
    if addressed and topic == "confirmed":
        text = f"delivery {data.get('delivery')} confirmed by {data.get('requester')}"
    elif mine and topic in REQUESTER_TOPICS:
        text = {
            "granted": f"request {data.get('request')} granted by {data.get('provider')} "
            f"(grant {data.get('grant')}, until {_time(data.get('end'))})",
            "rejected": f"request {data.get('request')} rejected by {data.get('provider')}: "
            f"{data.get('reason')}",
            "revoked": f"grant {data.get('grant')} revoked by {data.get('provider')}: "
            f"{data.get('reason')}",
            "delivered": f"delivery {data.get('delivery')} under grant {data.get('grant')} "
            f"from {data.get('provider')}",
        }[topic]
    else:
        return
    await _show(watch, height, topic, data, text)


def _request_line(data: dict[str, Any]) -> str:
    return (
        f"request {data.get('request')} from {data.get('requester')} for "
        f"{data.get('catalog')} ({', '.join(data.get('items') or [])}), duty {data.get('duty')}, "
        f"{data.get('period_days')} days, {data.get('status')}: {data.get('purpose')}"
    )


async def _decide(client: AsyncClient, watch: _Watch, height: int, data: dict[str, Any]) -> None:
    request_id = int(data["request"])
    if request_id in watch.seen_requests:
        return
    watch.seen_requests.add(request_id)
    assert watch.rules is not None
    if not any(rule.allows(data) for rule in watch.rules):
        await _show(
            watch,
            height,
            "left",
            {"request": request_id},
            f"request {request_id}: no rule allows it; left for a decision",
        )
        return
    current = (await client.query(watch.contract, "get_request", {"request_id": request_id})).value
    if not isinstance(current, dict) or current.get("status") != "pending":
        status = current.get("status") if isinstance(current, dict) else None
        await _show(
            watch,
            height,
            "skipped",
            {"request": request_id, "status": status},
            f"request {request_id} is {status}; nothing to approve",
        )
        return
    try:
        result = await client.invoke(watch.contract, "approve", {"request_id": request_id})
    except JinglianError as exc:
        await _show(
            watch, height, "approve_failed", {"request": request_id, "error": exc.message},
            f"request {request_id}: approval failed: {exc.message} ({exc.code})",
        )  # fmt: skip
        return
    await _show(
        watch, height, "approved", {"request": request_id, "tx_id": result.id, "height": result.height},
        f"request {request_id} approved by rule (tx {result.id[:16]}..., block {result.height})",
    )  # fmt: skip


async def _show(watch: _Watch, height: int, topic: str, data: dict[str, Any], text: str) -> None:
    watch.shown += 1
    if watch.as_json:
        click.echo(
            json.dumps(
                {"height": height, "event": topic, **data}, ensure_ascii=False, sort_keys=True
            )
        )
    else:
        click.echo(f"[block {height}] {text}")


def _note(text: str) -> None:
    """A line about the watch itself (stderr, so --json output stays one object per line)."""
    click.echo(text, err=True)
