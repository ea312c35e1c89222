"""One cascade grid point over preallocated row state, rounds run by the compiled kernel (issue 11).

The same rounds as :func:`risk.cascade._cascade_one` (the numpy reference, ``engine="numpy"``):
the pair classes in closed form, then every pooled row with HF < 1 through its rule. What
changes is the state and who walks it:

- the multi-asset candidates keep their parameter columns as views of the grid's candidate
  layout (only collateral and debt are copied, as before);
- the single-pair positions a close factor leaves partly liquidated go to a second pool
  preallocated for every such position the grid point could reach (``np.empty``: pages are
  only touched when a row is written), filled in place as they are reached: no
  ``np.concatenate`` growth, so no row is ever recopied;
- each round's health check, liquidation passes and the per-asset / per-market sums run in one
  compiled pass over each pool (:func:`risk.compiled.pool_round`), allocating nothing per round.
  Rows of rules with their own kernel (:mod:`risk.rules`) go through
  :func:`risk.liquidation.liquidate_rows` as before.

Results equal the numpy reference's to the last bits of a sum (the rows' USD are added up one
row at a time here, with ``bincount`` / ``@`` there): tested on the cascade tests' books.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from risk import compiled
from risk.budgets import BudgetLayout, RowBudget
from risk.book import Float64Array1D, PositionBook, risk_weighted_usd
from risk.cascade import _add_pair_class_sums, _CandidateOrder, _n_markets, _Outcome, _prices, _Widen
from risk.liquidation import liquidate_rows
from risk.liquidity import LiquidityModel
from risk.pair_classes import PairClass, liquidate_pair_classes
from risk.rules import RULES

_BUILTIN_MAX_CODE = compiled.COMPOUND_V3
"""Codes 0..3 are the built-in rules the compiled kernel runs (risk.rules order)."""
assert tuple(r.kernel is None for r in RULES[:_BUILTIN_MAX_CODE + 1]) == (True,) * (_BUILTIN_MAX_CODE + 1)


class _PartialPool:
    """Rows of single-pair positions first reached under a close factor, appended in place."""

    def __init__(self, book: PositionBook, capacity: int) -> None:
        n_assets = book.n_assets
        self.book = book
        self.size = 0
        self.collateral = np.empty((capacity, n_assets))
        self.debt = np.empty((capacity, n_assets))
        self.liq_threshold = np.empty((capacity, n_assets))
        self.liq_bonus = np.empty((capacity, n_assets))
        self.protocol_fee = np.empty((capacity, n_assets))
        self.venue = np.empty(capacity, dtype=np.int8)
        self.market = np.empty(capacity, dtype=np.int32)
        self.floored = np.empty(capacity, dtype=bool)
        self.hit = np.zeros(capacity, dtype=bool)

    def append(self, rows: NDArray[np.intp]) -> None:
        start, stop = self.size, self.size + rows.size
        if stop > self.collateral.shape[0]:  # cannot happen: each position is reached once per grid point
            raise AssertionError(f"partial-row pool overflow: {stop} > {self.collateral.shape[0]}")
        book = self.book
        np.take(book.collateral, rows, axis=0, out=self.collateral[start:stop])
        np.take(book.debt, rows, axis=0, out=self.debt[start:stop])
        np.take(book.liq_threshold, rows, axis=0, out=self.liq_threshold[start:stop])
        np.take(book.liq_bonus, rows, axis=0, out=self.liq_bonus[start:stop])
        np.take(book.protocol_fee, rows, axis=0, out=self.protocol_fee[start:stop])
        np.take(book.venue, rows, out=self.venue[start:stop])
        np.take(book.market, rows, out=self.market[start:stop])
        np.take(book.floored_avg_lt, rows, out=self.floored[start:stop])
        self.size = stop


def partial_capacity(classes: list[PairClass]) -> int:
    """Upper bound on the rows a grid point's pair classes can hand to the kernel (each at most once)."""
    return int(sum(c.rows.size for c in classes if not c.one_shot_always))


