"""Benchmark: Monte Carlo with endogenous cascades on a large synthetic book (issue 11's goals).

Default: 10,000 paths x 288 steps (one day of 5-minute steps) on ``risk.sample.synthetic_book``
(100,000 positions; its 6 assets WETH, WBTC, wstETH, USDC, USDT, DAI), GBM paths, the default
constant-depth liquidity. Three things are timed, each alone, in this one process, as the min of
``--repeat`` runs (CPU time of the whole process, all threads, and wall time):

- the exogenous-only run (``liquidity=None``);
- the endogenous run alone (``compare_exogenous=False``: its exogenous comparison is *not* in it);
- the brute-force peer: the HF of every position at every step of a path with the project's own
  compiled kernel (:func:`risk.compiled.scan_and_liquidate`: one sweep over the whole book per
  step checks every row and liquidates those with HF < 1), exogenous prices, on the first
  ``--peer-paths`` paths only (it is ~10^4 times slower per path); it is reported per path.

Printed goals: (a) endogenous <= 2x exogenous-only; (b) peer per-path cost >= 100x the endogenous
run's per-path cost; (c) peak RSS <= 4 GiB. The machine's load average is printed before and
after. The peer's liquidated debt per path is checked against the exogenous run's (same paths,
same rules), so the peer computes the same thing the Monte Carlo does.

Run: ``.venv/bin/python -m bench.bench_montecarlo [--paths N] [--positions N] [--steps N]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from typing import Any, Callable

import numpy as np

from bench.bench_compiled import load
from risk import compiled
from risk.book import PositionBook
from risk.liquidity import default_constant_depth
from risk.montecarlo import simulate_liquidations
from risk.paths import gbm_paths
from risk.sample import synthetic_book

# Annual vols and correlations for the synthetic book's assets (round numbers, not fitted).
VOL_ANNUAL = {"WETH": 0.70, "WBTC": 0.55, "wstETH": 0.70, "USDC": 0.01, "USDT": 0.01, "DAI": 0.01}
CORR_PAIRS = {("WETH", "WBTC"): 0.80, ("WETH", "wstETH"): 0.998, ("WBTC", "wstETH"): 0.80,
              ("USDC", "USDT"): 0.5, ("USDC", "DAI"): 0.5, ("USDT", "DAI"): 0.5}
GIB = 1024**3
_KERNEL_PASSES = 32  # as risk.montecarlo


def _peak_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # bytes on macOS, KiB on Linux


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(min CPU seconds of the process, all threads; min wall seconds; the last result)."""
    cpu, wall, result = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return min(cpu), min(wall), result


