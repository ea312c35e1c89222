"""The cascade grid with event-driven rounds, compiled, grid points in parallel (issue 11).

The same rounds as :func:`risk.cascade._cascade_one` (the numpy reference, ``engine="numpy"``)
and :func:`risk.cascade_pooled.cascade_one_pooled` (``engine="pooled"``); what changes is which
rows are looked at, and who does it:

- **Multi-asset rows enter when their bound is crossed.** The rows are laid out once per grid by
  the driver return ``t`` at which their margin-``eps`` lower bound turns negative
  (:class:`risk.cascade._CandidateOrder`). A grid point no longer takes a fixed slice for
  ``r0 +- margin`` (re-run whenever the realised return left it): it keeps two pointers that
  advance as the lowest / highest driver return seen so far moves, and a row enters the *active
  list* the round its bound is crossed (never before: until then it cannot be liquidatable).
- **No re-runs.** Should prices leave the margin (impacts pull an asset more than ``eps`` off its
  beta path), the bound no longer covers the rows not yet entered: they all enter the active
  list at that round (the rows no margin would have made candidates too: the layout keeps them
  last). Exact: entering early only means a health check, which finds the row healthy and
  schedules it. So every grid point runs once, with one layout (121 point runs for 121 points;
  the numpy and pooled engines re-run a point with wider margins instead).
- **Active rows are re-checked only when the price move can have reached them.** After each check
  a row is scheduled on the cumulative price path (:func:`risk.compiled_cascade.active_round`:
  its slack over its USD Lipschitz constant); rows without debt leave the list. Exact: a row is
  skipped only while it provably cannot be liquidatable, and is then checked with the rule
  kernel's own health check.
- **Pair classes** run in one compiled pass (:func:`risk.compiled_cascade.pair_round`), the slice
  sums from double-double prefix sums built once per grid (independent of the drawdown). Positions
  first reached under Aave's close factor go to the worker's close-factor store
  (:func:`risk.compiled_cascade.close_factor_round`): segments sorted by ``debt / collateral``,
  a binary search per segment and round finds the members due, each liquidated by the row
  kernel's own arithmetic (bit-identical per position); no book-row access, no re-checks.
- **No per-grid-point copies**: each worker owns one working copy of the rows' collateral and debt
  for the whole grid; a grid point writes only the rows it liquidates and puts them back after.
- **Grid points in parallel**: a thread pool over independent grid points (the compiled passes
  release the GIL). A grid point's result depends only on its drawdown and the one layout, so
  the table is the same for any number of workers, bit for bit.

Rows of rules with their own kernel (:mod:`risk.rules`) are checked every round with
:func:`risk.liquidation.liquidate_rows` (as in the pooled engine; every such row of the layout,
which includes the reference's candidates: a non-candidate is never liquidatable).

Results equal the numpy reference's (same rounds, same positions hit, in total and per market;
amounts to the last bits of sums: rows' USD added one row at a time in active-list order, slice
sums from prefixes; within 1e-11 relative in the tests).
"""

from __future__ import annotations

import os
import queue
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from risk import compiled_cascade as cc
from risk.budgets import BudgetLayout, RowBudget
from risk.book import Float64Array1D, Float64Array2D, PositionBook
from risk.cascade import _CandidateOrder, _n_markets, _Outcome, _prices
from risk.cascade_pooled import _other_rules_round
from risk.liquidation import CLOSE_FACTOR_HF_THRESHOLD, COMPOUND_V3
from risk.liquidity import LiquidityModel
from risk.pair_classes import PairClass

MAX_PASSES = 32
LAYOUT_EPS = 0.05
"""Margin of the layout's bound (prices off their beta path by at most this); past it every row enters."""
SCHEDULE_SCALE = 1.0
"""How far the schedule lets a row go unchecked, as a multiple of its proven slack: 1 (exact).
Only the tests change it, to show that a schedule skipping past a crossing is caught."""