def cascade_one_pooled(
    book: PositionBook,
    beta: Float64Array1D,
    driver: int,
    x0: float,
    liquidity: LiquidityModel,
    order: _CandidateOrder,
    classes: list[PairClass],
    r_margin: float,
    max_rounds: int,
    tolerance: float,
    capacity: int,
    budgets: BudgetLayout | None = None,
) -> _Outcome | _Widen:
    """:func:`risk.cascade._cascade_one` over preallocated pools and the compiled round kernel.

    ``budgets``: the rules' consumable budgets, drawn from through this grid point's rounds as there
    (only rules with their own kernel declare budgets, so only the ``other`` candidates draw)."""
    spot = book.prices_usd
    n_assets = book.n_assets
    r0 = -x0
    rows = order.candidates(r0 - r_margin, r0 + r_margin)
    collateral = order.collateral[rows].copy()
    debt = order.debt[rows].copy()
    liq_threshold = order.liq_threshold[rows]
    liq_bonus = order.liq_bonus[rows]
    protocol_fee = order.protocol_fee[rows]
    venue = order.venue[rows]
    market = order.market[rows]
    floored = order.floored_avg_lt[rows]
    rule_params = order.rule_params[rows]  # (n_candidates, k) market parameters, for rules that declare any
    hit = np.zeros(collateral.shape[0], dtype=bool)
    # Candidates of rules with their own kernel: checked and dispatched as in the numpy cascade.
    other = np.flatnonzero((venue < 0) | (venue > _BUILTIN_MAX_CODE))
    budget = None
    if budgets is not None:
        positions = order.positions[rows]
        budget = RowBudget(budgets.initial.copy(), budgets.cells[positions], np.asarray(positions, dtype=np.int64))
    pool = _PartialPool(book, capacity)
    frontier = np.full(len(classes), np.inf)
    n_markets = _n_markets(book)
    class_market = np.array([c.market for c in classes], dtype=np.int64)

    impact = np.zeros(n_assets)
    net_sold_usd = np.zeros(n_assets)
    seized_usd = np.zeros(n_assets)
    liquidated_m = np.zeros(n_markets)
    seized_m = np.zeros(n_markets)
    bad_m = np.zeros(n_markets)
    pair_hits_m = np.zeros(n_markets, dtype=np.int64)
    rows_seized, rows_fees, rows_repaid = np.zeros(n_assets), np.zeros(n_assets), np.zeros(n_assets)
    round_m = np.zeros((3, n_markets))
    rounds = 0
    prices, r_eff = _prices(spot, beta, driver, x0, impact)
    while True:
        deviation = float(np.max(np.abs(prices / spot - (1.0 + beta * r_eff))))
        if deviation > order.eps or abs(r_eff - r0) > r_margin:
            return _Widen(deviation, abs(r_eff - r0))
        if rounds >= max_rounds:
            break
        pairs = liquidate_pair_classes(classes, frontier, prices, n_assets)
        if pairs.partial_rows.size:
            pool.append(pairs.partial_rows)
        rows_seized[:] = 0.0
        rows_fees[:] = 0.0
        rows_repaid[:] = 0.0
        round_m[:] = 0.0
        liquidated = compiled.pool_round(collateral.shape[0], collateral, debt, liq_threshold, liq_bonus, protocol_fee,
                                         venue, market, floored, prices, hit, 32, rows_seized, rows_fees, rows_repaid,
                                         round_m[0], round_m[1], round_m[2])
        liquidated += compiled.pool_round(pool.size, pool.collateral, pool.debt, pool.liq_threshold, pool.liq_bonus,
                                          pool.protocol_fee, pool.venue, pool.market, pool.floored, prices, pool.hit,
                                          32, rows_seized, rows_fees, rows_repaid, round_m[0], round_m[1], round_m[2])
        if other.size:
            liquidated += _other_rules_round(other, collateral, debt, liq_threshold, liq_bonus, protocol_fee, venue,
                                             market, floored, rule_params, prices, hit, rows_seized, rows_fees,
                                             rows_repaid, round_m, budget)
        if not (pairs.positions or liquidated):
            break
        rounds += 1
        if classes:
            _add_pair_class_sums(pairs, class_market, pair_hits_m, liquidated_m, seized_m, bad_m)
        liquidated_m += round_m[0]
        seized_m += round_m[1]
        bad_m += round_m[2]
        seized_tokens = pairs.seized_tokens + rows_seized
        fee_tokens = pairs.fee_tokens + rows_fees
        repaid_tokens = pairs.repaid_tokens + rows_repaid
        seized_usd += seized_tokens * prices
        # Impact is driven by token quantities (valued at spot), as in risk.cascade.
        net_sold_usd += (seized_tokens - fee_tokens - repaid_tokens) * spot
        new_impact = liquidity.impact(net_sold_usd)
        moved = np.max(np.abs(new_impact - impact)) > tolerance
        impact = new_impact
        prices, r_eff = _prices(spot, beta, driver, x0, impact)
        if not moved:
            deviation = float(np.max(np.abs(prices / spot - (1.0 + beta * r_eff))))
            if deviation > order.eps or abs(r_eff - r0) > r_margin:
                return _Widen(deviation, abs(r_eff - r0))
            break
    hit_m = (np.bincount(market[hit], minlength=n_markets).astype(np.int64)
             + np.bincount(pool.market[:pool.size][pool.hit[:pool.size]], minlength=n_markets).astype(np.int64)
             + pair_hits_m)
    return _Outcome(r_eff, rounds, seized_usd, prices, liquidated_m, seized_m, bad_m, hit_m)


