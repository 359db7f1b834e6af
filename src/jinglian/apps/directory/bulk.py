"""Bulk onboarding of a department's directory: read JSON or CSV files, check every entry
before anything is sent, compare with the chain, and send only what differs, batched.

File formats (``docs/apps/directory.md``, "Bulk import"):

- JSON: ``{"duties": [{"id", "name", "legal_basis"}], "divisions": [{"id", "name"}],
  "catalogs": [{"code", "name", "summary", "duties", "share_type", "share_condition",
  "share_mode", "format", "update_cycle", "open_attribute", "release_date", "related",
  "items": [{"code", "name", "data_type", "sensitivity", "standard"}]}]}``;
  every key is optional except the entries' own fields.
- CSV (UTF-8, a header row): one file per kind, recognised by its header:
  duties ``id,name,legal_basis``; divisions ``id,name``; catalogs ``code,name,summary,
  duties,share_type,share_condition,share_mode,format,update_cycle,open_attribute,
  release_date[,related]`` (``duties`` and ``related`` separated by ``;``); items
  ``catalog,code,name,data_type,sensitivity[,standard]``.

Every entry is checked with the contract's own check functions (the same text, so the
two cannot drift) and named by ``FILE:LINE`` when it is wrong; with any error nothing
is sent. ``plan_changes`` then reads the department's entries from the chain and keeps
only the new or changed ones (identical active entries are skipped, so importing the
same file again sends nothing); ``send`` signs the transactions and submits them in
batches (``POST /txs/batch``) with a bounded number in flight, following committed
blocks for their receipts: duties and divisions first, then catalogs, then items (a
``put_items`` of up to ``ITEMS_BATCH_MAX`` items per catalog per transaction).
"""

from __future__ import annotations

import csv
import io
import json
import json.scanner
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinglian.apps.directory import contract as _rules
from jinglian.apps.directory.service import CONTRACT_NAME
from jinglian.client import Client, Identity
from jinglian.types import Tx
from jinglian.types.errors import (
    Busy,
    DuplicateTransaction,
    InvalidInput,
    JinglianError,
    NotFound,
    Timeout,
)

__all__ = [
    "ERRORS_SHOWN_MAX",
    "FILE_BYTES_MAX",
    "ITEMS_BATCH_MAX",
    "OPEN_ATTRIBUTES",
    "UPDATE_CYCLES",
    "CallSpec",
    "ChainDirectory",
    "Changes",
    "Entry",
    "Plan",
    "SendReport",
    "calls_of",
    "catalog_args",
    "check_entry",
    "check_plan",
    "directory_state",
    "error_lines",
    "plan_changes",
    "read_files",
    "refuse",
    "send",
    "send_phases",
]

FILE_BYTES_MAX = 64 * 1024 * 1024
"""Largest import file read."""
ERRORS_SHOWN_MAX = 50
"""Problems listed before the rest are counted only."""
ITEMS_BATCH_MAX: int = _rules.ITEMS_BATCH_MAX
"""Items per ``put_items`` transaction (the contract's limit)."""
ITEMS_PER_CATALOG_MAX: int = _rules.ITEMS_PER_CATALOG_MAX
LIST_LIMIT_MAX: int = _rules.LIST_LIMIT_MAX
UPDATE_CYCLES: tuple[str, ...] = _rules.UPDATE_CYCLES
OPEN_ATTRIBUTES: tuple[str, ...] = _rules.OPEN_ATTRIBUTES
IN_FLIGHT_TXS_MAX = 200
"""Transactions submitted but not yet seen committed, at most; it also bounds a block. The
full demo on a 4-validator devnet (2 cores) took 182, 170 and 180 s with 100, 200 and 500
in flight on the same code: the bound hardly matters, and 200 keeps blocks small."""
SUBMIT_CHUNK_TXS = 200
"""Transactions per ``POST /txs/batch``."""
STALL_S = 120.0
"""Seconds without any of our transactions committing before ``send`` gives up."""
POLL_S = 0.05
"""Pause between looks for a new block."""
READ_THREADS = 8
"""Concurrent reads while comparing with the chain."""

