"""The Dog's liquidation limits (``hole``/``Hole``, makerdao/dss src/dog.sol @3f30552a) in the Sky float kernel:
the vectorized kernel against the plain loop with room, and the fraction of an urn's debt it barks
against the exact integer :func:`risk.sky_vaults.bark` (partial barks, the dusty-vault rule, the
dusty-partial and limit-hit reverts)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk import sky_vaults as sv
from tests.risk.sky_reference import liquidate_vault_loop

rows_strategy = st.lists(
    st.tuples(st.floats(0.1, 1_000.0), st.floats(1_000.0, 2_000_000.0), st.floats(1.1, 2.0), st.floats(1.0, 1.2),
              st.one_of(st.just(float("nan")), st.floats(0.3, 1.1)), st.integers(-1, 2)),
    min_size=1, max_size=25,
)
rooms = st.tuples(st.lists(st.one_of(st.just(0.0), st.floats(1.0, 3e6), st.just(math.inf)), min_size=3, max_size=3),
                  st.one_of(st.just(math.inf), st.floats(0.0, 5e6)),
                  st.lists(st.one_of(st.just(0.0), st.floats(1.0, 50_000.0)), min_size=3, max_size=3))


def _arrays(rows):
    n = len(rows)
    collateral, debt, lt, chop = np.zeros((n, 2)), np.zeros((n, 2)), np.zeros((n, 2)), np.ones((n, 2))
    ratio, group = np.zeros(n), np.zeros(n, dtype=np.int64)
    for i, (ink, dai, mat, c, r, g) in enumerate(rows):
        collateral[i, 0], debt[i, 1], lt[i, 0], chop[i, 0], ratio[i], group[i] = ink, dai, 1.0 / mat, c, r, g
    return collateral, debt, lt, chop, ratio, group


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rows_strategy, rooms, st.floats(500.0, 4_000.0))
def test_kernel_with_room_equals_plain_loop(rows, room_spec, eth_price):
    collateral, debt, lt, chop, ratio, group = _arrays(rows)
    ilk_room, total_room, dust = room_spec
    prices = np.array([eth_price, 1.0])
    room = sv.BarkRoom(group, np.array(ilk_room), total_room, np.array(dust))
    ref = liquidate_vault_loop(collateral.tolist(), debt.tolist(), lt.tolist(), chop.tolist(), prices.tolist(),
                               ratio.tolist(), room=(group.tolist(), ilk_room, total_room, dust))
    coll_after, debt_after = collateral.copy(), debt.copy()
    out = sv.liquidate_vault_rows(coll_after, debt_after, lt, chop, prices, ratio, room=room)
    tabs = np.zeros(3)
    for i, r in enumerate(ref):
        assert out.hit[i] == r["hit"], i
        assert out.bad_debt_usd[i] == pytest.approx(r["bad"], rel=1e-9, abs=1e-6)
        for j in range(2):
            assert out.sold_tokens[i, j] == pytest.approx(r["sold"][j], rel=1e-9, abs=1e-9)
            assert out.penalty_tokens[i, j] == pytest.approx(r["penalty"][j], rel=1e-9, abs=1e-9)
            assert out.repaid_tokens[i, j] == pytest.approx(r["repaid"][j], rel=1e-9, abs=1e-9)
            assert out.returned_tokens[i, j] == pytest.approx(r["returned"][j], rel=1e-9, abs=1e-9)
        if r["hit"]:
            assert coll_after[i, 0] == pytest.approx(r["left_collateral"], rel=1e-9, abs=1e-9)
            assert debt_after[i, 1] == pytest.approx(debt[i, 1] * r["left_debt_share"], rel=1e-9, abs=1e-6)
            part = 1.0 - r["left_debt_share"]
            whole_dusty = part == 1.0 and debt[i, 1] * chop[i, 0] > min(ilk_room[group[i]] if group[i] >= 0
                                                                          else math.inf, total_room)
            if group[i] >= 0 and not whole_dusty:
                tabs[group[i]] += debt[i, 1] * part * chop[i, 0]
        else:
            assert coll_after[i, 0] == collateral[i, 0] and debt_after[i, 1] == debt[i, 1]
    # the tab started per ilk stays within its room (a dusty remainder may take the whole urn beyond it)
    for g in range(3):
        assert tabs[g] <= ilk_room[g] * (1 + 1e-9) + 1e-6


def test_without_room_every_unsafe_urn_is_barked_whole():
    collateral, debt, lt, chop, ratio, group = _arrays([(10.0, 30_000.0, 1.5, 1.13, 0.95, 0),
                                                        (10.0, 30_000.0, 1.5, 1.13, 0.95, 0)])
    unlimited = sv.liquidate_vault_rows(collateral.copy(), debt.copy(), lt, chop, np.array([2_000.0, 1.0]), ratio)
    limited = sv.liquidate_vault_rows(collateral.copy(), debt.copy(), lt, chop, np.array([2_000.0, 1.0]), ratio,
                                      room=sv.BarkRoom(group, np.array([40_000.0]), math.inf, np.array([0.0])))
    assert unlimited.hit.all()
    # 40k of room: the first urn's 33.9k tab fits whole, the second gets the 6.1k left (a partial bark)
    assert limited.hit.all()
    assert limited.repaid_tokens[0, 1] == pytest.approx(unlimited.repaid_tokens[0, 1])
    assert limited.repaid_tokens[1, 1] < unlimited.repaid_tokens[1, 1]


WAD, RAY, RAD = sv.WAD, sv.RAY, sv.RAD


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.integers(10**18, 10**24), st.integers(RAY, 2 * RAY), st.integers(WAD, 12 * WAD // 10),
       st.integers(0, 10**51), st.integers(0, 10**51), st.integers(0, 10**49))
def test_float_bark_fraction_matches_exact_bark(art, rate, chop, hole_room, total_room, dust):
    """One unsafe urn: the fraction the float kernel barks is ``dart / art`` of dss's integer bark
    (or nothing where bark reverts with limit-hit or dusty-auction-from-partial-liquidation)."""
    ink = art // 10  # unsafe at spot 1 ray
    reason = None
    try:
        exact = sv.bark(ink, art, rate_ray=rate, spot_ray_=RAY, dust_rad=dust, chop_wad=chop, hole_rad=hole_room,
                        Hole_rad=total_room)
        expected = exact.dart_wad / art
    except sv.DssRevert as exc:
        reason, expected = exc.reason, 0.0
    owed_usd = art * rate / RAD  # DAI at par
    room = sv.BarkRoom(np.array([0]), np.array([hole_room / RAD]), total_room / RAD, np.array([dust / RAD]))
    fraction = sv._bark_fractions(np.array([owed_usd]), np.array([chop / WAD]), np.array([0]), room)[0]
    if reason == "Dog/null-auction":  # dink = ink * dart / art rounds to 0 wei: the float barks a sliver
        assert fraction * ink < 1.0 + 1e-9
    elif reason is not None:
        assert reason in ("Dog/liquidation-limit-hit", "Dog/dusty-auction-from-partial-liquidation")
        # dss floors dart to whole wei (``dart = room * WAD / rate / chop``) before the dust check;
        # the float model does not, so exactly at the dust boundary (the part within a wei of it) the
        # float may still bark that sliver. Anywhere else it must not bark.
        at_boundary = (reason == "Dog/dusty-auction-from-partial-liquidation"
                       and fraction * art * rate < dust + 2 * rate)
        assert fraction == 0.0 or at_boundary, (reason, fraction)
    else:
        assert fraction == pytest.approx(expected, rel=1e-9, abs=1e-15)
