"""The Sky/Maker vault rule (``sky_vault``), registered with :mod:`risk.rules`.

Math and kernel: :mod:`risk.sky_vaults` (dss dog.sol / clip.sol / abaci.sol, commits cited there);
plain-loop reference: ``tests/risk/sky_reference.py``.

The ``Dog``'s liquidation limits reach the kernel as the ilk market's rule parameters and as two
consumable budgets (:class:`risk.rules.ConsumableBudget`): ``hole - dirt`` per ilk and ``Hole -
Dirt`` shared by every ilk (makerdao/dss src/dog.sol @3f30552a586264b32ebdb5bac94ba67020282e53:
``Ilk {clip, chop, hole, dirt}``, ``Hole``, ``Dirt``, all DAI [rad]; ``bark`` adds its ``tab`` to
``Dirt`` and ``ilk.dirt``; only ``Clipper.take`` / ``yank`` give it back, through ``Dog.digs``).
"""

from __future__ import annotations

from typing import Any

from risk.rules import ConsumableBudget, LiquidationRule, register_rule

_UNLIMITED_RAD = 2**256 - 1
"""uint256 max: the value governance files to switch a dss limit off (the default of a book built
without a snapshot: no limit)."""

# (name with unit, meaning, default), in the kernel's column order (risk.sky_vaults.SKY_PARAMS).
_SKY_PARAMS: tuple[tuple[str, str, int], ...] = (
    ("dust_rad", "Vat.ilks(ilk).dust: the smallest debt an urn (and a partial bark) may have, DAI", 0),
    ("hole_rad", "Dog.ilks(ilk).hole: most DAI (debt + penalty) the ilk's active auctions may raise", _UNLIMITED_RAD),
    ("dirt_rad", "Dog.ilks(ilk).dirt: DAI the ilk's active auctions still have to raise at the block", 0),
    ("Hole_rad", "Dog.Hole: most DAI all active auctions may raise (every ilk of the Dog)", _UNLIMITED_RAD),
    ("Dirt_rad", "Dog.Dirt: DAI all active auctions still have to raise at the block", 0),
)


def _sky_kernel(*args: Any, **kwargs: Any) -> Any:
    from risk.sky_vaults import liquidate_vault_rows_from_book

    return liquidate_vault_rows_from_book(*args, **kwargs)


SKY_VAULT = register_rule(LiquidationRule(
    "sky_vault", "Sky/Maker: Dog.bark takes the urn (or what hole/Hole leave room for), Clipper Dutch auction; "
    "bad debt = debt - proceeds",
    kernel=_sky_kernel,
    columns=(
        ("liq_threshold", "1 / mat (the Spotter's liquidation ratio)"),
        ("liq_bonus", "collateral sold per unit of debt at the oracle price: chop / clearing ratio "
                      "(risk.sky_vaults.encode_bonus_fee)"),
        ("protocol_fee", "the penalty's share of that bonus part (chop - 1) / (bonus - 1): the Vow keeps it"),
    ),
    market_params=_SKY_PARAMS,
    budgets=(
        ConsumableBudget("ilk_room", "Dog.ilks(ilk).hole - dirt: DAI the ilk's new auctions may still raise",
                         limit="hole_rad", used="dirt_rad"),
        ConsumableBudget("dog_room", "Dog.Hole - Dirt: DAI new auctions of every ilk may still raise",
                         limit="Hole_rad", used="Dirt_rad", shared=True),
    ),
    module=__name__,
    reference="tests.risk.rule_references:sky_vault",
    label="Sky vault",
))
