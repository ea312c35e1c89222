"""Plain-loop references of the registered liquidation rules, in the conformance suite's one
signature (``tests/risk/test_conformance.py``): one position, Python lists, mutating ``coll`` and
``debt``, returning ``(seized[], fee[], repaid[], bad_debt_usd, hit)``.

They adapt the loops written from the protocols (``tests/risk/reference.py``,
``tests/risk/sky_reference.py``); a new rule names its own in ``LiquidationRule.reference``.
"""

from __future__ import annotations

from tests.risk import reference as ref
from tests.risk.sky_reference import liquidate_vault_loop


def _builtin(venue: int):
    def liquidate(coll, debt, lt, bonus, fee, prices):
        return ref.liquidate_position(coll, debt, lt, bonus, fee, venue, prices)

    return liquidate


aave_v30 = _builtin(ref.VENUE_AAVE_V30)
aave_v33 = _builtin(ref.VENUE_AAVE_V33)
morpho_blue = _builtin(ref.VENUE_MORPHO)
compound_v3 = _builtin(ref.VENUE_COMET)


def sky_vault(coll, debt, lt, bonus, fee, prices):
    """The vault loop, with chop and the clearing ratio decoded from the bonus/fee columns as the
    book carries them (``chop = 1 + fee (bonus - 1)``, ``ratio = chop / bonus``) for the collateral
    the kernel sells (the largest by value)."""
    n = len(prices)
    values = [coll[k] * prices[k] if lt[k] > 0 else 0.0 for k in range(n)]
    c = max(range(n), key=lambda k: (values[k], -k))
    chop = [1.0 + fee[k] * (bonus[k] - 1.0) for k in range(n)]
    ratio = chop[c] / bonus[c]
    row = liquidate_vault_loop([list(coll)], [list(debt)], [list(lt)], [chop], list(prices), [ratio])[0]
    if row["hit"]:
        coll[c] = 0.0
        for k in range(n):
            debt[k] = 0.0
    return row["sold"], row["penalty"], row["repaid"], row["bad"], row["hit"]
