"""The Fluid vault T1 rule (``fluid_vault``), registered with :mod:`risk.rules`.

Math and kernel: :mod:`risk.fluid_vaults` (Instadapp/fluid-contracts-public vaultT1 main.sol,
main2.sol, libraries/tickMath.sol; commits cited there); plain-loop reference:
``tests/risk/fluid_reference.py``. No reader or devnet double yet: no market carries this rule in
the shipped market file.
"""

from __future__ import annotations

from typing import Any

from risk.rules import LiquidationRule, register_rule


def _fluid_kernel(*args: Any, **kwargs: Any) -> Any:
    from risk.fluid_vaults import liquidate_fluid_rows_from_book

    return liquidate_fluid_rows_from_book(*args, **kwargs)


FLUID_VAULT = register_rule(LiquidationRule(
    "fluid_vault", "Fluid vault T1: liquidated tick by tick down to the liquidation threshold with the vault's "
                   "penalty; absorbed whole above the liquidation max limit",
    kernel=_fluid_kernel,
    columns=(
        ("liq_threshold", "the vault's liquidation threshold (debt / collateral value ratio where liquidation starts)"),
        ("liq_bonus", "1 + the vault's liquidation penalty (the liquidator's)"),
        ("protocol_fee", "the liquidation max limit: above that ratio the vault absorbs the position"),
    ),
    module=__name__,
    reference="tests.risk.fluid_reference:liquidate_position",
))
