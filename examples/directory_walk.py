"""The directory demo's walk, timed: the water authority gets the planning commission's
land-use planning data through the chain, from search to a checked file.

Run it against a devnet brought up with the demo (``make run``, or
``jinglian devnet up --demo``), from the repository or with ``--net``::

    python examples/directory_walk.py --net .devnet
    python examples/directory_walk.py --net .devnet --approve self --runs 5

As the water authority (``water/client``) it

1. **searches** the catalogs (the node's SQL index) for the land-use data;
2. **requests** the chosen items of the planning commission's catalog
   ``301001/000001``, justified by its ``flood-control`` duty;
3. **waits for the grant**: the catalog is conditional, so the planning
   commission decides. By default its ``directory watch --auto-approve``
   companion (started by ``devnet up --demo``) approves by rule; with
   ``--approve self`` this script approves as ``planning/admin`` itself, and
   says so;
4. **fetches** the data from the planning commission's exchange service
   (mutual TLS; the service checks the grant on chain, seals the data to the
   water authority's key and records the delivery), **decrypts** it and
   records the receipt (``confirm``);
5. **verifies** the saved file on its own: ``H(request_hash || data)`` must
   equal the ``response_hash`` of the delivery record read back from the
   chain, and the delivery must read ``confirmed``.

Each step's wall time, the total, the on-chain ids (request, grant,
delivery) and the hash are printed; ``--json`` prints them as one object.
Any failure prints the step and the error and exits 1. The figures of
``docs/apps/directory.md`` ("Measured") come from this script.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from jinglian.apps import directory
from jinglian.apps.directory.demo import LANDUSE_CATALOG, PLANNING, WATER, WATER_DUTY
from jinglian.client import Client, find_network_dir, load_network
from jinglian.crypto import Suite, get_suite
from jinglian.exchange import FetchResult, fetch, response_hash
from jinglian.types.errors import ConfigError, JinglianError, PayloadMismatch, Timeout

DEFAULT_ITEMS = ("parcel_id", "land_use_class", "area_m2", "plan_no", "approval_date")
"""The items the water authority asks for: what a flood-risk map needs of each parcel."""
SEARCH_KEYWORD = "土地利用"
"""What the water authority searches for ("land use")."""
PURPOSE = "防汛风险图 Flood risk map of the new district (directory walk)"
PERIOD_DAYS = 30
"""Period of use asked for; the demo's rule approves up to 90 days."""
GRANT_TIMEOUT_S = 60.0
"""How long the walk waits for the planning commission's decision."""
GRANT_POLL_S = 0.05
"""Pause between two reads of the request while waiting for the decision."""
STEPS = ("search", "request", "grant", "fetch", "verify")
"""The timed steps, in order."""

T = TypeVar("T")


class WalkFailed(Exception):
    """A step of the walk failed: which one, and why."""

    def __init__(self, step: str, error: BaseException) -> None:
        super().__init__(f"{step}: {error}")
        self.step = step
        """The step that failed."""
        self.error = error
        """What went wrong."""