DUTY_FIELDS = ("id", "name", "legal_basis")
DIVISION_FIELDS = ("id", "name")
CATALOG_FIELDS = (
    "code",
    "name",
    "summary",
    "duties",
    "share_type",
    "share_condition",
    "share_mode",
    "format",
    "update_cycle",
    "open_attribute",
    "release_date",
    "related",
)
CATALOG_REQUIRED = CATALOG_FIELDS[:-1]
ITEM_FIELDS = ("code", "name", "data_type", "sensitivity", "standard")
CSV_ITEM_FIELDS = ("catalog", *ITEM_FIELDS)
LIST_SEPARATOR = ";"


@dataclass
class Entry:
    """One directory entry to publish: the contract's arguments and where it was read."""

    kind: str
    """``duty``, ``division``, ``catalog`` or ``item``."""
    key: str
    """Its id or code (an item's: ``<catalog> <code>``)."""
    value: dict[str, Any]
    """Fields as stored on chain (``id``, ``format``), without status and stamps."""
    where: str
    """``FILE:LINE`` (or a JSON path when no line is known)."""


@dataclass
class Plan:
    """A department's directory as read from files (or generated)."""

    duties: dict[str, Entry] = field(default_factory=dict)
    divisions: dict[str, Entry] = field(default_factory=dict)
    catalogs: dict[str, Entry] = field(default_factory=dict)
    items: dict[str, dict[str, Entry]] = field(default_factory=dict)
    """Per catalog code, its items by code."""
    problems: list[str] = field(default_factory=list)

    def count(self) -> dict[str, int]:
        """Entries per kind."""
        return {
            "duties": len(self.duties),
            "divisions": len(self.divisions),
            "catalogs": len(self.catalogs),
            "items": sum(len(v) for v in self.items.values()),
        }

    def add(self, entry: Entry) -> None:
        """Add ``entry``; a second entry with the same key is a problem."""
        if entry.kind == "item":
            catalog, code = entry.value["catalog"], entry.value["code"]
            table = self.items.setdefault(catalog, {})
            key = code
        else:
            table = {
                "duty": self.duties,
                "division": self.divisions,
                "catalog": self.catalogs,
            }[entry.kind]
            key = entry.key
        first = table.get(key)
        if first is not None:
            self.problems.append(f"{entry.where}: {entry.kind} {entry.key!r} repeats {first.where}")
            return
        table[key] = entry


