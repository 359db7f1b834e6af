"""Load generator: committed ``kv.set`` throughput and latency of a running node.

Method (``docs/benchmarks.md`` records the figures)::

    jinglian init NET --orgs 1 --consensus solo --api-port 18601
    jinglian node start NET/nodes/node1 &
    (cd NET && jinglian contract deploy kv /path/to/examples/contracts/kv.py)
    python -m jinglian.testing.loadgen run --net NET --txs 30000 --concurrency 64

1. Before anything is measured, ``--txs`` ``kv.set`` transactions (random
   20-character key, 32-character string value, full certificate unless
   ``--by-id``, which first commits one full-certificate transaction) are
   signed in ``--workers`` processes and base64-encoded.
2. The generator subscribes to the node's block stream (SSE
   ``/api/v1/stream``, blocks only) and notes the local time each block
   arrives.
3. ``--concurrency`` connections POST them, one per request to
   ``/api/v1/txs`` or, with ``--batch N``, N per request to
   ``/api/v1/txs/batch``, each request as soon as the previous answer arrives
   or, with ``--rate``, at a fixed offered rate. Each connection is its own
   ``httpx.AsyncClient`` (``--client httpx``, the default) or a minimal
   keep-alive HTTP/1.1 writer (``--client raw``, a tenth of the client CPU, so
   the generator takes less of a 2-core machine from the node). A ``503 busy``
   (pool full; per transaction in a batch) is retried after ``BUSY_RETRY_S``.
   The send time of every transaction is kept; ``--node-pid`` also records the
   node's CPU time.
4. After the last transaction has committed, every block of the run is read
   (``GET /api/v1/blocks/{height}``) for its transaction ids, count and header
   time.
5. Committed tx/s is counted over a window that starts ``--warmup-s`` after the
   first send and ends at the last send: the transactions of blocks whose
   header time falls in the window, over the window's span measured between
   block header times. Latency is, for every transaction committed in the
   window, from the start of its POST to the arrival of its block on the
   stream (``latency_ms_*``: when a subscriber learns of the commit), and to
   the commit itself, estimated as the next block's header time less
   ``block_interval_ms`` (solo waits that long after a commit before building
   the next block) when that is earlier (``commit_latency_ms_*``).

``profile-node`` runs a node like ``jinglian node start`` but under
``cProfile`` in every thread (the API loop and the consensus thread) and writes
the merged ``pstats`` file on SIGINT/SIGTERM; ``timed-node`` runs it with
wall and thread-CPU timers on the functions of a transaction's path
(``TIMED``; ``timers`` prints the report per transaction). ``breakdown`` turns a
``py-spy record --threads --gil -f raw`` file of a loaded node into shares
(and µs per transaction) of the stages in ``STAGES``.

Modules, in the order of the method: ``signing`` (1), ``records`` (what a run
records), ``submit`` (3: the HTTP clients and the senders), ``measure`` (2 and
4: the block stream, CPU accounting, ``run_load``), ``figures`` (5:
``summarize``), ``profiling`` (``profile-node``, ``timed-node``, ``timers``),
``stages`` (py-spy and ``breakdown``) and ``cli`` (the command line).
"""

from jinglian.testing.loadgen.cli import main
from jinglian.testing.loadgen.figures import summarize
from jinglian.testing.loadgen.measure import machine_busy_s, process_cpu_s, run_load
from jinglian.testing.loadgen.profiling import TIMED, profile_node, timed_node, timers_table
from jinglian.testing.loadgen.records import BlockSeen, LoadResult
from jinglian.testing.loadgen.signing import kv_set_args, presign
from jinglian.testing.loadgen.stages import STAGES, breakdown, classify
from jinglian.testing.loadgen.submit import BUSY_RETRY_S, CLIENTS, register_certificate

__all__ = [
    "BUSY_RETRY_S",
    "CLIENTS",
    "STAGES",
    "TIMED",
    "BlockSeen",
    "LoadResult",
    "breakdown",
    "classify",
    "kv_set_args",
    "machine_busy_s",
    "main",
    "presign",
    "process_cpu_s",
    "profile_node",
    "register_certificate",
    "run_load",
    "summarize",
    "timed_node",
    "timers_table",
]
