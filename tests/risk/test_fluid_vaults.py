"""Fluid vault T1 rule: tick math against exact rational arithmetic, the liquidation walk's
invariants, the float kernel against its plain loop and the exact walk."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk import fluid_vaults as fv
from tests.risk.fluid_reference import liquidate_fluid_loop

Q96 = 2**96


@settings(max_examples=300)
@given(st.integers(fv.MIN_TICK, fv.MAX_TICK))
def test_ratio_at_tick_is_1_0015_to_the_tick_within_rounding(tick):
    exact = Fraction(10015, 10000) ** tick * Q96
    got = fv.ratio_at_tick(tick)
    assert abs(Fraction(got) - exact) <= max(2, exact / 10**15)  # 128-bit factor tables
    if tick >= 0:
        assert got >= exact - 1  # rounded up for positive ticks ("getTickAtRatio consistent")


@settings(max_examples=300)
@given(st.integers(fv.MIN_RATIO_X96, 10**40))
def test_tick_at_ratio_rounds_down_and_its_perfect_ratio_is_below(ratio):
    tick, perfect = fv.tick_at_ratio(ratio)
    assert perfect <= ratio
    true = math.floor(math.log(ratio / Q96) / math.log(1.0015))
    assert tick in (true - 1, true, true + 1)  # float log: exact up to a boundary
    assert Fraction(perfect) <= Fraction(ratio) < Fraction(perfect) * Fraction(10015, 10000) + 2


def test_position_tick_rounds_the_debt_up_to_its_tick():
    col, debt = 10**18, 8 * 10**17
    tick, raw, dust = fv.position_tick(col, debt)
    assert raw >= debt and dust == raw - debt and dust < debt * 16 // 10_000
    assert fv.ratio_at_tick(tick - 1) <= debt * Q96 // col <= fv.ratio_at_tick(tick) + 1
    with pytest.raises(fv.FluidRevert, match="UserDebtTooLow"):
        fv.position_tick(col, 9_999)


def _setup(price=2_000):
    return fv.liquidation_setup(price * 10**27, liquidation_threshold_1e3=880, liquidation_max_limit_1e3=930,
                                liquidation_penalty_1e4=200)


def test_liquidation_walk_ends_at_the_liquidation_tick_and_pays_the_penalty():
    s = _setup()
    ticks = {s.liquidation_tick + k: 10**21 * (k + 1) for k in (3, 9, 17, 30)}
    out = fv.liquidate_ticks(ticks, s, 10**40)
    assert set(out.ticks_liquidated) == set(ticks)
    assert out.final_tick == s.liquidation_tick + 1
    left_ratio = out.debt_left * fv.ZERO_TICK_SCALED_RATIO // out.col_left
    assert abs(left_ratio - fv.ratio_at_tick(s.liquidation_tick)) <= fv.ratio_at_tick(s.liquidation_tick) // 10**9
    # the liquidator gets colPerDebt (1/price x 1.02) per unit of debt, within rounding
    assert out.col_liquidated == pytest.approx(out.debt_liquidated * s.col_per_debt / 10**27, rel=1e-12)
    part = fv.liquidate_ticks(ticks, s, out.debt_liquidated // 3)
    assert part.debt_liquidated == out.debt_liquidated // 3 and part.final_tick > out.final_tick


def test_absorb_takes_the_ticks_above_the_max_limit_whole():
    s = _setup()
    ticks = {s.max_tick + 5: 10**21, s.max_tick: 2 * 10**21, s.liquidation_tick + 2: 10**21}
    debt, col, left = fv.absorb_ticks(ticks, s.max_tick)
    assert debt == 10**21 and set(left) == {s.max_tick, s.liquidation_tick + 2}
    assert col == 10**21 * fv.ZERO_TICK_SCALED_RATIO // fv.ratio_at_tick(s.max_tick + 5)


rows_st = st.lists(st.tuples(st.floats(0.5, 500.0), st.floats(0.3, 1.2)), min_size=1, max_size=20)


@settings(max_examples=100)
@given(rows_st, st.floats(0.6, 1.1))
def test_fluid_kernel_equals_its_plain_loop(rows, shock):
    price = 2_000.0
    coll = np.array([[c, 0.0] for c, _ in rows])
    debt = np.array([[0.0, c * price * r] for c, r in rows])
    lt, pen, ml = (np.array([[v, 0.0]] * len(rows)) for v in (0.88, 0.02, 0.93))
    prices = np.array([price * shock, 1.0])
    ref = liquidate_fluid_loop(coll.tolist(), debt.tolist(), lt.tolist(), pen.tolist(), ml.tolist(), prices.tolist())
    out = fv.liquidate_fluid_rows(coll, debt, lt, pen, ml, prices)
    for i, r in enumerate(ref):
        assert bool(out.hit[i]) == r["hit"] and bool(out.absorbed[i]) == r["absorbed"]
        np.testing.assert_allclose(out.seized[i], r["seized"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(out.repaid[i], r["repaid"], rtol=1e-12, atol=1e-9)
        assert out.bad_debt_usd[i] == pytest.approx(r["bad"], rel=1e-12, abs=1e-9)


def test_float_kernel_matches_the_exact_walk_to_within_one_tick():
    """The float kernel liquidates to the threshold ratio, the vault to the liquidation tick (at or
    below it, within 0.15%): the repaid debt differs by at most what one tick of ratio moves."""
    s = _setup()
    for k in (2, 7, 20):
        t = s.liquidation_tick + k
        d = 10**24
        exact = fv.liquidate_ticks({t: d}, s, 10**40)
        col = d * fv.ZERO_TICK_SCALED_RATIO // fv.ratio_at_tick(t)
        coll, debt = np.array([[col / 1e18, 0.0]]), np.array([[0.0, d / 1e18]])
        out = fv.liquidate_fluid_rows(coll, debt, np.array([[0.88, 0.0]]), np.array([[0.02, 0.0]]),
                                      np.array([[0.93, 0.0]]), np.array([2_000.0, 1.0]))
        assert out.hit[0] and not out.absorbed[0]
        one_tick = 0.0015 * 0.88 * (col / 1e18 * 2_000) / (1 - 0.88 * 1.02)
        assert abs(out.repaid[0, 1] - exact.debt_liquidated / 1e18) <= one_tick
        assert out.seized[0, 0] == pytest.approx(out.repaid[0, 1] * 1.02 / 2_000, rel=1e-12)


@settings(max_examples=60)
@given(rows_st, st.floats(0.6, 1.1))
def test_liquidate_rows_dispatches_fluid_rows_to_their_kernel(rows, shock):
    from risk.book import VENUE_CODE
    from risk.liquidation import liquidate_rows

    price = 2_000.0
    coll = np.array([[c, 0.0] for c, _ in rows])
    debt = np.array([[0.0, c * price * r] for c, r in rows])
    lt, pen, ml = (np.array([[v, 0.0]] * len(rows)) for v in (0.88, 0.02, 0.93))
    prices = np.array([price * shock, 1.0])
    ref = liquidate_fluid_loop(coll.tolist(), debt.tolist(), lt.tolist(), pen.tolist(), ml.tolist(), prices.tolist())
    out = liquidate_rows(coll, debt, lt, 1.0 + pen, ml, np.full(len(rows), VENUE_CODE["fluid_vault"], dtype=np.int8),
                         prices)
    for i, r in enumerate(ref):
        assert bool(out.hit[i]) == r["hit"]
        np.testing.assert_allclose(out.seized_tokens[i], r["seized"], rtol=1e-12, atol=1e-12)
        assert out.bad_debt_usd[i] == pytest.approx(r["bad"], rel=1e-12, abs=1e-9)
    assert not out.protocol_fee_tokens.any()