@dataclass(frozen=True, eq=False)
class FlatClasses:
    """The pair classes as flat arrays (class ``k`` at ``[starts[k], stops[k])``) and prefix sums."""

    starts: NDArray[np.int64]
    stops: NDArray[np.int64]
    venue: NDArray[np.int64]
    coll_asset: NDArray[np.int64]
    debt_asset: NDArray[np.int64]
    liq_threshold: Float64Array1D
    liq_bonus: Float64Array1D
    protocol_fee: Float64Array1D
    one_shot: NDArray[np.bool_]
    market: NDArray[np.int64]
    q: Float64Array1D
    collateral: Float64Array1D
    debt: Float64Array1D
    flat_class: NDArray[np.int64]
    """class of each flat index"""
    coll_hi: Float64Array1D
    coll_lo: Float64Array1D
    debt_hi: Float64Array1D
    debt_lo: Float64Array1D
    partial_capacity: int

    @staticmethod
    def of(classes: list[PairClass]) -> FlatClasses:
        sizes = np.array([c.rows.size for c in classes], dtype=np.int64)
        stops = np.cumsum(sizes)
        starts = stops - sizes

        def floats(parts: list[NDArray[np.float64]]) -> NDArray[np.float64]:
            return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0, dtype=np.float64)

        collateral = floats([c.collateral for c in classes])
        debt = floats([c.debt for c in classes])
        n = collateral.size
        coll_hi, coll_lo, debt_hi, debt_lo = (np.zeros(n + 1) for _ in range(4))
        cc.dd_prefix(collateral, coll_hi, coll_lo)
        cc.dd_prefix(debt, debt_hi, debt_lo)
        return FlatClasses(
            starts=starts, stops=stops,
            venue=np.array([c.venue for c in classes], dtype=np.int64),
            coll_asset=np.array([c.collateral_asset for c in classes], dtype=np.int64),
            debt_asset=np.array([c.debt_asset for c in classes], dtype=np.int64),
            liq_threshold=np.array([c.liq_threshold for c in classes], dtype=np.float64),
            liq_bonus=np.array([c.liq_bonus for c in classes], dtype=np.float64),
            protocol_fee=np.array([c.protocol_fee for c in classes], dtype=np.float64),
            one_shot=np.array([c.one_shot_always for c in classes], dtype=np.bool_),
            market=np.array([c.market for c in classes], dtype=np.int64),
            q=floats([c.q for c in classes]), collateral=collateral, debt=debt,
            flat_class=np.repeat(np.arange(len(classes), dtype=np.int64), sizes),
            coll_hi=coll_hi, coll_lo=coll_lo, debt_hi=debt_hi, debt_lo=debt_lo,
            partial_capacity=int(sizes[~np.array([c.one_shot_always for c in classes], dtype=bool)].sum())
            if classes else 0,
        )


@dataclass(frozen=True, eq=False)
class _RowSet:
    """Rows the compiled rounds walk: read-only parameters and the pristine amounts."""

    collateral: Float64Array2D
    debt: Float64Array2D
    liq_threshold: Float64Array2D
    bound_lt: Float64Array2D
    liq_bonus: Float64Array2D
    protocol_fee: Float64Array2D
    venue: NDArray[np.int8]
    market: NDArray[np.int32]
    floored: NDArray[np.bool_]


def _bound_lt(liq_threshold: Float64Array2D, floored: NDArray[np.bool_]) -> Float64Array2D:
    """LT less 1 bp on floored rows (a lower bound of the floored average LT, as risk.cascade)."""
    return np.where(floored[:, None] & (liq_threshold > 0), liq_threshold - 1e-4, liq_threshold)


def _row_set(collateral: Float64Array2D, debt: Float64Array2D, liq_threshold: Float64Array2D,
             liq_bonus: Float64Array2D, protocol_fee: Float64Array2D, venue: NDArray[np.int8],
             market: NDArray[np.int32], floored: NDArray[np.bool_]) -> _RowSet:
    c = np.ascontiguousarray
    floored = c(floored, dtype=np.bool_)
    return _RowSet(c(collateral, dtype=np.float64), c(debt, dtype=np.float64), c(liq_threshold, dtype=np.float64),
                   c(_bound_lt(np.asarray(liq_threshold, dtype=np.float64), floored)), c(liq_bonus, dtype=np.float64),
                   c(protocol_fee, dtype=np.float64), c(venue, dtype=np.int8), c(market, dtype=np.int32), floored)


