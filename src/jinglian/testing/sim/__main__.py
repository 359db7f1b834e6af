"""``python -m jinglian.testing.sim [--seeds N [--start K] | --seed S] [--heights H]``: run simulations."""

from __future__ import annotations

import argparse
import sys
import time

from jinglian.testing.sim._cluster import run_simulation


def main() -> int:
    """Run the seeds asked for; exit 1 at the first failure, printing how to replay it."""
    parser = argparse.ArgumentParser(prog="python -m jinglian.testing.sim")
    parser.add_argument("--seeds", type=int, default=100, help="run N seeds, from --start on")
    parser.add_argument("--start", type=int, default=0, help="first seed of --seeds")
    parser.add_argument("--seed", type=int, help="run this one seed")
    parser.add_argument("--heights", type=int, default=3)
    args = parser.parse_args()
    if args.seed is not None:
        seeds = range(args.seed, args.seed + 1)
    else:
        seeds = range(args.start, args.start + args.seeds)
    started = time.perf_counter()
    for seed in seeds:
        result = run_simulation(seed, heights=args.heights)
        if not result.ok:
            print(result.message)
            return 1
    print(
        f"{len(seeds)} seeds ({seeds.start}..{seeds.stop - 1}) ok "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
