"""Venue liquidation rules as a vectorized kernel over rows of a book.

One call liquidates, at fixed prices, every row whose HF < 1, the way a liquidator would on each
venue, repeating on rows that stay liquidatable (a partially liquidated position is liquidated
again while HF < 1), and reports what was repaid, seized and left as bad debt.

The liquidator's choice (not fixed by the protocols) is modelled as: repay the largest debt
reserve, seize the largest seizable collateral reserve (both by USD value).

Rules per venue (see :data:`risk.snapshot.Venue`):

- ``aave_v30``: repay up to 50% of that debt reserve while HF > 0.95, 100% at or below.
- ``aave_v33``: the whole reserve debt, except 50% of the *total* debt when HF > 0.95 and both the
  collateral and the debt reserve are worth >= $2,000. The dust rule (v3.3+ ``MustNotLeaveDust``):
  a liquidation that repays only part of the debt reserve and seizes only part of the collateral
  reserve must leave >= $1,000 of **both**. The Pool does not shrink such a call, it reverts; what
  a liquidator can actually do is pass the largest ``debtToCover`` it accepts, and that is what
  is modelled: the repay shrinks to leave exactly $1,000 of the debt reserve
  (``debt - 1000``) and of the seized collateral reserve (``(collateral - 1000) / bonus``,
  the seized amount including the protocol fee, as v3.5+ counts it), whichever is smaller.
  (This only happens under the 50% cap: a whole-reserve repay or a seizure of the whole
  collateral reserve is never checked.) :func:`risk.exact.aave_largest_accepted_liquidation` is
  the integer version, tested against the genuine v3.6 Pool.
- ``morpho_blue``: the whole debt (no close factor).
- ``compound_v3``: ``absorb`` takes all collateral and clears all debt; the borrower is credited
  ``value / bonus`` (bonus = 1 / liquidationFactor) and any shortfall is bad debt.

All venues: seized collateral = repaid value x bonus, capped at the collateral held (then the
repay shrinks to ``collateral value / bonus``); the protocol fee is ``fee x bonus part`` of the
seized amount. When no seizable collateral is left and debt remains, that debt is bad debt: it is
written off here (Aave v3.3 deficit, Morpho socialisation, Comet reserves; on Aave v3.0 it would
stay on the book unliquidatable — counted once as bad debt all the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from risk.book import VENUE_CODE, risk_weighted_usd
from risk.rules import kernel_codes, rule

if TYPE_CHECKING:  # pragma: no cover
    from risk.budgets import RowBudget

AAVE_V30 = VENUE_CODE["aave_v30"]
AAVE_V33 = VENUE_CODE["aave_v33"]
MORPHO_BLUE = VENUE_CODE["morpho_blue"]
COMPOUND_V3 = VENUE_CODE["compound_v3"]

CLOSE_FACTOR_HF_THRESHOLD = 0.95
DEFAULT_CLOSE_FACTOR = 0.5
AAVE_V33_MIN_BASE_FOR_CLOSE_FACTOR_USD = 2_000.0
AAVE_V33_MIN_LEFTOVER_USD = 1_000.0
_DUST_USD = 1e-6
"""Residual debt or collateral below a millionth of a dollar counts as zero (float noise)."""


@dataclass(frozen=True, eq=False)
class RowsOutcome:
    """What one :func:`liquidate_rows` call did, per row.

    seized_tokens, protocol_fee_tokens, repaid_tokens : shape (n_rows, n_assets), tokens
        (seized includes the protocol fee; repaid excludes bad debt)
    bad_debt_usd : shape (n_rows,), USD at the prices of the call
    hit : shape (n_rows,), bool, liquidated at least once
    passes : number of liquidation passes run
    """

    seized_tokens: NDArray[np.float64]
    protocol_fee_tokens: NDArray[np.float64]
    repaid_tokens: NDArray[np.float64]
    bad_debt_usd: NDArray[np.float64]
    hit: NDArray[np.bool_]
    passes: int


def liquidatable(
    collateral: NDArray[np.float64],
    debt: NDArray[np.float64],
    liq_threshold: NDArray[np.float64],
    prices_usd: NDArray[np.float64],
    floored_avg_lt: NDArray[np.bool_] | None = None,
) -> NDArray[np.bool_]:
    """HF < 1 per row, HF as the venue computes it (``floored_avg_lt``: Aave v3.0-v3.4 rows, see
    :func:`risk.book.risk_weighted_usd`); prices shape (n_assets,) or (n_rows, n_assets)."""
    weighted = risk_weighted_usd(collateral, liq_threshold, prices_usd, floored_avg_lt)
    owed = np.einsum("ij,ij->i", debt, np.broadcast_to(prices_usd, debt.shape))
    below: NDArray[np.bool_] = (owed > _DUST_USD) & (weighted < owed)
    return below


def liquidate_rows(
    collateral: NDArray[np.float64],
    debt: NDArray[np.float64],
    liq_threshold: NDArray[np.float64],
    liq_bonus: NDArray[np.float64],
    protocol_fee: NDArray[np.float64],
    venue: NDArray[np.int8],
    prices_usd: NDArray[np.float64],
    *,
    max_passes: int = 32,
    floored_avg_lt: NDArray[np.bool_] | None = None,
    engine: Literal["compiled", "numpy"] = "compiled",
    rule_params: NDArray[np.float64] | None = None,
    budget: RowBudget | None = None,
) -> RowsOutcome:
    """Liquidate every row with HF < 1 at ``prices_usd``, in place.

    ``budget``: the rows' consumable budgets (:class:`risk.budgets.RowBudget`, one row per row
    here), drawn from in place by the kernels of rules that declare budgets; ``None``: unlimited.

    ``rule_params`` (n_rows, k): the rows' market parameters (``PositionBook.rule_params``), handed
    to the kernels of rules that declare some; ``None``: those rules' defaults.

    ``collateral`` and ``debt`` (shape (n_rows, n_assets), tokens) are updated in place; pass
    copies to keep the originals. ``prices_usd`` has shape (n_assets,) or (n_rows, n_assets).
    ``floored_avg_lt`` (shape (n_rows,), bool; default all False) marks the rows whose HF floors
    the average LT to bps (Aave v3.0-v3.4): it decides who is liquidatable, the 0.95 close-factor
    threshold and when a row is done, as on chain.
    ``engine``: ``"compiled"`` (default) runs the built-in rules' passes in the numba kernel of
    :mod:`risk.compiled`; ``"numpy"`` in the vectorized passes below (the readable reference;
    the two agree to the last bits of a row sum, see :mod:`risk.compiled`).
    """
    n_rows, n_assets = collateral.shape
    prices_usd = np.asarray(prices_usd, dtype=np.float64)
    shared_prices = prices_usd.ndim == 1  # one price vector for every row: no per-row gathers
    prices = np.broadcast_to(prices_usd, collateral.shape)
    seized = np.zeros((n_rows, n_assets))
    fees = np.zeros((n_rows, n_assets))
    repaid = np.zeros((n_rows, n_assets))
    bad_debt = np.zeros(n_rows)
    hit = np.zeros(n_rows, dtype=bool)
    seizable = liq_threshold > 0

    floored = np.zeros(n_rows, dtype=bool) if floored_avg_lt is None else np.asarray(floored_avg_lt, dtype=bool)
    if engine not in ("compiled", "numpy"):
        raise ValueError(f"unknown liquidation engine {engine!r}; use 'compiled' or 'numpy'")
    if engine == "compiled":
        from risk import compiled

        # One sweep checks and liquidates the built-in rules' rows (see compiled._scan_and_liquidate);
        # the liquidatable rows of other rules come back for their kernels, as below.
        passes, deferred = compiled.scan_and_liquidate(collateral, debt, liq_threshold, liq_bonus, protocol_fee,
                                                       venue, prices_usd, floored, seized, fees, repaid, bad_debt,
                                                       hit, max_passes)
        rest = _run_registered_kernels(deferred, collateral, debt, liq_threshold, liq_bonus, protocol_fee, venue,
                                       prices_usd, shared_prices, seized, fees, repaid, bad_debt, hit, rule_params,
                                       budget)
        if rest.size:  # rules without a kernel of their own: the built-in passes (whole debt)
            passes = max(passes, compiled.liquidate_rows_in_place(rest, collateral, debt, liq_threshold, liq_bonus,
                                                                  protocol_fee, venue, prices_usd, floored, seized,
                                                                  fees, repaid, bad_debt, hit, max_passes))
        return RowsOutcome(seized, fees, repaid, bad_debt, hit, passes)
    rows = np.flatnonzero(liquidatable(collateral, debt, liq_threshold, prices, floored))
    rows = _run_registered_kernels(rows, collateral, debt, liq_threshold, liq_bonus, protocol_fee, venue, prices_usd,
                                   shared_prices, seized, fees, repaid, bad_debt, hit, rule_params, budget)
    passes = 0
    while rows.size and passes < max_passes:
        passes += 1
        hit[rows] = True
        every_row = rows.size == n_rows  # typical first pass: views instead of gathers
        p = prices_usd[None, :] if shared_prices else prices[rows]
        coll = collateral if every_row else collateral[rows]
        owed = debt if every_row else debt[rows]
        lt_rows = liq_threshold if every_row else liq_threshold[rows]
        collateral_usd = np.where(lt_rows > 0, coll * p, 0.0)
        debt_usd = owed * p
        total_debt_usd = debt_usd.sum(axis=1)
        health = risk_weighted_usd(coll, lt_rows, p, floored if every_row else floored[rows]) / total_debt_usd
        kind = venue if every_row else venue[rows]

        absorb = kind == COMPOUND_V3
        if absorb.any():
            a_rows = rows[absorb]
            credit_usd = (collateral_usd[absorb] / liq_bonus[a_rows]).sum(axis=1)
            shortfall = np.maximum(total_debt_usd[absorb] - credit_usd, 0.0)
            # Share of the debt the credit covers, as credit / debt (not 1 - shortfall / debt,
            # which cancels to noise on a deeply insolvent account).
            owed_absorbed = total_debt_usd[absorb]
            cover = np.where(owed_absorbed > 0, np.minimum(credit_usd, owed_absorbed) / np.where(owed_absorbed > 0, owed_absorbed, 1.0), 0.0)
            seized[a_rows] += coll[absorb] * seizable[a_rows]
            repaid[a_rows] += owed[absorb] * cover[:, None]
            bad_debt[a_rows] += shortfall
            collateral[a_rows] = np.where(seizable[a_rows], 0.0, collateral[a_rows])
            debt[a_rows] = 0.0

        keep = ~absorb
        if keep.any():
            r = rows[keep]
            c_usd, d_usd = collateral_usd[keep], debt_usd[keep]
            k = np.arange(r.size)
            c = np.argmax(c_usd, axis=1)
            j = np.argmax(d_usd, axis=1)
            coll_c_usd = c_usd[k, c]
            debt_j_usd = d_usd[k, j]
            hf = health[keep]
            kinds = kind[keep]
            max_repay = debt_j_usd.copy()
            v30 = kinds == AAVE_V30
            max_repay[v30] *= np.where(hf[v30] > CLOSE_FACTOR_HF_THRESHOLD, DEFAULT_CLOSE_FACTOR, 1.0)
            v33 = kinds == AAVE_V33
            if v33.any():
                capped = (
                    (hf > CLOSE_FACTOR_HF_THRESHOLD)
                    & (coll_c_usd >= AAVE_V33_MIN_BASE_FOR_CLOSE_FACTOR_USD)
                    & (debt_j_usd >= AAVE_V33_MIN_BASE_FOR_CLOSE_FACTOR_USD)
                    & v33
                )
                half_total = DEFAULT_CLOSE_FACTOR * total_debt_usd[keep]
                cap = np.where(capped, np.minimum(debt_j_usd, half_total), debt_j_usd)
                leftover = debt_j_usd - cap
                dusty = capped & (leftover > 0) & (leftover < AAVE_V33_MIN_LEFTOVER_USD)
                cap = np.where(dusty, debt_j_usd - AAVE_V33_MIN_LEFTOVER_USD, cap)
                # Collateral side: a partial seizure must leave >= $1,000 of the seized reserve.
                bonus_c = liq_bonus[r, c]
                partial = capped & (cap < debt_j_usd) & (cap * bonus_c < coll_c_usd)
                dusty_c = partial & (coll_c_usd - cap * bonus_c < AAVE_V33_MIN_LEFTOVER_USD)
                cap = np.where(dusty_c, np.minimum(cap, (coll_c_usd - AAVE_V33_MIN_LEFTOVER_USD) / bonus_c), cap)
                max_repay = np.where(v33, cap, max_repay)
            bonus = liq_bonus[r, c]
            seize_usd = max_repay * bonus
            short = seize_usd > coll_c_usd
            seize_usd = np.where(short, coll_c_usd, seize_usd)
            repay_usd = np.where(short, coll_c_usd / bonus, max_repay)
            fee_usd = (seize_usd - seize_usd / bonus) * protocol_fee[r, c]
            p_c = prices_usd[c] if shared_prices else p[keep][k, c]
            p_j = prices_usd[j] if shared_prices else p[keep][k, j]
            seize_tokens = np.where(short, collateral[r, c], seize_usd / p_c)
            repay_tokens = repay_usd / p_j
            seized[r, c] += seize_tokens
            fees[r, c] += fee_usd / p_c
            repaid[r, j] += repay_tokens
            collateral[r, c] = np.maximum(collateral[r, c] - seize_tokens, 0.0)
            debt[r, j] = np.maximum(debt[r, j] - repay_tokens, 0.0)

        # Dust and bad debt: no seizable collateral left while debt remains.
        coll = collateral[rows]
        owed_usd = debt[rows] * p
        lt_rows = liq_threshold[rows]
        left_collateral_usd = np.where(lt_rows > 0, coll * p, 0.0).sum(axis=1)
        owed_usd[owed_usd < _DUST_USD] = 0.0
        left_debt_usd = owed_usd.sum(axis=1)
        stranded = (left_collateral_usd <= _DUST_USD) & (left_debt_usd > _DUST_USD)
        bad_debt[rows[stranded]] += left_debt_usd[stranded]
        owed_usd[stranded] = 0.0
        left_debt_usd[stranded] = 0.0
        debt[rows] = np.where(owed_usd > 0, debt[rows], 0.0)
        weighted_usd = risk_weighted_usd(coll, lt_rows, p, floored[rows])
        rows = rows[(left_debt_usd > _DUST_USD) & (weighted_usd < left_debt_usd)]
    return RowsOutcome(seized, fees, repaid, bad_debt, hit, passes)


def _run_registered_kernels(rows: NDArray[np.intp], collateral: NDArray[np.float64], debt: NDArray[np.float64],
                            liq_threshold: NDArray[np.float64], liq_bonus: NDArray[np.float64],
                            protocol_fee: NDArray[np.float64], venue: NDArray[np.int8], prices_usd: NDArray[np.float64],
                            shared_prices: bool, seized: NDArray[np.float64], fees: NDArray[np.float64],
                            repaid: NDArray[np.float64], bad_debt: NDArray[np.float64],
                            hit: NDArray[np.bool_], rule_params: NDArray[np.float64] | None = None,
                            budget: RowBudget | None = None) -> NDArray[np.intp]:
    """Rows of rules with their own kernel (:mod:`risk.rules`, e.g. ``sky_vault``) go through it
    (one-shot: a vault is barked whole); the rest are returned for the built-in passes below."""
    codes = kernel_codes()
    if not rows.size or not codes:
        return rows
    kinds = venue[rows]
    unknown = kinds >= len(VENUE_CODE)
    if unknown.any():
        rule(int(kinds[unknown][0]))  # raises: an unknown rule is an error, never a default
    for code in codes:
        sel = rows[kinds == code]
        if not sel.size:
            continue
        coll, owed = collateral[sel].copy(), debt[sel].copy()
        p = prices_usd if shared_prices else prices_usd[sel]
        kernel = rule(code).kernel
        assert kernel is not None  # kernel_codes() lists only rules that have one
        declared = len(rule(code).market_params)
        extra: dict[str, Any] = {}
        if declared:  # the rule's market parameters, per row (its defaults when none were given)
            from risk.rules import default_market_params

            extra["rule_params"] = (np.asarray(rule_params)[sel, :declared] if rule_params is not None
                                    else np.tile(default_market_params(code)[:declared], (sel.size, 1)))
        if budget is not None and rule(code).budgets:  # the budgets it draws from, consumed in place
            extra["budget"] = budget.select(sel)
        s_tok, f_tok, r_tok, bad, was_hit = kernel(coll, owed, liq_threshold[sel], liq_bonus[sel],
                                                   protocol_fee[sel], p, **extra)
        collateral[sel], debt[sel] = coll, owed
        seized[sel] += s_tok
        fees[sel] += f_tok
        repaid[sel] += r_tok
        bad_debt[sel] += bad
        hit[sel] |= was_hit
    return rows[~np.isin(kinds, codes)]
