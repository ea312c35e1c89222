"""The float engine against ``risk.exact`` on mixed-collateral Aave positions (issue 7, item 3).

Aave v3.0-v3.4 floor the value-weighted average LT to whole bps before the health factor
(``GenericLogic.calculateUserAccountData``: ``avgLiquidationThreshold / totalCollateral``, then
``percentMul``; v3.5+ divide the un-averaged sum by the debt instead). ``risk.exact`` mirrors the
Pool's integers and is itself tested against the genuine v3.0.2 and v3.6 Pools on the devnet
(``tests/chain/test_boundary.py``, ``tests/chain/test_aave36*.py``). Here the float paths —
liquidation prices, the cascade (closed form and row kernel), the health factor — are held to
it on random populations of positions defined by the Pool's own integers
(:mod:`tests.risk.aave_population`).

What "equal" means for a boundary: ``risk.exact`` answers an integer oracle price (1e-8 USD);
the float engine a real one. They agree to one oracle unit, 1e-9 relative, and the protocol's
own integer rounding, which moves a boundary by ``rounding_slack_units`` (each reserve's value
floored to a base unit, ``percentMul`` half up, v3.5+ debt rounded up: at most ``n_legs + 1``
base units on the HF numerator, divided by how fast the numerator moves with the price). That
slack is computed from the position, not tuned; it is below 1e-9 of the price for every reserve
worth more than ~$50 with an LT away from the position's average.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.book import VENUE_CODE, PositionBook
from risk.cascade import cascade_grid
from risk.exact import AaveReserveLeg, aave_account_data, aave_hf_rule, aave_liquidation_oracle_price
from risk.liquidation_prices import Side, liquidation_prices, liquidation_prices_for
from risk.liquidity import ConstantDepth
from tests.risk import aave_population as ap
from tests.risk import reference
from tests.risk.strategies import aave_populations, rows_of


def rounding_slack_units(population: ap.AavePopulation, i: int, j: int, boundary: int) -> float:
    """How far the Pool's integer rounding can move position i's boundary in asset j, oracle units.

    The HF test is ``k * T < 1e4 * D`` on one level of the floored average (``sum`` rule: the
    un-averaged ``S < 1e4 * D``) and a level changes where ``S = m * T``. Flooring each reserve's
    value to a base unit, ``percentMul`` half up and the v3.5+ debt ceiling move either side by
    less than ``1e4 * (n_legs + 1)`` bps x base units; the price of ``j`` moves them by
    ``tokens_j * k`` (collateral, a level's root), ``tokens_j * |LT_j - m|`` (collateral, a step)
    or ``1e4 * tokens_j`` (debt) per oracle unit.
    """
    position = population.positions[i]
    tokens = (position.collateral_raw[j] or position.debt_raw[j]) / 10 ** population.decimals[j]
    n_legs = sum(1 for k in range(len(population.symbols)) if position.collateral_raw[k] or position.debt_raw[k])
    numerator_error = 1e4 * (n_legs + 1)
    if position.debt_raw[j]:
        return numerator_error / (1e4 * tokens)
    prices = list(population.price_base)
    prices[j] = boundary
    average = aave_account_data(ap.legs(population, i, tuple(prices))).avg_liquidation_threshold_bps
    speed = min(position.lt_bps[j], max(abs(position.lt_bps[j] - average) - 1, 1))
    return numerator_error / (tokens * speed)


def _near_one(hf: float) -> bool:
    return abs(hf - 1.0) < 1e-9


@settings(max_examples=120, deadline=None)
@given(aave_populations())
def test_liquidation_prices_equal_the_protocols_boundaries(population):
    """Every asset of every position, both HF rules: the float price is the exact boundary."""
    book = ap.float_book(population)
    result = liquidation_prices(book)
    hf = book.health_factor()
    for i, position in enumerate(population.positions):
        rule = aave_hf_rule(position.version)
        legs = ap.legs(population, i)
        liquidatable_now = ap.exact_liquidatable(population, i, population.price_base)
        for j in range(len(population.symbols)):
            long = position.collateral_raw[j] > 0 and position.lt_bps[j] > 0
            if not (long or position.debt_raw[j]):
                continue
            side = int(result.side[i, j])
            if liquidatable_now:
                assert side == Side.NOW or _near_one(hf[i]), (i, j)
                continue
            if _near_one(hf[i]):
                continue
            assert side != Side.NOW, (i, j)
            exact = aave_liquidation_oracle_price(legs, j, rule=rule)
            if long and exact is not None and exact > population.price_base[j]:
                # A collateral whose LT is below the average pulls the floored average down as it
                # rises: a liquidatable window above spot. The float HF sees it too.
                prices = book.prices_usd.copy()
                prices[j] = exact / ap.BASE_UNIT
                window_hf = float(book.select([i]).health_factor(prices)[0])
                assert window_hf < 1 or _near_one(window_hf), (i, j)
                continue
            if exact is None:
                assert side == Side.NEVER, (i, j)
                continue
            assert side == (Side.BELOW if long else Side.ABOVE), (i, j)
            units = float(result.price_usd[i, j]) * ap.BASE_UNIT
            slack = 1.0 + 1e-9 * exact + rounding_slack_units(population, i, j, exact)
            assert abs(units - exact) <= slack, (i, j, units, exact, slack)


@settings(max_examples=60, deadline=None)
@given(aave_populations(max_positions=4), st.integers(0, 5))
def test_cascade_liquidates_the_positions_the_protocol_does(population, driver_pick):
    """No impact: at every drawdown, the cascade's positions are those ``risk.exact`` finds
    liquidatable at the same oracle prices (per position, so the set, not just its size)."""
    book = ap.float_book(population)
    driver = driver_pick % book.n_assets
    betas = {s: (1.0 if k == driver else 0.0) for k, s in enumerate(book.symbols)}
    drawdowns = np.round(np.arange(0.0, 0.96, 0.03), 4)
    for i in range(book.n_positions):
        table = cascade_grid(book.select([i]), driver=book.symbols[driver], betas=betas, drawdowns=drawdowns)
        for g, x0 in enumerate(drawdowns):
            prices = book.prices_usd.copy()
            prices[driver] *= 1.0 - x0
            hf = float(book.select([i]).health_factor(prices)[0])
            if _near_one(hf):
                continue
            exact = ap.exact_liquidatable(population, i, ap.oracle_prices(prices))
            assert bool(table.positions_hit[g]) == exact, (i, x0, hf)


def _exact_decision(population: ap.AavePopulation):
    """``decide`` for :func:`reference.cascade`: the position's current float amounts as raw
    integers (floored), prices as oracle answers, liquidatable as ``risk.exact`` says."""

    def decide(i, coll, debt, prices):
        position = population.positions[i]
        legs = [
            AaveReserveLeg(int(Fraction(coll[k]) * 10 ** population.decimals[k]),
                           int(Fraction(debt[k]) * 10 ** population.decimals[k]),
                           ap.oracle_prices([prices[k]])[0], population.decimals[k], position.lt_bps[k])
            for k in range(len(prices))
        ]
        rule = aave_hf_rule(position.version)
        return aave_account_data(legs, rule=rule).health_factor_wad < 10**18

    return decide


@settings(max_examples=40, deadline=None)
@given(aave_populations(max_positions=5), st.floats(0.05, 0.7))
def test_cascade_with_impact_hits_the_set_the_exact_path_does(population, x0):
    """With price impact (rounds feed each other): the plain-loop cascade deciding every
    liquidation with ``risk.exact`` hits the same positions as the one deciding in floats, and
    the vectorized cascade hits as many."""
    book = ap.float_book(population)
    depth = ConstantDepth(np.full(book.n_assets, 2e6))
    rows = rows_of(book)
    spot, betas = book.prices_usd.tolist(), [1.0] + [0.5] * (book.n_assets - 1)
    floats = reference.cascade(rows, spot, betas, 0, x0, depth.impact)
    exact = reference.cascade(rows, spot, betas, 0, x0, depth.impact, decide=_exact_decision(population))
    assert floats["hit"] == exact["hit"]
    table = cascade_grid(book, driver=book.symbols[0], betas=dict(zip(book.symbols, betas)), drawdowns=[x0],
                         liquidity=depth)
    assert int(table.positions_hit[0]) == exact["positions_hit"]


def _weth_wbtc_book(floored: bool) -> PositionBook:
    return PositionBook(
        symbols=("WETH", "WBTC", "USDC"),
        prices_usd=np.array([2_000.0, 60_000.0, 1.0]),
        collateral=np.array([[91.08, 1.0, 0.0]]),
        debt=np.array([[0.0, 0.0, WETH_WBTC_DEBT_RAW / 1e6]]),
        liq_threshold=np.array([[0.83, 0.78, 0.0]]),
        liq_bonus=np.full((1, 3), 1.05),
        protocol_fee=np.full((1, 3), 0.1),
        venue=np.array([VENUE_CODE["aave_v30"]], dtype=np.int8),
        market=np.zeros(1, dtype=np.int32),
        floored_avg_lt=np.array([floored]),
    )


WETH_WBTC_DEBT_RAW = 151_806_137_400  # USDC, 6 decimals: 1660 x 91.08 + 613.3374 dollars


def test_weth_wbtc_liquidation_price_is_the_protocols():
    """The issue's example: 91.08 WETH (LT 83%) + 1 WBTC (LT 78%) against USDC on v3.0-v3.4.
    Without the floor the WBTC liquidation price is $786.33; the Pool's (``risk.exact``, integer
    oracle answers) is $805.09, and so is the float engine's."""
    legs = [
        AaveReserveLeg(91_080_000_000_000_000_000, 0, 2_000 * 10**8, 18, 8_300),
        AaveReserveLeg(10**8, 0, 60_000 * 10**8, 8, 7_800),
        AaveReserveLeg(0, WETH_WBTC_DEBT_RAW, 10**8, 6, 0),
    ]
    exact_units = aave_liquidation_oracle_price(legs, 1, rule="avg")
    plain, _ = liquidation_prices_for(_weth_wbtc_book(False), "WBTC")
    floored, side = liquidation_prices_for(_weth_wbtc_book(True), "WBTC")
    assert round(float(plain[0]), 2) == 786.33
    assert round(exact_units / 1e8, 2) == 805.09
    assert side[0] == Side.BELOW
    assert float(floored[0]) * 1e8 == pytest.approx(exact_units, rel=1e-10)  # 1.3 oracle units
    # v3.5+ divide the un-averaged sum: there the plain price is the protocol's.
    assert round(aave_liquidation_oracle_price(legs, 1, rule="sum") / 1e8, 2) == 786.33
