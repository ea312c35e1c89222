"""Liquity v2 (BOLD) rule: the float kernels against their plain loops and the exact integer math.

The exact math (:mod:`risk.liquity_v2`, from liquity/bold TroveManager.sol
@00aa9df025c8677e6f9a24695185dacf3483f0d0) is checked against the devnet's Liquity v2 TEST DOUBLE
in ``tests/chain/test_liquity_v2.py`` (no genuine Liquity v2 is installable from a registry); here
the float branch model is checked against it (1e-9) and against a plain loop, and the registry
kernel against its own plain loop and through ``liquidate_rows``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk import liquity_v2 as lq
from risk.book import VENUE_CODE
from risk.liquidation import liquidate_rows
from tests.risk.liquity_reference import liquidate_branch_loop, liquidate_trove_loop

LIQUITY = VENUE_CODE["liquity_v2"]
NOW = 1_800_000_000
E18 = 10**18

troves_st = st.lists(st.tuples(st.floats(1.0, 400.0), st.floats(1.02, 3.0), st.floats(0.005, 0.25)),
                     min_size=2, max_size=24)


def _rows(troves, price):
    coll = np.array([[c, 0.0] for c, _, _ in troves])
    debt = np.array([[0.0, c * price / icr] for c, icr, _ in troves])
    lt = np.array([[1 / 1.1, 0.0] for _ in troves])
    pen = np.array([[0.05, 0.0] for _ in troves])
    return coll, debt, lt, pen


@settings(max_examples=120)
@given(troves_st, st.floats(500.0, 5_000.0), st.floats(0.5, 1.2))
def test_sp_offset_kernel_equals_its_plain_loop(troves, price, shock):
    coll, debt, lt, pen = _rows(troves, price)
    prices = np.array([price * shock, 1.0])
    ref = liquidate_trove_loop(coll.tolist(), debt.tolist(), lt.tolist(), pen.tolist(), prices.tolist())
    out = lq.liquidate_trove_rows(coll, debt, lt, pen, prices)
    for i, r in enumerate(ref):
        assert bool(out.hit[i]) == r["hit"]
        np.testing.assert_allclose(out.seized[i], r["seized"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(out.gas[i], r["gas"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(out.surplus[i], r["surplus"], rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(out.repaid[i], r["repaid"], rtol=1e-12, atol=1e-9)
        assert out.bad_debt_usd[i] == pytest.approx(r["bad"], rel=1e-12, abs=1e-9)
        if r["hit"]:
            assert coll[i].sum() == 0 and debt[i].sum() == 0


@settings(max_examples=60)
@given(troves_st, st.floats(0.5, 1.1))
def test_liquidate_rows_dispatches_liquity_rows_to_their_kernel(troves, shock):
    price = 2_000.0
    coll, debt, lt, pen = _rows(troves, price)
    prices = np.array([price * shock, 1.0])
    ref = liquidate_trove_loop(coll.tolist(), debt.tolist(), lt.tolist(), pen.tolist(), prices.tolist())
    out = liquidate_rows(coll, debt, lt, 1.0 + pen, np.zeros_like(pen), np.full(len(troves), LIQUITY, dtype=np.int8),
                         prices)
    for i, r in enumerate(ref):
        assert bool(out.hit[i]) == r["hit"]
        np.testing.assert_allclose(out.seized_tokens[i], r["seized"], rtol=1e-12, atol=1e-12)
        assert out.bad_debt_usd[i] == pytest.approx(r["bad"], rel=1e-12, abs=1e-9)
    assert not out.protocol_fee_tokens.any()


def test_kernel_below_100_percent_leaves_the_sp_a_loss_and_above_returns_a_surplus():
    coll = np.array([[10.0, 0.0], [10.0, 0.0], [10.0, 0.0]])
    debt = np.array([[0.0, 19_000.0], [0.0, 17_000.0], [0.0, 15_000.0]])
    lt = np.array([[1 / 1.1, 0.0]] * 3)
    out = lq.liquidate_trove_rows(coll, debt, lt, np.array([[0.05, 0.0]] * 3), np.array([1_800.0, 1.0]))
    assert out.hit.tolist() == [True, True, False]  # ICR 95%, 106% < MCR 110%; 120% is safe
    # ICR 95%: all but the 0.5% gas compensation goes to the SP, which loses the difference.
    assert out.surplus[0, 0] == 0 and out.gas[0, 0] == pytest.approx(0.05)
    assert out.bad_debt_usd[0] == pytest.approx(19_000 - 9.95 * 1_800)
    # ICR 106%: the SP gets debt x 1.05 of collateral, the owner keeps the rest, no loss.
    assert out.seized[1, 0] == pytest.approx(17_000 * 1.05 / 1_800 + 0.05)
    assert out.surplus[1, 0] == pytest.approx(9.95 - 17_000 * 1.05 / 1_800)
    assert out.bad_debt_usd[1] == 0 and out.repaid[1, 1] == pytest.approx(17_000)
    assert coll[2, 0] == 10.0 and debt[2, 1] == 15_000.0


def test_gas_compensation_is_capped_at_two_collateral_tokens():
    assert lq.coll_gas_compensation(100 * E18) == E18 // 2
    assert lq.coll_gas_compensation(1_000 * E18) == 2 * E18
    coll = np.array([[1_000.0, 0.0]])
    out = lq.liquidate_trove_rows(coll, np.array([[0.0, 1_900_000.0]]), np.array([[1 / 1.1, 0.0]]),
                                  np.array([[0.05, 0.0]]), np.array([2_000.0, 1.0]))
    assert out.gas[0, 0] == 2.0


# ------------------------------------------------------------------------------ exact branch


def _state(troves, price_wad, sp_bold, rate_bump=0):
    """A branch of fresh troves (stake = coll, opened at NOW - 30 days) from (coll, icr, rate)."""
    ts = []
    for k, (c, icr, rate) in enumerate(troves):
        coll = int(c * 1e6) * 10**12
        debt = coll * price_wad // (int(icr * 1e6) * 10**12)
        ts.append(lq.Trove(k + 1, debt, coll, coll, lq.STATUS_ACTIVE, NOW - 30 * 86_400,
                           int(rate * 1e6) * 10**12 + rate_bump))
    total = sum(t.coll for t in ts)
    return lq.BranchState(tuple(ts), 0, 0, 0, 0, total, 0, 0, total, 0, int(sp_bold * 1e6) * 10**12)


def _float_inputs(state, now):
    lts = [lq.latest_trove(state, t, now) for t in state.troves]
    return (np.array([x.entire_coll / E18 for x in lts]), np.array([x.entire_debt / E18 for x in lts]),
            np.array([t.stake / E18 for t in state.troves]))


@settings(max_examples=80)
@given(troves_st, st.floats(0.0, 2_000_000.0), st.floats(0.55, 1.05), st.sampled_from([lq.WETH_BRANCH, lq.SETH_BRANCH]))
def test_branch_model_equals_the_exact_batch_liquidations_and_the_plain_loop(troves, sp_bold, shock, params):
    price_wad = 2_000 * E18
    troves = [*troves, (2_000.0, 3.0, 0.1)]  # a large healthy trove to redistribute to
    state = _state(troves, price_wad, sp_bold)
    shocked = int(2_000 * shock * 1e6) * 10**12
    coll, debt, stake = _float_inputs(state, NOW)
    fp = lq.BranchFloatParams.from_wad(params)
    out = lq.liquidate_branch(coll, debt, stake, shocked / E18, state.sp_deposits / E18, fp)
    try:
        batches, after = lq.batch_liquidate_rounds(state, shocked, NOW, params)
    except lq.LiquityRevert as exc:  # the last troves go under with nothing left to redistribute to
        assert "division by zero" in exc.reason and out.liquidated.all()
        return
    ref_coll, ref_debt, ref_round, ref_tot, ref_sp = liquidate_branch_loop(
        coll, debt, stake, shocked / E18, state.sp_deposits / E18, fp.mcr, fp.penalty_sp, fp.penalty_redistribution)
    # float model == plain loop
    assert out.round.tolist() == ref_round
    np.testing.assert_allclose(out.coll, ref_coll, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(out.debt, ref_debt, rtol=1e-12, atol=1e-9)
    assert out.debt_offset == pytest.approx(ref_tot["offset"], rel=1e-12, abs=1e-9)
    assert out.debt_redistributed == pytest.approx(ref_tot["red_debt"], rel=1e-12, abs=1e-9)
    assert out.sp_left == pytest.approx(ref_sp, rel=1e-12, abs=1e-9)
    # float model == exact integer math (to 1e-9 relative)
    assert out.rounds == len(batches)
    exact_ids = {tid for b in batches for tid, _ in b.liquidated}
    assert {state.troves[i].trove_id for i in np.flatnonzero(out.liquidated)} == exact_ids
    for name, attr in (("debt_offset", "debt_to_offset"), ("debt_redistributed", "debt_to_redistribute"),
                       ("coll_to_sp", "coll_to_send_to_sp"), ("coll_redistributed", "coll_to_redistribute"),
                       ("coll_surplus", "coll_surplus"), ("coll_gas", "coll_gas_compensation")):
        exact = sum(getattr(b, attr) for b in batches) / E18
        assert getattr(out, name) == pytest.approx(exact, rel=1e-9, abs=1e-9), name
    left = {t.trove_id: lq.latest_trove(after, t, NOW) for t in after.troves}
    for i, t in enumerate(state.troves):
        if t.trove_id in left:
            assert out.debt[i] == pytest.approx(left[t.trove_id].entire_debt / E18, rel=1e-9)
            assert out.coll[i] == pytest.approx(left[t.trove_id].entire_coll / E18, rel=1e-9)


def test_sp_offsets_first_and_the_rest_is_redistributed_by_stake():
    # Three troves under MCR after a 30% drop, an SP that covers only the first one.
    troves = [(10.0, 1.12, 0.02), (10.0, 1.13, 0.03), (10.0, 1.14, 0.04), (50.0, 2.5, 0.05), (30.0, 3.0, 0.06)]
    state = _state(troves, 2_000 * E18, 14_000.0)
    price = 1_700 * E18  # ICR 95%-97% for the first three
    b = lq.batch_liquidate(state, [1, 2, 3], price, NOW, lq.WETH_BRANCH)
    first = b.liquidated[0][1]
    lt1 = lq.latest_trove(state, state.trove(1), NOW)
    assert first.debt_to_offset == min(lt1.entire_debt, state.sp_deposits - E18)  # 1 BOLD stays in the SP
    assert b.liquidated[1][1].debt_to_offset == state.sp_deposits - E18 - first.debt_to_offset
    assert b.liquidated[2][1].debt_to_offset == 0 and b.liquidated[2][1].debt_to_redistribute > 0
    assert b.state.sp_deposits == E18
    # The two healthy troves take the redistributed debt and collateral in proportion to their stakes.
    gains = {t.trove_id: lq.latest_trove(b.state, t, NOW) for t in b.state.troves}
    assert set(gains) == {4, 5}
    ratio = gains[4].redist_bold_debt_gain / gains[5].redist_bold_debt_gain
    assert ratio == pytest.approx(50 / 30, rel=1e-12)
    assert gains[4].redist_bold_debt_gain + gains[5].redist_bold_debt_gain == pytest.approx(b.debt_to_redistribute,  # floor per unit staked
                                                                                             abs=1_000)
    assert gains[4].redist_coll_gain + gains[5].redist_coll_gain == pytest.approx(b.coll_to_redistribute, abs=1_000)


def test_batch_liquidation_reverts_like_the_contract():
    state = _state([(10.0, 2.0, 0.02), (10.0, 3.0, 0.02)], 2_000 * E18, 0.0)
    with pytest.raises(lq.LiquityRevert, match="EmptyData"):
        lq.batch_liquidate(state, [], 2_000 * E18, NOW, lq.WETH_BRANCH)
    with pytest.raises(lq.LiquityRevert, match="NothingToLiquidate"):
        lq.batch_liquidate(state, [1, 2], 2_000 * E18, NOW, lq.WETH_BRANCH)


def test_shutdown_only_below_the_critical_ratio():
    coll, debt = 100 * E18, 180_000 * E18
    scr_price = lq.WETH_BRANCH.scr_wad * debt // coll  # TCR == SCR exactly: not below
    assert not lq.can_shut_down(coll, debt, scr_price, lq.WETH_BRANCH)
    assert lq.can_shut_down(coll, debt, scr_price - 10**4, lq.WETH_BRANCH)
    assert lq.tcr(coll, 0, 1) == lq.MAX_UINT256


def test_redemptions_take_the_lowest_rates_first_and_skip_troves_under_100_percent():
    troves = [(10.0, 1.5, 0.08), (10.0, 0.98 * 1.0, 0.01), (10.0, 1.3, 0.02), (10.0, 2.0, 0.05)]
    state = _state(troves, 2_000 * E18, 0.0)
    order = sorted(range(1, 5), key=lambda tid: state.trove(tid).annual_interest_rate_wad)
    debt3 = lq.latest_trove(state, state.trove(3), NOW).entire_debt
    steps = lq.redeem(state, order, debt3 + 1_000 * E18, 2_000 * E18, 5 * 10**15, NOW)
    assert [s.trove_id for s in steps] == [3, 4]  # trove 2 (ICR 98%) skipped
    assert steps[0].new_debt == 0 and steps[0].zombie and steps[1].bold_lot == 1_000 * E18
    assert steps[0].coll_fee == (debt3 * E18 // (2_000 * E18)) * 5 * 10**15 // E18
    expo = lq.redemption_exposure(np.array([0.08, 0.01, 0.02, 0.05]), np.array([10.0, 20.0, 30.0, 40.0]),
                                  [0.0, 25.0, 100.0])
    assert expo.order.tolist() == [1, 2, 3, 0]
    assert expo.debt_in_front.tolist() == [0.0, 20.0, 50.0, 90.0]
    assert expo.troves_hit.tolist() == [0, 2, 4]
    assert lq.redemption_split(1_000, [300, 100, 0]) == [750, 250, 0]


@settings(max_examples=80)
@given(troves_st, st.floats(0.5, 1.05), st.sampled_from([lq.WETH_BRANCH, lq.SETH_BRANCH]))
def test_registry_kernel_equals_the_exact_sp_offset_within_1e9(troves, shock, params):
    """With a Stability Pool deep enough for every trove (the kernel's assumption), the kernel's
    collateral to the SP, gas compensation and surplus equal the exact ``_liquidate`` amounts."""
    price_wad = int(2_000 * shock * 1e6) * 10**12
    state = _state(troves, 2_000 * E18, 10**12)
    lts = [lq.latest_trove(state, t, NOW) for t in state.troves]
    coll = np.array([[x.entire_coll / E18, 0.0] for x in lts])
    debt = np.array([[0.0, x.entire_debt / E18] for x in lts])
    lt = np.array([[E18 / params.mcr_wad, 0.0]] * len(lts))
    pen = np.array([[params.penalty_sp_wad / E18, 0.0]] * len(lts))
    out = lq.liquidate_trove_rows(coll, debt, lt, pen, np.array([price_wad / E18, 1.0]))
    for i, x in enumerate(lts):
        icr = lq.compute_cr(x.entire_coll, x.entire_debt, price_wad)
        if abs(icr - params.mcr_wad) < 10**6:  # within float noise of the boundary: either side is right
            continue
        assert bool(out.hit[i]) == (icr < params.mcr_wad)
        if not out.hit[i]:
            continue
        v = lq.liquidate_trove(x.entire_debt, x.entire_coll, 10**40, price_wad, params)
        assert v.debt_to_redistribute == 0
        assert out.gas[i, 0] == pytest.approx(v.coll_gas_compensation / E18, rel=1e-9)
        assert out.seized[i, 0] == pytest.approx((v.coll_to_send_to_sp + v.coll_gas_compensation) / E18, rel=1e-9)
        assert out.surplus[i, 0] == pytest.approx(v.coll_surplus / E18, rel=1e-9, abs=1e-9)
