"""Benchmark of the compiled core (issue 11): the numba row kernel and the pooled cascade rounds
against the numpy reference kernels, the plain-loop reference and one copy of the book's arrays.

Run: ``.venv/bin/python -m bench.bench_compiled [--positions N] [--sample N] [--repeat N]``.

Every ratio is ``min over --repeat runs`` on *each* side, measured in this one process (the
compiled kernels are compiled, or loaded from numba's cache, before any timing). The machine's
load average is printed before and after: on a shared machine the ratios are what travels, the
absolute times are not. Equality of the engines is checked in the tests
(``tests/risk/test_compiled.py``, ``tests/risk/test_cascade_pooled.py``); here only the
headline numbers are compared, as a sanity check of what was timed.

- kernel: ``liquidate_rows`` at a -30% WETH / -24% WBTC / -30% wstETH shock, per position, on
  a ``--sample`` slice of the book: compiled, numpy, and ``tests/risk/reference.py``'s
  ``liquidate_position`` in a plain loop (plain HF rule on both sides: the reference's floored
  rule is exact rational arithmetic, far slower, and would flatter the ratio).
- cascade grid: 121 drawdowns 0-60%, the default constant-depth impact, the whole book:
  compiled vs numpy rounds, each as a multiple of one numpy copy of the book's arrays.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from typing import Any, Callable

import numpy as np

from risk.cascade import cascade_grid
from risk.liquidation import liquidate_rows
from risk.liquidity import default_constant_depth
from risk.sample import synthetic_book
from tests.risk import reference

BETAS = {"wstETH": 1.0, "WBTC": 0.8}
GRID = np.round(np.arange(0.0, 0.6001, 0.005), 6)  # 121 points
SHOCK = np.array([0.7, 0.76, 0.7, 1, 1, 1])


def min_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--grid-repeat", type=int, default=3, help="runs of each cascade grid (numpy: ~1 min each)")
    args = parser.parse_args()
    print(f"start: {load()}")

    book = synthetic_book(args.positions, seed=1, total_collateral_usd=30e9 * args.positions / 1_000_000)
    print(f"book: {book.n_positions:,} positions x {book.n_assets} assets (synthetic)")

    # Warm-up: compile (or load from numba's cache) before anything is timed.
    warm = book.select(np.arange(min(100, book.n_positions)))
    liquidate_rows(warm.collateral.copy(), warm.debt.copy(), warm.liq_threshold, warm.liq_bonus, warm.protocol_fee,
                   warm.venue, warm.prices_usd * SHOCK)
    cascade_grid(warm, driver="WETH", betas=BETAS, drawdowns=[0.3])

    def copy_book() -> list[np.ndarray]:
        return [a.copy() for a in (book.collateral, book.debt, book.liq_threshold, book.liq_bonus, book.protocol_fee,
                                   book.venue, book.market)]

    t_copy, _ = min_of(copy_book, max(args.repeat, 5))
    print(f"one numpy copy of the book arrays: {t_copy * 1e3:.1f} ms (min of {max(args.repeat, 5)})")

    # --- kernel, per position
    sample = book.select(np.arange(min(args.sample, book.n_positions)))
    shocked = sample.prices_usd * SHOCK
    n = sample.n_positions

    def kernel(engine: str) -> Callable[[], Any]:
        return lambda: liquidate_rows(sample.collateral.copy(), sample.debt.copy(), sample.liq_threshold,
                                      sample.liq_bonus, sample.protocol_fee, sample.venue, shocked, engine=engine)

    t_compiled, out_c = min_of(kernel("compiled"), args.repeat)
    t_numpy, out_n = min_of(kernel("numpy"), args.repeat)
    plain = [(sample.collateral[i].tolist(), sample.debt[i].tolist(), sample.liq_threshold[i].tolist(),
              sample.liq_bonus[i].tolist(), sample.protocol_fee[i].tolist(), int(sample.venue[i])) for i in range(n)]
    shocked_list = shocked.tolist()

    def loop() -> int:
        hits = 0
        for c, d, lt, b, f, v in plain:
            hits += reference.liquidate_position(list(c), list(d), lt, b, f, v, shocked_list)[4]
        return hits

    t_loop, loop_hits = min_of(loop, args.repeat)
    assert int(out_c.hit.sum()) == int(out_n.hit.sum()) == loop_hits, "engines disagree on who is liquidated"
    print(f"kernel at the shock, {n:,} positions ({int(out_c.hit.sum()):,} liquidated), min of {args.repeat} each:")
    print(f"  compiled {t_compiled / n * 1e9:.0f} ns/position, numpy {t_numpy / n * 1e9:.0f} ns/position, "
          f"plain loop {t_loop / n * 1e6:.1f} us/position")
    print(f"  compiled vs numpy kernel: {t_numpy / t_compiled:.1f}x; compiled vs plain loop: {t_loop / t_compiled:.0f}x "
          f"(goal >= 300x); numpy vs plain loop: {t_loop / t_numpy:.0f}x")

    # --- whole-book kernel: compiled vs numpy on every row at once
    full = lambda engine: (lambda: liquidate_rows(book.collateral.copy(), book.debt.copy(), book.liq_threshold,  # noqa: E731
                                                  book.liq_bonus, book.protocol_fee, book.venue,
                                                  book.prices_usd * SHOCK, floored_avg_lt=book.floored_avg_lt,
                                                  engine=engine))
    t_fc, _ = min_of(full("compiled"), args.repeat)
    t_fn, _ = min_of(full("numpy"), args.repeat)
    print(f"kernel on the whole book ({book.n_positions:,} rows, floored rule on Aave rows): compiled {t_fc * 1e3:.0f} ms "
          f"= {t_fc / t_copy:.1f}x copy, numpy {t_fn * 1e3:.0f} ms = {t_fn / t_copy:.1f}x copy -> {t_fn / t_fc:.1f}x")

    # --- cascade grid
    liquidity = default_constant_depth(book.symbols)

    def grid(engine: str) -> Callable[[], Any]:
        return lambda: cascade_grid(book, driver="WETH", betas=BETAS, drawdowns=GRID, liquidity=liquidity, engine=engine)

    print(f"before the cascade grids: {load()}")
    t_gc, table_c = min_of(grid("compiled"), args.grid_repeat)
    t_gn, table_n = min_of(grid("numpy"), args.grid_repeat)
    assert np.array_equal(table_c.positions_hit, table_n.positions_hit), "cascade engines disagree"
    rel = float(np.max(np.abs(table_c.liquidated_debt_usd - table_n.liquidated_debt_usd))
                / max(float(np.max(table_n.liquidated_debt_usd)), 1e-300))
    print(f"cascade grid, {GRID.size} drawdowns, constant-depth impact, min of {args.grid_repeat} each:")
    print(f"  compiled rounds {t_gc:.2f} s = {t_gc / t_copy:.0f}x copy (goal <= 20x); "
          f"numpy rounds {t_gn:.2f} s = {t_gn / t_copy:.0f}x copy -> {t_gn / t_gc:.2f}x")
    print(f"  same positions hit at every point; liquidated debt differs by {rel:.1e} of the largest")
    for x in (0.1, 0.2, 0.3):
        row = table_c.at(x)
        print(f"  -{x:.0%}: final -{row['final_drawdown']:.1%}, liquidated ${row['liquidated_debt_usd'] / 1e9:.2f}B, "
              f"{row['positions_hit']:,} positions, {row['rounds']} rounds")
    print(f"end: {load()}")
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak memory (ru_maxrss): {peak_gib:.2f} GiB (goal <= 4 GiB)")


if __name__ == "__main__":
    main()