def brute_force_liquidated_usd(book: PositionBook, paths: np.ndarray) -> np.ndarray:
    """The peer: debt repaid per path (USD), every position checked at every step.

    paths : shape (n_paths, n_steps, n_assets), USD per unit, exogenous (no impact). Per step one
    compiled sweep over the whole book (HF of every row, liquidation of the rows below 1, until
    healthy or 32 passes, as the Monte Carlo's kernel calls); the repaid tokens of the rows it hit
    are valued at that step's prices. Built-in rules only (the synthetic book's).
    """
    n, n_assets = book.collateral.shape
    lt, bonus, fee = book.liq_threshold, book.liq_bonus, book.protocol_fee
    venue, floored = np.asarray(book.venue, dtype=np.int8), np.asarray(book.floored_avg_lt, dtype=np.bool_)
    out = np.zeros(paths.shape[0])
    seized, fees, repaid = np.zeros((n, n_assets)), np.zeros((n, n_assets)), np.zeros((n, n_assets))
    bad_debt, hit = np.zeros(n), np.zeros(n, dtype=np.bool_)
    for p in range(paths.shape[0]):
        coll, debt = book.collateral.copy(), book.debt.copy()
        for k in range(paths.shape[1]):
            prices = np.ascontiguousarray(paths[p, k], dtype=np.float64)
            _, deferred = compiled.scan_and_liquidate(coll, debt, lt, bonus, fee, venue, prices, floored, seized,
                                                      fees, repaid, bad_debt, hit, _KERNEL_PASSES)
            assert deferred.size == 0  # the synthetic book has built-in rules only
            rows = np.flatnonzero(hit)
            if rows.size:
                out[p] += float((repaid[rows] * prices).sum())
                seized[rows], fees[rows], repaid[rows], bad_debt[rows], hit[rows] = 0.0, 0.0, 0.0, 0.0, False
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=288)
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--horizon-days", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk-paths", type=int, default=256)
    parser.add_argument("--peer-paths", type=int, default=4, help="paths the brute-force peer runs (per-path cost)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print(load())
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
    print(f"book: {book.n_positions:,} positions x {book.n_assets} assets {symbols}")
    print(f"paths: {paths.shape} float64 = {paths.nbytes / 1e6:.0f} MB, generated in {time.perf_counter() - t0:.2f} s")
    # Compile (or load from numba's cache) every kernel before anything is timed.
    simulate_liquidations(book, paths[:2, :4], liquidity=liquidity)
    brute_force_liquidated_usd(book, paths[:1, :2])

    def exogenous() -> Any:
        return simulate_liquidations(book, paths, liquidity=None, chunk_paths=args.chunk_paths)

    def endogenous() -> Any:
        return simulate_liquidations(book, paths, liquidity=liquidity, compare_exogenous=False,
                                     chunk_paths=args.chunk_paths)

    n_peer = min(args.peer_paths, args.paths)
    cpu_x, wall_x, exo = timed(exogenous, args.repeat)
    print(f"exogenous-only run: wall {wall_x:.2f} s, CPU {cpu_x:.2f} s (min of {args.repeat})")
    cpu_e, wall_e, endo = timed(endogenous, args.repeat)
    print(f"endogenous run alone: wall {wall_e:.2f} s, CPU {cpu_e:.2f} s (min of {args.repeat}); "
          f"path rebases: {endo.rebases}")
    cpu_b, wall_b, peer = timed(lambda: brute_force_liquidated_usd(book, paths[:n_peer]), args.repeat)
    print(f"brute-force peer on {n_peer} paths: wall {wall_b:.2f} s, CPU {cpu_b:.2f} s (min of {args.repeat}) "
          f"= {1e3 * wall_b / n_peer:.1f} ms wall per path")
    np.testing.assert_allclose(peer, exo.endogenous.liquidated_debt_usd[:n_peer], rtol=1e-9, atol=1e-6)
    print("peer's liquidated debt per path == the exogenous run's (rtol 1e-9)")

    rss = _peak_rss_bytes()
    per_path_e_wall, per_path_e_cpu = wall_e / args.paths, cpu_e / args.paths
    per_path_b_wall, per_path_b_cpu = wall_b / n_peer, cpu_b / n_peer
    print()
    print(f"GOAL (a) endogenous / exogenous-only: wall {wall_e / wall_x:.2f}x, CPU {cpu_e / cpu_x:.2f}x "
          f"(goal <= 2x)")
    print(f"GOAL (b) brute-force peer / endogenous, per path: wall {per_path_b_wall / per_path_e_wall:.0f}x, "
          f"CPU {per_path_b_cpu / per_path_e_cpu:.0f}x (goal >= 100x; peer vs exogenous-only: wall "
          f"{per_path_b_wall / (wall_x / args.paths):.0f}x)")
    print(f"GOAL (c) peak RSS: {rss / GIB:.2f} GiB = {rss / 1e6:,.0f} MB (goal <= 4 GiB)")
    print(load())

    e, x = endo.endogenous_summary, exo.endogenous_summary
    print(f"{'':24}{'exogenous':>18}{'endogenous':>18}")
    for name in ("mean_liquidated_usd", "lar_95_usd", "lar_99_usd", "mean_bad_debt_usd",
                 "bad_debt_var_99_usd", "mean_positions_hit", "prob_any_liquidation"):
        print(f"{name:24}{getattr(x, name):>18,.2f}{getattr(e, name):>18,.2f}")
    print(f"unconverged steps (all paths): {int(endo.endogenous.unconverged_steps.sum())}")


if __name__ == "__main__":
    main()
