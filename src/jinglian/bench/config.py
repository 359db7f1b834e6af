"""What a run is asked to do, checked before anything starts.

``BenchConfig`` holds the options of ``jinglian bench``; ``validate_config``
raises ``InvalidInput`` with one clear sentence for the first bad one, and
the ``effective_*`` functions give the per-mode defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from jinglian.bench.workloads import WORKLOADS
from jinglian.types.errors import InvalidInput

__all__ = [
    "BATCH_REQUESTS_PER_S",
    "BATCH_TXS_MAX",
    "CONSENSUS",
    "CRYPTO",
    "DEFAULT_DURATION_S",
    "DEFAULT_RATE",
    "DEFAULT_WARMUP_S",
    "MODES",
    "RATE_MAX",
    "BenchConfig",
    "choose_batch",
    "effective_duration_s",
    "effective_warmup_s",
    "validate_config",
]

MODES = ("fixed", "stress", "spike", "stability")
"""``fixed``: one run at ``--rate``; the others after the industry evaluation method."""
CRYPTO = ("default", "gm")
CONSENSUS = ("solo", "tbft")
DEFAULT_RATE = 100.0
"""tx/s (or queries/s) of a ``fixed`` run, and the first step of a ``stress`` search."""
DEFAULT_DURATION_S = {"fixed": 60.0, "stress": 30.0, "spike": 60.0, "stability": 1800.0}
"""Measured seconds per mode (``stress``: per step)."""
DEFAULT_WARMUP_S = {"fixed": 5.0, "stress": 5.0, "spike": 5.0, "stability": 60.0}
"""Seconds of load before the measured window (``stability``: memory settles first)."""
RATE_MAX = 1_000_000.0
"""Highest ``--rate`` accepted."""
DURATION_MAX_S = 7 * 24 * 3600.0
BATCH_TXS_MAX = 2000
"""Most transactions in one request (the API's ``/txs/batch`` bound)."""
BATCH_REQUESTS_PER_S = 50
"""The default batch size sends about this many requests per second (rate / 50, 1 to 100)."""
BATCH_AUTO_MAX = 100
NODES_MAX = 16
CONNECTIONS_MAX = 1024
TBFT_NODES_MIN = 4


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """The options of one ``jinglian bench`` run."""

    workload: str = "kv"
    mode: str = "fixed"
    nodes: int = 1
    """Validators of a fresh network (ignored when attaching)."""
    crypto: str = "default"
    consensus: str | None = None
    """``solo`` (one node) or ``tbft`` (four or more); ``None``: as ``nodes`` implies."""
    rate: float | None = None
    """tx/s (queries/s for ``query``); for ``spike`` and ``stability`` the stress rate they
    start from (``None``: a stress search finds it first)."""
    duration_s: float | None = None
    warmup_s: float | None = None
    batch: int | None = None
    """Transactions per request; ``None``: ``choose_batch``."""
    connections: int = 32
    """Most keep-alive connections per endpoint."""
    workers: int = 2
    """Signing processes."""
    endpoint: str | None = None
    net: Path | None = None
    identity: str = "org1/client"
    by_id: bool = True
    """Cite the signer's certificate by id (registered first) rather than in full."""
    keep: bool = False
    """Leave a fresh network running."""
    drain_timeout_s: float = 60.0
    """After the last request, how long to wait for the pools to empty."""
    rate_max: float = 50_000.0
    """``stress`` stops stepping up past this rate."""

    @property
    def attached(self) -> bool:
        """Whether the run loads an existing network."""
        return self.endpoint is not None or self.net is not None


def effective_duration_s(config: BenchConfig) -> float:
    """``--duration``, else the mode's default."""
    return DEFAULT_DURATION_S[config.mode] if config.duration_s is None else config.duration_s


def effective_warmup_s(config: BenchConfig) -> float:
    """``--warmup``, else the mode's default."""
    return DEFAULT_WARMUP_S[config.mode] if config.warmup_s is None else config.warmup_s


def choose_batch(rate: float, batch: int | None, batch_max: int) -> int:
    """``batch`` if given, else about ``BATCH_REQUESTS_PER_S`` requests a second; at most
    ``batch_max`` (what fits the API's body limit)."""
    if batch is None:
        batch = max(1, min(BATCH_AUTO_MAX, round(rate / BATCH_REQUESTS_PER_S)))
    return max(1, min(batch, batch_max))


def _check_number(name: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidInput(f"{name} must be a number from {low:g} to {high:g}, not {value:g}")


def validate_config(config: BenchConfig) -> None:
    """Raise ``InvalidInput`` for the first option that cannot work."""
    if config.workload not in WORKLOADS:
        raise InvalidInput(
            f"unknown workload {config.workload!r}: use one of {', '.join(WORKLOADS)}"
        )
    if config.mode not in MODES:
        raise InvalidInput(f"unknown mode {config.mode!r}: use one of {', '.join(MODES)}")
    if config.crypto not in CRYPTO:
        raise InvalidInput(f"unknown crypto suite {config.crypto!r}: use default or gm")
    _check_number("--rate", config.rate, 0.01, RATE_MAX)
    _check_number("--duration", config.duration_s, 0.1, DURATION_MAX_S)
    _check_number("--warmup", config.warmup_s, 0.0, DURATION_MAX_S)
    _check_number("--rate-max", config.rate_max, 0.01, RATE_MAX)
    _check_number("--batch", config.batch, 1, BATCH_TXS_MAX)
    _check_number("--connections", config.connections, 1, CONNECTIONS_MAX)
    _check_number("--workers", config.workers, 1, 256)
    if not config.attached:
        _validate_fresh_network(config)


def _validate_fresh_network(config: BenchConfig) -> None:
    if not 1 <= config.nodes <= NODES_MAX:
        raise InvalidInput(f"--nodes must be from 1 to {NODES_MAX}, not {config.nodes}")
    consensus = config.consensus or ("solo" if config.nodes == 1 else "tbft")
    if consensus not in CONSENSUS:
        raise InvalidInput(f"unknown consensus {consensus!r}: use solo or tbft")
    if consensus == "solo" and config.nodes != 1:
        raise InvalidInput("solo consensus runs one node: use --nodes 1, or --consensus tbft")
    if consensus == "tbft" and config.nodes < TBFT_NODES_MIN:
        raise InvalidInput(
            f"a fresh tbft network needs at least {TBFT_NODES_MIN} nodes "
            f"(to tolerate one faulty): use --nodes {TBFT_NODES_MIN}, or --consensus solo"
        )
