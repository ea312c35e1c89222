"""Aave V4 (hub and spokes): the spoke's liquidation math, exact (integer) — a first increment.

Copied from ``aave/aave-v4`` ``src/spoke/libraries/LiquidationLogic.sol`` (commit
8e6ea169d76ff0e51ccae3c8a48bf8fe060ba417: calculateLiquidationBonus, _calculateDebtToTargetHealthFactor,
_calculateDebtToLiquidate, _calculateLiquidationAmounts, _evaluateDeficit) and the account data of
``src/spoke/Spoke.sol`` (_processUserAccountData: collateral value rounded down, debt value rounded up,
health factor = sum(collateralFactor * value) / debt value, in WAD). Units as there: prices in the
oracle's decimals (8 for USD), values ``amount * price * 1e18 / 10**decimals`` (so $1 = 1e26 with
8-decimal prices; ``DUST_LIQUIDATION_THRESHOLD`` = 1000e26 = $1,000), factors and bonuses in BPS
(1e4 = 100%), health factors in WAD.

The rule: a position liquidates when its HF < 1; the liquidator repays at most what brings the HF
back to the spoke's ``targetHealthFactor`` (the debt to target), at a bonus that is the reserve's
``maxLiquidationBonus`` at or below ``healthFactorForMaxBonus`` and falls linearly toward
``minBonus = 1 + (maxBonus - 1) * liquidationBonusFactor`` as the HF nears 1; a liquidation that
would leave less than $1,000 of debt (or of collateral) takes all of it; a liquidation fee takes a
share of the bonus part; when the emptied collateral was the user's last active one and debt is
left, the spoke reports the whole remaining debt as deficit.

Not yet here (state of this increment): the float kernel, the rule's registration, the reader and the
devnet test double.
"""

from __future__ import annotations

from dataclasses import dataclass

PERCENTAGE_FACTOR = 10_000
WAD = 10**18
RAY = 10**27
HEALTH_FACTOR_LIQUIDATION_THRESHOLD = WAD
DUST_LIQUIDATION_THRESHOLD = 1_000 * 10**26
"""LiquidationLogic.DUST_LIQUIDATION_THRESHOLD: $1,000 in value units (8-decimal prices x WAD)."""