@dataclass
class Walk:
    """One walk's results: times per step in seconds, ids on chain, the hash."""

    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time of each step."""
    search_total: int = 0
    """Catalogs the search found."""
    request: int = 0
    """Request id on chain."""
    grant: int = 0
    """Grant id on chain (the request's id)."""
    approved_by: str = ""
    """Who approved: ``watch`` (the planning commission's rule), ``self`` or ``contract``."""
    delivery: int = 0
    """Delivery id on chain."""
    request_hash: str = ""
    """Hex hash of the signed fetch request (on chain in the delivery)."""
    payload_hash: str = ""
    """Hex ``H(request_hash || data)``: recomputed here, equal to the chain's."""
    size: int = 0
    """Bytes of data received."""
    rows: int = 0
    """Data rows in the CSV received (header excluded)."""
    path: str = ""
    """Where the data was saved."""

    @property
    def total(self) -> float:
        """The whole walk, in seconds."""
        return sum(self.seconds.values())


def walk_once(
    net_dir: Path,
    *,
    approve: str,
    items: Sequence[str],
    out_path: Path,
    node: str | None = None,
    say: Callable[[str], None] = print,
) -> Walk:
    """Run the five steps once as the water authority; ``WalkFailed`` names the step."""
    network = load_network(net_dir)
    suite = get_suite(network.crypto)
    result = Walk(path=str(out_path))
    with Client.from_network(net_dir, f"{WATER}/client", node) as water:

        def step(name: str, run: Callable[[], T]) -> T:
            started = time.perf_counter()
            try:
                value = run()
            except (JinglianError, OSError, ValueError, KeyError) as exc:
                raise WalkFailed(name, exc) from exc
            result.seconds[name] = time.perf_counter() - started
            return value

        found = step(
            "search",
            lambda: directory.search(water, keyword=SEARCH_KEYWORD, provider=PLANNING),
        )
        result.search_total = int(found.get("total", 0))
        hit = next((c for c in found.get("catalogs", []) if c["code"] == LANDUSE_CATALOG), None)
        if hit is None:
            raise WalkFailed(
                "search",
                ConfigError(
                    f"no {PLANNING}:{LANDUSE_CATALOG} among the {result.search_total} hits for "
                    f"{SEARCH_KEYWORD!r}: is the demo loaded and indexed (`devnet up --demo`)?"
                ),
            )
        say(
            f"search   {result.seconds['search']:6.3f} s  {result.search_total} hit(s) for "
            f"{SEARCH_KEYWORD!r} from {PLANNING}: {hit['org']}:{hit['code']} {hit['name']} "
            f"({hit['share_type']}, {hit.get('item_count', '?')} items)"
        )

        requested = step(
            "request",
            lambda: directory.request(
                water, PLANNING, LANDUSE_CATALOG, items, WATER_DUTY, PURPOSE, PERIOD_DAYS
            ),
        )
        result.request = int(requested["id"])
        say(
            f"request  {result.seconds['request']:6.3f} s  request {result.request} committed "
            f"({requested['status']}): {', '.join(items)} for duty {WATER_DUTY}, "
            f"{PERIOD_DAYS} days"
        )

        if requested["status"] == "granted":
            result.approved_by = "contract"
            result.seconds["grant"] = 0.0
            result.grant = int(requested["grant"])
            say(f"grant     0.000 s  granted at once: {LANDUSE_CATALOG} is unconditional")
        else:
            if approve == "self":
                say(
                    f"         approving request {result.request} as {PLANNING}/admin (--approve self)"
                )
            else:
                say(f"         waiting for {PLANNING}'s watch to approve it by rule")
            result.grant, result.approved_by = step(
                "grant", lambda: _wait_for_grant(net_dir, water, result.request, approve, node)
            )
            by = {"self": "this script as planning/admin", "watch": "its watch rule"}
            say(
                f"grant    {result.seconds['grant']:6.3f} s  grant {result.grant} by {PLANNING} "
                f"({by[result.approved_by]})"
            )

        fetched = step("fetch", lambda: fetch(water, result.grant, out_path))
        result.delivery = fetched.delivery
        result.request_hash = fetched.request_hash
        result.size = fetched.size
        say(
            f"fetch    {result.seconds['fetch']:6.3f} s  delivery {fetched.delivery}: "
            f"{fetched.size} bytes from {fetched.provider}'s exchange, decrypted, receipt "
            f"recorded ({fetched.status}), saved to {out_path}"
        )

        result.payload_hash, result.rows = step(
            "verify", lambda: _verify(water, suite, fetched, out_path)
        )
        say(
            f"verify   {result.seconds['verify']:6.3f} s  {result.rows} rows; "
            f"H(request_hash || data) = {result.payload_hash} = the chain's response_hash "
            "(delivery confirmed)"
        )
    say(
        f"total    {result.total:6.3f} s  request {result.request}, grant {result.grant}, "
        f"delivery {result.delivery}, hash {result.payload_hash}"
    )
    return result


def _verify(water: Client, suite: Suite, fetched: FetchResult, out_path: Path) -> tuple[str, int]:
    """Check the saved file against the chain on our own: ``H(request_hash || data)`` must be
    the delivery record's ``response_hash``, and the delivery must read ``confirmed``.

    Returns the hash (hex) and the CSV's data rows.
    """
    data = out_path.read_bytes()
    computed = response_hash(suite, bytes.fromhex(fetched.request_hash), data).hex()
    record = directory.get_delivery(water, fetched.delivery)
    if record["response_hash"] != computed or record["request_hash"] != fetched.request_hash:
        raise PayloadMismatch(
            f"delivery {fetched.delivery}: the file hashes to {computed}, the chain "
            f"records {record['response_hash']}"
        )
    if record.get("status") != "confirmed":
        raise PayloadMismatch(
            f"delivery {fetched.delivery} reads {record.get('status')!r} on chain, not 'confirmed'"
        )
    return computed, max(data.count(b"\n") - 1, 0)


def _wait_for_grant(
    net_dir: Path, water: Client, request_id: int, approve: str, node: str | None
) -> tuple[int, str]:
    """The grant id and who approved, once the request is granted: approved here
    (``self``) or awaited (``watch``).

    With ``self`` while the planning commission's watch runs, the watch may decide
    first; the contract then refuses this second approval, and the walk says the
    watch approved.
    """
    if approve == "self":
        with Client.from_network(net_dir, f"{PLANNING}/admin", node) as planning:
            try:
                directory.approve(planning, request_id)
            except JinglianError:
                if directory.get_request(water, request_id)["status"] != "granted":
                    raise
                approve = "watch"  # its watch approved first
    deadline = time.monotonic() + GRANT_TIMEOUT_S
    while True:
        found = directory.get_request(water, request_id)
        status = found["status"]
        if status == "granted":
            return int(found.get("grant") or request_id), approve
        if status != "pending":
            raise ConfigError(
                f"request {request_id} was {status}"
                + (f": {found['reason']}" if found.get("reason") else "")
            )
        if time.monotonic() > deadline:
            raise Timeout(
                f"request {request_id} is still pending after {GRANT_TIMEOUT_S:g} s: is "
                f"{PLANNING}'s watch running (`jinglian devnet up --demo`, then `devnet "
                "status`)? Or approve it here with --approve self"
            )
        time.sleep(GRANT_POLL_S)


def _medians(walks: list[Walk]) -> dict[str, float]:
    """Median seconds of each step and of the total over ``walks``."""
    medians = {
        name: statistics.median(w.seconds[name] for w in walks)
        for name in STEPS
        if all(name in w.seconds for w in walks)
    }
    medians["total"] = statistics.median(w.total for w in walks)
    return medians


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, walk ``--runs`` times, print the times; 0 if every walk passed."""
    parser = argparse.ArgumentParser(
        description="The water authority gets the planning commission's land-use data "
        "through the chain, each step timed (search, request, grant, fetch, verify).",
    )
    parser.add_argument(
        "--net",
        type=Path,
        help="Network directory of the devnet (default: $JINGLIAN_NET, the network "
        "directory you are in, else .devnet)",
    )
    parser.add_argument("--node", help="Node to talk to (default: node1)")
    parser.add_argument(
        "--approve",
        choices=("watch", "self"),
        default="watch",
        help="Who approves: the planning commission's auto-approving watch of `devnet up "
        "--demo` (default), or this script as planning/admin",
    )
    parser.add_argument(
        "--items",
        default=",".join(DEFAULT_ITEMS),
        help=f"Items to request, comma-separated (default: {','.join(DEFAULT_ITEMS)})",
    )
    parser.add_argument("--runs", type=int, default=1, help="Walks to run (default 1)")
    parser.add_argument(
        "-o", "--output", type=Path, help="Where to save the data (default: a temporary file)"
    )
    parser.add_argument("--json", action="store_true", help="Print one JSON object at the end")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    items = [code.strip() for code in args.items.split(",") if code.strip()]
    net_dir = find_network_dir(args.net) or (Path(".devnet") if Path(".devnet").is_dir() else None)
    if net_dir is None:
        print("error: no network found: pass --net DIR (config_error)", file=sys.stderr)
        return 1

    def say(text: str) -> None:
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    walks: list[Walk] = []
    with tempfile.TemporaryDirectory(prefix="directory-walk-") as scratch:
        for run in range(1, args.runs + 1):
            if args.runs > 1:
                say(f"-- walk {run} of {args.runs}")
            out_path = args.output or Path(scratch) / f"landuse-{run}.csv"
            try:
                walks.append(
                    walk_once(
                        net_dir,
                        approve=args.approve,
                        items=items,
                        out_path=out_path,
                        node=args.node,
                        say=say,
                    )
                )
            except WalkFailed as failed:
                code = getattr(failed.error, "code", type(failed.error).__name__)
                print(f"error: the walk failed at {failed}  ({code})", file=sys.stderr)
                return 1
            except JinglianError as exc:
                print(f"error: {exc} ({exc.code})", file=sys.stderr)
                return 1
    if args.output is None:
        say("(the data files were temporary and are removed; -o FILE keeps the data)")
    medians = _medians(walks)
    if args.runs > 1:
        say(
            f"median of {args.runs}: "
            + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in medians.items())
        )
    if args.json:
        out: dict[str, Any] = {
            "runs": [{**asdict(w), "total": w.total} for w in walks],
            "median_seconds": medians,
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
