"""The liquidation-rule registry: which rules exist, how each is computed, and which have a fast path.

Every :class:`risk.snapshot.Market` names its rule (``Market.venue``); the book stores the rule's
integer code (its position in :data:`RULES`). A rule declares:

- ``name`` and a one-line ``description``;
- ``kernel``: the vectorized liquidation of its rows (``None`` for the four built-in rules, whose
  kernel is :func:`risk.liquidation.liquidate_rows`' own close-factor / absorb code);
- ``pair_fast_path``: whether single-pair positions of this rule may go through the closed form of
  :mod:`risk.pair_classes` (``one_shot``: the whole debt is always repaid in one go);
- the plain-loop reference lives with the tests (``tests/risk/reference.py``,
  ``tests/risk/sky_reference.py``, ``tests/risk/euler_reference.py``) and the conformance suite runs over every rule here.

The parameter columns every rule reads are the book's: ``liq_threshold``, ``liq_bonus`` and
``protocol_fee`` (a rule documents what they mean for it; the Sky vault rule encodes its penalty and
the Clipper's clearing price in the last two, see :mod:`risk.sky_vaults`; the Liquity v2 rule reads
``liq_bonus`` as 1 + the Stability Pool penalty, see :mod:`risk.liquity_v2`).

An unknown rule is an error (:func:`rule`), never a silent default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LiquidationRule:
    name: str
    description: str
    kernel: Callable[..., Any] | None = None
    pair_fast_path: bool = False
    one_shot: bool = False


def _sky_kernel(*args: Any, **kwargs: Any) -> Any:
    from risk.sky_vaults import liquidate_vault_rows_from_book

    return liquidate_vault_rows_from_book(*args, **kwargs)


def _liquity_v2_kernel(*args: Any, **kwargs: Any) -> Any:
    from risk.liquity_v2 import liquidate_trove_rows_from_book

    return liquidate_trove_rows_from_book(*args, **kwargs)


def _euler_kernel(*args: Any, **kwargs: Any) -> Any:
    from risk.euler_v2 import liquidate_euler_rows_from_book

    return liquidate_euler_rows_from_book(*args, **kwargs)


def _fluid_kernel(*args: Any, **kwargs: Any) -> Any:
    from risk.fluid_vaults import liquidate_fluid_rows_from_book

    return liquidate_fluid_rows_from_book(*args, **kwargs)


RULES: tuple[LiquidationRule, ...] = (
    LiquidationRule("aave_v30", "Aave v3.0-v3.2 and Spark: 50%/100% close factor at HF 0.95", pair_fast_path=True),
    LiquidationRule("aave_v33", "Aave v3.3+: position-wide 50% cap above HF 0.95 and $2,000, $1,000 dust rule",
                    pair_fast_path=True),
    LiquidationRule("morpho_blue", "Morpho Blue: whole debt, LIF", pair_fast_path=True, one_shot=True),
    LiquidationRule("compound_v3", "Compound V3: absorb takes all collateral", pair_fast_path=True, one_shot=True),
    LiquidationRule("sky_vault", "Sky/Maker: Dog.bark takes the urn, Clipper Dutch auction; bad debt = debt - proceeds",
                    kernel=_sky_kernel),
    LiquidationRule("liquity_v2", "Liquity v2 (BOLD): trove closed below MCR, Stability Pool offset with its penalty, "
                    "gas compensation, surplus to the owner", kernel=_liquity_v2_kernel),
    LiquidationRule("euler_v2", "Euler v2 (EVK): discount = 1 - health capped at maxLiquidationDiscount, no close factor, "
                    "debt socialised when collateral runs out", kernel=_euler_kernel),
    LiquidationRule("fluid_vault", "Fluid vault T1: liquidated down to the liquidation threshold with the vault's "
                    "penalty; absorbed whole above the liquidation max limit (protocol_fee column = max limit)",
                    kernel=_fluid_kernel),
)
"""Registered rules, in code order (the book's ``venue`` column is an index into this)."""

RULE_NAMES: tuple[str, ...] = tuple(r.name for r in RULES)
RULE_CODE: dict[str, int] = {name: code for code, name in enumerate(RULE_NAMES)}


def rule(name_or_code: str | int) -> LiquidationRule:
    """The registered rule, by name or code; an unknown one raises ``KeyError`` naming the known ones."""
    if isinstance(name_or_code, str):
        if name_or_code not in RULE_CODE:
            raise KeyError(f"unknown liquidation rule {name_or_code!r}; registered: {', '.join(RULE_NAMES)}")
        return RULES[RULE_CODE[name_or_code]]
    code = int(name_or_code)
    if not 0 <= code < len(RULES):
        raise KeyError(f"unknown liquidation rule code {code}; registered: "
                       + ", ".join(f"{i}={n}" for i, n in enumerate(RULE_NAMES)))
    return RULES[code]


def pair_fast_path_codes() -> tuple[int, ...]:
    return tuple(i for i, r in enumerate(RULES) if r.pair_fast_path)


def one_shot_codes() -> tuple[int, ...]:
    return tuple(i for i, r in enumerate(RULES) if r.one_shot)


def kernel_codes() -> tuple[int, ...]:
    """Codes of rules with their own kernel (dispatched by :func:`risk.liquidation.liquidate_rows`)."""
    return tuple(i for i, r in enumerate(RULES) if r.kernel is not None)


__all__ = ["LiquidationRule", "RULES", "RULE_CODE", "RULE_NAMES", "kernel_codes", "one_shot_codes",
           "pair_fast_path_codes", "rule"]
