"""Liquidation cascade per initial driver drawdown.

For each initial driver move ``x0`` (0.2 = driver down 20%; negative = a rally), prices jump to
``spot * (1 + beta * r)`` with ``r = -x0``; every position with HF < 1 is liquidated by its
venue's rule (:mod:`risk.liquidation`); liquidators sell the seized collateral and buy the
repaid debt asset; the *cumulative* net amount sold per asset (tokens valued at spot, so the
same tokens dumped at a lower price move the market as much) goes through the liquidity model and
moves prices further, round after round, until no position is liquidatable (a fixed point).

Price of asset k after impacts ``I`` (fractions, :mod:`risk.liquidity`):

    r_eff   = (1 - x0) * (1 - I_driver) - 1          (the driver's own impact feeds the driver)
    p_k     = spot_k * (1 + beta_k * r_eff) * (1 - I_k)   for k != driver
    p_driver = spot_driver * (1 + r_eff)

so selling WETH drags beta-linked assets (wstETH) down with it, while selling wstETH only moves
wstETH (a depeg). With zero impact the cascade is exactly the direct liquidations (one round).

Speed: positions with one collateral and one debt asset are liquidated in closed form, a whole
class at a time (:mod:`risk.pair_classes`, prefix sums over debt/collateral); Aave ones first
reached above HF 0.95 (a close factor applies) join the other positions in the row kernel.
For those rows, only *candidates* are touched. With ``G = (coll*LT - debt) * spot`` (USD),
a position is liquidatable iff ``G . m < 0`` for the multipliers ``m``; writing
``m = (1 + beta r) + e`` gives ``G.m >= a + r b - |G|_1 |e|_inf`` with ``a = G.1, b = G.beta``.
Positions are laid out once by the driver return at which that lower bound turns negative for
a margin ``eps``, so a grid point's candidates are one contiguous slice; a grid point is re-run
with a wider margin if the realised impacts ever leave it, so the shortcut never changes the
result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from risk.budgets import BudgetLayout, RowBudget, budget_layout
from risk.book import BPS, Float64Array1D, Float64Array2D, PositionBook, as_asset_vector, risk_weighted_usd
from risk.liquidation import RowsOutcome, liquidate_rows
from risk.liquidity import LiquidityModel, NoImpact
from risk.pair_classes import PairClass, PairRound, liquidate_pair_classes, split_pair_classes


@dataclass(frozen=True, eq=False)
class CascadeTable:
    """Cascade outcome per initial driver drawdown (one row per grid point).

    All arrays have shape (n_grid,) unless stated; USD valued at the prices where each
    liquidation happened.

    initial_drawdown, final_drawdown : fraction of the driver's spot price (0.2 = -20%)
    amplification : final / initial drawdown (NaN at 0)
    rounds : rounds in which something was liquidated
    liquidated_debt_usd : debt repaid by liquidators
    seized_collateral_usd : shape (n_grid, n_assets), collateral seized (protocol fee included)
    bad_debt_usd : debt left without collateral
    positions_hit : positions liquidated at least once
    final_prices_usd : shape (n_grid, n_assets)
    market_ids, market_rules : the book's markets (``PositionBook.market_ids``) and each one's
        liquidation rule (venue name; ``""`` for a market without positions)
    liquidated_debt_by_market_usd, seized_by_market_usd, bad_debt_by_market_usd : shape
        (n_grid, n_markets), the same amounts per market; ``liquidated_debt_usd`` and
        ``bad_debt_usd`` are their row sums (so the parts add up to the totals exactly)
    positions_hit_by_market : shape (n_grid, n_markets), int
    """

    driver: str
    symbols: tuple[str, ...]
    betas: Float64Array1D
    initial_drawdown: Float64Array1D
    final_drawdown: Float64Array1D
    amplification: Float64Array1D
    rounds: NDArray[np.int64]
    liquidated_debt_usd: Float64Array1D
    seized_collateral_usd: Float64Array2D
    bad_debt_usd: Float64Array1D
    positions_hit: NDArray[np.int64]
    final_prices_usd: Float64Array2D
    market_ids: tuple[str, ...] = ()
    market_rules: tuple[str, ...] = ()
    liquidated_debt_by_market_usd: Float64Array2D = field(default_factory=lambda: np.zeros((0, 0)))
    seized_by_market_usd: Float64Array2D = field(default_factory=lambda: np.zeros((0, 0)))
    bad_debt_by_market_usd: Float64Array2D = field(default_factory=lambda: np.zeros((0, 0)))
    positions_hit_by_market: NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))

    def __len__(self) -> int:
        return self.initial_drawdown.size

    def at(self, drawdown: float) -> dict[str, float]:
        """The row nearest to ``drawdown`` as plain numbers."""
        i = int(np.argmin(np.abs(self.initial_drawdown - drawdown)))
        return {
            "initial_drawdown": float(self.initial_drawdown[i]),
            "final_drawdown": float(self.final_drawdown[i]),
            "amplification": float(self.amplification[i]),
            "rounds": int(self.rounds[i]),
            "liquidated_debt_usd": float(self.liquidated_debt_usd[i]),
            "seized_collateral_usd": float(self.seized_collateral_usd[i].sum()),
            "bad_debt_usd": float(self.bad_debt_usd[i]),
            "positions_hit": int(self.positions_hit[i]),
        }

    def to_frame(self) -> dict[str, NDArray[Any]]:
        """Columns as a dict of 1-D arrays (``pandas.DataFrame(table.to_frame())`` works)."""
        frame: dict[str, NDArray[Any]] = {
            "initial_drawdown": self.initial_drawdown,
            "final_drawdown": self.final_drawdown,
            "amplification": self.amplification,
            "rounds": self.rounds,
            "liquidated_debt_usd": self.liquidated_debt_usd,
            "seized_collateral_usd": self.seized_collateral_usd.sum(axis=1),
            "bad_debt_usd": self.bad_debt_usd,
            "positions_hit": self.positions_hit,
        }
        for j, symbol in enumerate(self.symbols):
            frame[f"seized_{symbol}_usd"] = self.seized_collateral_usd[:, j]
        for m, market in enumerate(self.market_ids):
            if self.positions_hit_by_market.shape[1] == len(self.market_ids):
                frame[f"liquidated_debt_{market}_usd"] = self.liquidated_debt_by_market_usd[:, m]
                frame[f"bad_debt_{market}_usd"] = self.bad_debt_by_market_usd[:, m]
        return frame

    def by_market_frame(self) -> dict[str, NDArray[Any]]:
        """Long form, one row per (drawdown, market): ``initial_drawdown``, ``market_id``, ``rule``,
        ``liquidated_debt_usd``, ``seized_collateral_usd``, ``bad_debt_usd``, ``positions_hit``."""
        n_grid, n_markets = len(self), len(self.market_ids)
        return {
            "initial_drawdown": np.repeat(self.initial_drawdown, n_markets),
            "market_id": np.tile(np.array(self.market_ids, dtype=np.str_), n_grid),
            "rule": np.tile(np.array(self.market_rules, dtype=np.str_), n_grid),
            "liquidated_debt_usd": self.liquidated_debt_by_market_usd.ravel(),
            "seized_collateral_usd": self.seized_by_market_usd.ravel(),
            "bad_debt_usd": self.bad_debt_by_market_usd.ravel(),
            "positions_hit": self.positions_hit_by_market.ravel(),
        }

    def by_market_pandas(self) -> Any:
        """:meth:`by_market_frame` as a ``pandas.DataFrame`` (needs the ``liqrisk[frames]`` extra)."""
        from risk.frames import to_pandas

        return to_pandas(self.by_market_frame())

    def to_pandas(self) -> Any:
        """:meth:`to_frame` as a ``pandas.DataFrame`` (needs the ``liqrisk[frames]`` extra)."""
        from risk.frames import to_pandas

        return to_pandas(self.to_frame())

    def to_json(self) -> str:
        """Rows as JSON objects; undefined numbers (the amplification at 0%) become ``null``."""
        from risk.frames import json_safe

        frame = self.to_frame()
        rows = [{k: col[i] for k, col in frame.items()} for i in range(len(self))]
        return json.dumps(
            json_safe({"driver": self.driver, "betas": dict(zip(self.symbols, self.betas.tolist())), "rows": rows}),
            allow_nan=False,
        )


@dataclass(frozen=True, eq=False)
class _Outcome:
    final_return: float
    rounds: int
    seized_usd: Float64Array1D
    final_prices: Float64Array1D
    liquidated_by_market_usd: Float64Array1D
    seized_by_market_usd: Float64Array1D
    bad_debt_by_market_usd: Float64Array1D
    hit_by_market: NDArray[np.int64]


class _CandidateOrder:
    """The book's rows laid out so that every grid point's candidates are one contiguous slice.

    Layout: [long-like rows by ascending t | rows that are always candidates | short-like rows
    by ascending t], where t is the driver return at which the margin-``eps`` lower bound
    ``a + r b - |G|_1 eps`` turns negative. Long-like rows (b > 0) are candidates when
    ``r_lo < t`` (a suffix of their segment), short-like rows (b < 0) when ``r_hi > t`` (a
    prefix of theirs); rows whose bound can never turn negative are left out, or with
    ``keep_all`` laid out last (``n_never`` of them; never a candidate): the event-driven engine
    (:mod:`risk.cascade_events`) enters every row once prices leave the margin.
    """

    def __init__(self, book: PositionBook, gap_usd: Float64Array2D, betas: Float64Array1D, eps: float,
                 keep_all: bool = False) -> None:
        self.eps = eps
        a = gap_usd.sum(axis=1)
        b = gap_usd @ betas
        slack = np.abs(gap_usd).sum(axis=1) * eps
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (slack - a) / b
        long_rows = np.flatnonzero(b > 0)
        long_rows = long_rows[np.argsort(t[long_rows], kind="stable")]
        short_rows = np.flatnonzero(b < 0)
        short_rows = short_rows[np.argsort(t[short_rows], kind="stable")]
        always = np.flatnonzero((b == 0) & (a - slack < 0))
        never = np.flatnonzero((b == 0) & ~(a - slack < 0)) if keep_all else np.zeros(0, dtype=np.intp)
        self.long_t = t[long_rows]
        self.short_t = t[short_rows]
        self.n_long, self.n_always = long_rows.size, always.size
        rows = np.concatenate([long_rows, always, short_rows, never])
        self.positions = rows  # index of each laid-out row in the book the layout was built from
        # One gather per column, once; each grid point then slices (no per-point gathers).
        self.collateral = book.collateral[rows]
        self.debt = book.debt[rows]
        self.liq_threshold = book.liq_threshold[rows]
        self.liq_bonus = book.liq_bonus[rows]
        self.protocol_fee = book.protocol_fee[rows]
        self.venue = book.venue[rows]
        self.market = book.market[rows]
        self.floored_avg_lt = book.floored_avg_lt[rows]
        self.rule_params = np.asarray(book.rule_params)[rows]

    def candidates(self, r_lo: float, r_hi: float) -> slice:
        start = int(np.searchsorted(self.long_t, r_lo, side="right"))
        stop = self.n_long + self.n_always + int(np.searchsorted(self.short_t, r_hi, side="left"))
        return slice(start, stop)


def _prices(spot: Float64Array1D, betas: Float64Array1D, driver: int, x0: float, impact: Float64Array1D) -> tuple[Float64Array1D, float]:
    r_eff = (1.0 - x0) * (1.0 - impact[driver]) - 1.0
    multiplier = np.maximum(1.0 + betas * r_eff, 0.0) * (1.0 - impact)
    multiplier[driver] = max(1.0 + r_eff, 0.0)
    return spot * multiplier, r_eff


def cascade_grid(
    book: PositionBook,
    *,
    driver: str,
    betas: Mapping[str, float] | Float64Array1D,
    drawdowns: Sequence[float] | Float64Array1D,
    liquidity: LiquidityModel | None = None,
    max_rounds: int = 100,
    tolerance: float = 1e-9,
    engine: Literal["compiled", "pooled", "numpy"] = "compiled",
    workers: int | None = None,
) -> CascadeTable:
    """Cascade size for each initial driver drawdown in ``drawdowns`` (fractions, e.g. 0..0.6).

    ``betas`` maps symbols to beta to the driver (driver forced to 1, others default 0).
    ``liquidity`` defaults to :class:`~risk.liquidity.NoImpact` (direct liquidations only).
    ``engine``: ``"compiled"`` (default) runs the rounds event-driven in compiled passes, grid
    points on ``workers`` threads (:mod:`risk.cascade_events`; default: the machine's cores, the
    table is the same for any number); ``"pooled"`` each grid point's rounds over preallocated
    pools in the numba kernel, every pooled row checked every round (:mod:`risk.cascade_pooled`);
    ``"numpy"`` the reference rounds below.
    """
    if engine not in ("compiled", "pooled", "numpy"):
        raise ValueError(f"unknown cascade engine {engine!r}; use 'compiled', 'pooled' or 'numpy'")
    liquidity = liquidity or NoImpact()
    beta = as_asset_vector(book, betas).copy()
    d = book.asset_index(driver)
    beta[d] = 1.0
    grid = np.asarray(drawdowns, dtype=np.float64)
    if grid.ndim != 1 or np.any(grid >= 1.0):
        raise ValueError("drawdowns must be a 1-D sequence of fractions below 1 (0.2 = -20%)")
    spot = book.prices_usd
    # Single-pair positions are liquidated in closed form by class; the rest row by row.
    classes, rest = split_pair_classes(book)
    general = book.select(rest)
    # Rules with consumable budgets (e.g. the Sky Dog's hole/Hole) draw from them through every
    # round of a grid point; each grid point starts from the room at the block.
    budgets = budget_layout(general)
    # A floored average LT is above the plain one less 1 bp (floor(x) > x - 1): bounding each
    # floored row's LT by LT - 1 bp keeps the candidate bound a lower bound of its HF.
    bound_lt = np.where(general.floored_avg_lt[:, None] & (general.liq_threshold > 0),
                        general.liq_threshold - 1.0 / BPS, general.liq_threshold)
    gap_usd = (general.collateral * bound_lt - general.debt) * spot
    outcomes: list[_Outcome] = []
    if engine == "compiled":
        from risk.cascade_events import cascade_outcomes

        outcomes = cascade_outcomes(book, beta, d, grid, liquidity, classes, general, gap_usd, max_rounds, tolerance,
                                    workers, budgets)
    order = _CandidateOrder(general, gap_usd, beta, eps=0.05)
    r_margin = 0.05
    if engine == "pooled":
        from risk.cascade_pooled import cascade_one_pooled, partial_capacity

        capacity = partial_capacity(classes)
    for x0 in grid if engine != "compiled" else []:
        while True:
            if engine == "pooled":
                outcome = cascade_one_pooled(book, beta, d, float(x0), liquidity, order, classes, r_margin, max_rounds,
                                             tolerance, capacity, budgets)
            else:
                outcome = _cascade_one(book, beta, d, float(x0), liquidity, order, classes, r_margin, max_rounds,
                                       tolerance, budgets)
            if isinstance(outcome, _Outcome):
                break
            # Prices left the margin the candidates were chosen for: widen past what was seen
            # and redo this grid point exactly. Margins only grow, so this terminates.
            r_margin = max(r_margin, 2.0 * outcome.r_deviation)
            if outcome.deviation > order.eps:
                order = _CandidateOrder(general, gap_usd, beta, eps=2.0 * outcome.deviation)
        outcomes.append(outcome)
    final_drawdown = np.array([-o.final_return for o in outcomes])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        amplification = np.where(grid != 0, final_drawdown / np.where(grid != 0, grid, 1.0), np.nan)
    n_markets = _n_markets(book)
    liquidated_m = np.array([o.liquidated_by_market_usd for o in outcomes]).reshape(grid.size, n_markets)
    seized_m = np.array([o.seized_by_market_usd for o in outcomes]).reshape(grid.size, n_markets)
    bad_m = np.array([o.bad_debt_by_market_usd for o in outcomes]).reshape(grid.size, n_markets)
    hit_m = np.array([o.hit_by_market for o in outcomes], dtype=np.int64).reshape(grid.size, n_markets)
    return CascadeTable(
        driver=driver,
        symbols=book.symbols,
        betas=beta,
        initial_drawdown=grid.copy(),
        final_drawdown=final_drawdown,
        amplification=amplification,
        rounds=np.array([o.rounds for o in outcomes], dtype=np.int64),
        # Totals are the sums of the per-market parts: a breakdown always adds up to its total.
        liquidated_debt_usd=liquidated_m.sum(axis=1),
        seized_collateral_usd=np.array([o.seized_usd for o in outcomes]).reshape(grid.size, book.n_assets),
        bad_debt_usd=bad_m.sum(axis=1),
        positions_hit=hit_m.sum(axis=1),
        final_prices_usd=np.array([o.final_prices for o in outcomes]).reshape(grid.size, book.n_assets),
        market_ids=market_ids_of(book),
        market_rules=market_rules(book),
        liquidated_debt_by_market_usd=liquidated_m,
        seized_by_market_usd=seized_m,
        bad_debt_by_market_usd=bad_m,
        positions_hit_by_market=hit_m,
    )


def _add_pair_class_sums(pairs: PairRound, class_market: NDArray[np.int64], pair_hits_m: NDArray[np.int64],
                         liquidated_m: Float64Array1D, seized_m: Float64Array1D, bad_m: Float64Array1D) -> None:
    """Add one round's pair-class results to the per-market sums, in place (both row engines' rounds)."""
    n_markets = liquidated_m.size
    assert pairs.class_positions is not None and pairs.class_repaid_usd is not None
    assert pairs.class_seized_usd is not None and pairs.class_bad_debt_usd is not None
    pair_hits_m += np.bincount(class_market, weights=pairs.class_positions, minlength=n_markets).astype(np.int64)
    liquidated_m += np.bincount(class_market, weights=pairs.class_repaid_usd, minlength=n_markets)
    seized_m += np.bincount(class_market, weights=pairs.class_seized_usd, minlength=n_markets)
    bad_m += np.bincount(class_market, weights=pairs.class_bad_debt_usd, minlength=n_markets)


def _n_markets(book: PositionBook) -> int:
    """Markets of the book (at least one: a synthetic book without ids is one unnamed market)."""
    return max(len(book.market_ids), int(book.market.max()) + 1 if book.n_positions else 0, 1)


def market_ids_of(book: PositionBook) -> tuple[str, ...]:
    """The book's market ids, one per market index (a synthetic book without ids gets `market-<k>`)."""
    n = _n_markets(book)
    ids = tuple(book.market_ids)
    return ids + tuple(f"market-{k}" for k in range(len(ids), n))