class _Check:
    """The ``ctx`` the contract's check functions need: ``fail`` raises with the place."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, message: str) -> None:
        raise InvalidInput(f"{self.where}: {message}")


# -- reading files -------------------------------------------------------------------------------


def read_files(paths: Sequence[Path]) -> Plan:
    """Read JSON and CSV import files into one plan, with every problem found listed in
    ``plan.problems`` (``FILE:LINE: message``); the entries are checked as well."""
    plan = Plan()
    for path in paths:
        text = _read_text(path, plan)
        if text is None:
            continue
        if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
            _read_json(path, text, plan)
        else:
            _read_csv(path, text, plan)
    check_plan(plan)
    return plan


def _read_text(path: Path, plan: Plan) -> str | None:
    try:
        with path.open("rb") as handle:
            data = handle.read(FILE_BYTES_MAX + 1)
    except OSError as exc:
        plan.problems.append(f"{path}: cannot read: {exc.strerror}")
        return None
    if len(data) > FILE_BYTES_MAX:
        plan.problems.append(f"{path}: larger than {FILE_BYTES_MAX} bytes")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        plan.problems.append(f"{path}:{line}: not UTF-8 text")
        return None


class _Lined(dict[str, Any]):
    """A JSON object that remembers the line it starts on."""

    line = 0


def _lined_json(text: str) -> Any:
    """``json.loads`` whose objects carry their starting line (``_Lined.line``)."""
    starts = [0]
    starts += [index + 1 for index, char in enumerate(text) if char == "\n"]
    decoder: Any = json.JSONDecoder()
    plain = decoder.parse_object

    def parse_object(s_and_end: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        value, end = plain(s_and_end, *args, **kwargs)
        lined = _Lined(value)
        lined.line = bisect_right(starts, s_and_end[1] - 1)
        return lined, end

    decoder.parse_object = parse_object
    decoder.scan_once = getattr(json.scanner, "py_make_scanner")(decoder)  # noqa: B009  (pure-Python scanner, untyped)
    return decoder.decode(text)


def _where(path: Path, value: Any, fallback: str) -> str:
    line = getattr(value, "line", 0)
    return f"{path}:{line}" if line else f"{path}: {fallback}"


def _read_json(path: Path, text: str, plan: Plan) -> None:
    try:
        document = _lined_json(text)
    except json.JSONDecodeError as exc:
        plan.problems.append(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}")
        return
    except RecursionError:
        plan.problems.append(f"{path}:1: nested too deeply to be an import file")
        return
    if not isinstance(document, dict):
        plan.problems.append(f"{path}:1: must be a JSON object with duties, divisions, catalogs")
        return
    for name in document:
        if name not in ("duties", "divisions", "catalogs"):
            plan.problems.append(f"{_where(path, document, '')}: unknown key {name!r}")
    for kind, name, fields in (
        ("duty", "duties", DUTY_FIELDS),
        ("division", "divisions", DIVISION_FIELDS),
        ("catalog", "catalogs", CATALOG_FIELDS),
    ):
        values = document.get(name, [])
        if not isinstance(values, list):
            plan.problems.append(f"{_where(path, document, name)}: {name} must be a list")
            continue
        for index, value in enumerate(values):
            where = _where(path, value, f"{name}[{index}]")
            if not isinstance(value, dict):
                plan.problems.append(f"{where}: {name}[{index}] must be an object")
                continue
            extra = ("items",) if kind == "catalog" else ()
            entry = _entry(kind, dict(value), fields, extra, where, plan)
            if entry is None:
                continue
            plan.add(entry)
            if kind == "catalog":
                _read_json_items(path, value.get("items", []), entry.key, where, plan)


def _read_json_items(path: Path, values: Any, catalog: str, where: str, plan: Plan) -> None:
    if not isinstance(values, list):
        plan.problems.append(f"{where}: items must be a list")
        return
    for index, value in enumerate(values):
        item_where = _where(path, value, f"items[{index}] of {catalog}")
        if not isinstance(value, dict):
            plan.problems.append(f"{item_where}: items[{index}] must be an object")
            continue
        entry = _entry("item", {"catalog": catalog, **value}, CSV_ITEM_FIELDS, (), item_where, plan)
        if entry is not None:
            plan.add(entry)


CSV_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "duty": (DUTY_FIELDS, DUTY_FIELDS),
    "division": (DIVISION_FIELDS, DIVISION_FIELDS),
    "catalog": (CATALOG_FIELDS, CATALOG_REQUIRED),
    "item": (CSV_ITEM_FIELDS, CSV_ITEM_FIELDS[:-1]),
}


def _csv_kind(header: Sequence[str]) -> str | None:
    names = set(header)
    for kind, (fields, required) in CSV_KINDS.items():
        if set(required) <= names <= set(fields):
            return kind
    return None


def _read_csv(path: Path, text: str, plan: Plan) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        plan.problems.append(f"{path}:1: empty file (a CSV file needs a header row)")
        return
    except csv.Error as exc:
        plan.problems.append(f"{path}:1: not valid CSV: {exc}")
        return
    kind = _csv_kind(header)
    if kind is None:
        plan.problems.append(
            f"{path}:1: header {','.join(header)!r} is none of duties (id,name,legal_basis), "
            "divisions (id,name), catalogs (code,name,summary,duties,...) or items "
            "(catalog,code,name,data_type,sensitivity[,standard])"
        )
        return
    fields = CSV_KINDS[kind][0]
    line = reader.line_num
    try:
        for row in reader:
            where = f"{path}:{line + 1}"
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                plan.problems.append(f"{where}: {len(row)} columns, the header has {len(header)}")
                continue
            value: dict[str, Any] = dict(zip(header, row, strict=True))
            if kind == "catalog":
                for name in ("duties", "related"):
                    if name in value:
                        value[name] = _split(value[name])
            entry = _entry(kind, value, fields, (), where, plan)
            if entry is not None:
                plan.add(entry)
    except csv.Error as exc:
        plan.problems.append(f"{path}:{reader.line_num}: not valid CSV: {exc}")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]


def _entry(
    kind: str,
    value: dict[str, Any],
    fields: Sequence[str],
    extra: Sequence[str],
    where: str,
    plan: Plan,
) -> Entry | None:
    unknown = [name for name in value if name not in fields and name not in extra]
    if unknown:
        plan.problems.append(f"{where}: unknown field {unknown[0]!r}; fields: {', '.join(fields)}")
        return None
    stored = {name: value[name] for name in fields if name in value}
    if kind == "catalog":
        stored.setdefault("related", [])
    if kind == "item":
        stored.setdefault("standard", "")
        key = f"{stored.get('catalog')} {stored.get('code')}"
    else:
        key = str(stored.get("code" if kind == "catalog" else "id"))
    missing = [name for name in fields if name not in stored]
    if missing:
        plan.problems.append(f"{where}: {kind} lacks {missing[0]!r}")
        return None
    return Entry(kind=kind, key=key, value=stored, where=where)


# -- checking ------------------------------------------------------------------------------------


def check_entry(entry: Entry) -> list[str]:
    """Check one entry with the contract's rules; each problem as ``where: message`` (one
    per field, so a file's every mistake is listed at once)."""
    ctx = _Check(entry.where)
    v = entry.value
    r: Any = _rules
    checks: list[Callable[[], None]] = []
    if entry.kind in ("duty", "division"):
        checks += [
            lambda: r.check_id(ctx, "id", v["id"]),
            lambda: r.check_text(ctx, "name", v["name"], r.NAME_CHARS_MAX, True),
        ]
        if entry.kind == "duty":
            checks.append(
                lambda: r.check_text(
                    ctx, "legal_basis", v["legal_basis"], r.LEGAL_BASIS_CHARS_MAX, True
                )
            )
    elif entry.kind == "catalog":
        checks += [
            lambda: r.check_code(ctx, "code", v["code"]),
            lambda: r.check_text(ctx, "name", v["name"], r.NAME_CHARS_MAX, True),
            lambda: r.check_text(ctx, "summary", v["summary"], r.SUMMARY_CHARS_MAX, True),
            lambda: r.check_id_list(ctx, "duties", v["duties"], r.DUTIES_MAX),
            lambda: r.check_share(ctx, v["share_type"], v["share_condition"], v["share_mode"]),
            lambda: r.check_text(ctx, "format", v["format"], r.FORMAT_CHARS_MAX, True),
            lambda: r.check_choice(ctx, "update_cycle", v["update_cycle"], r.UPDATE_CYCLES),
            lambda: r.check_choice(ctx, "open_attribute", v["open_attribute"], r.OPEN_ATTRIBUTES),
            lambda: r.check_date(ctx, "release_date", v["release_date"]),
            lambda: r.check_related(ctx, v["related"]),
        ]
    else:
        item = {name: v[name] for name in ITEM_FIELDS}
        checks += [
            lambda: r.check_code(ctx, "catalog", v["catalog"]),
            lambda: r.check_item(ctx, 0, item),
        ]
    problems = []
    for check in checks:
        try:
            check()
        except InvalidInput as exc:
            problems.append(exc.message.replace("items[0].", "", 1))
    return problems


