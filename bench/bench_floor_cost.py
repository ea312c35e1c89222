"""Cost of the floored average LT (Aave v3.0-v3.4) in the float engine.

Run: ``.venv/bin/python -m bench.bench_floor_cost [--positions N] [--repeat R]``. The synthetic
book (Aave rows floored, as ``PositionBook.from_snapshot`` decides for a v3.0-v3.4 market) and the
same book with every row under the plain sum rule (the engine before the floor), timed on
liquidation prices (every asset), bands (WETH) and the cascade grid; minimum of ``R`` runs
each, reported as the ratio floored / plain (machine-independent; no timing is asserted).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from risk.bands import liquidation_bands
from risk.book import mixes_liquidation_thresholds
from risk.cascade import cascade_grid
from risk.liquidation_prices import liquidation_prices
from risk.liquidity import default_constant_depth
from risk.sample import synthetic_book

BETAS = {"wstETH": 1.0, "WBTC": 0.8}
GRID = np.round(np.arange(0.0, 0.6001, 0.01), 6)


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    floored = synthetic_book(args.positions, seed=1)
    plain = dataclasses.replace(floored, floored_avg_lt=np.zeros(floored.n_positions, dtype=bool), _cache={})
    mixed = floored.floored_avg_lt & mixes_liquidation_thresholds(floored.collateral, floored.liq_threshold)
    print(f"book: {floored.n_positions:,} positions x {floored.n_assets} assets; floored rule on "
          f"{floored.floored_avg_lt.mean():.0%}, of which mixed-LT (the floor can act) {mixed.mean():.1%} of all")
    liquidity = default_constant_depth(floored.symbols)
    jobs = {
        "liquidation prices (all assets)": lambda b: liquidation_prices(b),
        "bands (WETH)": lambda b: liquidation_bands(b.with_prices(b.prices_usd), "WETH"),
        f"cascade grid ({GRID.size} points)": lambda b: cascade_grid(b, driver="WETH", betas=BETAS, drawdowns=GRID,
                                                                    liquidity=liquidity),
    }
    for name, job in jobs.items():
        t_plain = best_of(lambda: job(plain), args.repeat)
        t_floor = best_of(lambda: job(floored), args.repeat)
        print(f"{name}: plain {t_plain * 1e3:.1f} ms, floored {t_floor * 1e3:.1f} ms, ratio {t_floor / t_plain:.2f}x "
              f"(min of {args.repeat})")


if __name__ == "__main__":
    main()