@dataclass(eq=False)
class _Work:
    """One worker's mutable state for a row set: working amounts, schedule keys, lists."""

    collateral: Float64Array2D
    debt: Float64Array2D
    key: Float64Array1D
    hit: NDArray[np.bool_]
    touched: NDArray[np.bool_]
    active: NDArray[np.int64]
    touched_rows: NDArray[np.int64]
    n_active: int = 0
    n_touched: int = 0

    @staticmethod
    def of(rows: _RowSet, capacity: int) -> _Work:
        n = rows.collateral.shape[0]
        return _Work(rows.collateral.copy(), rows.debt.copy(), np.full(n, -np.inf), np.zeros(n, dtype=bool),
                     np.zeros(n, dtype=bool), np.empty(max(capacity, 1), dtype=np.int64),
                     np.empty(max(capacity, 1), dtype=np.int64))

    def enter(self, start: int, stop: int) -> None:
        if stop > start:
            self.active[self.n_active:self.n_active + stop - start] = np.arange(start, stop)
            self.key[start:stop] = -np.inf
            self.n_active += stop - start


@dataclass(eq=False)
class _CloseFactorStore:
    """One worker's store of single-pair positions under a close factor
    (:func:`risk.compiled_cascade.close_factor_round`): room for twice the positions that can enter."""

    flat: NDArray[np.int64]
    collateral: Float64Array1D
    debt: Float64Array1D
    q: Float64Array1D
    hit: NDArray[np.bool_]
    seg_class: NDArray[np.int64]
    seg_lo: NDArray[np.int64]
    seg_hi: NDArray[np.int64]
    sizes: NDArray[np.int64]
    """[store entries, segments]"""

    @staticmethod
    def of(members: int) -> _CloseFactorStore:
        cap = 2 * members + 2
        return _CloseFactorStore(np.zeros(cap, np.int64), np.zeros(cap), np.zeros(cap), np.zeros(cap),
                                 np.zeros(cap, dtype=np.bool_), np.zeros(cap, np.int64), np.zeros(cap, np.int64),
                                 np.zeros(cap, np.int64), np.zeros(2, np.int64))


