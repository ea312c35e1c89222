"""The Aave V4 spoke rule (``aave_v4``), registered with :mod:`risk.rules`.

Math (exact and float kernel): :mod:`risk.aave_v4` (aave/aave-v4 ``src/spoke/libraries/LiquidationLogic.sol``
and ``src/spoke/Spoke.sol`` @8e6ea169d76ff0e51ccae3c8a48bf8fe060ba417); plain-loop reference:
``tests/risk/reference_aave_v4.py``. The spoke's liquidation config reaches the kernel as the
market's rule parameters (``Market.rule_params``, declared in ``market_params`` below).
"""

from __future__ import annotations

from typing import Any

from risk.rules import LiquidationRule, register_rule

# Spoke parameters (name with unit, meaning, default), in the kernel's column order. Kept in step
# with risk.aave_v4.SPOKE_PARAMS (this module may import only risk.rules at module level;
# tests/risk/test_aave_v4_kernel.py checks the two agree).
_SPOKE_PARAMS: tuple[tuple[str, str, int], ...] = (
    ("target_health_factor_wad", "LiquidationConfig.targetHealthFactor: the HF a liquidation restores", 105 * 10**16),
    ("health_factor_for_max_bonus_wad", "LiquidationConfig.healthFactorForMaxBonus: at or below it the bonus is the max",
     95 * 10**16),
    ("liquidation_bonus_factor_bps", "LiquidationConfig.liquidationBonusFactor: min bonus = 1 + (max - 1) * factor",
     2_000),
)


def _aave_v4_kernel(collateral: Any, debt: Any, liq_threshold: Any, liq_bonus: Any, protocol_fee: Any, prices_usd: Any,
                    *, rule_params: Any = None) -> Any:
    from risk.aave_v4 import liquidate_spoke_rows

    return liquidate_spoke_rows(collateral, debt, liq_threshold, liq_bonus, protocol_fee, prices_usd,
                                spoke_params=rule_params)


AAVE_V4 = register_rule(LiquidationRule(
    "aave_v4", "Aave V4 spoke: repay to the spoke's target HF at a dynamic bonus (max at or below "
    "healthFactorForMaxBonus, falling toward liquidationBonusFactor at HF 1), $1,000 dust forces a full "
    "close, deficit when the last collateral empties", kernel=_aave_v4_kernel,
    columns=(
        ("liq_threshold", "the reserve's collateralFactor (fraction; 0 when not an active collateral)"),
        ("liq_bonus", "the reserve's maxLiquidationBonus (1.05 = 5%); the bonus paid is dynamic in the HF"),
        ("protocol_fee", "the reserve's liquidationFee: share of the bonus part the protocol keeps"),
    ),
    market_params=_SPOKE_PARAMS,
    module=__name__,
    label="Aave V4",
    color="#6A1B9A",
    reference="tests.risk.reference_aave_v4:liquidate_position",
))