def market_rules(book: PositionBook) -> tuple[str, ...]:
    """Each market's liquidation rule (venue name) from its first position; ``""`` without positions.

    Loop-free over positions (a Python loop cost ~0.3 s at 1M rows): the first position of a
    market is the first row of one of its runs of equal ``market`` codes, so only run starts are
    looked at (few on a book grouped by market, as readers build them; every row otherwise)."""
    from risk.snapshot import VENUES

    rules = [""] * _n_markets(book)
    market = np.asarray(book.market)
    if market.size == 0:
        return tuple(rules)
    run_starts = np.flatnonzero(np.concatenate(([True], market[1:] != market[:-1])))
    # np.unique's return_index gives each value's first occurrence (in run-start order = row order)
    markets, first_run = np.unique(market[run_starts], return_index=True)
    first_venue = np.asarray(book.venue)[run_starts[first_run]]
    for m, v in zip(markets.tolist(), first_venue.tolist()):  # one entry per market, not per position
        rules[m] = VENUES[v] if 0 <= v < len(VENUES) else str(v)
    return tuple(rules)


@dataclass(frozen=True)
class _Widen:
    """Prices moved this far from the beta path: the candidate margins must cover it."""

    deviation: float
    r_deviation: float


def _cascade_one(
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
    budgets: BudgetLayout | None = None,
) -> _Outcome | _Widen:
    """One grid point, or how far prices strayed if they left the candidate margins.

    ``budgets``: the rules' consumable budgets (:mod:`risk.budgets`) of ``order``'s book, drawn from
    through every round of this grid point, from the room at the block."""
    spot = book.prices_usd
    r0 = -x0
    rows = order.candidates(r0 - r_margin, r0 + r_margin)
    # The row pool: multi-asset candidates now, plus single-pair positions that a close factor
    # leaves partly liquidated (added as they are reached).
    collateral = order.collateral[rows].copy()
    debt = order.debt[rows].copy()
    liq_threshold = order.liq_threshold[rows]
    liq_bonus = order.liq_bonus[rows]
    protocol_fee = order.protocol_fee[rows]
    venue = order.venue[rows]
    market = order.market[rows]
    floored = order.floored_avg_lt[rows]
    rule_params = order.rule_params[rows]
    room = budgets.initial.copy() if budgets is not None else np.zeros(0)
    budget_cells = budgets.cells[order.positions[rows]] if budgets is not None else np.zeros((0, 0), dtype=np.int64)
    budget_priority = np.asarray(order.positions[rows], dtype=np.int64)
    frontier = np.full(len(classes), np.inf)
    n_markets = _n_markets(book)
    class_market = np.array([c.market for c in classes], dtype=np.int64)

    impact = np.zeros(book.n_assets)
    net_sold_usd = np.zeros(book.n_assets)
    seized_usd = np.zeros(book.n_assets)
    hit = np.zeros(collateral.shape[0], dtype=bool)
    liquidated_m = np.zeros(n_markets)
    seized_m = np.zeros(n_markets)
    bad_m = np.zeros(n_markets)
    pair_hits_m = np.zeros(n_markets, dtype=np.int64)
    rounds = 0
    prices, r_eff = _prices(spot, beta, driver, x0, impact)
    while True:
        deviation = float(np.max(np.abs(prices / spot - (1.0 + beta * r_eff))))
        if deviation > order.eps or abs(r_eff - r0) > r_margin:
            return _Widen(deviation, abs(r_eff - r0))
        if rounds >= max_rounds:
            break
        pairs = liquidate_pair_classes(classes, frontier, prices, book.n_assets)
        if pairs.partial_rows.size:
            new = pairs.partial_rows
            collateral = np.concatenate([collateral, book.collateral[new]])
            debt = np.concatenate([debt, book.debt[new]])
            liq_threshold = np.concatenate([liq_threshold, book.liq_threshold[new]])
            liq_bonus = np.concatenate([liq_bonus, book.liq_bonus[new]])
            protocol_fee = np.concatenate([protocol_fee, book.protocol_fee[new]])
            venue = np.concatenate([venue, book.venue[new]])
            market = np.concatenate([market, book.market[new]])
            floored = np.concatenate([floored, book.floored_avg_lt[new]])
            rule_params = np.concatenate([rule_params, np.asarray(book.rule_params)[new]])
            hit = np.concatenate([hit, np.zeros(new.size, dtype=bool)])
            # pair-class rows: rules with a fast path, which never have budgets
            budget_cells = np.concatenate([budget_cells, np.full((new.size, budget_cells.shape[1]), -1, dtype=np.int64)])
            budget_priority = np.concatenate([budget_priority, np.zeros(new.size, dtype=np.int64)])
        owed = debt @ prices
        at_risk = (owed > 1e-6) & (risk_weighted_usd(collateral, liq_threshold, prices, floored) < owed)
        if not (pairs.positions or at_risk.any()):
            break
        seized_tokens = pairs.seized_tokens
        fee_tokens = pairs.fee_tokens
        repaid_tokens = pairs.repaid_tokens
        out: RowsOutcome | None = None
        if at_risk.any():
            # Only the rows at risk are handed to the kernel (the rest would be no-ops).
            risky = np.flatnonzero(at_risk)
            sub_coll, sub_debt = collateral[risky], debt[risky]
            budget = (RowBudget(room, budget_cells[risky], budget_priority[risky]) if budgets is not None else None)
            out = liquidate_rows(sub_coll, sub_debt, liq_threshold[risky], liq_bonus[risky], protocol_fee[risky], venue[risky], prices,
                                 floored_avg_lt=floored[risky], rule_params=rule_params[risky], budget=budget)
            collateral[risky], debt[risky] = sub_coll, sub_debt
        # Rows at risk that no rule could act on (a budget ran out) do not make a round.
        if not (pairs.positions or (out is not None and out.hit.any())):
            break
        rounds += 1
        if classes:
            _add_pair_class_sums(pairs, class_market, pair_hits_m, liquidated_m, seized_m, bad_m)
        if out is not None:
            hit[risky] |= out.hit
            seized_tokens = seized_tokens + out.seized_tokens.sum(axis=0)
            fee_tokens = fee_tokens + out.protocol_fee_tokens.sum(axis=0)
            repaid_tokens = repaid_tokens + out.repaid_tokens.sum(axis=0)
            risky_market = market[risky]
            liquidated_m += np.bincount(risky_market, weights=out.repaid_tokens @ prices, minlength=n_markets)
            seized_m += np.bincount(risky_market, weights=out.seized_tokens @ prices, minlength=n_markets)
            bad_m += np.bincount(risky_market, weights=out.bad_debt_usd, minlength=n_markets)
        seized_usd += seized_tokens * prices
        # Impact is driven by token quantities (valued at spot), not by the USD they fetch:
        # the same tokens dumped at a lower price must not move the market less.
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
    hit_m = np.bincount(market[hit], minlength=n_markets).astype(np.int64) + pair_hits_m
    return _Outcome(r_eff, rounds, seized_usd, prices, liquidated_m, seized_m, bad_m, hit_m)