@dataclass(eq=False)
class _Worker:
    general: _Work
    store: _CloseFactorStore
    partial: NDArray[np.int64]
    checks: NDArray[np.int64] = field(default_factory=lambda: np.zeros(1, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class _Grid:
    """What every grid point shares (built once per layout; read-only while points run)."""

    book: PositionBook
    beta: Float64Array1D
    driver: int
    liquidity: LiquidityModel
    order: _CandidateOrder
    general: _RowSet
    other: NDArray[np.intp]
    rule_params: NDArray[np.float64]
    flat: FlatClasses
    max_rounds: int
    tolerance: float
    budgets: BudgetLayout | None = None


def _worker(grid: _Grid) -> _Worker:
    n_general = grid.general.collateral.shape[0]
    cap = grid.flat.partial_capacity
    return _Worker(_Work.of(grid.general, n_general), _CloseFactorStore.of(cap), np.empty(max(cap, 1), np.int64))


def _run_point(grid: _Grid, w: _Worker, x0: float) -> _Outcome:
    book, order, flat, g, store = grid.book, grid.order, grid.flat, grid.general, w.store
    spot = np.ascontiguousarray(book.prices_usd, dtype=np.float64)
    beta, driver = grid.beta, grid.driver
    n_assets = book.n_assets
    n_markets = _n_markets(book)
    n_classes = flat.starts.size
    gw = w.general
    gw.n_active = gw.n_touched = 0
    store.sizes[:] = 0
    frontier = np.full(n_classes, np.inf)
    class_repaid, class_seized = np.zeros(n_classes), np.zeros(n_classes)
    class_bad, class_count = np.zeros(n_classes), np.zeros(n_classes, dtype=np.int64)

    impact = np.zeros(n_assets)
    net_sold_usd = np.zeros(n_assets)
    seized_usd = np.zeros(n_assets)
    liquidated_m, seized_m, bad_m = np.zeros(n_markets), np.zeros(n_markets), np.zeros(n_markets)
    pair_hits_m = np.zeros(n_markets, dtype=np.int64)
    rows_seized, rows_fees, rows_repaid = np.zeros(n_assets), np.zeros(n_assets), np.zeros(n_assets)
    pair_seized, pair_fees, pair_repaid = np.zeros(n_assets), np.zeros(n_assets), np.zeros(n_assets)
    round_m = np.zeros((3, n_markets))
    rounds = 0
    prices, r_eff = _prices(spot, beta, driver, x0, impact)
    multiplier = prices / spot
    path = 0.0
    # Entry pointers: long-like rows [long_start, n_long) and short-like [n_long + n_always, short_stop).
    n_long, n_always, n_rows = order.n_long, order.n_always, g.collateral.shape[0]
    long_start, short_stop = n_long, n_long + n_always
    gw.enter(n_long, n_long + n_always)
    r_lo, r_hi = np.inf, -np.inf
    # Consumable budgets (rules with their own kernel only): fresh room per grid point, drawn in
    # book-position order (risk.budgets), over every row of the layout.
    budget = None
    if grid.budgets is not None and grid.other.size:
        positions = order.positions
        budget = RowBudget(grid.budgets.initial.copy(), grid.budgets.cells[positions],
                           np.asarray(positions, dtype=np.int64))
    while True:
        if long_start > 0 or short_stop < n_rows:
            deviation = float(np.max(np.abs(prices / spot - (1.0 + beta * r_eff))))
            if deviation > order.eps:  # the bound no longer covers the rest: they all enter now
                gw.enter(0, long_start)
                gw.enter(short_stop, n_rows)
                long_start, short_stop = 0, n_rows
        if rounds >= grid.max_rounds:
            break
        if r_eff < r_lo:
            r_lo = r_eff
            start = int(np.searchsorted(order.long_t, r_lo, side="right"))
            gw.enter(start, long_start)
            long_start = min(long_start, start)
        if r_eff > r_hi:
            r_hi = r_eff
            stop = n_long + n_always + int(np.searchsorted(order.short_t, r_hi, side="left"))
            gw.enter(short_stop, stop)
            short_stop = max(short_stop, stop)
        pair_seized[:] = 0.0
        pair_fees[:] = 0.0
        pair_repaid[:] = 0.0
        pair_count, n_partial = cc.pair_round(
            flat.starts, flat.stops, flat.venue, flat.coll_asset, flat.debt_asset, flat.liq_threshold, flat.liq_bonus,
            flat.protocol_fee, flat.one_shot, flat.q, flat.collateral, flat.debt, flat.coll_hi,
            flat.coll_lo, flat.debt_hi, flat.debt_lo, frontier, prices, COMPOUND_V3, CLOSE_FACTOR_HF_THRESHOLD,
            pair_seized, pair_fees, pair_repaid, class_repaid, class_seized, class_bad, class_count, w.partial, 0)
        price_row = prices.reshape(1, -1)
        liquidated = 0
        if store.sizes[1] or n_partial:
            liquidated += cc.close_factor_round(
                w.partial, n_partial, flat.flat_class, flat.venue, flat.coll_asset, flat.debt_asset,
                flat.liq_threshold, flat.liq_bonus, flat.protocol_fee, flat.collateral, flat.debt, store.flat,
                store.collateral, store.debt, store.q, store.hit, store.seg_class, store.seg_lo, store.seg_hi,
                store.sizes, price_row, MAX_PASSES, pair_seized, pair_fees, pair_repaid, class_repaid, class_seized,
                class_bad, class_count)
        rows_seized[:] = 0.0
        rows_fees[:] = 0.0
        rows_repaid[:] = 0.0
        round_m[:] = 0.0
        count, gw.n_active, gw.n_touched = cc.active_round(
            gw.active, gw.n_active, gw.key, path, gw.collateral, gw.debt, g.liq_threshold, g.bound_lt, g.liq_bonus,
            g.protocol_fee, g.venue, g.market, g.floored, spot, price_row, gw.hit, gw.touched, gw.touched_rows,
            gw.n_touched, MAX_PASSES, rows_seized, rows_fees, rows_repaid, round_m[0], round_m[1], round_m[2],
            w.checks, SCHEDULE_SCALE)
        liquidated += count
        if grid.other.size:
            liquidated += _other_rules_round(grid.other, gw.collateral, gw.debt, g.liq_threshold, g.liq_bonus,
                                             g.protocol_fee, g.venue, g.market, g.floored, grid.rule_params, prices,
                                             gw.hit, rows_seized, rows_fees, rows_repaid, round_m, budget)
        if not (pair_count or liquidated):
            break
        rounds += 1
        if n_classes:
            pair_hits_m += np.bincount(flat.market, weights=class_count, minlength=n_markets).astype(np.int64)
            liquidated_m += np.bincount(flat.market, weights=class_repaid, minlength=n_markets)
            seized_m += np.bincount(flat.market, weights=class_seized, minlength=n_markets)
            bad_m += np.bincount(flat.market, weights=class_bad, minlength=n_markets)
        liquidated_m += round_m[0]
        seized_m += round_m[1]
        bad_m += round_m[2]
        seized_tokens = pair_seized + rows_seized
        fee_tokens = pair_fees + rows_fees
        repaid_tokens = pair_repaid + rows_repaid
        seized_usd += seized_tokens * prices
        # Impact is driven by token quantities (valued at spot), as in risk.cascade.
        net_sold_usd += (seized_tokens - fee_tokens - repaid_tokens) * spot
        new_impact = grid.liquidity.impact(net_sold_usd)
        moved = np.max(np.abs(new_impact - impact)) > grid.tolerance
        impact = new_impact
        prices, r_eff = _prices(spot, beta, driver, x0, impact)
        new_multiplier = prices / spot
        path += float(np.max(np.abs(new_multiplier - multiplier)))
        multiplier = new_multiplier
        if not moved:
            break
    # Put every written row back (and count the hit ones per market) for the next grid point.
    hits_m = np.zeros(n_markets, dtype=np.int64)
    cc.restore_rows(gw.touched_rows, gw.n_touched, gw.collateral, gw.debt, g.collateral, g.debt, gw.touched, gw.hit,
                    g.market, hits_m)
    if grid.other.size:
        other = grid.other.astype(np.int64)
        cc.restore_rows(other, other.size, gw.collateral, gw.debt, g.collateral, g.debt, gw.touched, gw.hit,
                        g.market, hits_m)
    return _Outcome(r_eff, rounds, seized_usd, prices, liquidated_m, seized_m, bad_m, hits_m + pair_hits_m)


def _grid(book: PositionBook, beta: Float64Array1D, driver: int, liquidity: LiquidityModel, general: PositionBook,
          gap_usd: Float64Array2D, eps: float, flat: FlatClasses, max_rounds: int,
          tolerance: float, budgets: BudgetLayout | None) -> _Grid:
    order = _CandidateOrder(general, gap_usd, beta, eps=eps, keep_all=True)
    rows = _row_set(order.collateral, order.debt, order.liq_threshold, order.liq_bonus, order.protocol_fee,
                    order.venue, order.market, order.floored_avg_lt)
    other = np.flatnonzero((rows.venue < 0) | (rows.venue > cc.BUILTIN_MAX_CODE))
    return _Grid(book, beta, driver, liquidity, order, rows, other, np.asarray(order.rule_params), flat, max_rounds,
                 tolerance, budgets)


def default_workers() -> int:
    """Threads for the grid points: the machine's cores (at most 8)."""
    return max(1, min(os.cpu_count() or 1, 8))


def cascade_outcomes(
    book: PositionBook,
    beta: Float64Array1D,
    driver: int,
    grid_points: Float64Array1D,
    liquidity: LiquidityModel,
    classes: list[PairClass],
    general: PositionBook,
    gap_usd: Float64Array2D,
    max_rounds: int,
    tolerance: float,
    workers: int | None = None,
    budgets: BudgetLayout | None = None,
) -> list[_Outcome]:
    """Every grid point's outcome (in grid order), ``workers`` threads (default :func:`default_workers`).
    ``budgets``: the consumable budgets of ``general``'s rows (:func:`risk.budgets.budget_layout`)."""
    n_workers = default_workers() if workers is None else int(workers)
    if n_workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    flat = FlatClasses.of(classes)
    grid = _grid(book, beta, driver, liquidity, general, gap_usd, LAYOUT_EPS, flat, max_rounds, tolerance, budgets)
    return _map_points(grid, [float(x0) for x0 in grid_points], min(n_workers, max(grid_points.size, 1)))


def _map_points(grid: _Grid, points: list[float], n_workers: int) -> list[_Outcome]:
    if n_workers <= 1:
        w = _worker(grid)
        return [_run_point(grid, w, x0) for x0 in points]
    pool: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
    for _ in range(n_workers):
        pool.put(_worker(grid))

    def run(x0: float) -> _Outcome:
        w = pool.get()
        try:
            return _run_point(grid, w, x0)
        finally:
            pool.put(w)

    with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="liqrisk-cascade") as executor:
        return list(executor.map(run, points))


__all__ = ["FlatClasses", "cascade_outcomes", "default_workers"]
