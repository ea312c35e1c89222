"""The Liquity v2 (BOLD) trove rule (``liquity_v2``), registered with :mod:`risk.rules`.

Math and kernel: :mod:`risk.liquity_v2` (liquity/bold contracts, commit cited there); plain-loop
reference: ``tests/risk/liquity_reference.py``.
"""

from __future__ import annotations

from typing import Any

from risk.rules import LiquidationRule, register_rule


def _liquity_v2_kernel(*args: Any, **kwargs: Any) -> Any:
    from risk.liquity_v2 import liquidate_trove_rows_from_book

    return liquidate_trove_rows_from_book(*args, **kwargs)


LIQUITY_V2 = register_rule(LiquidationRule(
    "liquity_v2", "Liquity v2 (BOLD): trove closed below MCR, Stability Pool offset with its penalty, "
    "gas compensation, surplus to the owner", kernel=_liquity_v2_kernel,
    columns=(
        ("liq_threshold", "1 / MCR of the branch"),
        ("liq_bonus", "1 + the Stability Pool liquidation penalty"),
        ("protocol_fee", "unused (0)"),
    ),
    module=__name__,
    reference="tests.risk.liquity_reference:liquidate_position",
))
