"""risk.exact: hand-computed cases from the Solidity formulas, plus boundary properties.

Hand-computed numbers are derived in the comments next to them (not copied from the code).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from risk.exact import (
    RAY,
    UINT256_MAX,
    WAD,
    AaveReserveLeg,
    CometCollateralLeg,
    MorphoMarketState,
    ProtocolRevert,
    aave_account_data,
    aave_collateral_to_liquidate,
    aave_compounded_interest_ray,
    aave_health_factor_wad,
    aave_hf_rule,
    aave_is_liquidatable,
    aave_linear_interest_ray,
    aave_liquidation_amounts,
    aave_liquidation_oracle_price,
    aave_liquidation_rule,
    aave_position_legs,
    aave_rounding,
    comet_is_liquidatable,
    comet_present_value,
    morpho_accrue_interest,
    morpho_borrow_assets,
    morpho_is_healthy,
    morpho_liquidation_amounts,
    morpho_liquidation_oracle_price,
    percent_div,
    percent_mul,
    ray_div,
    ray_mul,
    to_assets_down,
    to_assets_up,
    to_shares_down,
    to_shares_up,
    w_taylor_compounded,
    wad_div,
    wad_mul,
)
from risk.snapshot import EModeCategory, Market, Position, Reserve

USD = 10**8  # Aave base unit (BASE_CURRENCY_UNIT)
WETH = 10**18
USDC = 10**6


def test_risk_exact_imports_no_io() -> None:
    code = "import sys, risk.exact; bad = [m for m in sys.modules if m.split('.')[0] in ('web3', 'chain', 'eth_abi')]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


# --- WadRayMath / PercentageMath: half-up rounding ----------------------------------------------


def test_half_up_rounding() -> None:
    assert ray_mul(1, RAY // 2) == 1  # 0.5 rounds up
    assert ray_mul(1, RAY // 2 - 1) == 0
    assert wad_mul(3, WAD // 2) == 2  # 1.5 -> 2
    assert wad_div(1, 3) == 333333333333333333  # 0.333… (remainder < half) -> down
    assert wad_div(2, 3) == 666666666666666667  # 0.666… -> up
    assert ray_div(1, 2) == RAY // 2
    assert percent_mul(1, 5_000) == 1  # 0.5 -> 1
    assert percent_mul(1, 4_999) == 0
    assert percent_div(1, 20_000) == 1  # 0.5 -> 1
    assert percent_div(10_000, 10_500) == 9_524  # 9523.8… -> 9524


def test_division_by_zero_is_a_revert() -> None:
    with pytest.raises(ProtocolRevert):
        wad_div(1, 0)
    with pytest.raises(ProtocolRevert):
        percent_div(1, 0)


def test_overflow_is_a_revert() -> None:
    with pytest.raises(ValueError, match="overflow"):
        ray_mul(UINT256_MAX, 2)


@given(st.integers(0, 10**30), st.integers(0, 10**4))
def test_percent_mul_within_half(value: int, bps: int) -> None:
    exact = value * bps / 10**4
    assert abs(percent_mul(value, bps) - exact) <= 0.5 + 1e-9 * exact


def test_interest_indices() -> None:
    assert aave_linear_interest_ray(5 * 10**25, 100, 100) == RAY
    # 5% APR for half a year (15,768,000 s): 1 + 0.05 * 0.5 = 1.025 exactly
    assert aave_linear_interest_ray(5 * 10**25, 0, 15_768_000) == 1025 * 10**24
    assert aave_compounded_interest_ray(5 * 10**25, 0, 0) == RAY
    assert aave_compounded_interest_ray(5 * 10**25, 0, 31_536_000) > aave_linear_interest_ray(5 * 10**25, 0, 31_536_000)


# --- Aave health factor ---------------------------------------------------------------------


def _leg(collateral: int = 0, debt: int = 0, price: int = USD, decimals: int = 18, lt_bps: int = 8_250) -> AaveReserveLeg:
    return AaveReserveLeg(collateral, debt, price, decimals, lt_bps)


def test_aave_hf_single_collateral() -> None:
    # 1 WETH at $2,000 (LT 82.5%) against 1,500 USDC: 2000 × 0.825 / 1500 = 1.1
    legs = [_leg(collateral=WETH, price=2_000 * USD), _leg(debt=1_500 * USDC, decimals=6, lt_bps=8_500)]
    data = aave_account_data(legs)
    assert data.total_collateral_base == 2_000 * USD
    assert data.total_debt_base == 1_500 * USD
    assert data.avg_liquidation_threshold_bps == 8_250
    assert data.health_factor_wad == 11 * 10**17


def test_aave_hf_no_debt_is_max_and_lt_zero_collateral_ignored() -> None:
    assert aave_health_factor_wad([_leg(collateral=WETH, price=2_000 * USD)]) == UINT256_MAX
    legs = [_leg(collateral=WETH, price=2_000 * USD, lt_bps=0), _leg(debt=1 * USDC, decimals=6)]
    data = aave_account_data(legs)
    assert data.total_collateral_base == 0 and data.health_factor_wad == 0


def test_aave_avg_lt_is_floored_before_hf() -> None:
    # $100 at LT 80% + $200 at LT 82.5%: avg = (100·8000 + 200·8250)/300 = 8166.67 -> 8166;
    # percentMul($300, 8166) = $244.98 exactly. Debt $244.98 -> HF exactly 1.0 (not liquidatable);
    # one more base unit of debt -> HF < 1. The v3.5 un-averaged rule gives 2450/24498 > 1.
    legs = [
        _leg(collateral=100 * USDC, decimals=6, price=USD, lt_bps=8_000),
        _leg(collateral=200 * USDC, decimals=6, price=USD, lt_bps=8_250),
    ]
    debt = _leg(debt=24_498_000_000, decimals=8, lt_bps=0)  # 8-decimal token at $1: raw = base
    data = aave_account_data([*legs, debt])
    assert data.avg_liquidation_threshold_bps == 8_166
    assert data.health_factor_wad == WAD
    more = _leg(debt=24_498_000_001, decimals=8, lt_bps=0)
    assert aave_is_liquidatable([*legs, more], rule="avg")
    assert not aave_is_liquidatable([*legs, more], rule="sum")


def test_aave_sum_rule_ceils_debt() -> None:
    # 1 wei of an 18-dec debt at $1: floor -> 0 base (v3.0: no debt, HF max); ceil -> 1 base unit.
    legs = [_leg(collateral=WETH, price=2_000 * USD), _leg(debt=1, price=USD)]
    assert aave_account_data(legs, rule="avg").health_factor_wad == UINT256_MAX
    assert aave_account_data(legs, rule="sum").total_debt_base == 1


def test_version_rules() -> None:
    assert aave_hf_rule("aave-v3.0") == "avg" and aave_hf_rule("aave-v3.4") == "avg"
    assert aave_hf_rule("aave-v3.5") == "sum" and aave_hf_rule("aave-v3.6") == "sum"
    assert aave_liquidation_rule("aave-v3.2") == "v30" and aave_liquidation_rule("aave-v3.3") == "v33"
    with pytest.raises(ValueError):
        aave_hf_rule("morpho-blue-1.0")


# --- Aave liquidation boundary ----------------------------------------------------------------


def test_aave_boundary_long_hand_computed() -> None:
    # HF < 1 ⇔ percentMul(P, 8250) ≤ 1500e8 − 1 ⇔ 8250·P + 5000 < 1.5e15 ⇔ P ≤ 181,818,181,817
    legs = [_leg(collateral=WETH, price=2_000 * USD), _leg(debt=1_500 * USDC, decimals=6, lt_bps=8_500)]
    assert aave_liquidation_oracle_price(legs, 0) == 181_818_181_817


def test_aave_boundary_short_hand_computed() -> None:
    # debt base = 1500·P; HF < 1 ⇔ 1500·P ≥ 1650e8 + 1 ⇔ P ≥ 110,000,001
    legs = [_leg(collateral=WETH, price=2_000 * USD), _leg(debt=1_500 * USDC, decimals=6, lt_bps=8_500)]
    assert aave_liquidation_oracle_price(legs, 1) == 110_000_001


def test_aave_boundary_none_and_rejections() -> None:
    over = [_leg(collateral=10 * WETH, price=2_000 * USD), _leg(collateral=10_000 * USDC, decimals=6), _leg(debt=100 * USDC, decimals=6)]
    assert aave_liquidation_oracle_price(over, 0) is None  # the USDC collateral alone covers the debt
    both = [_leg(collateral=WETH, debt=1, price=2_000 * USD)]
    with pytest.raises(ValueError, match="both collateral and debt"):
        aave_liquidation_oracle_price(both, 0)


@st.composite
def aave_positions(draw):
    n_coll = draw(st.integers(1, 3))
    n_debt = draw(st.integers(1, 2))
    legs = []
    for _ in range(n_coll):
        decimals = draw(st.sampled_from([6, 8, 18]))
        legs.append(
            AaveReserveLeg(
                collateral_raw=draw(st.integers(1, 10**6)) * 10**decimals // draw(st.sampled_from([1, 7, 1000])),
                debt_raw=0,
                price_base=draw(st.integers(10**6, 10**12)),
                decimals=decimals,
                liquidation_threshold_bps=draw(st.integers(1_000, 9_700)),
            )
        )
    for _ in range(n_debt):
        decimals = draw(st.sampled_from([6, 8, 18]))
        legs.append(
            AaveReserveLeg(
                collateral_raw=0,
                debt_raw=draw(st.integers(1, 10**6)) * 10**decimals // draw(st.sampled_from([1, 3, 100])),
                price_base=draw(st.integers(10**6, 10**12)),
                decimals=decimals,
                liquidation_threshold_bps=draw(st.integers(0, 9_700)),
            )
        )
    return legs, n_coll


def _with_price(legs, index, price):
    out = list(legs)
    old = out[index]
    out[index] = AaveReserveLeg(old.collateral_raw, old.debt_raw, price, old.decimals, old.liquidation_threshold_bps)
    return out


# Bounds: amounts up to 1e6 tokens and prices $0.01-$10,000 (8-dec) cover real positions; mixed
# decimals and LTs exercise the floored average that makes HF non-monotone in a collateral price.
@settings(max_examples=300, deadline=None)
@given(aave_positions(), st.data(), st.sampled_from(["avg", "sum"]))
def test_aave_boundary_property(position, data, rule) -> None:
    legs, n_coll = position
    index = data.draw(st.integers(0, len(legs) - 1))
    p = aave_liquidation_oracle_price(legs, index, rule=rule)
    if index < n_coll:  # collateral: largest liquidatable price
        if p is None:
            for probe in (1, legs[index].price_base, 10**15):
                assert not aave_is_liquidatable(_with_price(legs, index, probe), rule=rule)
            return
        assert aave_is_liquidatable(_with_price(legs, index, p), rule=rule)
        for step in (1, 2, 10**3, 10**9):
            assert not aave_is_liquidatable(_with_price(legs, index, p + step), rule=rule)
    else:  # debt: smallest liquidatable price
        assert p is not None
        assert aave_is_liquidatable(_with_price(legs, index, p), rule=rule)
        assert aave_is_liquidatable(_with_price(legs, index, p + 10**6), rule=rule)
        if p > 0:
            assert not aave_is_liquidatable(_with_price(legs, index, p - 1), rule=rule)


def test_aave_boundary_non_monotone_average_lt() -> None:
    # $1,000 at LT 90% plus a low-LT (10%) collateral whose price varies, debt just under $900:
    # growing the low-LT collateral floors the average LT down a bp at a time, so HF is not
    # monotone in its price (non-liquidatable prices exist below liquidatable ones). The function
    # must return the *largest* liquidatable price; a plain bisection would not.
    non_monotone = 0
    for debt_raw in range(89_990_000_000, 90_000_000_001, 777_777):
        position = [
            _leg(collateral=10**8, decimals=8, price=1_000 * USD, lt_bps=9_000),
            _leg(collateral=10**8, decimals=8, price=10 * USD, lt_bps=1_000),
            _leg(debt=debt_raw, decimals=8, price=USD, lt_bps=0),
        ]
        p = aave_liquidation_oracle_price(position, 1)
        if p is None:  # the floored average never dips far enough for this debt
            assert not any(aave_is_liquidatable(_with_price(position, 1, x)) for x in range(0, 10**11, 10**7 + 7))
            continue
        assert aave_is_liquidatable(_with_price(position, 1, p))
        for step in (*range(1, 50), 10**4, 10**6, 10**9):
            assert not aave_is_liquidatable(_with_price(position, 1, p + step))
        below = range(max(0, p - 10**7), p, 5_003)
        non_monotone += any(not aave_is_liquidatable(_with_price(position, 1, x)) for x in below)
    assert non_monotone > 0  # the hard case was exercised


# --- Aave liquidation amounts --------------------------------------------------------------------


def test_aave_worked_example_protocols_md() -> None:
    # 1,000 USDC repaid, WETH $2,000, LB 10500, fee 10% of the bonus:
    # base 0.5 WETH, with bonus 0.525, bonus part 0.025, fee 0.0025 -> liquidator 0.5225
    result = aave_collateral_to_liquidate(
        debt_to_cover_raw=1_000 * USDC,
        user_collateral_raw=10 * WETH,
        collateral_price_base=2_000 * USD,
        debt_price_base=USD,
        collateral_decimals=18,
        debt_decimals=6,
        liquidation_bonus_bps=10_500,
        protocol_fee_bps=1_000,
    )
    assert result.debt_repaid_raw == 1_000 * USDC
    assert result.collateral_seized_raw == 525 * 10**15
    assert result.protocol_fee_raw == 25 * 10**14
    assert result.collateral_to_liquidator_raw == 5225 * 10**14


def test_aave_collateral_cap() -> None:
    # Only 0.3 WETH: seize all of it; debt needed = percentDiv(600 USDC, 10500)
    # = (600e6·1e4 + 5250) // 10500 = 571,428,571; bonus part = 0.3e18 − percentDiv(0.3e18, 10500)
    # = 0.3e18 − 285,714,285,714,285,714 = 14,285,714,285,714,286; fee = percentMul(…, 1000) = 1,428,571,428,571,429
    result = aave_collateral_to_liquidate(
        debt_to_cover_raw=1_000 * USDC,
        user_collateral_raw=3 * 10**17,
        collateral_price_base=2_000 * USD,
        debt_price_base=USD,
        collateral_decimals=18,
        debt_decimals=6,
        liquidation_bonus_bps=10_500,
        protocol_fee_bps=1_000,
    )
    assert result.collateral_seized_raw == 3 * 10**17
    assert result.debt_repaid_raw == 571_428_571
    assert result.protocol_fee_raw == 1_428_571_428_571_429


def _amounts(rule, hf_wad, debt_to_cover, reserve_debt=2_000 * USDC, collateral=2 * WETH, total_debt_base=None):
    return aave_liquidation_amounts(
        rule=rule,
        debt_to_cover_raw=debt_to_cover,
        health_factor_wad=hf_wad,
        user_reserve_debt_raw=reserve_debt,
        user_collateral_raw=collateral,
        collateral_price_base=2_000 * USD,
        debt_price_base=USD,
        collateral_decimals=18,
        debt_decimals=6,
        liquidation_bonus_bps=10_500,
        protocol_fee_bps=0,
        total_debt_base=total_debt_base,
    )


def test_aave_v30_close_factor() -> None:
    assert _amounts("v30", 96 * 10**16, 10**30).debt_repaid_raw == 1_000 * USDC  # 50% above HF 0.95
    assert _amounts("v30", 95 * 10**16, 10**30).debt_repaid_raw == 2_000 * USDC  # 100% at 0.95
    with pytest.raises(ProtocolRevert, match="HEALTH_FACTOR_NOT_BELOW_THRESHOLD"):
        _amounts("v30", WAD, 1)


def test_aave_v33_close_factor_and_dust() -> None:
    # reserve debt $5,000 of $8,000 total, collateral $10,000, HF 0.98: cap = 50% × $8,000 = 4,000 USDC
    r = _amounts("v33", 98 * 10**16, 10**30, reserve_debt=5_000 * USDC, collateral=5 * WETH, total_debt_base=8_000 * USD)
    assert r.debt_repaid_raw == 4_000 * USDC
    # reserve debt $5,000 but only $1,000 of collateral (< $2,000): the whole reserve debt, capped by collateral
    r = _amounts("v33", 98 * 10**16, 10**30, reserve_debt=5_000 * USDC, collateral=WETH // 2, total_debt_base=8_000 * USD)
    assert r.collateral_seized_raw == WETH // 2
    # repaying 4,500 of 5,000 leaves $500 of debt: MUST_NOT_LEAVE_DUST (HF 0.9 -> no 50% cap)
    with pytest.raises(ProtocolRevert, match="MUST_NOT_LEAVE_DUST"):
        _amounts("v33", 9 * 10**17, 4_500 * USDC, reserve_debt=5_000 * USDC, collateral=5 * WETH, total_debt_base=8_000 * USD)
    # repaying all of it is fine
    assert _amounts("v33", 9 * 10**17, 10**30, reserve_debt=5_000 * USDC, collateral=5 * WETH).debt_repaid_raw == 5_000 * USDC


# --- Aave v3.7 vs v3.6: every place the two versions compute different wei -----------------------
#
# v3.7 is not on npm, so these rules are tested here and not on the devnet. The sources are
# aave-dao/aave-v3-origin, docs/3.7/liquidation-rounding.md @4fbd7442 (the three diffs in
# _calculateAvailableCollateralToLiquidate) and docs/3.7/Aave-v3.7-changelog.md @4fbd7442
# ("Improved hasNoCollateralLeft detection"). The v3.6 side is the npm 3.6.0 LiquidationLogic.sol,
# lines 584-605 and 340. docs/aave-v3.7.md has the table of what is shared with v3.6. Every case
# gives different wei under "v35" and "v37", and both sides are derived by hand next to it.


def _seize(rounding: str, *, debt_to_cover: int, collateral: int, fee_bps: int):
    """USDC debt and a 6-decimal collateral, both at $1, 5% bonus: baseCollateral = debtToCover."""
    return aave_collateral_to_liquidate(
        debt_to_cover_raw=debt_to_cover, user_collateral_raw=collateral, collateral_price_base=USD,
        debt_price_base=USD, collateral_decimals=6, debt_decimals=6, liquidation_bonus_bps=10_500,
        protocol_fee_bps=fee_bps, rounding=rounding)


def test_v37_bonus_is_percent_mul_floor() -> None:
    # maxCollateralToLiquidate = baseCollateral x 10500 / 1e4 = 1,000,000,010 x 1.05 = 1,050,000,010.5.
    # v3.6 rounds it half up (percentMul) to ...011. v3.7 floors it (percentMulFloor) to ...010.
    # The collateral cap does not bind, so debt repaid = debtToCover in both.
    kw = dict(debt_to_cover=1_000_000_010, collateral=10**12, fee_bps=0)
    v36, v37 = _seize("v35", **kw), _seize("v37", **kw)
    assert (v36.collateral_seized_raw, v37.collateral_seized_raw) == (1_050_000_011, 1_050_000_010)
    assert v36.debt_repaid_raw == v37.debt_repaid_raw == 1_000_000_010
    assert _seize("half_up", **kw).collateral_seized_raw == 1_050_000_011  # v3.0-v3.4 round half up too


def test_v37_fee_base_is_percent_div_floor() -> None:
    # The cap binds: 1 USDC of collateral against 10 USDC of debt, so collateralAmount = 1,000,000
    # and debt needed = percentDivCeil(1,000,000, 10500) = ceil(952,380.95) = 952,381 in both.
    # Base part: 1e10 / 10500 = 952,380.952. Half up (v3.6 percentDiv) gives 952,381, so the bonus is
    # 47,619. Floor (v3.7 percentDivFloor) gives 952,380, so the bonus is 47,620. A 100% fee takes
    # the whole bonus, which isolates this step (percentMul and percentMulCeil agree on it).
    kw = dict(debt_to_cover=10 * USDC, collateral=1_000_000, fee_bps=10_000)
    v36, v37 = _seize("v35", **kw), _seize("v37", **kw)
    assert v36.debt_repaid_raw == v37.debt_repaid_raw == 952_381
    assert v36.collateral_seized_raw == v37.collateral_seized_raw == 1_000_000
    assert (v36.protocol_fee_raw, v37.protocol_fee_raw) == (47_619, 47_620)
    assert (v36.collateral_to_liquidator_raw, v37.collateral_to_liquidator_raw) == (952_381, 952_380)


def test_v37_fee_is_percent_mul_ceil() -> None:
    # Collateral 2,592,471 = 21 x 123,451, so the base part is exactly x 20/21 = 2,469,020 (floor and
    # half up agree) and the bonus is 123,451. The 10% fee is 12,345.1: v3.6 percentMul gives 12,345,
    # v3.7 percentMulCeil gives 12,346. Debt needed = ceil(2,592,471 / 1.05) = 2,469,020 in both.
    kw = dict(debt_to_cover=10 * USDC, collateral=2_592_471, fee_bps=1_000)
    v36, v37 = _seize("v35", **kw), _seize("v37", **kw)
    assert v36.debt_repaid_raw == v37.debt_repaid_raw == 2_469_020
    assert (v36.protocol_fee_raw, v37.protocol_fee_raw) == (12_345, 12_346)
    assert (v36.collateral_to_liquidator_raw, v37.collateral_to_liquidator_raw) == (2_580_126, 2_580_125)


def test_v37_and_v36_agree_where_nothing_rounds() -> None:
    # baseCollateral 2,000,000 x 1.05 = 2,100,000 exactly. Bonus 100,000, 10% fee 10,000 exactly.
    kw = dict(debt_to_cover=2 * USDC, collateral=10**12, fee_bps=1_000)
    assert _seize("v35", **kw) == _seize("v37", **kw)


def _wbtc_liquidation(rounding: str, **overrides):
    """One WBTC reserve (8 decimals, $60,000; 1 sat = 60,000 base units) at liquidity index 1.05
    RAY, scaled balance 1,000,001. aToken balance = rayMulFloor(1,000,001, 1.05) = 1,050,001 sat.
    USDC debt repaid in full: debtToCover = reserve debt = 600 USDC, so the dust rule does not apply.
    baseCollateral = 600 x 1e8 / 60,000 = 1,000,000 sat, and x 1.05 = 1,050,000 (exact in both
    versions). That is one sat short of the balance. The 10% fee is 5,000 sat (exact) and the
    liquidator gets 1,045,000."""
    kwargs = dict(
        rule="v33", debt_to_cover_raw=600 * USDC, health_factor_wad=9 * 10**17, user_reserve_debt_raw=600 * USDC,
        user_collateral_raw=1_050_001, collateral_price_base=60_000 * USD, debt_price_base=USD,
        collateral_decimals=8, debt_decimals=6, liquidation_bonus_bps=10_500, protocol_fee_bps=1_000,
        total_debt_base=900 * USD, collateral_scaled_raw=1_000_001,
        collateral_liquidity_index_ray=105 * RAY // 100,
        total_collateral_base=1_050_001 * 60_000,  # getUserAccountData: the only collateral, floor
    )
    kwargs.update(overrides)
    return aave_liquidation_amounts(rounding=rounding, **kwargs)


def test_v37_no_collateral_left_from_scaled_consumption() -> None:
    # In scaled units the two aToken operations round up (rayDivCeil):
    # ceil(1,045,000 / 1.05) = ceil(995,238.09) = 995,239, and ceil(5,000 / 1.05) = ceil(4,761.9) = 4,762.
    # Together 1,000,001 = the whole scaled balance, so nothing is left.
    # v3.6 compares base values: seized 1,050,000 sat x 60,000 = 63,000,000,000 is not equal to the
    # total 63,000,060,000. It keeps the other reserves' debt on the books as debt without
    # collateral (the stranded debt the v3.7 changelog names).
    # v3.7 values the consumed scaled amount: rayMulFloor(1,000,001, 1.05) x 60,000 = the total.
    # So the call books the position's other debt as deficit (_burnBadDebt).
    v36, v37 = _wbtc_liquidation("v35"), _wbtc_liquidation("v37")
    assert (v36.debt_repaid_raw, v36.collateral_seized_raw, v36.protocol_fee_raw) == (600 * USDC, 1_050_000, 5_000)
    assert (v37.debt_repaid_raw, v37.collateral_seized_raw, v37.protocol_fee_raw) == (600 * USDC, 1_050_000, 5_000)
    assert (v36.has_no_collateral_left, v37.has_no_collateral_left) == (False, True)
    assert v37.deficit_raw == 0  # this reserve's debt is repaid in full; the others' becomes deficit
    # One more scaled unit (scaled balance 1,000,002, balance floor(1,050,002.1) = 1,050,002) leaves
    # 1 scaled unit after the same call. v3.7 then sees collateral left, and so does v3.6.
    more = dict(user_collateral_raw=1_050_002, collateral_scaled_raw=1_000_002, total_collateral_base=1_050_002 * 60_000)
    assert _wbtc_liquidation("v37", **more).has_no_collateral_left is False
    assert _wbtc_liquidation("v35", **more).has_no_collateral_left is False


def test_v37_no_collateral_left_needs_the_scaled_balance() -> None:
    with pytest.raises(ValueError, match="scaled"):
        _wbtc_liquidation("v37", collateral_scaled_raw=None)
    assert _wbtc_liquidation("v35", collateral_scaled_raw=None).has_no_collateral_left is False


def test_v37_rounding_is_selected_by_version() -> None:
    assert [aave_rounding(f"aave-v3.{m}") for m in range(8)] == ["half_up"] * 5 + ["v35", "v35", "v37"]


# --- Aave snapshot glue ----------------------------------------------------------------------------


def test_aave_position_legs_applies_emode() -> None:
    market = Market(
        id="aave-test",
        venue="aave_v30",
        name="t",
        address="0x" + "11" * 20,
        protocol_version="aave-v3.0",
        price_unit=USD,
        reserves=(
            Reserve(asset="WETH", ltv_wad=8 * 10**17, liquidation_threshold_wad=825 * 10**15, liquidation_bonus_wad=105 * 10**16, oracle_price=2_000 * USD),
            Reserve(asset="wstETH", ltv_wad=7 * 10**17, liquidation_threshold_wad=8 * 10**17, liquidation_bonus_wad=106 * 10**16, oracle_price=2_300 * USD),
        ),
        emode_categories=(
            EModeCategory(id=1, ltv_wad=9 * 10**17, liquidation_threshold_wad=93 * 10**16, liquidation_bonus_wad=101 * 10**16, collateral_assets=("wstETH", "WETH")),
        ),
    )
    position = Position(market="aave-test", account="0x" + "22" * 20, emode=1, collateral={"wstETH": WETH}, debt={"WETH": WETH})
    symbols, legs = aave_position_legs(market, position, {"WETH": 18, "wstETH": 18})
    assert symbols == ("WETH", "wstETH")
    assert legs[1].liquidation_threshold_bps == 9_300
    # HF = 2300 × 0.93 / 2000 = 1.0695
    assert aave_health_factor_wad(legs) == 10695 * 10**14


# --- Morpho Blue ---------------------------------------------------------------------------------


def test_shares_math_virtual_shares() -> None:
    assert to_shares_down(1, 0, 0) == 10**6  # first asset mints 1e6 shares
    assert to_assets_up(1, 0, 0) == 1  # ceil(1 × 1 / 1e6)
    assert to_assets_down(1, 0, 0) == 0


@given(st.integers(0, 10**30), st.integers(0, 10**30), st.integers(0, 10**36))
def test_shares_rounding_directions(amount: int, total_assets: int, total_shares: int) -> None:
    assert to_shares_down(amount, total_assets, total_shares) <= to_shares_up(amount, total_assets, total_shares)
    assert to_assets_down(amount, total_assets, total_shares) <= to_assets_up(amount, total_assets, total_shares)
    # shares minted for assets never redeem for more than those assets
    assert to_assets_down(to_shares_down(amount, total_assets, total_shares), total_assets, total_shares) <= amount


def test_w_taylor_compounded() -> None:
    # x·n = 1 (WAD): 1 + 1/2 + 1/6
    assert w_taylor_compounded(WAD, 1) == WAD + WAD // 2 + WAD // 6


def test_morpho_accrue_interest_hand_computed() -> None:
    state = MorphoMarketState(2_000 * USDC, 2_000 * 10**12, 1_000 * USDC, 1_000 * 10**12, 1_000, 0)
    # rate·dt = 1e-2 WAD: interest = 1000e6 × (0.01 + 0.00005 + 0.000000166…) = 10,050,166 (floors)
    after = morpho_accrue_interest(state, 10**16, 1_001)
    assert after.total_borrow_assets == 1_000 * USDC + 10_050_166
    assert after.total_supply_assets == 2_000 * USDC + 10_050_166
    assert after.total_borrow_shares == state.total_borrow_shares and after.last_update == 1_001
    assert morpho_accrue_interest(state, 10**16, 1_000) == state
    # with a 10% fee, fee shares are minted to the fee recipient
    fee_state = MorphoMarketState(2_000 * USDC, 2_000 * 10**12, 1_000 * USDC, 1_000 * 10**12, 1_000, 10**17)
    assert morpho_accrue_interest(fee_state, 10**16, 1_001).total_supply_shares > fee_state.total_supply_shares


def test_morpho_health_and_boundary_hand_computed() -> None:
    # 1 WETH collateral, 1,500 USDC borrowed, LLTV 86%: X = ceil(1500e6/0.86) − 1 = 1,744,186,046;
    # P = ceil(1,744,186,047 × 1e36 / 1e18) − 1 = 1,744,186,047e18 − 1
    p = morpho_liquidation_oracle_price(collateral_raw=WETH, borrowed_raw=1_500 * USDC, lltv_wad=86 * 10**16)
    assert p == 1_744_186_047 * 10**18 - 1
    assert not morpho_is_healthy(collateral_raw=WETH, borrowed_raw=1_500 * USDC, oracle_price_1e36=p, lltv_wad=86 * 10**16)
    assert morpho_is_healthy(collateral_raw=WETH, borrowed_raw=1_500 * USDC, oracle_price_1e36=p + 1, lltv_wad=86 * 10**16)
    assert morpho_liquidation_oracle_price(collateral_raw=WETH, borrowed_raw=0, lltv_wad=86 * 10**16) is None


# Bounds: up to 1e30 raw units of either side (beyond any real token supply) and any enabled LLTV.
@given(st.integers(1, 10**30), st.integers(1, 10**30), st.integers(10**16, WAD - 1))
def test_morpho_boundary_property(collateral: int, borrowed: int, lltv: int) -> None:
    p = morpho_liquidation_oracle_price(collateral_raw=collateral, borrowed_raw=borrowed, lltv_wad=lltv)
    assume(p is not None)
    assert not morpho_is_healthy(collateral_raw=collateral, borrowed_raw=borrowed, oracle_price_1e36=p, lltv_wad=lltv)
    assert morpho_is_healthy(collateral_raw=collateral, borrowed_raw=borrowed, oracle_price_1e36=p + 1, lltv_wad=lltv)


def test_morpho_liquidation_from_repaid_shares() -> None:
    # totals 1000 USDC / 1e15 shares; 1e14 shares -> toAssetsDown = 100 USDC exactly;
    # LLTV 50% -> LIF capped at 1.15; seized = 115e6 × 1e36 / 2000e24 = 5.75e16 wei of WETH
    result = morpho_liquidation_amounts(
        oracle_price_1e36=2_000 * 10**24,
        lltv_wad=5 * 10**17,
        total_borrow_assets=1_000 * USDC,
        total_borrow_shares=10**15,
        repaid_shares=10**14,
    )
    assert result.seized_assets == 575 * 10**14
    assert result.repaid_assets == 100 * USDC
    with pytest.raises(ProtocolRevert):
        morpho_liquidation_amounts(oracle_price_1e36=1, lltv_wad=5 * 10**17, total_borrow_assets=1, total_borrow_shares=1)


def test_morpho_liquidation_from_seized_assets_and_bad_debt() -> None:
    # seize all 0.05 WETH at $2,000 (quoted 100 USDC), LIF 1.15: repay ceil(100e6/1.15) = 86,956,522
    # assets -> toSharesUp: ×1e6 shares per asset (+virtual rounding) ; the rest becomes bad debt
    result = morpho_liquidation_amounts(
        oracle_price_1e36=2_000 * 10**24,
        lltv_wad=5 * 10**17,
        total_borrow_assets=1_000 * USDC,
        total_borrow_shares=10**15,
        seized_assets=5 * 10**16,
        borrower_collateral_raw=5 * 10**16,
        borrower_borrow_shares=2 * 10**14,
    )
    assert result.seized_assets == 5 * 10**16
    assert result.repaid_assets == 86_956_522
    assert result.bad_debt_shares == 2 * 10**14 - result.repaid_shares
    assert result.bad_debt_assets == 200 * USDC - 86_956_522


def test_morpho_borrow_assets_round_up() -> None:
    assert morpho_borrow_assets(1, 1_000, 10**9) == 1  # ceil(1 × 1001 / (1e9 + 1e6))


# --- Compound V3 ---------------------------------------------------------------------------------


def test_comet_present_value() -> None:
    assert comet_present_value(1_000, 2 * 10**15, 3 * 10**15) == 2_000
    assert comet_present_value(-1_000, 2 * 10**15, 3 * 10**15) == -3_000
    assert comet_present_value(-1, 10**15, 1_500_000_000_000_001) == -1  # floor of the magnitude


def test_comet_liquidatable_signed_division_truncates_toward_zero() -> None:
    # debt 1 unit (scale 1e6) at price 1.00000001: −100.000001 truncates to −100 (floor would be −101);
    # collateral worth exactly 100 at factor 1.0 brings liquidity to 0 -> not liquidatable.
    coll = [CometCollateralLeg(balance_raw=100, price=10**8, scale=10**8, liquidate_collateral_factor_wad=WAD)]
    kwargs = dict(base_supply_index=10**15, base_borrow_index=10**15, base_price=10**8 + 1, base_scale=10**6)
    assert not comet_is_liquidatable(principal=-1, collateral=coll, **kwargs)
    less = [CometCollateralLeg(balance_raw=99, price=10**8, scale=10**8, liquidate_collateral_factor_wad=WAD)]
    assert comet_is_liquidatable(principal=-1, collateral=less, **kwargs)
    assert not comet_is_liquidatable(principal=5, collateral=[], **kwargs)


def test_comet_factor_applies() -> None:
    # 1 WETH at $2,000, factor 0.9 -> $1,800 of liquidity; debt 1,801 USDC -> liquidatable
    coll = [CometCollateralLeg(balance_raw=WETH, price=2_000 * 10**8, scale=WETH, liquidate_collateral_factor_wad=9 * 10**17)]
    kwargs = dict(base_supply_index=10**15, base_borrow_index=10**15, base_price=10**8, base_scale=USDC)
    assert comet_is_liquidatable(principal=-1_801 * USDC, collateral=coll, **kwargs)
    assert not comet_is_liquidatable(principal=-1_800 * USDC, collateral=coll, **kwargs)
