"""Sky vault rule: the vectorized kernel against the plain loop, and the exact dss integer math
against independent arithmetic facts (the on-chain comparison is in tests/chain/test_sky_vaults.py,
against the dss TEST DOUBLE)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk import sky_vaults as sv
from tests.risk.sky_reference import liquidate_vault_loop

rows_strategy = st.lists(
    st.tuples(st.floats(0.0, 1_000.0), st.floats(0.0, 2_000_000.0), st.floats(1.1, 2.0), st.floats(1.0, 1.2),
              st.one_of(st.just(float("nan")), st.floats(0.3, 1.1))),
    min_size=1, max_size=25,
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rows_strategy, st.floats(500.0, 4_000.0))
def test_kernel_equals_plain_loop(rows, eth_price):
    n = len(rows)
    collateral = np.zeros((n, 2))
    debt = np.zeros((n, 2))
    lt = np.zeros((n, 2))
    chop = np.ones((n, 2))
    ratio = np.zeros(n)
    for i, (ink, dai, mat, c, r) in enumerate(rows):
        collateral[i, 0], debt[i, 1], lt[i, 0], chop[i, 0], ratio[i] = ink, dai, 1.0 / mat, c, r
    lt[collateral == 0] = 0.0
    prices = np.array([eth_price, 1.0])
    ref = liquidate_vault_loop(collateral.tolist(), debt.tolist(), lt.tolist(), chop.tolist(), prices.tolist(),
                               ratio.tolist())
    out = sv.liquidate_vault_rows(collateral.copy(), debt.copy(), lt, chop, prices, ratio)
    for i, r in enumerate(ref):
        assert out.hit[i] == r["hit"]
        assert out.bad_debt_usd[i] == pytest.approx(r["bad"], rel=1e-9, abs=1e-6)
        for j in range(2):
            assert out.sold_tokens[i, j] == pytest.approx(r["sold"][j], rel=1e-9, abs=1e-9)
            assert out.penalty_tokens[i, j] == pytest.approx(r["penalty"][j], rel=1e-9, abs=1e-9)
            assert out.repaid_tokens[i, j] == pytest.approx(r["repaid"][j], rel=1e-9, abs=1e-9)
            assert out.returned_tokens[i, j] == pytest.approx(r["returned"][j], rel=1e-9, abs=1e-9)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rows_strategy, st.floats(500.0, 4_000.0))
def test_kernel_invariants(rows, eth_price):
    """Collateral is conserved (sold + returned = lot), proceeds never exceed the tab, and bad debt
    is zero whenever the auction clears and the collateral at the sale price covers the debt."""
    n = len(rows)
    collateral = np.array([[r[0], 0.0] for r in rows])
    debt = np.array([[0.0, r[1]] for r in rows])
    lt = np.where(collateral > 0, np.array([[1.0 / r[2], 0.0] for r in rows]), 0.0)
    chop = np.array([[r[3], 1.0] for r in rows])
    ratio = np.array([r[4] for r in rows])
    prices = np.array([eth_price, 1.0])
    out = sv.liquidate_vault_rows(collateral.copy(), debt.copy(), lt, chop, prices, ratio)
    hit = out.hit
    np.testing.assert_allclose((out.sold_tokens + out.returned_tokens)[hit, 0], collateral[hit, 0], rtol=1e-12)
    clears = np.isfinite(ratio) & (ratio > 0)
    proceeds = out.sold_tokens[:, 0] * eth_price * np.where(clears, ratio, 0.0)
    assert np.all(proceeds <= debt[:, 1] * chop[:, 0] * (1 + 1e-12) + 1e-9)
    covered = clears & (collateral[:, 0] * eth_price * np.where(clears, ratio, 0) >= debt[:, 1])
    assert np.all(out.bad_debt_usd[hit & covered] <= 1e-6 * np.maximum(debt[hit & covered, 1], 1.0))
    assert np.all(out.bad_debt_usd[hit & ~clears] == pytest.approx(debt[hit & ~clears, 1]))


def test_bad_debt_is_debt_minus_proceeds_not_minus_collateral_over_penalty():
    """When collateral runs short the Vow books only the debt as sin: bad debt = debt - proceeds."""
    collateral = np.array([[1.0, 0.0]])
    debt = np.array([[0.0, 1_000.0]])
    out = sv.liquidate_vault_rows(collateral, debt, np.array([[1 / 1.5, 0.0]]), np.array([[1.13, 1.0]]),
                                  np.array([900.0, 1.0]), np.array([1.0]))
    assert out.bad_debt_usd[0] == pytest.approx(100.0)
    assert out.sold_tokens[0, 0] == pytest.approx(1.0)


def test_rpow_matches_exact_power_within_rounding():
    cut = 99 * 10**25
    for n in (0, 1, 2, 7, 40, 123):
        exact = (cut / sv.RAY) ** n
        assert sv.rpow(cut, n, sv.RAY) / sv.RAY == pytest.approx(exact, rel=1e-24 * (n + 1) + 1e-26)


def test_bark_partial_when_the_hole_is_short_and_whole_when_the_rest_is_dust():
    kwargs = dict(rate_ray=sv.RAY, spot_ray_=sv.spot_ray(1_000 * sv.WAD, 15 * 10**26), dust_rad=10_000 * sv.RAD,
                  chop_wad=113 * 10**16, hole_rad=10**9 * sv.RAD, Hole_rad=10**9 * sv.RAD)
    ink, art = 100 * sv.WAD, 70_000 * sv.WAD  # 100 ETH at $1,000, mat 1.5: unsafe
    whole = sv.bark(ink, art, **kwargs)
    assert (whole.dink_wad, whole.dart_wad) == (ink, art)
    assert whole.tab_rad == art * sv.RAY * 113 * 10**16 // sv.WAD
    room = 50_000 * sv.RAD
    part = sv.bark(ink, art, **{**kwargs, "hole_rad": room})
    assert part.dart_wad == room * sv.WAD // sv.RAY // (113 * 10**16)
    assert part.tab_rad <= room
    left = art * sv.RAY - 5_000 * sv.RAD  # leaves less than dust: the whole urn goes
    assert sv.bark(ink, art, **{**kwargs, "hole_rad": left * 113 // 100}).dart_wad == art
    with pytest.raises(sv.DssRevert, match="not-unsafe"):
        sv.bark(ink, 10_000 * sv.WAD, **kwargs)
    with pytest.raises(sv.DssRevert, match="liquidation-limit-hit"):
        sv.bark(ink, art, **{**kwargs, "hole_rad": 0})


@pytest.mark.parametrize("curve", [sv.ClipperCurve(buf=1.1, tail_s=7_200, cusp=0.45, cut=0.99, step_s=90),
                                   sv.ClipperCurve(buf=1.2, tail_s=8_400, cusp=0.40, kind="linear", tau_s=14_400)])
def test_clearing_is_the_first_curve_price_at_or_below_the_reservation(curve):
    top_ray = sv.kick_top_ray(sv.WAD, int(curve.buf * 10**9) * 10**18)
    for reservation in (1.2, 1.0, 0.97, 0.9, 0.8, 0.6, 0.3):
        price, when = curve.clearing(reservation)
        # Walk the exact integer curve second by second (the plain reference).
        t, found = 0, None
        while t <= curve.tail_s:
            p = (sv.stairstep_price_ray(top_ray, t, step_s=int(curve.step_s), cut_ray=99 * 10**25)
                 if curve.kind == "stairstep" else sv.linear_price_ray(top_ray, t, tau_s=int(curve.tau_s)))
            if sv.needs_redo(p, top_ray, t, tail_s=int(curve.tail_s), cusp_ray=int(curve.cusp * 10**9) * 10**18):
                break
            if p <= reservation * sv.RAY * (1 + 1e-12):
                found = (p / sv.RAY, t)
                break
            t += 1
        if found is None:
            assert math.isnan(float(price))
        else:
            assert float(price) == pytest.approx(found[0], rel=1e-9)
            assert float(when) == pytest.approx(found[1], abs=1.0)
