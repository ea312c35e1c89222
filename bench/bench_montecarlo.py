"""Benchmark: Monte Carlo with endogenous cascades on a large synthetic book.

Default: 10,000 paths x 288 steps (one day of 5-minute steps) on ``risk.sample.synthetic_book``
(100,000 positions; its 6 assets WETH, WBTC, wstETH, USDC, USDT, DAI), GBM paths, the default
constant-depth liquidity. Prints wall times of the path generation, the endogenous run (which
includes its exogenous comparison run) and an exogenous-only run, their ratio, and peak memory.

Run: ``.venv/bin/python bench/bench_montecarlo.py [--paths N] [--positions N] [--steps N]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from risk.liquidity import default_constant_depth
from risk.montecarlo import simulate_liquidations
from risk.paths import gbm_paths
from risk.sample import synthetic_book

# Annual vols and correlations for the synthetic book's assets (round numbers, not fitted).
VOL_ANNUAL = {"WETH": 0.70, "WBTC": 0.55, "wstETH": 0.70, "USDC": 0.01, "USDT": 0.01, "DAI": 0.01}
CORR_PAIRS = {("WETH", "WBTC"): 0.80, ("WETH", "wstETH"): 0.998, ("WBTC", "wstETH"): 0.80,
              ("USDC", "USDT"): 0.5, ("USDC", "DAI"): 0.5, ("USDT", "DAI"): 0.5}


def _peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024**2 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=288)
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--horizon-days", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk-paths", type=int, default=256)
    args = parser.parse_args()

    book = synthetic_book(args.positions, seed=args.seed)
    symbols = book.symbols
    vol = np.array([VOL_ANNUAL[s] for s in symbols])
    corr = np.eye(len(symbols))
    for (a, b), rho in CORR_PAIRS.items():
        i, j = symbols.index(a), symbols.index(b)
        corr[i, j] = corr[j, i] = rho
    liquidity = default_constant_depth(symbols)

    t0 = time.perf_counter()
    paths = gbm_paths(book.prices_usd, vol, corr, args.horizon_days, args.steps, args.paths, seed=args.seed)
    t_paths = time.perf_counter() - t0
    print(f"book: {book.n_positions:,} positions x {book.n_assets} assets {symbols}")
    print(f"paths: {paths.shape} float64 = {paths.nbytes / 1e6:.0f} MB, generated in {t_paths:.2f} s")

    t0 = time.perf_counter()
    exo_only = simulate_liquidations(book, paths, liquidity=None, chunk_paths=args.chunk_paths)
    t_exo = time.perf_counter() - t0
    print(f"exogenous-only run: {t_exo:.2f} s")

    t0 = time.perf_counter()
    result = simulate_liquidations(book, paths, liquidity=liquidity, chunk_paths=args.chunk_paths)
    t_endo = time.perf_counter() - t0
    print(f"endogenous run (incl. its exogenous comparison): {t_endo:.2f} s "
          f"= {t_endo / t_exo:.1f}x the exogenous-only run; path rebases: {result.rebases}")
    print(f"peak RSS: {_peak_rss_mb():,.0f} MB")

    e, x = result.endogenous_summary, result.exogenous_summary
    assert x is not None and exo_only.exogenous_summary == x
    print(f"{'':24}{'exogenous':>18}{'endogenous':>18}")
    for name in ("mean_liquidated_usd", "lar_95_usd", "lar_99_usd", "mean_bad_debt_usd",
                 "bad_debt_var_99_usd", "mean_positions_hit", "prob_any_liquidation"):
        print(f"{name:24}{getattr(x, name):>18,.2f}{getattr(e, name):>18,.2f}")
    print(f"unconverged steps (all paths): {int(result.endogenous.unconverged_steps.sum())}")


if __name__ == "__main__":
    main()
