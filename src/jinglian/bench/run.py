"""Steps and modes: sign, send at a fixed rate, drain, read the blocks, compute the figures.

A *step* is one load at one rate: its transactions are signed first, in
worker processes (``SEGMENT_S`` of load at a time: a transaction is valid
for at most ten minutes, so a longer step signs its next segment while the
current one is sent, and that signing CPU is charged to the generator);
then ``send_open_loop`` sends them for ``warmup + duration`` seconds; then
the step waits until every node's pool is empty (at most
``drain_timeout_s``), reads its blocks and computes its figures over the
window after the warm-up.

The modes (``docs/cli.md``, ``jinglian bench``):

* ``fixed``: one step at ``--rate``.
* ``stress``: steps from ``--rate`` up by ``STRESS_STEP_FACTOR`` until one
  fails ``step_passes`` (or ``--rate-max``), then ``STRESS_REFINE_STEPS``
  bisections between the last passing and the first failing rate; the
  result is the highest passing rate.
* ``spike``: one step at ``SPIKE_FACTOR`` x the stress rate: passes if every
  node still answers afterwards, at least ``SPIKE_COMMIT_SHARE`` of the
  transactions commit, and the excess is refused as ``busy`` (no other
  errors).
* ``stability``: one long step at ``STABILITY_SHARE`` x the stress rate:
  passes if no node's resident memory grew by ``RSS_GROWTH_PCT_MAX`` or more
  over the window and no transaction failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import multiprocessing.pool
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from jinglian.bench.config import (
    BATCH_TXS_MAX,
    BenchConfig,
    choose_batch,
    effective_duration_s,
    effective_warmup_s,
    validate_config,
)
from jinglian.bench.figures import compute_resource_figures, compute_series, compute_step_figures
from jinglian.bench.load import BUSY_CODE, SendLog, TxRequest, path_for, send_open_loop
from jinglian.bench.network import Target, open_target, prepare_chain
from jinglian.bench.observe import (
    BlockWatch,
    ResourceSampler,
    get_height,
    read_step_blocks,
    wait_until_drained,
)
from jinglian.bench.report import build_result
from jinglian.bench.workloads import Workload, get_workload, kv_get_body
from jinglian.client.identity import Identity
from jinglian.client.reads import sign_read_headers
from jinglian.testing.loadgen.signing import SignJob, sign_chunk, sign_jobs
from jinglian.types.errors import InvalidInput

__all__ = [
    "BODY_BYTES_MAX",
    "KEEP_UP_SHARE",
    "QUERY_PATH",
    "QUERY_SEGMENT_S",
    "RSS_GROWTH_PCT_MAX",
    "SEGMENT_S",
    "SPIKE_COMMIT_SHARE",
    "SPIKE_FACTOR",
    "STABILITY_SHARE",
    "STRESS_REFINE_STEPS",
    "STRESS_STEPS_MAX",
    "STRESS_STEP_FACTOR",
    "STRESS_SUCCESS_MIN",
    "Progress",
    "Runner",
    "run_bench",
    "sign_query_headers",
    "sign_timed",
    "step_passes",
]

SEGMENT_S = 240.0
QUERY_SEGMENT_S = 20.0
"""Seconds of queries signed at once: a signed read is accepted for 60 s only, and the next
segment is signed as the current one starts."""
QUERY_PATH = "/api/v1/query"
"""Seconds of load signed at once (two segments stay well inside a transaction's 590 s)."""
BODY_BYTES_MAX = 1_000_000
"""Largest request body sent (the API refuses bodies over 1 MiB)."""
STRESS_STEP_FACTOR = 1.5
STRESS_STEPS_MAX = 16
STRESS_REFINE_STEPS = 2
STRESS_SUCCESS_MIN = 0.95
"""A stress step passes with at least this share of its transactions committed ..."""
KEEP_UP_SHARE = 0.9
"""... and a committed rate of at least this share of the offered rate (a window counts whole
blocks, so a short one may hold one block more or less than the rate implies)."""
SPIKE_FACTOR = 2.0
SPIKE_COMMIT_SHARE = 0.75
STABILITY_SHARE = 0.2
RSS_GROWTH_PCT_MAX = 10.0
PROGRESS_S = 1.0
"""Pause between two progress reports."""
HEALTH_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Progress:
    """What a step has done so far, for the progress display."""

    label: str
    phase: str
    """``signing``, ``sending`` or ``draining``."""
    elapsed_s: float
    total_s: float
    rate: float
    submitted: int
    accepted: int
    committed: int
    """Transactions in blocks since the step started (everyone's, from the stream)."""
    refused: int
    busy: int


def sign_timed(job: SignJob) -> tuple[list[tuple[bytes, bytes]], float]:
    """Worker: ``sign_chunk`` and the CPU seconds it took."""
    started = time.process_time()
    signed = sign_chunk(job)
    return signed, time.process_time() - started


def sign_query_headers(job: tuple[str, str, list[bytes]]) -> list[bytes]:
    """Worker: the signed-read header lines (ADR 0016) of ``POST /query`` with each body."""
    net_dir, identity_name, bodies = job
    identity = Identity.from_network(net_dir, identity_name)
    out = []
    for body in bodies:
        headers = sign_read_headers(identity, "POST", QUERY_PATH, body)
        out.append(b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()))
    return out


