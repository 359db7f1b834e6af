"""Where the node's time goes: py-spy sampling of a loaded node and ``breakdown`` into ``STAGES``.

``run_load`` starts ``py-spy record --threads --gil -f raw`` on the node with
``--py-spy``; ``breakdown`` turns such a file into shares (and µs per
transaction) of the stages of a transaction's path.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["STAGES", "breakdown", "classify"]


def _start_py_spy(pid: int, out: Path, rate_hz: float) -> subprocess.Popen[str]:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [exe, "record", "--pid", str(pid), "--threads", "--gil", "--format", "raw"]
    command += ["--rate", str(int(rate_hz)), "--output", str(out)]
    spy = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.0)  # let it attach before the first send
    return spy


def _stop_py_spy(spy: subprocess.Popen[str]) -> dict[str, int]:
    spy.send_signal(signal.SIGINT)
    output, _ = spy.communicate(timeout=60)
    found = re.search(r"Samples: (\d+) Errors: (\d+)", output)
    if found is None:
        raise RuntimeError(f"py-spy did not report its samples: {output[-500:]}")
    return {"samples": int(found.group(1)), "errors": int(found.group(2))}


STAGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # (thread, stage, patterns): a stack belongs to the first stage of its thread with a
    # pattern in it; "a&b" needs both a and b among the stack's frames.
    ("consensus", "block: signature verify (cache miss)", ("build_block&.verify (jinglian/",)),
    ("consensus", "block: check_tx (cache hit, validity, duplicates)", ("build_block&check_tx (",)),
    ("consensus", "block: certificate registration", ("process_cert_registrations",)),
    ("consensus", "block: contract execution", ("ContractExecutor.execute",)),
    ("consensus", "block: state root (StateTree.compute_update)", ("compute_state_root",)),
    ("consensus", "block: Merkle roots + receipt encoding (make_header)", ("make_header",)),
    ("consensus", "block: rest of build_block", ("build_block",)),
    ("consensus", "commit: LMDB write + fsync", ("LmdbKV.write",)),
    ("consensus", "commit: encode block/receipts, indexes, batch", ("Ledger.commit_block",)),
    ("consensus", "notify: stream items, waiters, metrics, pool removal", ("Node.commit_block",)),
    ("consensus", "consensus: reap, sign, loop", ("",)),
    ("MainThread", "admission: signature verify", ("_admit&.verify (jinglian/",)),
    ("MainThread", "admission: rest of check_tx", ("_admit",)),
    ("MainThread", "admission: mempool bookkeeping", ("Mempool.add",)),
    (
        "MainThread",
        "submit route: decode_tx",
        ("submit (jinglian/api/routes.py&decode_tx", "submit_batch (jinglian/api/&decode_tx"),
    ),
    (
        "MainThread",
        "submit route: base64, rest",
        ("submit (jinglian/api/routes.py", "submit_batch (jinglian/api/"),
    ),
    ("MainThread", "stream (SSE) delivery", ("_sse_lines", "stream_items (", "_pump (")),
    ("MainThread", "other API routes", ("jinglian/api/routes.py", "jinglian/api/render.py")),
    (
        "MainThread",
        "HTTP: uvicorn, h11, Starlette, FastAPI, pydantic, JSON",
        ("uvicorn/", "h11/", "starlette/", "fastapi/", "pydantic", "json/"),
    ),
    ("MainThread", "event loop: rest", ("",)),
)
"""How ``breakdown`` assigns a sampled stack to a stage of a transaction's path."""


def classify(thread: str, frames: str) -> str:
    """The stage of one sampled stack (``frames``: py-spy's ``;``-joined frames)."""
    for owner, stage, patterns in STAGES:
        if owner == thread and any(
            all(part in frames for part in pattern.split("&")) for pattern in patterns
        ):
            return stage
    return f"{thread}: other"


def breakdown(
    collapsed: Path,
    txs: int | None = None,
    rate_hz: float | None = None,
    errors: int = 0,
    top: int = 25,
) -> str:
    """Stage shares and top functions from a ``py-spy record -f raw --threads --gil`` file.

    With ``--gil`` py-spy samples only the thread holding the GIL, so the
    samples partition the time the node runs Python (work that releases the
    GIL -- OpenSSL signature checks, LMDB commits and fsync, socket calls --
    is not in them). Given the sampling rate, the failed samples py-spy
    reported (``errors``, counted as GIL-held time in the same proportions)
    and the transactions committed during the recording, each stage is also
    given in GIL-held µs per transaction.
    """
    stages: dict[str, int] = {}
    self_time: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        thread_part, _, frames = stack.partition(";")
        thread = thread_part.rpartition(": ")[2]
        stage = classify(thread, frames)
        stages[stage] = stages.get(stage, 0) + count
        leaf = frames.rpartition(";")[2]
        self_time[leaf] = self_time.get(leaf, 0) + count
        total += count
    per_tx = None
    head = f"{total} samples"
    if txs and rate_hz:
        held_s = (total + errors) / rate_hz
        per_tx = held_s / txs * 1e6
        head += f"; GIL held {held_s:.1f} s = {per_tx:.0f} µs per tx over {txs} txs"
    lines = [head]
    order = [stage for _, stage, _ in STAGES] + sorted(set(stages) - {s for _, s, _ in STAGES})
    for stage in order:
        if stage not in stages:
            continue
        share = stages[stage] / total
        cost = "" if per_tx is None else f"  {share * per_tx:7.1f} µs/tx"
        lines.append(f"{share * 100:5.1f}%{cost}  {stage}")
    lines.append(f"top {top} functions by own samples:")
    for leaf, count in sorted(self_time.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"{count / total * 100:5.1f}%  {leaf}")
    return "\n".join(lines)
