"""Aave V4 spoke liquidation math (risk.aave_v4, from aave/aave-v4 LiquidationLogic.sol @8e6ea169)
against independent arithmetic facts. No devnet double yet: the on-chain comparison is still to do."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk import aave_v4 as v4

WAD = 10**18
USD = 10**8  # 8-decimal oracle price of $1
CONFIG = v4.SpokeLiquidationConfig(target_health_factor=105 * 10**16, health_factor_for_max_bonus=95 * 10**16,
                                   liquidation_bonus_factor_bps=2_000)


def test_bonus_is_max_below_hf_for_max_bonus_and_falls_linearly_to_min_at_one():
    kw = dict(health_factor_for_max_bonus=95 * 10**16, liquidation_bonus_factor_bps=2_000, max_liquidation_bonus_bps=11_000)
    assert v4.liquidation_bonus_bps(health_factor=90 * 10**16, **kw) == 11_000
    assert v4.liquidation_bonus_bps(health_factor=95 * 10**16, **kw) == 11_000
    # min bonus = 1 + 10% * 20% = 1.02 at HF 1; half way (HF 0.975) = 1.06
    assert v4.liquidation_bonus_bps(health_factor=WAD, **kw) == 10_200
    assert v4.liquidation_bonus_bps(health_factor=975 * 10**15, **kw) == 10_600


def _one_pair(coll_tokens: int, debt_tokens: int, eth_usd: int, cf_bps: int):
    """1 collateral (18 dec, price eth_usd) and 1 debt (6 dec, $1): (collateral value, debt value, HF)."""
    cv = v4.collateral_value(coll_tokens, eth_usd * USD, 18)
    dv = v4.debt_value(debt_tokens, 0, USD, 6)
    return cv, dv, v4.health_factor_wad([cv], [cf_bps], dv)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(5 * 10**18, 2_000 * 10**18), st.integers(1_000, 4_000), st.integers(7_000, 8_500),
       st.integers(10_300, 11_000), st.floats(0.80, 0.999))
def test_debt_to_target_brings_the_health_factor_back_to_target(coll, eth_usd, cf, max_bonus, hf_goal):
    """Repaying the debt to target (when neither dust rule nor the collateral bound applies) leaves
    the position at the target HF: within one unit of rounding above it, and one less unit repaid
    would leave it below."""
    debt = int(coll * eth_usd * cf / 10_000 / hf_goal / 10**12)
    cv, dv, hf = _one_pair(coll, debt, eth_usd, cf)
    if not hf < WAD:
        return
    amounts = v4.liquidation_amounts(CONFIG, debt_reserve_balance=debt, collateral_reserve_balance=coll,
                                     debt_to_cover=2**255, total_debt_value=dv, health_factor=hf,
                                     max_liquidation_bonus_bps=max_bonus, collateral_factor_bps=cf,
                                     liquidation_fee_bps=1_000, debt_price=USD, debt_decimals=6,
                                     collateral_price=eth_usd * USD, collateral_decimals=18)
    if amounts.debt_to_liquidate == debt or amounts.collateral_to_liquidate == coll:
        return  # a dust rule or the collateral bound applied (tested below)
    _, _, hf_after = _one_pair(coll - amounts.collateral_to_liquidate, debt - amounts.debt_to_liquidate, eth_usd, cf)
    assert hf_after >= CONFIG.target_health_factor - 10**9
    assert hf_after - CONFIG.target_health_factor < 10**12  # not much beyond the target either
    assert amounts.collateral_to_liquidator <= amounts.collateral_to_liquidate


def test_dust_rule_takes_the_whole_debt_when_less_than_1000_usd_would_be_left():
    # 1,500 USDC of debt on 1.8 ETH at $1,000 (CF 80%: HF 0.96).
    coll, debt = 18 * 10**17, 1_500 * 10**6
    cv, dv, hf = _one_pair(coll, debt, 1_000, 8_000)
    assert hf < WAD
    amounts = v4.liquidation_amounts(CONFIG, debt_reserve_balance=debt, collateral_reserve_balance=coll,
                                     debt_to_cover=2**255, total_debt_value=dv, health_factor=hf,
                                     max_liquidation_bonus_bps=10_500, collateral_factor_bps=8_000,
                                     liquidation_fee_bps=0, debt_price=USD, debt_decimals=6, collateral_price=1_000 * USD,
                                     collateral_decimals=18)
    # HF 0.96: bonus 1.01 + (1.05 - 1.01) * 0.04 / 0.05 = 1.042. The debt to target (about 624)
    # would leave 876 < $1,000: the whole 1,500 is repaid, for 1,500 * 1.042 / 1,000 = 1.563 ETH
    # (0.237 ETH left: allowed, the debt is fully liquidated).
    assert amounts.debt_to_liquidate == debt
    assert amounts.collateral_to_liquidate == 1_563 * 10**15
    # Collateral dust: a 1.5 ETH collateral of a position with $10,000 of debt (HF 0.96). Covering
    # 700 would seize 0.7294 ETH and leave $771 (< $1,000) of it: the whole collateral must go, for
    # 1,500 / 1.042 of debt, more than the 700 offered -> MustNotLeaveDust.
    kw = dict(debt_reserve_balance=10_000 * 10**6, collateral_reserve_balance=15 * 10**17,
              total_debt_value=v4.debt_value(10_000 * 10**6, 0, USD, 6), health_factor=96 * 10**16,
              max_liquidation_bonus_bps=10_500, collateral_factor_bps=8_000, liquidation_fee_bps=0, debt_price=USD,
              debt_decimals=6, collateral_price=1_000 * USD, collateral_decimals=18)
    with pytest.raises(v4.SpokeRevert, match="MustNotLeaveDust"):
        v4.liquidation_amounts(CONFIG, debt_to_cover=700 * 10**6, **kw)
    whole = v4.liquidation_amounts(CONFIG, debt_to_cover=2**255, **kw)
    assert whole.collateral_to_liquidate == 15 * 10**17
    assert whole.debt_to_liquidate == -(-15 * 10**17 * 1_000 * USD * 10**6 * 10_000 // (USD * 10**18 * 10_420))


def test_collateral_bound_fee_and_deficit():
    # 10 ETH at $1,000 ($10,000), 12,000 USDC debt, CF 80%: HF 0.667 -> max bonus 5%: all the
    # collateral for 10,000 / 1.05 of debt; the fee takes 10% of the bonus part; the last
    # collateral emptied with debt left -> deficit.
    coll, debt = 10 * 10**18, 12_000 * 10**6
    cv, dv, hf = _one_pair(coll, debt, 1_000, 8_000)
    amounts = v4.liquidation_amounts(CONFIG, debt_reserve_balance=debt, collateral_reserve_balance=coll,
                                     debt_to_cover=2**255, total_debt_value=dv, health_factor=hf,
                                     max_liquidation_bonus_bps=10_500, collateral_factor_bps=8_000,
                                     liquidation_fee_bps=1_000, debt_price=USD, debt_decimals=6,
                                     collateral_price=1_000 * USD, collateral_decimals=18)
    assert amounts.collateral_to_liquidate == coll
    assert amounts.debt_to_liquidate == -(-10_000 * 10**6 * 10_000 // 10_500)
    fee = coll * 1_000 * 500 // (10_500 * 10_000)
    assert amounts.collateral_to_liquidator == coll - fee
    assert v4.evaluate_deficit(collateral_position_empty=True, debt_position_empty=False, active_collateral_count=1,
                               borrowed_count=1)
    assert not v4.evaluate_deficit(collateral_position_empty=True, debt_position_empty=False,
                                   active_collateral_count=2, borrowed_count=1)
    assert not v4.evaluate_deficit(collateral_position_empty=True, debt_position_empty=True, active_collateral_count=1,
                                   borrowed_count=1)