def check_plan(plan: Plan) -> None:
    """Check every entry (problems are appended to ``plan.problems``) and that no catalog
    would hold more items than the contract allows."""
    for table in (plan.duties, plan.divisions, plan.catalogs):
        for entry in table.values():
            plan.problems += check_entry(entry)
    for entries in plan.items.values():
        for entry in entries.values():
            plan.problems += check_entry(entry)
        if len(entries) > ITEMS_PER_CATALOG_MAX:
            first = next(iter(entries.values()))
            plan.problems.append(
                f"{first.where}: catalog {first.value['catalog']} would hold {len(entries)} "
                f"items, over {ITEMS_PER_CATALOG_MAX}"
            )


# -- comparing with the chain --------------------------------------------------------------------


STAMP_FIELDS = ("org", "status", "version", "height", "time", "tx_id", "catalog")


@dataclass
class Changes:
    """What a plan changes on chain: entries to send, and counts of identical ones skipped."""

    duties: list[Entry] = field(default_factory=list)
    divisions: list[Entry] = field(default_factory=list)
    catalogs: list[Entry] = field(default_factory=list)
    items: dict[str, list[Entry]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def count(self) -> dict[str, int]:
        """Entries to send per kind."""
        return {
            "duties": len(self.duties),
            "divisions": len(self.divisions),
            "catalogs": len(self.catalogs),
            "items": sum(len(v) for v in self.items.values()),
        }

    @property
    def empty(self) -> bool:
        """Whether nothing needs sending."""
        return not any(self.count().values())


def _same(entry: Entry, stored: Mapping[str, Any] | None) -> bool:
    if stored is None or stored.get("status") != "active":
        return False
    for name, value in entry.value.items():
        if name == "catalog":
            continue
        if stored.get(name) != value:
            return False
    return True


@dataclass
class ChainDirectory:
    """A department's entries on chain that a plan names (None: not there)."""

    duties: dict[str, dict[str, Any] | None]
    divisions: dict[str, dict[str, Any] | None]
    catalogs: dict[str, dict[str, Any] | None]
    items: dict[str, dict[str, dict[str, Any]]]


def directory_state(
    client: Client, org: str, plan: Plan, *, contract: str = CONTRACT_NAME
) -> ChainDirectory:
    """Read ``org``'s entries named by ``plan`` (concurrently), and the items of its catalogs."""

    def query(method: str, args: dict[str, Any]) -> Any:
        return client.query(contract, method, args).value

    if query("head", {"org": org}).get("seq", 0) == 0:
        return _nothing_yet(plan)
    duty_ids = list(plan.duties)
    for entry in plan.catalogs.values():
        duty_ids += [d for d in entry.value["duties"] if d not in duty_ids]
    with ThreadPoolExecutor(READ_THREADS) as pool:
        duties = dict(
            zip(
                duty_ids,
                pool.map(lambda d: query("duty", {"org": org, "duty_id": d}), duty_ids),
                strict=True,
            )
        )
        divisions = dict(
            zip(
                plan.divisions,
                pool.map(
                    lambda d: query("division", {"org": org, "division_id": d}), plan.divisions
                ),
                strict=True,
            )
        )
        catalogs = dict(
            zip(
                plan.catalogs,
                pool.map(lambda c: query("catalog", {"org": org, "code": c}), plan.catalogs),
                strict=True,
            )
        )
        with_items = [
            code for code in plan.items if (catalogs.get(code) or {}).get("item_count", 0) > 0
        ]
        unknown = [code for code in plan.items if code not in catalogs]
        for code, found in zip(
            unknown,
            pool.map(lambda c: query("catalog", {"org": org, "code": c}), unknown),
            strict=True,
        ):
            catalogs[code] = found
            if (found or {}).get("item_count", 0) > 0:
                with_items.append(code)
        item_lists = pool.map(lambda c: _all_items(query, org, c), with_items)
        items = dict(zip(with_items, item_lists, strict=True))
    return ChainDirectory(duties=duties, divisions=divisions, catalogs=catalogs, items=items)


def _nothing_yet(plan: Plan) -> ChainDirectory:
    """A department with no change on chain yet: none of the plan's entries are there."""
    duties: dict[str, dict[str, Any] | None] = dict.fromkeys(plan.duties)
    for entry in plan.catalogs.values():
        duties.update((duty, None) for duty in entry.value["duties"] if duty not in duties)
    return ChainDirectory(
        duties=duties,
        divisions=dict.fromkeys(plan.divisions),
        catalogs=dict.fromkeys(set(plan.catalogs) | set(plan.items)),
        items={},
    )


def _all_items(
    query: Callable[[str, dict[str, Any]], Any], org: str, catalog: str
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    start = 0
    while start < ITEMS_PER_CATALOG_MAX:
        page = query(
            "items", {"org": org, "catalog": catalog, "start": start, "limit": LIST_LIMIT_MAX}
        )
        for entry in page:
            found[entry["code"]] = entry
        if len(page) < LIST_LIMIT_MAX:
            break
        start += LIST_LIMIT_MAX
    return found


def plan_changes(plan: Plan, chain: ChainDirectory, org: str) -> Changes:
    """Entries of ``plan`` that differ from ``chain``; problems (a catalog's duty or an item's
    catalog that is neither in the plan nor active on chain) go to ``plan.problems``."""
    changes = Changes()
    for kind, table, found, out in (
        ("duties", plan.duties, chain.duties, changes.duties),
        ("divisions", plan.divisions, chain.divisions, changes.divisions),
        ("catalogs", plan.catalogs, chain.catalogs, changes.catalogs),
    ):
        skipped = 0
        for key, entry in table.items():
            if _same(entry, found.get(key)):
                skipped += 1
            else:
                out.append(entry)
        changes.skipped[kind] = skipped
    for entry in plan.catalogs.values():
        for index, duty in enumerate(entry.value["duties"]):
            on_chain = chain.duties.get(duty)
            active = on_chain is not None and on_chain.get("status") == "active"
            if duty not in plan.duties and not active:
                plan.problems.append(
                    f"{entry.where}: duties[{index}]: {org} has no active duty {duty!r} "
                    "(neither in the files nor on chain)"
                )
    skipped_items = 0
    for catalog, entries in plan.items.items():
        stored_catalog = chain.catalogs.get(catalog)
        catalog_active = stored_catalog is not None and stored_catalog.get("status") == "active"
        if catalog not in plan.catalogs and not catalog_active:
            first = next(iter(entries.values()))
            plan.problems.append(
                f"{first.where}: {org} has no active catalog {catalog!r} "
                "(neither in the files nor on chain)"
            )
            continue
        stored = chain.items.get(catalog, {})
        fresh = [e for code, e in entries.items() if not _same(e, stored.get(code))]
        skipped_items += len(entries) - len(fresh)
        new_codes = {e.value["code"] for e in fresh} - set(stored)
        if len(stored) + len(new_codes) > ITEMS_PER_CATALOG_MAX:
            plan.problems.append(
                f"{fresh[0].where}: catalog {catalog} would hold "
                f"{len(stored) + len(new_codes)} items, over {ITEMS_PER_CATALOG_MAX}"
            )
        if fresh:
            changes.items[catalog] = fresh
    changes.skipped["items"] = skipped_items
    return changes


# -- transactions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallSpec:
    """One contract call to sign: who, which method, which arguments."""

    identity: Identity
    method: str
    args: dict[str, Any]
    label: str
    """What the call publishes, for error messages (``FILE:LINE`` or a key)."""


def calls_of(changes: Changes, identity: Identity) -> list[list[CallSpec]]:
    """The calls of ``changes`` in three phases: duties and divisions, catalogs, items."""
    first = [
        CallSpec(
            identity,
            "put_duty",
            {
                "duty_id": e.value["id"],
                "name": e.value["name"],
                "legal_basis": e.value["legal_basis"],
            },
            e.where,
        )
        for e in changes.duties
    ]
    first += [
        CallSpec(
            identity,
            "put_division",
            {"division_id": e.value["id"], "name": e.value["name"]},
            e.where,
        )
        for e in changes.divisions
    ]
    second = [
        CallSpec(identity, "put_catalog", catalog_args(e.value), e.where) for e in changes.catalogs
    ]
    third = []
    for catalog, entries in changes.items.items():
        for start in range(0, len(entries), ITEMS_BATCH_MAX):
            batch = entries[start : start + ITEMS_BATCH_MAX]
            items = [{name: e.value[name] for name in ITEM_FIELDS} for e in batch]
            third.append(
                CallSpec(
                    identity, "put_items", {"catalog": catalog, "items": items}, batch[0].where
                )
            )
    return [first, second, third]


def catalog_args(value: Mapping[str, Any]) -> dict[str, Any]:
    """``put_catalog``'s arguments from a catalog as stored (``format`` is ``data_format``)."""
    args = {name: value[name] for name in CATALOG_FIELDS if name != "format"}
    args["data_format"] = value["format"]
    return args


@dataclass
class SendReport:
    """What ``send`` did."""

    sent: int = 0
    committed: int = 0
    failed: list[str] = field(default_factory=list)
    """``label: error`` of each transaction refused at admission or by the contract."""
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Committed transactions per second."""
        return self.committed / self.seconds if self.seconds > 0 else 0.0


def send_phases(
    client: Client,
    phases: Sequence[Sequence[CallSpec]],
    *,
    contract: str = CONTRACT_NAME,
    on_progress: Callable[[int, int], None] | None = None,
) -> SendReport:
    """Send each phase's calls (``send``), the next phase only after the previous committed;
    a phase with failures stops the rest (later phases depend on it)."""
    report = SendReport()
    started = time.monotonic()
    total = sum(len(p) for p in phases)
    for phase in phases:
        if not phase:
            continue
        send(client, phase, report, contract=contract, on_progress=on_progress, total=total)
        if report.failed:
            break
    report.seconds = time.monotonic() - started
    return report


def send(
    client: Client,
    calls: Sequence[CallSpec],
    report: SendReport,
    *,
    contract: str = CONTRACT_NAME,
    on_progress: Callable[[int, int], None] | None = None,
    total: int = 0,
) -> None:
    """Sign ``calls``, submit them in batches with at most ``IN_FLIGHT_TXS_MAX`` uncommitted,
    and follow the committed blocks until each has its receipt (recorded in ``report``)."""
    chain_id = str(client.chain_info()["chain_id"])
    height = int(client.get_block("latest")["height"])
    queue = list(reversed(calls))
    pending: dict[str, str] = {}
    last_progress = time.monotonic()
    while queue or pending:
        chunk: list[tuple[Tx, CallSpec]] = []
        while (
            queue
            and len(pending) + len(chunk) < IN_FLIGHT_TXS_MAX
            and len(chunk) < SUBMIT_CHUNK_TXS
        ):
            spec = queue.pop()
            tx = spec.identity.sign_tx(chain_id, contract, spec.method, spec.args)
            chunk.append((tx, spec))
        busy = False
        if chunk:
            outcomes = client.submit_many([tx for tx, _ in chunk])
            for (tx, spec), outcome in zip(chunk, outcomes, strict=True):
                if isinstance(outcome, (str, DuplicateTransaction)):
                    pending[tx.id.hex()] = spec.label
                    report.sent += 1
                elif isinstance(outcome, Busy):
                    queue.append(spec)
                    busy = True
                else:
                    report.failed.append(f"{spec.label}: {outcome.message} ({outcome.code})")
            if len(pending) < IN_FLIGHT_TXS_MAX and queue and not busy:
                continue
        height, moved = _follow(client, height, pending, report)
        if moved:
            last_progress = time.monotonic()
            if on_progress is not None:
                on_progress(report.committed + len(report.failed), total or len(calls))
        elif time.monotonic() - last_progress > STALL_S:
            raise Timeout(
                f"{len(pending)} transactions did not commit within {STALL_S:g} s "
                f"(first: {next(iter(pending.values()))}); {report.committed} committed"
            )
        else:
            time.sleep(POLL_S)


def _follow(
    client: Client, height: int, pending: dict[str, str], report: SendReport
) -> tuple[int, bool]:
    """Read the blocks after ``height``; take our receipts out of ``pending``."""
    moved = False
    while pending:
        try:
            block = client.get_block(height + 1)
        except NotFound:
            break
        height += 1
        for receipt in block.get("receipts", []):
            label = pending.pop(str(receipt["tx_id"]), None)
            if label is None:
                continue
            moved = True
            if receipt["status"] == "ok":
                report.committed += 1
            else:
                report.failed.append(f"{label}: {receipt.get('error')} ({receipt['status']})")
    return height, moved


def error_lines(problems: Sequence[str]) -> list[str]:
    """The problems to show: the first ``ERRORS_SHOWN_MAX``, then how many more."""
    shown = list(problems[:ERRORS_SHOWN_MAX])
    if len(problems) > ERRORS_SHOWN_MAX:
        shown.append(f"... and {len(problems) - ERRORS_SHOWN_MAX} more")
    return shown


def refuse(problems: Sequence[str], what: str) -> JinglianError:
    """The one error for a refused import; ``problems`` ride along as ``.problems``."""
    error = InvalidInput(
        f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {what}; nothing was sent"
    )
    error.problems = list(problems)  # type: ignore[attr-defined]
    return error