class SpokeRevert(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _unit(decimals: int) -> int:
    unit: int = 10**decimals
    return unit


def _mul_div_down(x: int, y: int, d: int) -> int:
    return x * y // d


def _mul_div_up(x: int, y: int, d: int) -> int:
    return -(-x * y // d)


def collateral_value(assets: int, price: int, decimals: int) -> int:
    """``(assets * price).wadDivDown(assetUnit)`` (Spoke._processUserAccountData)."""
    return assets * price * WAD // _unit(decimals)


def debt_value(drawn: int, premium_ray: int, price: int, decimals: int) -> int:
    """``((drawnDebt + premiumDebtRay.fromRayUp()) * price).wadDivUp(assetUnit)``."""
    return -(-(drawn + -(-premium_ray // RAY)) * price * WAD // _unit(decimals))


def health_factor_wad(collateral_values: list[int], collateral_factors_bps: list[int], total_debt_value: int) -> int:
    """``avgCollateralFactor.wadDivDown(totalDebtValue).fromBpsDown()`` with avgCollateralFactor the
    sum of ``collateralFactor * value`` over the active collaterals (collateral factor > 0)."""
    if total_debt_value == 0:
        return 2**256 - 1
    weighted = sum(cf * v for cf, v in zip(collateral_factors_bps, collateral_values, strict=True) if cf > 0 and v > 0)
    return weighted * WAD // total_debt_value // PERCENTAGE_FACTOR


def liquidation_bonus_bps(*, health_factor_for_max_bonus: int, liquidation_bonus_factor_bps: int, health_factor: int,
                          max_liquidation_bonus_bps: int) -> int:
    """``calculateLiquidationBonus``: max at or below ``healthFactorForMaxBonus``, else linear from
    ``minBonus`` (at HF 1) to the max."""
    if health_factor <= health_factor_for_max_bonus:
        return max_liquidation_bonus_bps
    min_bonus = (max_liquidation_bonus_bps - PERCENTAGE_FACTOR) * liquidation_bonus_factor_bps // PERCENTAGE_FACTOR \
        + PERCENTAGE_FACTOR
    return min_bonus + _mul_div_down(max_liquidation_bonus_bps - min_bonus, HEALTH_FACTOR_LIQUIDATION_THRESHOLD - health_factor,
                                     HEALTH_FACTOR_LIQUIDATION_THRESHOLD - health_factor_for_max_bonus)


def debt_to_target(*, total_debt_value: int, health_factor: int, target_health_factor: int, liquidation_bonus_bps_: int,
                   collateral_factor_bps: int, debt_price: int, debt_decimals: int) -> int:
    """``_calculateDebtToTargetHealthFactor`` (debt asset raw units, rounded up)."""
    penalty = -(-(liquidation_bonus_bps_ * 10**14) * collateral_factor_bps // PERCENTAGE_FACTOR)  # bpsToWad().percentMulUp(cf)
    return _mul_div_up(total_debt_value, _unit(debt_decimals) * (target_health_factor - health_factor),
                       (target_health_factor - penalty) * debt_price * WAD)


def debt_to_liquidate(*, debt_reserve_balance: int, debt_to_cover: int, total_debt_value: int, health_factor: int,
                      target_health_factor: int, liquidation_bonus_bps_: int, collateral_factor_bps: int,
                      debt_price: int, debt_decimals: int) -> int:
    """``_calculateDebtToLiquidate``: min(balance, debtToCover, debt to target), the whole balance
    when less than $1,000 of debt would be left."""
    debt = min(debt_reserve_balance, debt_to_cover)
    target = debt_to_target(total_debt_value=total_debt_value, health_factor=health_factor,
                            target_health_factor=target_health_factor, liquidation_bonus_bps_=liquidation_bonus_bps_,
                            collateral_factor_bps=collateral_factor_bps, debt_price=debt_price, debt_decimals=debt_decimals)
    debt = min(debt, target)
    leaves_dust = debt < debt_reserve_balance and \
        _mul_div_down(debt_reserve_balance - debt, debt_price * WAD, _unit(debt_decimals)) < DUST_LIQUIDATION_THRESHOLD
    return debt_reserve_balance if leaves_dust else debt


@dataclass(frozen=True, slots=True)
class LiquidationAmounts:
    collateral_to_liquidate: int
    collateral_to_liquidator: int
    debt_to_liquidate: int


@dataclass(frozen=True, slots=True)
class SpokeLiquidationConfig:
    """A spoke's ``LiquidationConfig``: HF in WAD, the bonus factor in BPS."""

    target_health_factor: int
    health_factor_for_max_bonus: int
    liquidation_bonus_factor_bps: int


def liquidation_amounts(config: SpokeLiquidationConfig, *, debt_reserve_balance: int, collateral_reserve_balance: int,
                        debt_to_cover: int, total_debt_value: int, health_factor: int, max_liquidation_bonus_bps: int,
                        collateral_factor_bps: int, liquidation_fee_bps: int, debt_price: int, debt_decimals: int,
                        collateral_price: int, collateral_decimals: int) -> LiquidationAmounts:
    """``_calculateLiquidationAmounts`` (LiquidationLogic.sol), with its dust rules and fee."""
    debt_unit, coll_unit = _unit(debt_decimals), _unit(collateral_decimals)
    bonus = liquidation_bonus_bps(health_factor_for_max_bonus=config.health_factor_for_max_bonus,
                                  liquidation_bonus_factor_bps=config.liquidation_bonus_factor_bps,
                                  health_factor=health_factor, max_liquidation_bonus_bps=max_liquidation_bonus_bps)
    debt = debt_to_liquidate(debt_reserve_balance=debt_reserve_balance, debt_to_cover=debt_to_cover,
                             total_debt_value=total_debt_value, health_factor=health_factor,
                             target_health_factor=config.target_health_factor, liquidation_bonus_bps_=bonus,
                             collateral_factor_bps=collateral_factor_bps, debt_price=debt_price,
                             debt_decimals=debt_decimals)
    coll = _mul_div_down(debt, debt_price * coll_unit * bonus, debt_unit * collateral_price * PERCENTAGE_FACTOR)
    leaves_coll_dust = coll < collateral_reserve_balance and _mul_div_down(
        collateral_reserve_balance - coll, collateral_price * WAD, coll_unit) < DUST_LIQUIDATION_THRESHOLD
    if coll > collateral_reserve_balance or (leaves_coll_dust and debt < debt_reserve_balance):
        coll = collateral_reserve_balance
        debt = _mul_div_up(coll, collateral_price * debt_unit * PERCENTAGE_FACTOR, debt_price * coll_unit * bonus)
    if debt_to_cover < debt:
        raise SpokeRevert("MustNotLeaveDust")
    to_liquidator = coll - _mul_div_down(coll, liquidation_fee_bps * (bonus - PERCENTAGE_FACTOR), bonus * PERCENTAGE_FACTOR)
    return LiquidationAmounts(coll, to_liquidator, debt)


def evaluate_deficit(*, collateral_position_empty: bool, debt_position_empty: bool, active_collateral_count: int,
                     borrowed_count: int) -> bool:
    """``_evaluateDeficit``: the last active collateral emptied while debt remains (here or on
    another reserve) -> the spoke reports all the user's remaining debt as deficit."""
    if not collateral_position_empty or active_collateral_count > 1:
        return False
    return not debt_position_empty or borrowed_count > 1


__all__ = [
    "DUST_LIQUIDATION_THRESHOLD", "HEALTH_FACTOR_LIQUIDATION_THRESHOLD", "LiquidationAmounts", "PERCENTAGE_FACTOR",
    "SpokeLiquidationConfig", "SpokeRevert", "collateral_value", "debt_to_liquidate", "debt_to_target", "debt_value",
    "evaluate_deficit", "health_factor_wad", "liquidation_amounts", "liquidation_bonus_bps",
]
