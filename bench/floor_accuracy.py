"""Accuracy of the float engine against ``risk.exact`` on mixed-collateral Aave positions.

Run: ``.venv/bin/python -m bench.floor_accuracy [--positions N] [--seed S]``.

For every position of a random population (2-4 collaterals with mixed whole-bps LTs, 1-2 debt
assets, every version line v3.0-v3.7; ``tests/risk/aave_population.py``) and every asset it
holds, compares the float liquidation price (``risk.liquidation_prices``) with the exact oracle
boundary (``risk.exact.aave_liquidation_oracle_price``: integer oracle answers, the Pool's own
rounding), with the floored average LT (this engine) and without it (the engine before, every
row under the plain sum rule). The error is measured in oracle units (1e-8 USD) past the one
unit the integer boundary is quantized to, and relative to the price. Also: the cascade's hit
set with no impact at a grid of drawdowns vs ``risk.exact`` liquidatability at the same oracle
prices.
"""

from __future__ import annotations

import argparse

import numpy as np

from risk.cascade import cascade_grid
from risk.exact import aave_hf_rule, aave_liquidation_oracle_price
from risk.liquidation_prices import Side, liquidation_prices
from tests.risk import aave_population as ap
from tests.risk.test_floor_exact import rounding_slack_units


def boundary_errors(population: ap.AavePopulation, floor: bool) -> dict[str, float]:
    book = ap.float_book(population, floor=floor)
    result = liquidation_prices(book)
    worst_rel = 0.0
    worst_units = 0.0
    over = 0
    checked = side_mismatch = above_spot = 0
    now_mismatch = 0
    beyond_slack = 0
    for i, position in enumerate(population.positions):
        rule = aave_hf_rule(position.version)
        legs = ap.legs(population, i)
        liquidatable_now = ap.exact_liquidatable(population, i, population.price_base)
        for j in range(len(population.symbols)):
            if not (position.collateral_raw[j] and position.lt_bps[j]) and not position.debt_raw[j]:
                continue
            side = int(result.side[i, j])
            if liquidatable_now or side == Side.NOW:
                now_mismatch += int(liquidatable_now != (side == Side.NOW))
                continue
            exact = aave_liquidation_oracle_price(legs, j, rule=rule)
            long = position.debt_raw[j] == 0
            if exact is not None and long and exact >= population.price_base[j]:
                above_spot += 1  # a liquidatable window above spot (floored HF not monotone)
                continue
            checked += 1
            if exact is None or side not in (Side.BELOW, Side.ABOVE):
                side_mismatch += int((exact is None) != (side not in (Side.BELOW, Side.ABOVE)))
                continue
            units = result.price_usd[i, j] * ap.BASE_UNIT
            # Past the one oracle unit the integer boundary is quantized to.
            err_units = max(abs(units - exact) - 1.0, 0.0)
            rel = err_units / max(exact, 1)
            worst_rel = max(worst_rel, rel)
            worst_units = max(worst_units, err_units)
            over += int(rel > 1e-9)
            beyond_slack += int(err_units > 1e-9 * exact + rounding_slack_units(population, i, j, exact))
    return {"checked": checked, "side_mismatch": side_mismatch, "now_mismatch": now_mismatch, "above_spot": above_spot,
            "max_rel": worst_rel, "beyond_slack": beyond_slack, "max_units": worst_units, "over_1e-9": over}


def cascade_sets(population: ap.AavePopulation, drawdowns: np.ndarray, driver: int, floor: bool) -> tuple[int, int]:
    """(grid points x positions checked, mismatches) of the no-impact cascade's hit set."""
    book = ap.float_book(population, floor=floor)
    betas = {s: (1.0 if k == driver else 0.0) for k, s in enumerate(book.symbols)}
    checked = mismatched = 0
    for i in range(book.n_positions):
        table = cascade_grid(book.select([i]), driver=book.symbols[driver], betas=betas, drawdowns=drawdowns)
        for g, x0 in enumerate(drawdowns):
            prices = book.prices_usd.copy()
            prices[driver] *= 1.0 - x0
            exact = ap.exact_liquidatable(population, i, ap.oracle_prices(prices))
            checked += 1
            mismatched += int(bool(table.positions_hit[g]) != exact)
    return checked, mismatched


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=2_000)
    parser.add_argument("--cascade-positions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    population = ap.random_population(rng, args.positions)
    print(f"population: {args.positions} positions, {len(population.symbols)} assets, seed {args.seed}")
    for floor in (False, True):
        e = boundary_errors(population, floor)
        label = "floored (this engine)" if floor else "unfloored (before)"
        print(f"boundaries, {label}: {e['checked']} checked, side mismatches {e['side_mismatch']}, "
              f"liquidatable-now disagreements {e['now_mismatch']}, windows above spot skipped {e['above_spot']}; beyond one oracle unit: max {e['max_units']:.3g} units, "
              f"max relative {e['max_rel']:.3g}, {e['over_1e-9']} over 1e-9, "
              f"{e['beyond_slack']} beyond 1e-9 + the Pool's integer-rounding slack")
    small = ap.AavePopulation(population.symbols, population.decimals, population.price_base,
                              population.positions[: args.cascade_positions])
    drawdowns = np.round(np.arange(0.0, 0.9, 0.01), 4)
    for floor in (False, True):
        total = mism = 0
        for driver in range(len(population.symbols)):
            c, m = cascade_sets(small, drawdowns, driver, floor)
            total, mism = total + c, mism + m
        label = "floored" if floor else "unfloored"
        print(f"cascade hit sets (no impact), {label}: {total} position x drawdown x driver checks, {mism} differ from risk.exact")


if __name__ == "__main__":
    main()
