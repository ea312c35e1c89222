"""The Sky/Maker vault rule (``sky_vault``), registered with :mod:`risk.rules`.

Math and kernel: :mod:`risk.sky_vaults` (dss dog.sol / clip.sol / abaci.sol, commits cited there);
plain-loop reference: ``tests/risk/sky_reference.py``.
"""

from __future__ import annotations

from typing import Any

from risk.rules import LiquidationRule, register_rule


def _sky_kernel(*args: Any, **kwargs: Any) -> Any:
    from risk.sky_vaults import liquidate_vault_rows_from_book

    return liquidate_vault_rows_from_book(*args, **kwargs)


SKY_VAULT = register_rule(LiquidationRule(
    "sky_vault", "Sky/Maker: Dog.bark takes the urn, Clipper Dutch auction; bad debt = debt - proceeds",
    kernel=_sky_kernel,
    columns=(
        ("liq_threshold", "1 / mat (the Spotter's liquidation ratio)"),
        ("liq_bonus", "collateral sold per unit of debt at the oracle price: chop / clearing ratio "
                      "(risk.sky_vaults.encode_bonus_fee)"),
        ("protocol_fee", "the penalty's share of that bonus part (chop - 1) / (bonus - 1): the Vow keeps it"),
    ),
    module=__name__,
    reference="tests.risk.rule_references:sky_vault",
    label="Sky vault",
))