def step_passes(figures: dict[str, Any], rate: float, drained: bool) -> bool:
    """Whether a stress step kept up: enough success, enough committed, the pools emptied."""
    success = figures.get("success_rate") or 0.0
    done = figures.get("queries_per_s", figures.get("committed_tps")) or 0.0
    return drained and success >= STRESS_SUCCESS_MIN and done >= KEEP_UP_SHARE * rate


@dataclass
class Runner:
    """One run against ``target``: the steps of ``config.mode``, and their results."""

    config: BenchConfig
    workload: Workload
    target: Target
    query_keys: Sequence[str] = ()
    on_progress: Callable[[Progress], None] = lambda _: None
    steps: list[dict[str, Any]] = field(default_factory=list)
    signing_cpu_s: float = 0.0
    """CPU seconds the signing workers used, all steps."""
    _pool: multiprocessing.pool.Pool | None = None
    _watch: BlockWatch | None = None
    _sampler: ResourceSampler | None = None
    _tx_b64_bytes: int = 0

    async def run(self) -> dict[str, Any]:
        """Run the mode; its outcome (the steps are in ``self.steps``)."""
        reader = Identity.from_network(self.target.net_dir, self.config.identity)
        self._watch = BlockWatch(self.target.endpoints[0], reader)
        self._sampler = ResourceSampler(self.target.pids)
        await self._watch.start()
        sampling = asyncio.create_task(self._sampler.run())
        context = multiprocessing.get_context("spawn")
        try:
            with context.Pool(self.config.workers) as pool:
                self._pool = pool
                return await self._run_mode()
        finally:
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
            await self._watch.close()

    async def _run_mode(self) -> dict[str, Any]:
        mode = self.config.mode
        if mode == "fixed":
            step = await self.run_step(self.config.rate or 100.0, "fixed")
            return {"mode": "fixed", "headline_step": 0, "passed": None, "rate": step["rate"]}
        if mode == "stress":
            return await self._stress()
        base = self.config.rate
        search: dict[str, Any] | None = None
        if base is None:
            search = await self._stress()
            base = search["max_rate"]
            if base is None:
                raise InvalidInput(
                    "the stress search found no rate the chain commits with 95% success; "
                    "pass the stress rate with --rate"
                )
        if mode == "spike":
            return await self._spike(base, search)
        return await self._stability(base, search)

    # -- modes -----------------------------------------------------------------------------------

    async def _stress(self) -> dict[str, Any]:
        rate = self.config.rate or 100.0
        duration = effective_duration_s(self.config) if self.config.mode == "stress" else 30.0
        best: tuple[float, int] | None = None
        failed: float | None = None
        while len(self.steps) < STRESS_STEPS_MAX and rate <= self.config.rate_max:
            if not await self._pools_empty():
                break
            step = await self.run_step(rate, f"stress {rate:g}/s", duration)
            if not step["passed"]:
                failed = rate
                break
            best = (rate, len(self.steps) - 1)
            rate = round(rate * STRESS_STEP_FACTOR, 1)
        for _ in range(STRESS_REFINE_STEPS if best and failed else 0):
            assert best is not None and failed is not None
            rate = round(math.sqrt(best[0] * failed), 1)
            if not await self._pools_empty():
                break
            step = await self.run_step(rate, f"stress {rate:g}/s (refine)", duration)
            if step["passed"]:
                best = (rate, len(self.steps) - 1)
            else:
                failed = rate
        return {
            "mode": "stress",
            "max_rate": None if best is None else best[0],
            "first_failing_rate": failed,
            "headline_step": None if best is None else best[1],
            "passed": best is not None,
            "criteria": (
                f"success >= {STRESS_SUCCESS_MIN:.0%}, committed >= {KEEP_UP_SHARE:.0%} of the "
                "offered rate, pools empty after the step"
            ),
        }

    async def _spike(self, base: float, search: dict[str, Any] | None) -> dict[str, Any]:
        rate = round(base * SPIKE_FACTOR, 1)
        step = await self.run_step(rate, f"spike {rate:g}/s")
        figures = step["figures"]
        submitted = figures.get("submitted") or 0
        committed_share = (figures.get("committed_ok", figures.get("queries_ok", 0))) / max(
            1, submitted
        )
        other_errors = {k: v for k, v in figures.get("refused", {}).items() if k != BUSY_CODE}
        checks = {
            "nodes_up_after": await self._all_nodes_answer(),
            f"committed_at_least_{SPIKE_COMMIT_SHARE:.0%}": committed_share >= SPIKE_COMMIT_SHARE,
            "excess_refused_busy_only": not other_errors,
        }
        return {
            "mode": "spike",
            "base_rate": base,
            "stress_search": search,
            "rate": rate,
            "committed_share": round(committed_share, 4),
            "busy": figures.get("refused", {}).get(BUSY_CODE, 0),
            "other_errors": other_errors,
            "checks": checks,
            "passed": all(checks.values()),
            "headline_step": len(self.steps) - 1,
        }

    async def _stability(self, base: float, search: dict[str, Any] | None) -> dict[str, Any]:
        rate = round(base * STABILITY_SHARE, 1)
        step = await self.run_step(rate, f"stability {rate:g}/s")
        figures = step["figures"]
        nodes = step["resources"].get("nodes", {})
        growth = {name: n.get("rss_growth_pct") for name, n in nodes.items()}
        # The check is on private memory: the resident size also holds the store's mapped
        # pages, which grow with the chain on disk (about 2.7 KiB per kv transaction).
        private = {name: n.get("private_growth_pct") for name, n in nodes.items()}
        failed = (figures.get("submitted") or 0) - figures.get(
            "committed_ok", figures.get("queries_ok", 0)
        )
        checks = {
            f"private_memory_growth_below_{RSS_GROWTH_PCT_MAX:g}pct": all(
                g is not None and g < RSS_GROWTH_PCT_MAX for g in private.values()
            )
            and bool(private),
            "no_failed_tx": failed == 0,
        }
        return {
            "mode": "stability",
            "base_rate": base,
            "stress_search": search,
            "rate": rate,
            "rss_growth_pct": growth,
            "private_growth_pct": private,
            "failed_tx": failed,
            "checks": checks,
            "passed": all(checks.values()),
            "headline_step": len(self.steps) - 1,
        }

    # -- one step --------------------------------------------------------------------------------

    async def run_step(
        self, rate: float, label: str, duration: float | None = None
    ) -> dict[str, Any]:
        """One step at ``rate`` tx/s (queries/s); its record, appended to ``self.steps``."""
        assert self._watch is not None and self._sampler is not None
        duration = effective_duration_s(self.config) if duration is None else duration
        warmup = effective_warmup_s(self.config)
        plan = await self._plan(rate, duration + warmup, label)
        log = SendLog()
        start_height = await get_height(self.target.endpoints[0])
        path = path_for(plan.batch, self.workload.is_query)
        self._sampler.sample()
        reporter = asyncio.create_task(
            self._report(label, rate, duration + warmup, log, plan, time.time())
        )
        try:
            origin = await send_open_loop(
                plan.segment,
                rate / plan.batch,
                self.target.endpoints,
                path,
                log,
                connections_max=self.config.connections,
                segments=plan.segments,
            )
            plan.phase = "draining"
            drained = await wait_until_drained(self.target.endpoints, self.config.drain_timeout_s)
        finally:
            reporter.cancel()
        end = time.time()
        self._sampler.sample()
        blocks = [] if self.workload.is_query else await read_step_blocks(self._watch, start_height)
        window = (origin + warmup, origin + warmup + duration)
        figures = compute_step_figures(
            log,
            blocks,
            window,
            is_query=self.workload.is_query,
            digests_per_tx=self.workload.digests_per_tx,
        )
        step = {
            "label": label,
            "rate": rate,
            "batch": plan.batch,
            "duration_s": duration,
            "warmup_s": warmup,
            "drained": drained,
            "signing_cpu_s": round(plan.cpu_s, 2),
            "signing_cpu_in_step_s": round(plan.cpu_in_step_s, 2),
            "figures": figures,
            "resources": compute_resource_figures(
                self._sampler.samples, window, plan.cpu_in_step_s
            ),
            "series": compute_series(
                log, blocks, self._sampler.samples, origin, end, is_query=self.workload.is_query
            ),
        }
        step["passed"] = step_passes(figures, rate, drained)
        self.steps.append(step)
        return step

    async def _plan(self, rate: float, seconds: float, label: str) -> _Plan:
        """Sign (or build) the step's first segment; later ones are signed while sending."""
        batch_max = BATCH_TXS_MAX
        if not self.workload.is_query:
            if not self._tx_b64_bytes:
                sample, _ = await self._sign(1)
                self._tx_b64_bytes = len(sample[0][1])
            batch_max = max(1, (BODY_BYTES_MAX - 64) // (self._tx_b64_bytes + 3))
        batch = 1 if self.workload.is_query else choose_batch(rate, self.config.batch, batch_max)
        requests_total = max(1, math.ceil(rate / batch * seconds))
        segment_s = QUERY_SEGMENT_S if self.workload.is_query else SEGMENT_S
        per_segment = max(1, math.ceil(rate / batch * segment_s))
        plan = _Plan(self, batch, requests_total, per_segment)
        self.on_progress(Progress(label, "signing", 0.0, seconds, rate, 0, 0, 0, 0, 0))
        plan.first = await plan.build(0)
        plan.cpu_before_s = plan.cpu_s
        return plan

    async def _sign(self, count: int) -> tuple[list[tuple[bytes, bytes]], float]:
        """``count`` transactions of the workload, signed in the worker processes; and their CPU."""
        assert self._pool is not None
        template = SignJob(
            str(self.target.net_dir),
            self.config.identity,
            self.target.chain_id,
            0,
            random.SystemRandom().getrandbits(62),
            self.config.by_id,
            self.workload.contract,
            self.workload.method,
            self.workload.make_args,
        )
        jobs = sign_jobs(template, count, self.config.workers)
        pool = self._pool
        results = await asyncio.get_running_loop().run_in_executor(
            None, lambda: pool.map(sign_timed, jobs)
        )
        signed = [tx for chunk, _ in results for tx in chunk]
        return signed, sum(cpu for _, cpu in results)

    async def _sign_queries(self, count: int, seed: int) -> list[TxRequest]:
        """``count`` ``kv.get`` queries of random written keys, their read headers signed now
        in the worker processes (a signed read is accepted for ``READ_WINDOW_S``)."""
        assert self._pool is not None
        rng = random.Random(seed)
        keys = list(self.query_keys) or ["missing"]
        bodies = [kv_get_body(rng.choice(keys)) for _ in range(count)]
        workers = self.config.workers
        chunks = [bodies[i::workers] for i in range(workers)]
        jobs = [
            (str(self.target.net_dir), self.config.identity, chunk) for chunk in chunks if chunk
        ]
        pool = self._pool
        results = await asyncio.get_running_loop().run_in_executor(
            None, lambda: pool.map(sign_query_headers, jobs)
        )
        return [
            TxRequest(body, (), headers)
            for chunk, signed in zip(chunks, results, strict=False)
            for body, headers in zip(chunk, signed, strict=True)
        ]

    async def _report(
        self, label: str, rate: float, total: float, log: SendLog, plan: _Plan, started: float
    ) -> None:
        assert self._watch is not None
        while True:
            await asyncio.sleep(PROGRESS_S)
            submitted = len(log.sent_s) if not self.workload.is_query else log.answered
            self.on_progress(
                Progress(
                    label=label,
                    phase=plan.phase,
                    elapsed_s=time.time() - started,
                    total_s=total,
                    rate=rate,
                    submitted=submitted,
                    accepted=len(log.accepted),
                    committed=self._watch.committed_txs_since(started),
                    refused=sum(log.errors.values()),
                    busy=log.errors.get(BUSY_CODE, 0),
                )
            )

    async def _pools_empty(self) -> bool:
        return await wait_until_drained(self.target.endpoints, self.config.drain_timeout_s)

    async def _all_nodes_answer(self) -> bool:
        async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT_S) as client:
            for url in self.target.endpoints:
                try:
                    if (await client.get(url + "/api/v1/health")).status_code != 200:
                        return False
                except httpx.HTTPError:
                    return False
        return True