def _other_rules_round(other: NDArray[np.intp], collateral: NDArray[np.float64], debt: NDArray[np.float64],
                       liq_threshold: NDArray[np.float64], liq_bonus: NDArray[np.float64],
                       protocol_fee: NDArray[np.float64], venue: NDArray[np.int8], market: NDArray[np.int32],
                       floored: NDArray[np.bool_], rule_params: NDArray[np.float64], prices: Float64Array1D,
                       hit: NDArray[np.bool_],
                       rows_seized: Float64Array1D, rows_fees: Float64Array1D, rows_repaid: Float64Array1D,
                       round_m: NDArray[np.float64], budget: RowBudget | None = None) -> int:
    """Candidates of rules with their own kernel: the numpy cascade's check and call, on them only.
    Returns how many rows were liquidated (rows at risk a budget left alone do not count)."""
    coll, owed_tokens = collateral[other], debt[other]
    owed = owed_tokens @ prices
    at_risk = (owed > 1e-6) & (risk_weighted_usd(coll, liq_threshold[other], prices, floored[other]) < owed)
    if not at_risk.any():
        return 0
    risky = other[at_risk]
    sub_coll, sub_debt = collateral[risky], debt[risky]
    out = liquidate_rows(sub_coll, sub_debt, liq_threshold[risky], liq_bonus[risky], protocol_fee[risky], venue[risky],
                         prices, floored_avg_lt=floored[risky], rule_params=rule_params[risky],
                         budget=None if budget is None else budget.select(risky))
    collateral[risky], debt[risky] = sub_coll, sub_debt
    hit[risky] |= out.hit
    rows_seized += out.seized_tokens.sum(axis=0)
    rows_fees += out.protocol_fee_tokens.sum(axis=0)
    rows_repaid += out.repaid_tokens.sum(axis=0)
    n_markets = round_m.shape[1]
    risky_market = market[risky]
    round_m[0] += np.bincount(risky_market, weights=out.repaid_tokens @ prices, minlength=n_markets)
    round_m[1] += np.bincount(risky_market, weights=out.seized_tokens @ prices, minlength=n_markets)
    round_m[2] += np.bincount(risky_market, weights=out.bad_debt_usd, minlength=n_markets)
    return int(out.hit.sum())


__all__ = ["cascade_one_pooled", "partial_capacity"]
