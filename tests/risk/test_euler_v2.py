"""Euler v2 rule: the vectorized kernel against the plain loop, the exact EVK integer math against
independent arithmetic facts and against the float kernel (within 1e-9). The on-chain comparison
(to the wei, against the devnet's EVK TEST DOUBLE) is in tests/chain/test_euler_v2.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk import euler_v2 as ev
from risk.book import VENUE_CODE
from risk.liquidation import liquidate_rows
from tests.risk.euler_reference import liquidate_euler_loop

EULER = VENUE_CODE["euler_v2"]

# (WETH tokens, WBTC tokens, USDC debt, LTV WETH, LTV WBTC, max discount)
rows_strategy = st.lists(
    st.tuples(st.floats(0.0, 500.0), st.floats(0.0, 30.0), st.floats(0.0, 3_000_000.0), st.floats(0.5, 0.95),
              st.floats(0.0, 0.9), st.floats(0.0, 0.25)),
    min_size=1, max_size=25,
)


def _arrays(rows):
    n = len(rows)
    collateral, debt, lt = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros((n, 3))
    disc = np.zeros(n)
    for i, (w, b, d, l0, l1, m) in enumerate(rows):
        collateral[i, 0], collateral[i, 1], debt[i, 2], lt[i, 0], lt[i, 1], disc[i] = w, b, d, l0, l1, m
    lt[collateral == 0] = 0.0
    return collateral, debt, lt, disc


@settings(max_examples=300, deadline=None, derandomize=True)
@given(rows_strategy, st.floats(300.0, 5_000.0), st.floats(10_000.0, 120_000.0), st.booleans())
def test_kernel_equals_plain_loop(rows, eth, btc, per_row_prices):
    collateral, debt, lt, disc = _arrays(rows)
    prices = np.array([eth, btc, 1.0])
    if per_row_prices:
        prices = np.array([[eth * (1 + 0.01 * k), btc * (1 - 0.005 * k), 1.0] for k in range(len(rows))])
    ref = liquidate_euler_loop(collateral.tolist(), debt.tolist(), lt.tolist(), disc.tolist(), prices.tolist())
    coll, owed = collateral.copy(), debt.copy()
    out = ev.liquidate_euler_rows(coll, owed, lt, disc, prices)
    for i, r in enumerate(ref):
        assert out.hit[i] == r["hit"]
        assert out.calls[i] == r["calls"]
        assert out.socialized_usd[i] == pytest.approx(r["socialized"], rel=1e-9, abs=1e-6)
        for j in range(3):
            assert out.seized_tokens[i, j] == pytest.approx(r["seized"][j], rel=1e-9, abs=1e-12)
            assert out.repaid_tokens[i, j] == pytest.approx(r["repaid"][j], rel=1e-9, abs=1e-9)
            assert coll[i, j] == pytest.approx(r["collateral_after"][j], rel=1e-9, abs=1e-12)
            assert owed[i, j] == pytest.approx(r["debt_after"][j], rel=1e-9, abs=1e-9)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rows_strategy, st.floats(300.0, 5_000.0), st.floats(10_000.0, 120_000.0))
def test_kernel_invariants(rows, eth, btc):
    """Debt is conserved (repaid + socialised + left = before), the liquidator never gets more than
    the capped discount pays (seized value <= repaid value / (1 - max discount)), and an account the
    kernel leaves alone was not in violation."""
    collateral, debt, lt, disc = _arrays(rows)
    prices = np.array([eth, btc, 1.0])
    coll, owed = collateral.copy(), debt.copy()
    out = ev.liquidate_euler_rows(coll, owed, lt, disc, prices)
    before = (debt * prices).sum(axis=1)
    after = (owed * prices).sum(axis=1)
    repaid = (out.repaid_tokens * prices).sum(axis=1)
    seized = (out.seized_tokens * prices).sum(axis=1)
    np.testing.assert_allclose(repaid + out.socialized_usd + after, before, rtol=1e-9, atol=1e-6)
    assert np.all(seized <= repaid / (1.0 - disc) * (1 + 1e-9) + 1e-9)
    assert np.all(coll <= collateral + 1e-12)
    untouched = ~out.hit
    healthy = ((collateral * prices * lt).sum(axis=1) > before) | (before <= 1e-6)
    assert np.all(healthy[untouched])


def test_registered_kernel_runs_for_euler_rows_in_liquidate_rows():
    """liquidate_rows dispatches euler_v2 rows to this rule (the book's liq_bonus carries
    1/(1 - maxLiquidationDiscount)); the result equals the plain loop."""
    collateral = np.array([[10.0, 0.0, 0.0], [10.0, 0.5, 0.0], [1.0, 0.0, 0.0]])
    debt = np.array([[0.0, 0.0, 16_500.0], [0.0, 0.0, 52_000.0], [0.0, 0.0, 100.0]])
    lt = np.array([[0.85, 0.0, 0.0], [0.85, 0.8, 0.0], [0.85, 0.0, 0.0]])
    bonus = np.where(lt > 0, ev.encode_max_discount(0.15), 1.0)
    venue = np.full(3, EULER, dtype=np.int8)
    prices = np.array([1_800.0, 60_000.0, 1.0])
    coll = collateral.copy()
    owed = debt.copy()
    out = liquidate_rows(coll, owed, lt, bonus, np.zeros((3, 3)), venue, prices)
    ref = liquidate_euler_loop(collateral.tolist(), debt.tolist(), lt.tolist(), [0.15] * 3, prices.tolist())
    assert out.hit.tolist() == [r["hit"] for r in ref] == [True, True, False]
    for i, r in enumerate(ref):
        assert out.bad_debt_usd[i] == pytest.approx(r["socialized"], rel=1e-12, abs=1e-9)
        np.testing.assert_allclose(out.seized_tokens[i], r["seized"], rtol=1e-12)
    # Row 0: health 10*1800*0.85/16500 = 0.927 -> discount 7.3%, the whole debt repaid in one call.
    assert out.seized_tokens[0, 0] == pytest.approx(16_500 / (10 * 1_800 * 0.85 / 16_500) / 1_800, rel=1e-12)
    # Row 1: health 39,300/52,000 -> capped at 0.85; the WBTC (30,000) then the WETH (18,000) are
    # seized for 25,500 + 15,300 of debt, the last 11,200 socialised.
    assert out.bad_debt_usd[1] == pytest.approx(52_000 - 30_000 * 0.85 - 18_000 * 0.85, rel=1e-12)
    assert out.bad_debt_usd[1] > 0 and coll[1].sum() == 0.0


# ------------------------------------------------------------------------------------ exact math


def test_ltv_ramp_follows_ltvconfig_getltv():
    cfg = ev.LTVConfig(borrow_ltv_1e4=7_000, liquidation_ltv_1e4=7_500, initial_liquidation_ltv_1e4=8_700,
                       target_timestamp=1_000_000, ramp_duration_s=100_000)
    assert ev.liquidation_ltv_1e4(cfg, 1_000_000 - 100_000) == 8_700  # ramp start: the initial LTV
    assert ev.liquidation_ltv_1e4(cfg, 1_000_000 - 50_000) == 8_100  # half way
    assert ev.liquidation_ltv_1e4(cfg, 1_000_000 - 1) == 7_500 + 1_200 * 1 // 100_000
    assert ev.liquidation_ltv_1e4(cfg, 1_000_000) == 7_500
    assert ev.liquidation_ltv_1e4(cfg, 2_000_000) == 7_500
    raised = ev.LTVConfig(7_000, 9_000, 8_000, 1_000_000, 0)  # raising takes effect at once
    assert ev.liquidation_ltv_1e4(raised, 10) == 9_000
    assert not ev.LTVConfig(0, 0, 0, 0, 0).recognized and cfg.recognized


def test_max_liquidation_discount_is_one_minus_health_capped():
    # health 0.95 -> 5% discount; the whole debt (1000 assets, value 1000e18) for 1000/0.95 of value.
    m = ev.max_liquidation(collateral_adjusted_value_=950 * 10**18, liability_value=1_000 * 10**18,
                           liability_assets=1_000 * 10**6, max_liquidation_discount_1e4=1_500,
                           collateral_balance=10 * 10**18, collateral_value=2_000 * 10**18)
    assert m.discount_factor_wad == 95 * 10**16
    assert m.repay_assets == 1_000 * 10**6
    assert m.yield_balance == (1_000 * 10**18 * 10**18 // m.discount_factor_wad) * 10 * 10**18 // (2_000 * 10**18)
    # health 0.5 -> capped at 1 - 15%.
    capped = ev.max_liquidation(collateral_adjusted_value_=500 * 10**18, liability_value=1_000 * 10**18,
                                liability_assets=1_000 * 10**6, max_liquidation_discount_1e4=1_500,
                                collateral_balance=10 * 10**18, collateral_value=600 * 10**18)
    assert capped.discount_factor_wad == 85 * 10**16
    # collateral worth 600 < 1000/0.85: all of it for 600 * 0.85 of debt.
    assert capped.yield_balance == 10 * 10**18
    assert capped.repay_assets == (600 * 10**18 * 85 * 10**16 // 10**18) * 1_000 * 10**6 // (1_000 * 10**18)
    # healthy (adjusted > liability): nothing; equal: in violation (no discount).
    assert ev.max_liquidation(collateral_adjusted_value_=1_000 * 10**18 + 1, liability_value=1_000 * 10**18,
                              liability_assets=1, max_liquidation_discount_1e4=1_500, collateral_balance=1,
                              collateral_value=1).repay_assets == 0
    eq = ev.max_liquidation(collateral_adjusted_value_=1_000, liability_value=1_000, liability_assets=1_000,
                            max_liquidation_discount_1e4=1_500, collateral_balance=5_000, collateral_value=5_000)
    assert eq.discount_factor_wad == 10**18 and (eq.repay_assets, eq.yield_balance) == (1_000, 1_000)
    # worthless collateral: claimed with no repay.
    z = ev.max_liquidation(collateral_adjusted_value_=0, liability_value=10, liability_assets=10,
                           max_liquidation_discount_1e4=1_500, collateral_balance=77, collateral_value=0)
    assert (z.repay_assets, z.yield_balance) == (0, 77)


def test_desired_repay_scales_the_yield_and_refuses_more_than_max():
    m = ev.MaxLiquidation(repay_assets=1_000, yield_balance=3_001, liability_value=1, discount_factor_wad=1)
    assert ev.desired_repay(m, 333) == (333, 333 * 3_001 // 1_000)
    with pytest.raises(ev.EVKRevert, match="E_ExcessiveRepayAmount"):
        ev.desired_repay(m, 1_001)


def test_transfer_borrow_dust_rule_and_socialisation():
    one = 1 << ev.INTERNAL_DEBT_PRECISION_SHIFT
    owed = 1_000 * one - 5  # 1000 assets rounded up
    assert ev.owed_to_assets_up(owed) == 1_000
    full = ev.liquidate(owed_current=owed, liability_value=10**9, repay_assets=1_000, yield_balance=1,
                        collateral_balances_after=[5])
    assert full.violator_owed_after == 0 and full.socialized_assets == 0  # dust: the exact owed moves
    part = ev.liquidate(owed_current=owed, liability_value=10**9, repay_assets=400, yield_balance=1,
                        collateral_balances_after=[0])
    assert part.socialized_assets == 600 and part.violator_owed_after == 0
    kept = ev.liquidate(owed_current=owed, liability_value=10**9, repay_assets=400, yield_balance=1,
                        collateral_balances_after=[0], config_flags=ev.CFG_DONT_SOCIALIZE_DEBT)
    assert kept.socialized_assets == 0 and kept.violator_owed_after == owed - 400 * one
    small = ev.liquidate(owed_current=owed, liability_value=ev.MIN_SOCIALIZATION_LIABILITY_VALUE - 1, repay_assets=400,
                         yield_balance=1, collateral_balances_after=[0])
    assert small.socialized_assets == 0
    assert ev.current_owed(owed, 11 * 10**26, 10**27) == owed * 11 // 10


# ------------------------------------------------------------------ exact vs float (within 1e-9)

accounts_strategy = st.lists(
    st.tuples(st.integers(0, 500 * 10**18), st.integers(0, 30 * 10**8), st.integers(100, 3_000_000 * 10**6),
              st.integers(5_000, 9_500), st.integers(0, 9_000), st.integers(0, 2_500)),
    min_size=1, max_size=20,
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(accounts_strategy, st.integers(300, 5_000), st.integers(10_000, 120_000))
def test_exact_integer_liquidation_matches_the_float_kernel(accounts, eth_usd, btc_usd):
    """The same accounts liquidated in exact EVK integers (unit of account USD, 18 decimals; a
    linear oracle like the devnet double's) and by the float kernel: seized, repaid and socialised
    agree within 1e-9 relative (1e-9 USD absolute for integer rounding)."""
    rate = [eth_usd * 10**18, btc_usd * 10**28, 10**30]  # uoa wei per token raw unit, scaled 1e18

    def quote(i: int, amount: int) -> int:
        return amount * rate[i] // 10**18

    scale = [10**18, 10**8, 10**6]
    prices = np.array([float(eth_usd), float(btc_usd), 1.0])
    for weth, wbtc, usdc, l0, l1, disc in accounts:
        ltvs = [l0 if weth else 0, l1 if wbtc else 0]
        owed = usdc << ev.INTERNAL_DEBT_PRECISION_SHIFT
        calls, bal, owed_after = ev.liquidate_account(
            balances=[weth, wbtc], ltvs_1e4=ltvs, owed=owed, max_liquidation_discount_1e4=disc,
            quote_collateral=quote, quote_liability=lambda a: quote(2, a))
        coll = np.array([[weth / scale[0], wbtc / scale[1], 0.0]])
        debt = np.array([[0.0, 0.0, usdc / scale[2]]])
        lt = np.array([[ltvs[0] / 1e4, ltvs[1] / 1e4, 0.0]])
        out = ev.liquidate_euler_rows(coll, debt, lt, np.array([disc / 1e4]), prices)
        assert out.hit[0] == bool(calls), (weth, wbtc, usdc, ltvs, disc)
        if not calls:
            continue
        assert out.calls[0] == len(calls)
        seized = [sum(c.yield_balance for c in calls if c.collateral == j) / scale[j] for j in range(2)]
        repaid = sum(c.repay_assets for c in calls) / scale[2]
        social = sum(c.socialized_assets for c in calls) / scale[2]
        for j in range(2):
            # integer rounding: at most a couple of raw units per call
            assert out.seized_tokens[0, j] == pytest.approx(seized[j], rel=1e-9, abs=2 * len(calls) / scale[j])
        raw = 2 * len(calls) / scale[2]
        assert out.repaid_tokens[0, 2] == pytest.approx(repaid, rel=1e-9, abs=raw)
        assert out.socialized_usd[0] == pytest.approx(social, rel=1e-9, abs=raw)
        assert ev.owed_to_assets_up(owed_after) / scale[2] == pytest.approx(debt[0, 2], rel=1e-9, abs=raw)


@pytest.mark.parametrize("end_price, seized_usd, repaid_usd, bad_usd", [
    # 10 WETH (liquidation LTV 0.85), 16,000 USDC debt. At $1,800: health 15,300/16,000 = 0.95625,
    # the whole debt for 16,000 / 0.95625 of WETH (discount 1 - health = 4.375%).
    (1_800.0, 16_000 / 0.95625, 16_000.0, 0.0),
    # At $1,000: health 0.53 -> discount capped at 15%; the 10,000 of WETH repays 8,500, 7,500 socialised.
    (1_000.0, 10_000.0, 8_500.0, 7_500.0),
])
def test_monte_carlo_replay_liquidates_an_euler_position_as_the_rule_says(end_price, seized_usd, repaid_usd, bad_usd):
    from risk.book import PositionBook
    from risk.liquidity import NoImpact
    from risk.montecarlo import simulate_liquidations
    from risk.paths import replay_paths

    book = PositionBook(
        symbols=("WETH", "USDC"), prices_usd=np.array([2_000.0, 1.0]),
        collateral=np.array([[10.0, 0.0]]), debt=np.array([[0.0, 16_000.0]]),
        liq_threshold=np.array([[0.85, 0.0]]), liq_bonus=np.array([[ev.encode_max_discount(0.15), 1.0]]),
        protocol_fee=np.zeros((1, 2)), venue=np.array([EULER], dtype=np.int8), market=np.zeros(1, dtype=np.int32),
    )
    paths = replay_paths([[2_000.0, 1.0], [end_price, 1.0]], 2, interp="linear")
    e = simulate_liquidations(book, paths, liquidity=NoImpact()).endogenous
    assert e.positions_hit.tolist() == [1]
    assert e.seized_collateral_usd[0] == pytest.approx(seized_usd, rel=1e-12)
    assert e.liquidated_debt_usd[0] == pytest.approx(repaid_usd, rel=1e-12)
    assert e.bad_debt_usd[0] == pytest.approx(bad_usd, rel=1e-12, abs=1e-9)
