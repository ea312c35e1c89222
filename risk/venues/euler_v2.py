"""The Euler v2 rule (``euler_v2``), registered with :mod:`risk.rules`.

Math and kernel: :mod:`risk.euler_v2` (euler-xyz/euler-vault-kit Liquidation.sol @1dad88bd,
LiquidityUtils.sol @32898036, LTVConfig.sol @432c4b55, BorrowUtils.sol @e4075ddf; cited there);
plain-loop reference: ``tests/risk/euler_reference.py``.
"""

from __future__ import annotations

from typing import Any

from risk.rules import LiquidationRule, register_rule


def _euler_kernel(*args: Any, **kwargs: Any) -> Any:
    from risk.euler_v2 import liquidate_euler_rows_from_book

    return liquidate_euler_rows_from_book(*args, **kwargs)


EULER_V2 = register_rule(LiquidationRule(
    "euler_v2", "Euler v2 (EVK): discount = 1 - health capped at maxLiquidationDiscount, no close factor, "
                "debt socialised when collateral runs out",
    kernel=_euler_kernel,
    columns=(
        ("liq_threshold", "the collateral's liquidation LTV at the snapshot block (ramped: LTVConfig.getLTV)"),
        ("liq_bonus", "1 / (1 - maxLiquidationDiscount): the largest collateral-per-debt ratio the vault pays "
                      "(risk.euler_v2.encode_max_discount); the discount paid is 1 - health, capped there"),
        ("protocol_fee", "0: the whole discount goes to the liquidator"),
    ),
    module=__name__,
    reference="tests.risk.euler_reference:conformance",
    label="Euler v2",
    color="#E5533D",
))