@dataclass
class _Plan:
    """The requests of one step, built a segment at a time."""

    runner: Runner
    batch: int
    requests_total: int
    per_segment: int
    first: list[TxRequest] = field(default_factory=list)
    phase: str = "sending"
    cpu_s: float = 0.0
    """Signing CPU seconds of the step's segments so far."""
    cpu_before_s: float = 0.0
    """Signing CPU seconds of the first segment, signed before the step's load."""
    _next: asyncio.Task[list[TxRequest]] | None = None

    @property
    def cpu_in_step_s(self) -> float:
        """Signing CPU seconds spent while the step's load ran (later segments)."""
        return self.cpu_s - self.cpu_before_s

    @property
    def segments(self) -> int:
        return math.ceil(self.requests_total / self.per_segment)

    def _count(self, index: int) -> int:
        return min(self.per_segment, self.requests_total - index * self.per_segment)

    async def build(self, index: int) -> list[TxRequest]:
        """The requests of segment ``index``: signed transactions, or queries."""
        count = self._count(index)
        workload = self.runner.workload
        if workload.is_query:
            return await self.runner._sign_queries(count, index)
        signed, cpu = await self.runner._sign(count * self.batch)
        self.cpu_s += cpu
        self.runner.signing_cpu_s += cpu
        return [
            self._request(signed[i : i + self.batch]) for i in range(0, len(signed), self.batch)
        ]

    def _request(self, txs: list[tuple[bytes, bytes]]) -> TxRequest:
        ids = tuple(tx_id for tx_id, _ in txs)
        if self.batch == 1:
            return TxRequest(b'{"tx":"' + txs[0][1] + b'"}', ids)
        return TxRequest(b'{"txs":["' + b'","'.join(b64 for _, b64 in txs) + b'"]}', ids)

    async def segment(self, index: int) -> list[TxRequest]:
        """Segment ``index`` for ``send_open_loop``; starts signing the one after it."""
        if index == 0:
            current = self.first
        else:
            assert self._next is not None
            current = await self._next
        self._next = None
        if index + 1 < self.segments:
            self._next = asyncio.create_task(self.build(index + 1))
        return current


def run_bench(
    config: BenchConfig, on_progress: Callable[[Progress], None] = lambda _: None
) -> dict[str, Any]:
    """Validate ``config``, open the network, prepare it, run the mode; the result document."""
    validate_config(config)
    workload = get_workload(config.workload)
    started = time.time()
    with open_target(
        config.nodes, config.crypto, net=config.net, endpoint=config.endpoint, keep=config.keep
    ) as target:
        keys = prepare_chain(target, workload, config.identity, config.by_id)
        runner = Runner(config, workload, target, keys, on_progress)
        outcome = asyncio.run(runner.run())
    return build_result(config, target, runner.steps, outcome, started, runner.signing_cpu_s)
