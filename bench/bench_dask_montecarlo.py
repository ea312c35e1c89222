"""Benchmark: the Monte Carlo on 2 Dask workers vs 1 (issue 11 goal: >= 1.7x).

The same chunked Monte Carlo (:func:`liqrisk.scaleout.chunked_monte_carlo`: fixed chunks of 250
paths, per-chunk seeds from ``SeedSequence(seed).spawn``) runs on an embedded ``LocalCluster`` of
1 worker process and one of 2 (one thread each), both open in this one process; runs alternate
1, 2, 1, 2, ... so machine load drifts hit both sides alike, and each side reports the minimum of
``--repeats`` runs. Each cluster first runs a small warm-up (workers import the engine and load
or compile its numba kernels). The results of every run are checked bit-identical to each other
(and to the in-process run when ``--in-process`` is given). Load averages are printed with the
timings.

Default: ``risk.sample.synthetic_book`` of 100,000 positions, 2,000 GBM paths x 288 steps (8
chunks), the default constant-depth liquidity, endogenous run with its exogenous comparison.

Run: ``flock /work/wt/bench.lock .venv/bin/python -m bench.bench_dask_montecarlo [--paths N] ...``
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np

from liqrisk.scaleout import InProcess, PathDraw, chunked_monte_carlo, open_runner
from risk.liquidity import default_constant_depth
from risk.montecarlo import PathOutcomes
from risk.sample import synthetic_book

# Annual vols and correlations for the synthetic book's assets (as bench/bench_montecarlo.py).
VOL_ANNUAL = {"WETH": 0.70, "WBTC": 0.55, "wstETH": 0.70, "USDC": 0.01, "USDT": 0.01, "DAI": 0.01}
CORR_PAIRS = {("WETH", "WBTC"): 0.80, ("WETH", "wstETH"): 0.998, ("WBTC", "wstETH"): 0.80,
              ("USDC", "USDT"): 0.5, ("USDC", "DAI"): 0.5, ("USDT", "DAI"): 0.5}


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def _same(a: object, b: object) -> bool:
    return all(np.array_equal(getattr(getattr(a, run), f.name), getattr(getattr(b, run), f.name))
               for run in ("endogenous", "exogenous") for f in dataclasses.fields(PathOutcomes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=2_000)
    parser.add_argument("--steps", type=int, default=288)
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--in-process", action="store_true", help="Also time the run without Dask (once).")
    args = parser.parse_args()

    book = synthetic_book(args.positions, seed=args.seed)
    symbols = book.symbols
    corr = np.eye(len(symbols))
    for (a, b), rho in CORR_PAIRS.items():
        i, j = symbols.index(a), symbols.index(b)
        corr[i, j] = corr[j, i] = rho
    draw = PathDraw(model="gbm", spot_usd=np.asarray(book.prices_usd, dtype=np.float64),
                    vol_annual=np.array([VOL_ANNUAL[s] for s in symbols]), corr=corr, horizon_days=1.0,
                    steps=args.steps)
    liquidity = default_constant_depth(symbols)
    print(f"book: {book.n_positions:,} positions x {book.n_assets} assets; {args.paths:,} paths x {args.steps} steps "
          f"in chunks of 250; {_load()}")

    def run(runner: object) -> tuple[float, object]:
        t0 = time.perf_counter()
        result = chunked_monte_carlo(book, draw, args.paths, args.seed, liquidity, runner=runner)
        return time.perf_counter() - t0, result

    with open_runner(workers=1) as one, open_runner(workers=2) as two:
        for runner in (one, two):  # warm-up: engine import and kernels in every worker
            chunked_monte_carlo(book, draw, 500, 0, liquidity, runner=runner)
        times: dict[int, list[float]] = {1: [], 2: []}
        reference = None
        for k in range(args.repeats):
            for n, runner in ((1, one), (2, two)):
                seconds, result = run(runner)
                times[n].append(seconds)
                if reference is None:
                    reference = result
                assert _same(reference, result), "a run differs from the first: the result must not depend on workers"
                print(f"  run {k + 1}, {n} worker{'s' if n > 1 else ''}: {seconds:7.2f} s   {_load()}", flush=True)
    if args.in_process:
        seconds, result = run(InProcess())
        assert _same(reference, result)
        print(f"  in process (no Dask), once: {seconds:7.2f} s   {_load()}")
    best1, best2 = min(times[1]), min(times[2])
    print(f"1 worker  min of {args.repeats}: {best1:.2f} s")
    print(f"2 workers min of {args.repeats}: {best2:.2f} s")
    print(f"speed-up 2 vs 1 worker: {best1 / best2:.2f}x (goal >= 1.7x); every run bit-identical")


if __name__ == "__main__":
    main()
