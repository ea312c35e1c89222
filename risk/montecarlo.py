"""Monte Carlo of liquidations along price paths, with endogenous cascades.

Along each path (prices from :mod:`risk.paths`, shape ``(n_paths, n_steps, n_assets)``, USD per
unit) the engine walks the steps in order. At step ``k`` every position whose HF < 1 at the
path's current prices is liquidated by its venue's rule (:func:`risk.liquidation.liquidate_rows`);
liquidators sell the seized collateral (less the protocol's fee share, which the protocol keeps,
as in :mod:`risk.cascade`) and buy the repaid debt asset. The *cumulative* net amount sold per
asset on that path (tokens valued at the path's starting price, as in :mod:`risk.cascade`) goes
through the liquidity model, and the resulting impact ``I`` multiplies that
step's and every later step's price of that path::

    price[p, k, a] = exogenous[p, k, a] * (1 - I_a(cum_net_sold_usd[p, a]))

so the path moves endogenously. Within a step this repeats (rounds) until nothing is
liquidatable, at most ``max_rounds`` times (steps cut short are counted in
``PathOutcomes.unconverged_steps``). Impact is per asset (no cross-impact between assets: the
exogenous paths already carry the correlation). Paths are independent of each other.

Speed without changing the answer
---------------------------------
Positions are never looped over in Python, and a position is only looked at on a path at steps
where a *lower bound* of its HF can be below 1. The bound prices collateral at
``exogenous * f_lo`` and debt at ``exogenous * f_hi`` with ``f_lo = ref * (1 - band)`` and
``f_hi = ref * (1 + band)`` around the path's impact multiplier ``ref`` (per asset): it holds
while the realised multiplier stays inside that band. Positions with one collateral and one debt
asset (most of a book) are found by a binary search over each path's running minimum of the
price ratio, the others through per-block price envelopes refined step by step. A position
checked and not liquidatable, or liquidated and still owing, is rescheduled the same way from the
next step. As soon as impacts push a path's multiplier out of its band (checked after every
round), the band is re-centred and that path's schedule rebuilt from the current step
(a *rebase*), so the shortcut is exact: the result equals the plain loop over every position at
every step (tested against one). This is the "candidate margin, verify, redo" scheme done
continuously, per path, at the moment the margin is left, instead of re-running whole paths.

This module's scheme is the numpy engine (``engine="numpy"``, the readable reference). By default
the same per-path event loop runs compiled and parallel over paths (:mod:`risk.compiled_montecarlo`,
with a class pointer on each path's running minimum of the price ratio instead of a binary search
per position) whenever the book's rules and the liquidity model have compiled forms; other books
run here.

The exogenous-only run (same paths, no impact) is returned alongside, so the amplification by the
cascade is visible.

Units: USD at the (impacted) prices of the step where each liquidation happened.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

import numpy as np
from numpy.typing import NDArray

from risk.book import BPS, PositionBook
from risk.budgets import BudgetLayout, budget_layout
from risk.cascade import _n_markets, market_ids_of, market_rules
from risk.liquidation import liquidatable, liquidate_rows
from risk.liquidity import LiquidityModel

Float64Array1D = NDArray[np.float64]
Float64Array2D = NDArray[np.float64]

QUANTILES = (0.95, 0.99)
"""Levels of LaR and bad-debt VaR reported in :class:`RiskSummary`."""

_EPS_REL = 1e-9
"""Relative slack of the HF lower bound, so float rounding can never drop a liquidation."""
_KERNEL_PASSES = 32
"""Liquidation passes per kernel call (the kernel's own default)."""


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class PathOutcomes:
    """Per-path results of one run (endogenous or exogenous-only).

    Attributes
    ----------
    liquidated_debt_usd : ndarray, shape (n_paths,)
        Debt repaid by liquidators over the horizon, USD.
    seized_collateral_usd : ndarray, shape (n_paths,)
        Collateral seized (protocol fee included), USD.
    protocol_fee_usd : ndarray, shape (n_paths,)
        The protocols' share of the seized collateral, USD.
    bad_debt_usd : ndarray, shape (n_paths,)
        Debt left without collateral, USD.
    positions_hit : ndarray of int64, shape (n_paths,)
        Positions liquidated at least once on the path.
    max_drawdown : ndarray, shape (n_paths, n_assets)
        Largest peak-to-trough fall of the (impacted) price, fraction (0.2 = -20%).
    final_impact : ndarray, shape (n_paths, n_assets)
        Price effect of liquidity impacts (own and cross) at the end of the path (fraction; > 0 =
        price pushed down).
    unconverged_steps : ndarray of int64, shape (n_paths,)
        Steps whose rounds hit ``max_rounds`` with positions still liquidatable.
    liquidated_debt_by_market_usd, seized_by_market_usd, bad_debt_by_market_usd : ndarray,
        shape (n_paths, n_markets)
        The same amounts per market (``MonteCarloResult.market_ids`` order); the per-path totals
        above are their row sums, so the parts add up to the totals exactly.
    """

    liquidated_debt_usd: Float64Array1D
    seized_collateral_usd: Float64Array1D
    protocol_fee_usd: Float64Array1D
    bad_debt_usd: Float64Array1D
    positions_hit: NDArray[np.int64]
    max_drawdown: Float64Array2D
    final_impact: Float64Array2D
    unconverged_steps: NDArray[np.int64]
    liquidated_debt_by_market_usd: Float64Array2D = field(default_factory=lambda: np.zeros((0, 0)))
    seized_by_market_usd: Float64Array2D = field(default_factory=lambda: np.zeros((0, 0)))
    bad_debt_by_market_usd: Float64Array2D = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def n_paths(self) -> int:
        return int(self.liquidated_debt_usd.shape[0])

    def to_frame(self, symbols: tuple[str, ...], prefix: str = "",
                 market_ids: tuple[str, ...] = ()) -> dict[str, NDArray[Any]]:
        """Columns as a dict of 1-D arrays, one row per path (``pandas.DataFrame(...)`` works)."""
        frame: dict[str, NDArray[Any]] = {
            f"{prefix}liquidated_debt_usd": self.liquidated_debt_usd,
            f"{prefix}seized_collateral_usd": self.seized_collateral_usd,
            f"{prefix}protocol_fee_usd": self.protocol_fee_usd,
            f"{prefix}bad_debt_usd": self.bad_debt_usd,
            f"{prefix}positions_hit": self.positions_hit,
            f"{prefix}unconverged_steps": self.unconverged_steps,
        }
        for j, symbol in enumerate(symbols):
            frame[f"{prefix}max_drawdown_{symbol}"] = self.max_drawdown[:, j]
            frame[f"{prefix}final_impact_{symbol}"] = self.final_impact[:, j]
        if market_ids and self.liquidated_debt_by_market_usd.shape[1:] == (len(market_ids),):
            for m, market in enumerate(market_ids):
                frame[f"{prefix}liquidated_debt_{market}_usd"] = self.liquidated_debt_by_market_usd[:, m]
                frame[f"{prefix}bad_debt_{market}_usd"] = self.bad_debt_by_market_usd[:, m]
        return frame


@dataclass(frozen=True)
class RiskSummary:
    """Tail statistics over paths (USD).

    ``lar_*``: quantile of per-path liquidated debt (Liquidations-at-Risk); ``bad_debt_var_*``:
    quantile of per-path bad debt. Quantiles use numpy's default (linear interpolation).
    """

    n_paths: int
    mean_liquidated_usd: float
    lar_95_usd: float
    lar_99_usd: float
    mean_bad_debt_usd: float
    bad_debt_var_95_usd: float
    bad_debt_var_99_usd: float
    mean_seized_collateral_usd: float
    mean_positions_hit: float
    prob_any_liquidation: float

    @classmethod
    def of(cls, outcomes: PathOutcomes) -> "RiskSummary":
        liq, bad = outcomes.liquidated_debt_usd, outcomes.bad_debt_usd
        q_liq = np.quantile(liq, QUANTILES)
        q_bad = np.quantile(bad, QUANTILES)
        return cls(
            n_paths=int(liq.size),
            mean_liquidated_usd=float(liq.mean()),
            lar_95_usd=float(q_liq[0]),
            lar_99_usd=float(q_liq[1]),
            mean_bad_debt_usd=float(bad.mean()),
            bad_debt_var_95_usd=float(q_bad[0]),
            bad_debt_var_99_usd=float(q_bad[1]),
            mean_seized_collateral_usd=float(outcomes.seized_collateral_usd.mean()),
            mean_positions_hit=float(outcomes.positions_hit.mean()),
            prob_any_liquidation=float(np.mean(outcomes.positions_hit > 0)),
        )

    def as_dict(self) -> dict[str, float | int]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass(frozen=True)
class MarketRiskSummary:
    """Tail statistics of one market over paths (USD): its own LaR and bad-debt VaR.

    Means add up across markets to the book's means (up to rounding); quantiles do not (the
    markets' worst paths are not the same paths), so each market's tail is its own.
    """

    market_id: str
    rule: str
    mean_liquidated_usd: float
    lar_95_usd: float
    lar_99_usd: float
    mean_bad_debt_usd: float
    bad_debt_var_95_usd: float
    bad_debt_var_99_usd: float
    mean_seized_collateral_usd: float
    prob_any_liquidation: float

    def as_dict(self) -> dict[str, float | str]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def market_summaries(outcomes: PathOutcomes, market_ids: tuple[str, ...],
                     market_rules: tuple[str, ...] = ()) -> tuple[MarketRiskSummary, ...]:
    """One :class:`MarketRiskSummary` per market (``market_ids`` order)."""
    liq, bad = outcomes.liquidated_debt_by_market_usd, outcomes.bad_debt_by_market_usd
    if liq.shape[1:] != (len(market_ids),) or liq.shape[0] == 0:
        return ()
    q_liq = np.quantile(liq, QUANTILES, axis=0)
    q_bad = np.quantile(bad, QUANTILES, axis=0)
    rules = market_rules or ("",) * len(market_ids)
    return tuple(
        MarketRiskSummary(
            market_id=market, rule=rules[m], mean_liquidated_usd=float(liq[:, m].mean()),
            lar_95_usd=float(q_liq[0, m]), lar_99_usd=float(q_liq[1, m]),
            mean_bad_debt_usd=float(bad[:, m].mean()), bad_debt_var_95_usd=float(q_bad[0, m]),
            bad_debt_var_99_usd=float(q_bad[1, m]),
            mean_seized_collateral_usd=float(outcomes.seized_by_market_usd[:, m].mean()),
            prob_any_liquidation=float(np.mean(liq[:, m] > 0)),
        )
        for m, market in enumerate(market_ids)
    )


@dataclass(frozen=True, eq=False)
class MonteCarloResult:
    """Endogenous (with liquidity impact) and exogenous-only outcomes on the same paths.

    Attributes
    ----------
    symbols : asset symbols in book order
    n_steps : steps per path (step 0 included)
    endogenous, exogenous : per-path outcomes (``exogenous`` is None if not requested)
    endogenous_summary, exogenous_summary : tail statistics
    rebases : times a path's impact left the scheduler's band and its schedule was rebuilt
    """

    symbols: tuple[str, ...]
    n_steps: int
    max_rounds: int
    endogenous: PathOutcomes
    endogenous_summary: RiskSummary
    exogenous: PathOutcomes | None
    exogenous_summary: RiskSummary | None
    rebases: int
    market_ids: tuple[str, ...] = ()
    market_rules: tuple[str, ...] = ()

    @property
    def n_paths(self) -> int:
        return self.endogenous.n_paths

    def by_market(self, *, exogenous: bool = False) -> tuple[MarketRiskSummary, ...]:
        """Per-market LaR / bad-debt VaR of the endogenous run (or the exogenous one)."""
        outcomes = self.exogenous if exogenous else self.endogenous
        if outcomes is None:
            return ()
        return market_summaries(outcomes, self.market_ids, self.market_rules)

    def by_market_frame(self, *, exogenous: bool = False) -> dict[str, NDArray[Any]]:
        """One row per market: ``market_id``, ``rule`` and the :class:`MarketRiskSummary` fields."""
        rows = self.by_market(exogenous=exogenous)
        names = MarketRiskSummary.__dataclass_fields__
        return {f: np.array([getattr(r, f) for r in rows]) for f in names}

    def by_market_pandas(self, *, exogenous: bool = False) -> Any:
        """:meth:`by_market_frame` as a ``pandas.DataFrame`` (needs the ``liqrisk[frames]`` extra)."""
        from risk.frames import to_pandas

        return to_pandas(self.by_market_frame(exogenous=exogenous))

    @property
    def amplification(self) -> dict[str, float]:
        """Endogenous / exogenous ratios of mean liquidations, LaR99 and mean bad debt (NaN if 0/0)."""
        if self.exogenous_summary is None:
            return {}
        e, x = self.endogenous_summary, self.exogenous_summary

        def ratio(a: float, b: float) -> float:
            return a / b if b > 0 else (math.nan if a == 0 else math.inf)

        return {
            "mean_liquidated": ratio(e.mean_liquidated_usd, x.mean_liquidated_usd),
            "lar_99": ratio(e.lar_99_usd, x.lar_99_usd),
            "mean_bad_debt": ratio(e.mean_bad_debt_usd, x.mean_bad_debt_usd),
        }

    def to_frame(self) -> dict[str, NDArray[Any]]:
        """Per-path columns (``endo_*`` and ``exo_*``) as a dict of 1-D numpy arrays."""
        frame: dict[str, NDArray[Any]] = {"path": np.arange(self.n_paths)}
        frame.update(self.endogenous.to_frame(self.symbols, "endo_", self.market_ids))
        if self.exogenous is not None:
            frame.update(self.exogenous.to_frame(self.symbols, "exo_", self.market_ids))
        return frame

    def to_pandas(self) -> Any:
        """:meth:`to_frame` as a ``pandas.DataFrame`` (needs the ``liqrisk[frames]`` extra)."""
        from risk.frames import to_pandas

        return to_pandas(self.to_frame())

    def to_json(self, *, include_paths: bool = False) -> str:
        """Summary (and optionally every per-path column) as JSON; NaN/inf become null."""
        doc: dict[str, Any] = {
            "symbols": list(self.symbols),
            "n_paths": self.n_paths,
            "n_steps": self.n_steps,
            "max_rounds": self.max_rounds,
            "rebases": self.rebases,
            "endogenous": self.endogenous_summary.as_dict(),
            "exogenous": None if self.exogenous_summary is None else self.exogenous_summary.as_dict(),
            "amplification": self.amplification,
            "by_market": [s.as_dict() for s in self.by_market()],
        }
        if include_paths:
            doc["paths"] = {k: v.tolist() for k, v in self.to_frame().items()}
        from risk.frames import json_safe

        return json.dumps(json_safe(doc), allow_nan=False)


# ----------------------------------------------------------------------------- engine


@dataclass(frozen=True, eq=False)
class _Book:
    """Book columns plus the classification used by the candidate filter.

    A *simple* position has weighted collateral in exactly one asset ``c`` and debt in exactly
    one other asset ``j``: its HF is ``w_c p_c / (d_j p_j)``, so it is liquidatable iff the price
    ratio ``p_c / p_j`` is below ``theta = d_j / w_c``. Every other position with debt is generic.
    """

    weighted: Float64Array2D  # (n, a) collateral * LT, tokens
    bound_weighted: Float64Array2D  # (n, a) a lower bound of the HF numerator's weights (floored rows: LT - 1 bp)
    debt: Float64Array2D
    collateral: Float64Array2D
    liq_threshold: Float64Array2D
    liq_bonus: Float64Array2D
    protocol_fee: Float64Array2D
    venue: NDArray[np.int8]
    market: NDArray[np.intp]  # (n,) index into the book's market ids
    n_markets: int
    floored_avg_lt: NDArray[np.bool_]  # (n,) HF floors the average LT (Aave v3.0-v3.4)
    rule_params: Float64Array2D  # (n, k) market parameters of each row's rule (PositionBook.rule_params)
    class_c: NDArray[np.intp]  # (n_classes,) collateral asset of each simple class
    class_j: NDArray[np.intp]  # (n_classes,) debt asset
    class_rows: tuple[NDArray[np.intp], ...]  # rows of each class, sorted by theta
    class_theta: tuple[Float64Array1D, ...]  # theta of those rows, ascending
    pos_class: NDArray[np.intp]  # (n,) class index, -1 for generic / no debt
    generic: NDArray[np.intp]  # rows with debt that are not simple
    budgets: BudgetLayout | None = None  # consumable budgets of rules that declare them (risk.budgets)

    @classmethod
    def of(cls, book: PositionBook) -> "_Book":
        weighted = np.asarray(book.weighted_collateral)
        debt = np.asarray(book.debt)
        has_w, has_d = weighted > 0, debt > 0
        n_w, n_d = has_w.sum(axis=1), has_d.sum(axis=1)
        c, j = np.argmax(has_w, axis=1), np.argmax(has_d, axis=1)
        simple = (n_w == 1) & (n_d == 1) & (c != j)
        pos_class = np.full(book.n_positions, -1, dtype=np.intp)
        class_c: list[int] = []
        class_j: list[int] = []
        class_rows: list[NDArray[np.intp]] = []
        class_theta: list[NDArray[np.float64]] = []
        for cc in range(book.n_assets):
            for jj in range(book.n_assets):
                rows = np.flatnonzero(simple & (c == cc) & (j == jj))
                if rows.size:
                    theta = debt[rows, jj] / weighted[rows, cc]
                    order = np.argsort(theta, kind="stable")
                    pos_class[rows] = len(class_c)
                    class_c.append(cc)
                    class_j.append(jj)
                    class_rows.append(rows[order])
                    class_theta.append(theta[order])
        # The floored average LT exceeds the plain one less 1 bp (floor(x) > x - 1), so LT - 1 bp
        # keeps the candidate bounds lower bounds of the HF. Simple positions (one weighted
        # collateral) have nothing to floor.
        bound_weighted = np.where(book.floored_avg_lt[:, None] & (book.liq_threshold > 0),
                                  book.collateral * np.maximum(book.liq_threshold - 1.0 / BPS, 0.0), weighted)
        return cls(weighted, bound_weighted, debt, np.asarray(book.collateral), np.asarray(book.liq_threshold),
                   np.asarray(book.liq_bonus), np.asarray(book.protocol_fee), np.asarray(book.venue),
                   np.asarray(book.market, dtype=np.intp), _n_markets(book),
                   np.asarray(book.floored_avg_lt),
                   np.asarray(book.rule_params),
                   np.array(class_c, dtype=np.intp), np.array(class_j, dtype=np.intp), tuple(class_rows),
                   tuple(class_theta), pos_class, np.flatnonzero((n_d > 0) & ~simple), budget_layout(book))


@dataclass(frozen=True, eq=False)
class _PathData:
    """Exogenous prices of a set of paths, with the minima/maxima the scheduler searches.

    Blocks have ``block`` steps; ``*_pad`` arrays are padded to ``n_blocks * block`` steps by
    repeating the last step (which changes no minimum). ``ratio*`` are per simple class
    (:class:`_Book`): the exogenous price ratio ``p_c / p_j``.
    """

    exo: NDArray[np.float64]  # (P, S, A)
    n_steps: int
    block: int
    n_blocks: int
    lo_blocks: NDArray[np.float64]  # (P, nb, A) block minima of exo
    hi_blocks: NDArray[np.float64]  # (P, nb, A) block maxima
    suffix_min: NDArray[np.float64]  # (P, S, A) min of exo over steps >= k
    suffix_max: NDArray[np.float64]  # (P, S, A)
    ratio_pad: NDArray[np.float64]  # (C, P, W)
    ratio_block_suffix_min: NDArray[np.float64]  # (C, P, W) min from k to the end of k's block
    ratio_block_min: NDArray[np.float64]  # (C, P, nb)
    ratio_suffix_min: NDArray[np.float64]  # (C, P, S) min over steps >= k

    @classmethod
    def of(cls, bk: _Book, exo: NDArray[np.float64]) -> "_PathData":
        n_paths, n_steps, n_assets = exo.shape
        block = max(1, int(math.ceil(math.sqrt(n_steps))))
        n_blocks = -(-n_steps // block)
        width = n_blocks * block
        padded = _pad(exo, width).reshape(n_paths, n_blocks, block, n_assets)
        suffix_min = np.minimum.accumulate(exo[:, ::-1], axis=1)[:, ::-1]
        suffix_max = np.maximum.accumulate(exo[:, ::-1], axis=1)[:, ::-1]
        n_cls = bk.class_c.size
        ratio = np.empty((n_cls, n_paths, width))
        for k in range(n_cls):
            ratio[k] = _pad(exo[:, :, bk.class_c[k]] / exo[:, :, bk.class_j[k]], width)
        blocks = ratio.reshape(n_cls, n_paths, n_blocks, block)
        block_suffix = np.minimum.accumulate(blocks[..., ::-1], axis=3)[..., ::-1].reshape(n_cls, n_paths, width)
        ratio_suffix = np.minimum.accumulate(ratio[:, :, n_steps - 1::-1], axis=2)[:, :, ::-1]
        return cls(exo, n_steps, block, n_blocks, padded.min(axis=2), padded.max(axis=2), suffix_min,
                   suffix_max, ratio, block_suffix, blocks.min(axis=3), np.ascontiguousarray(ratio_suffix))


def _pad(x: NDArray[np.float64], width: int) -> NDArray[np.float64]:
    """Pad axis 1 to ``width`` by repeating the last entry."""
    extra = width - x.shape[1]
    if extra == 0:
        return x
    return np.concatenate([x, np.repeat(x[:, -1:], extra, axis=1)], axis=1)


def _bound_below_one(weighted: Float64Array2D, debt: Float64Array2D, lo: Float64Array2D,
                     hi: Float64Array2D) -> NDArray[np.bool_]:
    """Row-wise: can HF < 1 with collateral priced at ``lo`` and debt at ``hi``?"""
    w = np.einsum("ij,ij->i", weighted, lo)
    o = np.einsum("ij,ij->i", debt, hi)
    below: NDArray[np.bool_] = w < o * (1.0 + _EPS_REL)
    return below


def _next_trigger_generic(pd: _PathData, f_lo: Float64Array2D, f_hi: Float64Array2D,
                          pair_path: NDArray[np.intp], weighted: Float64Array2D, debt: Float64Array2D,
                          k0: int) -> NDArray[np.int64]:
    """First step >= ``k0`` where the HF bound at ``exo * f_lo`` / ``exo * f_hi`` is < 1 (``n_steps`` = never)."""
    n_steps, block = pd.n_steps, pd.block
    out = np.full(pair_path.size, n_steps, dtype=np.int64)
    if pair_path.size == 0 or k0 >= n_steps:
        return out
    lo_f, hi_f = f_lo[pair_path], f_hi[pair_path]
    b0 = k0 // block

    def scan(rows: NDArray[np.intp], first: int, last: int) -> NDArray[np.intp]:
        for k in range(first, last):
            if rows.size == 0:
                break
            p = pair_path[rows]
            hit = _bound_below_one(weighted[rows], debt[rows], pd.exo[p, k] * lo_f[rows], pd.exo[p, k] * hi_f[rows])
            out[rows[hit]] = k
            rows = rows[~hit]
        return rows

    pending = scan(np.arange(pair_path.size), k0, min((b0 + 1) * block, n_steps))
    for b in range(b0 + 1, pd.n_blocks):
        if pending.size == 0:
            break
        p = pair_path[pending]
        maybe = _bound_below_one(weighted[pending], debt[pending], pd.lo_blocks[p, b] * lo_f[pending],
                                 pd.hi_blocks[p, b] * hi_f[pending])
        left = scan(pending[maybe], b * block, min((b + 1) * block, n_steps))
        pending = np.concatenate([pending[~maybe], left]) if left.size else pending[~maybe]
    return out


def _next_trigger_simple(pd: _PathData, cls: NDArray[np.intp], pair_path: NDArray[np.intp],
                         bar: Float64Array1D, k0: int) -> NDArray[np.int64]:
    """First step >= ``k0`` where the exogenous ratio of a simple pair is below ``bar`` (``n_steps`` = never)."""
    n_steps, block, width = pd.n_steps, pd.block, pd.ratio_pad.shape[2]
    out = np.full(pair_path.size, n_steps, dtype=np.int64)
    if pair_path.size == 0 or k0 >= n_steps:
        return out
    n_p = pd.ratio_pad.shape[1]
    row_base = (cls * n_p + pair_path) * width  # flat offset of each pair's series
    ratio = pd.ratio_pad.reshape(-1)
    b0 = k0 // block
    here = pd.ratio_block_suffix_min.reshape(-1)[row_base + k0] < bar
    rows = np.flatnonzero(here)
    if rows.size:
        below = ratio[row_base[rows, None] + np.arange(k0, (b0 + 1) * block)] < bar[rows, None]
        out[rows] = k0 + np.argmax(below, axis=1)
    rows = np.flatnonzero(~here)
    if rows.size and b0 + 1 < pd.n_blocks:
        blocks = np.arange(b0 + 1, pd.n_blocks)
        bmin = pd.ratio_block_min.reshape(-1)[(cls[rows, None] * n_p + pair_path[rows, None]) * pd.n_blocks + blocks]
        below_b = bmin < bar[rows, None]
        found = below_b.any(axis=1)
        rows = rows[found]
        first_b = blocks[np.argmax(below_b[found], axis=1)]
        below = ratio[row_base[rows, None] + first_b[:, None] * block + np.arange(block)] < bar[rows, None]
        out[rows] = first_b * block + np.argmax(below, axis=1)
    np.minimum(out, n_steps, out=out)
    return out


class _Pairs:
    """Growable store of (path, position) pairs with their live collateral and debt (tokens)."""

    def __init__(self, n_paths: int, n_assets: int, capacity: int) -> None:
        capacity = max(capacity, 1024)
        self.n = 0
        self.path = np.empty(capacity, dtype=np.intp)
        self.pos = np.empty(capacity, dtype=np.intp)
        self.cls = np.empty(capacity, dtype=np.intp)
        self.version = np.zeros(capacity, dtype=np.int64)
        self.hit = np.zeros(capacity, dtype=bool)
        self.coll = np.empty((capacity, n_assets))
        self.lt = np.empty((capacity, n_assets))
        self.debt = np.empty((capacity, n_assets))
        self.of_path: list[list[NDArray[np.intp]]] = [[] for _ in range(n_paths)]

    def add(self, bk: _Book, path: NDArray[np.intp], pos: NDArray[np.intp]) -> NDArray[np.intp]:
        m = path.size
        if self.n + m > self.path.size:
            cap = max(2 * self.path.size, self.n + m)
            for name in ("path", "pos", "cls", "version", "hit", "coll", "debt", "lt"):
                old = getattr(self, name)
                new = np.zeros((cap,) + old.shape[1:], dtype=old.dtype)
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
        ids = np.arange(self.n, self.n + m)
        if m == 0:
            return ids
        self.n += m
        self.path[ids], self.pos[ids], self.cls[ids] = path, pos, bk.pos_class[pos]
        self.coll[ids], self.debt[ids] = bk.collateral[pos], bk.debt[pos]
        self.lt[ids] = bk.liq_threshold[pos]  # a copy next to the state: faster gathers
        order = np.argsort(path, kind="stable")
        cuts = np.flatnonzero(np.diff(path[order])) + 1
        for part in np.split(ids[order], cuts):
            self.of_path[int(self.path[part[0]])].append(part)
        return ids


class _TooManyPairs(Exception):
    pass


@dataclass
class _RunOut:
    liquidated: Float64Array1D
    seized: Float64Array1D
    fee: Float64Array1D
    bad: Float64Array1D
    liquidated_m: Float64Array2D
    seized_m: Float64Array2D
    bad_m: Float64Array2D
    hit: NDArray[np.int64]
    max_drawdown: Float64Array2D
    final_impact: Float64Array2D
    unconverged: NDArray[np.int64]
    rebases: NDArray[np.int64]


class _Scheduler:
    """When each pair may next be liquidatable, valid while prices stay in each path's band.

    The band of path ``p`` is ``exo * f_lo[p] <= price <= exo * f_hi[p]`` (per asset) with
    ``f_lo = ref * (1 - band)``, ``f_hi = ref * (1 + band)`` around the impact multiplier ``ref``
    at the last rebase. Every pair not due at step ``k`` has an HF lower bound >= 1 at step ``k``
    for any prices in the band, so it cannot be liquidatable; positions never registered on a
    path are not candidates from the last rebase on. When impacts push a path's multiplier out of
    its band the path is *rebased*: new band around the current multiplier, every pair of that
    path rescheduled and the book searched again from the current step.
    """

    def __init__(self, bk: _Book, pd: _PathData, band: float, max_pairs: int) -> None:
        n_paths, n_steps, n_assets = pd.exo.shape
        self.bk, self.pd, self.band = bk, pd, band
        self.f_lo = np.full((n_paths, n_assets), 1.0 - band)
        self.f_hi = np.full((n_paths, n_assets), 1.0 + band)
        self.ref = np.ones((n_paths, n_assets))
        self.buckets: list[list[tuple[NDArray[np.intp], NDArray[np.int64]]]] = [[] for _ in range(n_steps)]
        self.rebases = np.zeros(n_paths, dtype=np.int64)
        self.reg_start = np.array([[rows.size] * n_paths for rows in bk.class_rows], dtype=np.intp).reshape(-1, n_paths)
        path, pos, trig = self._discover(np.arange(n_paths), 0)
        if path.size > max_pairs and n_paths > 1:
            raise _TooManyPairs
        self.pairs = _Pairs(n_paths, n_assets, int(path.size * 1.25))
        self._schedule(self.pairs.add(bk, path, pos), trig)

    # -- scheduling --------------------------------------------------------------------
    def _schedule(self, ids: NDArray[np.intp], steps: NDArray[np.int64]) -> None:
        # Each (re)scheduling bumps the pair's version; bucket entries of older versions are stale.
        pr = self.pairs
        pr.version[ids] += 1
        keep = steps < self.pd.n_steps
        ids, steps = ids[keep], steps[keep]
        if ids.size == 0:
            return
        order = np.argsort(steps, kind="stable")
        ids, steps = ids[order], steps[order]
        versions = pr.version[ids]
        cuts = np.flatnonzero(np.diff(steps)) + 1
        starts = np.concatenate([[0], cuts])
        for part, vers, k in zip(np.split(ids, cuts), np.split(versions, cuts), steps[starts]):
            self.buckets[int(k)].append((part, vers))

    def pop(self, k: int) -> NDArray[np.intp]:
        """Pairs due at step ``k``, each once (stale entries of rescheduled pairs dropped)."""
        parts, self.buckets[k] = self.buckets[k], []
        if not parts:
            return np.zeros(0, dtype=np.intp)
        if len(parts) == 1:
            ids, vers = parts[0]
        else:
            ids = np.concatenate([p[0] for p in parts])
            vers = np.concatenate([p[1] for p in parts])
        due: NDArray[np.intp] = ids[self.pairs.version[ids] == vers]
        return due

    def next_steps(self, ids: NDArray[np.intp], k0: int) -> NDArray[np.int64]:
        """First step >= ``k0`` each pair may be liquidatable, from its current state."""
        pr, bk = self.pairs, self.bk
        out = np.full(ids.size, self.pd.n_steps, dtype=np.int64)
        owing = pr.debt[ids].any(axis=1)
        simple = owing & (pr.cls[ids] >= 0)
        rows = np.flatnonzero(simple)
        if rows.size:
            sel = ids[rows]
            cls, path = pr.cls[sel], pr.path[sel]
            c, j = bk.class_c[cls], bk.class_j[cls]
            with np.errstate(divide="ignore", invalid="ignore"):
                theta = pr.debt[sel, j] / (pr.coll[sel, c] * pr.lt[sel, c])
                bar = np.where(np.isnan(theta), np.inf, theta) * (1.0 + _EPS_REL) \
                    * self.f_hi[path, j] / self.f_lo[path, c]
            out[rows] = _next_trigger_simple(self.pd, cls, path, bar, k0)
        rows = np.flatnonzero(owing & ~simple)
        if rows.size:
            sel = ids[rows]
            lt = pr.lt[sel]
            lt = np.where(bk.floored_avg_lt[pr.pos[sel], None] & (lt > 0), np.maximum(lt - 1.0 / BPS, 0.0), lt)
            weighted = pr.coll[sel] * lt
            out[rows] = _next_trigger_generic(self.pd, self.f_lo, self.f_hi, pr.path[sel], weighted, pr.debt[sel], k0)
        return out

    def reschedule(self, ids: NDArray[np.intp], k0: int) -> None:
        self._schedule(ids, self.next_steps(ids, k0))

    def _discover(self, paths: NDArray[np.intp], k0: int,
                  known: NDArray[np.intp] | None = None) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.int64]]:
        """Unregistered book positions that may be liquidatable on ``paths`` at a step >= ``k0``.

        Simple classes: theta is ascending and the candidates on a path are the rows whose theta
        exceeds the path's lowest bound ratio from ``k0`` on, a suffix of the class; the
        registered rows of a class on a path are the union of such suffixes, so a suffix too
        (``reg_start``), and only the rows in front of it are new. Generic candidates are
        filtered against the ``known`` pairs of the paths.
        """
        bk, pd = self.bk, self.pd
        path_parts, pos_parts, trig_parts = [], [], []
        for cls, (rows, theta) in enumerate(zip(bk.class_rows, bk.class_theta)):
            c, j = bk.class_c[cls], bk.class_j[cls]
            factor = self.f_lo[paths, c] / self.f_hi[paths, j]
            starts = np.searchsorted(theta * (1.0 + _EPS_REL), pd.ratio_suffix_min[cls, paths, k0] * factor, side="right")
            stops = self.reg_start[cls, paths]
            live = np.flatnonzero(starts < stops)
            if live.size == 0:
                continue
            counts = stops[live] - starts[live]
            self.reg_start[cls, paths[live]] = starts[live]
            path = np.repeat(paths[live], counts)
            first = np.repeat(starts[live] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            pos = rows[first]
            bar = theta[first] * (1.0 + _EPS_REL) * self.f_hi[path, j] / self.f_lo[path, c]
            path_parts.append(path)
            pos_parts.append(pos)
            trig_parts.append(_next_trigger_simple(pd, np.full(path.size, cls, dtype=np.intp), path, bar, k0))
        if bk.generic.size:
            g = bk.generic
            lo = pd.suffix_min[paths, k0] * self.f_lo[paths]  # (n, A)
            hi = pd.suffix_max[paths, k0] * self.f_hi[paths]
            cand = (bk.bound_weighted[g] @ lo.T) < (bk.debt[g] @ hi.T) * (1.0 + _EPS_REL)  # (n_generic, n)
            gi, pi = np.nonzero(cand)
            path, pos = paths[pi], g[gi]
            if known is not None and known.size and path.size:
                n_pos = bk.pos_class.size
                fresh = ~np.isin(path * n_pos + pos, self.pairs.path[known] * n_pos + self.pairs.pos[known])
                path, pos = path[fresh], pos[fresh]
            if path.size:
                trig = _next_trigger_generic(pd, self.f_lo, self.f_hi, path, bk.bound_weighted[pos], bk.debt[pos], k0)
                keep = trig < pd.n_steps  # generic pairs are only registered when scheduled
                path_parts.append(path[keep])
                pos_parts.append(pos[keep])
                trig_parts.append(trig[keep])
        if not path_parts:
            empty = np.zeros(0, dtype=np.intp)
            return empty, empty, np.zeros(0, dtype=np.int64)
        return np.concatenate(path_parts), np.concatenate(pos_parts), np.concatenate(trig_parts)

    def out_of_band(self, paths: NDArray[np.intp], mult: Float64Array2D) -> NDArray[np.intp]:
        m = mult[paths]
        return paths[((m < self.f_lo[paths]) | (m > self.f_hi[paths])).any(axis=1)]

    def rebase(self, paths: NDArray[np.intp], mult: Float64Array2D, k: int) -> NDArray[np.intp]:
        """New band around ``mult`` for ``paths``; returns the pairs now due at step ``k``."""
        self.rebases[paths] += 1
        self.f_lo[paths] = mult[paths] * (1.0 - self.band)
        self.f_hi[paths] = mult[paths] * (1.0 + self.band)
        pr = self.pairs
        known = [part for p in paths for part in pr.of_path[int(p)]]
        old = np.concatenate(known) if known else np.zeros(0, dtype=np.intp)
        steps = self.next_steps(old, k)
        self._schedule(old, steps)
        path, pos, trig = self._discover(paths, k, known=old[pr.cls[old] < 0])
        new = pr.add(self.bk, path, pos) if path.size else np.zeros(0, dtype=np.intp)
        self._schedule(new, trig)
        return np.concatenate([old[steps == k], new[trig == k]])


def impact_multipliers(impact: Float64Array2D, cross_impact: Float64Array2D | None) -> Float64Array2D:
    """Price multipliers from impacts, shape (..., n_assets).

    Own impact ``(1 - I_k)`` times, for each other asset ``j``, ``(1 - C[k, j] * I_j)``: with
    ``C[k, driver] = beta_k`` selling WETH drags wstETH down with it, as in :mod:`risk.cascade`.
    """
    mult = 1.0 - impact
    if cross_impact is not None:
        mult = mult * np.prod(1.0 - cross_impact[None, :, :] * impact[:, None, :], axis=2)
    return mult


def driver_cross_impact(book: PositionBook, driver: str, betas: Mapping[str, float]) -> Float64Array2D:
    """Cross-impact matrix in which every asset takes ``beta`` of the driver's impact."""
    beta = book.asset_vector(betas)
    d = book.asset_index(driver)
    cross = np.zeros((book.n_assets, book.n_assets))
    cross[:, d] = beta
    cross[d, d] = 0.0
    return cross


def _run_paths(bk: _Book, exo: NDArray[np.float64], liquidity: LiquidityModel | None, max_rounds: int,
               sell_protocol_fee: bool, max_pairs: int, band: float,
               cross_impact: Float64Array2D | None = None) -> _RunOut:
    """Simulate a set of paths (exact: see :class:`_Scheduler`)."""
    n_paths, n_steps, n_assets = exo.shape
    pd = _PathData.of(bk, exo)
    sch = _Scheduler(bk, pd, band if liquidity is not None else 0.0, max_pairs)
    pr = sch.pairs

    mult = np.ones((n_paths, n_assets))
    sold = np.zeros((n_paths, n_assets))
    n_markets = bk.n_markets
    liquidated_m = np.zeros((n_paths, n_markets))
    seized_m = np.zeros((n_paths, n_markets))
    bad_m = np.zeros((n_paths, n_markets))
    fee_total = np.zeros(n_paths)
    unconverged = np.zeros(n_paths, dtype=np.int64)
    peak = exo[:, 0, :].copy()
    max_dd = np.zeros((n_paths, n_assets))
    asset_index = np.arange(n_assets)
    # One copy of the rules' budgets per path, drawn from through all its steps (risk.budgets).
    budgets = bk.budgets
    room = np.tile(budgets.initial, n_paths) if budgets is not None else np.zeros(0)

    def per_path(paths: NDArray[np.intp], values: Float64Array1D) -> Float64Array1D:
        return np.bincount(paths, weights=values, minlength=n_paths).astype(np.float64, copy=False)

    def per_path_market(cells: NDArray[np.intp], values: Float64Array1D) -> Float64Array2D:
        flat = np.bincount(cells, weights=values, minlength=n_paths * n_markets)
        return flat.astype(np.float64, copy=False).reshape(n_paths, n_markets)

    for k in range(n_steps):
        prices = exo[:, k, :] * mult
        due = sch.pop(k)
        check = due
        rounds = 0
        while check.size:
            path_c = pr.path[check]
            pr_c = prices[path_c]
            lt_c = pr.lt[check]
            c_c, d_c = pr.coll[check], pr.debt[check]
            mask = liquidatable(c_c, d_c, lt_c, pr_c, bk.floored_avg_lt[pr.pos[check]])
            if not mask.any():
                break
            rows = check[mask]
            paths_l = path_c[mask]
            if rounds == max_rounds:
                unconverged[np.flatnonzero(np.bincount(paths_l, minlength=n_paths) > 0)] += 1
                break
            rounds += 1
            pos = pr.pos[rows]
            c_rows, d_rows, p_rows = c_c[mask], d_c[mask], pr_c[mask]
            budget = None if budgets is None else budgets.for_rows(pos, room, paths_l)
            out = liquidate_rows(c_rows, d_rows, lt_c[mask], bk.liq_bonus[pos], bk.protocol_fee[pos],
                                 bk.venue[pos], p_rows, max_passes=_KERNEL_PASSES,
                                 floored_avg_lt=bk.floored_avg_lt[pos], rule_params=bk.rule_params[pos],
                                 budget=budget)
            # Paths where something was liquidated (a row its budget left alone changes nothing).
            moved = np.bincount(paths_l[out.hit], minlength=n_paths) > 0
            changed = np.flatnonzero(moved)
            pr.coll[rows], pr.debt[rows] = c_rows, d_rows
            pr.hit[rows] |= out.hit
            seized_usd = out.seized_tokens * p_rows
            fee_usd = out.protocol_fee_tokens * p_rows
            repaid_usd = out.repaid_tokens * p_rows
            cells = paths_l * n_markets + bk.market[pos]
            liquidated_m += per_path_market(cells, repaid_usd.sum(axis=1))
            seized_m += per_path_market(cells, seized_usd.sum(axis=1))
            fee_total += per_path(paths_l, fee_usd.sum(axis=1))
            bad_m += per_path_market(cells, out.bad_debt_usd)
            if liquidity is None:
                if out.passes < _KERNEL_PASSES:
                    break  # prices did not move and the kernel stopped because nothing was left
                check = rows
                continue
            # As in risk.cascade: impact is driven by token quantities valued at the path's start
            # price, so the same tokens dumped at a lower price do not move the market less.
            sold_tokens = out.seized_tokens if sell_protocol_fee else out.seized_tokens - out.protocol_fee_tokens
            flow = (sold_tokens - out.repaid_tokens) * exo[paths_l, 0, :]
            flow_pa = np.bincount((paths_l[:, None] * n_assets + asset_index).ravel(), weights=flow.ravel(),
                                  minlength=n_paths * n_assets).reshape(n_paths, n_assets)
            sold[changed] += flow_pa[changed]
            mult[changed] = impact_multipliers(np.asarray(liquidity.impact(sold[changed]), dtype=np.float64),
                                               cross_impact)
            if not np.all(mult[changed] > 0):
                raise ValueError("liquidity model returned an impact >= 1 (a price at or below zero)")
            prices[changed] = exo[changed, k, :] * mult[changed]
            escaped = sch.out_of_band(changed, mult)
            if escaped.size:
                extra = sch.rebase(escaped, mult, k)
                if extra.size:
                    in_due = np.zeros(pr.n, dtype=bool)
                    in_due[due] = True
                    due = np.concatenate([due, extra[~in_due[extra]]])
            check = due[moved[pr.path[due]]]
        # Everything looked at this step is rescheduled from the next step while it owes.
        if due.size and k + 1 < n_steps:
            sch.reschedule(due, k + 1)
        np.maximum(peak, prices, out=peak)
        np.maximum(max_dd, 1.0 - prices / peak, out=max_dd)

    hit_count = np.bincount(pr.path[: pr.n][pr.hit[: pr.n]], minlength=n_paths).astype(np.int64)
    # Per-path totals are the sums of the per-market parts (a breakdown adds up to its total).
    return _RunOut(liquidated_m.sum(axis=1), seized_m.sum(axis=1), fee_total, bad_m.sum(axis=1), liquidated_m,
                   seized_m, bad_m, hit_count, max_dd, 1.0 - mult, unconverged, sch.rebases)


@dataclass(frozen=True, eq=False)
class _CompiledCore:
    """The inputs of :func:`risk.compiled_montecarlo.run_paths` for one book and liquidity model."""

    bk: _Book
    book_arrays: tuple[NDArray[Any], ...]
    classes: tuple[NDArray[Any], ...]
    model: int
    impact_params: Float64Array2D
    impact_y: float

    @classmethod
    def of(cls, bk: _Book, liquidity: LiquidityModel | None) -> "_CompiledCore | None":
        """None when the compiled core cannot run it exactly: a rule without a compiled kernel
        (:mod:`risk.rules` kernels), consumable budgets, or a liquidity model it does not
        evaluate itself (:data:`risk.compiled_montecarlo.IMPACT_MODELS`)."""
        from risk import compiled, compiled_montecarlo as cmc
        from risk.liquidity import ConstantDepth, NoImpact, SquareRootImpact

        if bk.budgets is not None or np.any((bk.venue < 0) | (bk.venue > compiled.COMPOUND_V3)):
            return None
        n_assets = bk.debt.shape[1]
        params, y = np.ones((2, n_assets)), 1.0
        if liquidity is None or type(liquidity) is NoImpact:
            model = cmc.NO_IMPACT
        elif type(liquidity) is ConstantDepth:
            model = cmc.CONSTANT_DEPTH
            params[0] = np.asarray(liquidity.depth_usd_per_pct, dtype=np.float64) * 100.0
        elif type(liquidity) is SquareRootImpact:
            model, y = cmc.SQUARE_ROOT, float(liquidity.y)
            params[0] = liquidity.daily_volatility
            params[1] = liquidity.daily_volume_usd
        else:
            return None
        i64 = np.int64
        book_arrays = tuple(np.ascontiguousarray(x) for x in (
            bk.collateral.astype(np.float64), bk.debt.astype(np.float64), bk.liq_threshold.astype(np.float64),
            bk.liq_bonus.astype(np.float64), bk.protocol_fee.astype(np.float64), bk.venue.astype(np.int8),
            bk.floored_avg_lt.astype(np.bool_), bk.market.astype(i64)))
        sizes = [rows.size for rows in bk.class_rows]
        classes = (bk.pos_class.astype(i64), bk.class_c.astype(i64), bk.class_j.astype(i64),
                   np.concatenate([[0], np.cumsum(sizes)]).astype(i64),
                   np.concatenate([np.zeros(0, dtype=i64), *bk.class_rows]).astype(i64),
                   np.concatenate([np.zeros(0), *bk.class_theta]) * (1.0 + _EPS_REL), bk.generic.astype(i64),
                   np.ascontiguousarray(bk.bound_weighted[bk.generic], dtype=np.float64),
                   np.ascontiguousarray(bk.debt[bk.generic], dtype=np.float64))
        return cls(bk, book_arrays, classes, model, params, y)

    def run(self, exo: NDArray[np.float64], max_rounds: int, sell_protocol_fee: bool, band: float,
            cross_impact: Float64Array2D | None) -> _RunOut:
        from risk import compiled_montecarlo as cmc

        n_assets = exo.shape[2]
        liquidated_m, seized_m, bad_m, sums, counts = cmc.run_paths(
            exo, self.book_arrays, self.classes, self.bk.n_markets, self.model, self.impact_params, self.impact_y,
            cross_impact if self.model != cmc.NO_IMPACT else None, band, max_rounds, _KERNEL_PASSES,
            sell_protocol_fee)
        if np.any(counts[:, 3] == cmc.ERROR_IMPACT):
            raise ValueError("liquidity model returned an impact >= 1 (a price at or below zero)")
        return _RunOut(liquidated_m.sum(axis=1), seized_m.sum(axis=1), sums[:, 0], bad_m.sum(axis=1), liquidated_m,
                       seized_m, bad_m, counts[:, 0].copy(), sums[:, 1:1 + n_assets].copy(),
                       sums[:, 1 + n_assets:].copy(), counts[:, 1].copy(), counts[:, 2].copy())


def _run(bk: _Book, paths: NDArray[Any], liquidity: LiquidityModel | None, max_rounds: int,
         sell_protocol_fee: bool, chunk_paths: int, max_pairs: int, band: float,
         cross_impact: Float64Array2D | None = None,
         on_chunk: Callable[[int], None] | None = None, engine: str = "compiled") -> dict[str, NDArray[Any]]:
    """Run all paths in chunks; returns the stacked fields of :class:`_RunOut`.

    ``engine="compiled"`` runs the chunks in :mod:`risk.compiled_montecarlo` when it can run the
    book and the liquidity model (:meth:`_CompiledCore.of`), else in the numpy engine below.
    A numpy chunk whose first candidate pairs exceed ``max_pairs`` is split in two (memory bound).
    ``on_chunk(n)`` is called after each chunk of ``n`` paths completes.
    """
    idx = np.arange(paths.shape[0])
    fields: dict[str, list[NDArray[Any]]] = {}
    todo = [idx[s:s + chunk_paths] for s in range(0, idx.size, chunk_paths)][::-1]
    core = _CompiledCore.of(bk, liquidity) if engine == "compiled" else None
    while todo:
        sel = todo.pop()
        exo = np.asarray(paths[sel[0]:sel[-1] + 1], dtype=np.float64)
        try:
            if core is not None:
                out = core.run(exo, max_rounds, sell_protocol_fee, band, cross_impact)
            else:
                out = _run_paths(bk, exo, liquidity, max_rounds, sell_protocol_fee, max_pairs, band, cross_impact)
        except _TooManyPairs:
            half = sel.size // 2
            todo += [sel[half:], sel[:half]]
            continue
        for name, value in vars(out).items():
            fields.setdefault(name, []).append(value)
        if on_chunk is not None:
            on_chunk(int(sel.size))
    return {name: np.concatenate(parts) for name, parts in fields.items()}


def _counter(progress: Callable[[int, int], None], total: int) -> Callable[[int], None]:
    """``on_chunk(n)`` adding ``n`` paths to a running count reported as ``progress(done, total)``."""
    done = 0

    def on_chunk(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)

    return on_chunk


def _outcomes(f: dict[str, NDArray[Any]]) -> PathOutcomes:
    return PathOutcomes(
        liquidated_debt_usd=f["liquidated"], seized_collateral_usd=f["seized"], protocol_fee_usd=f["fee"],
        bad_debt_usd=f["bad"], positions_hit=f["hit"], max_drawdown=f["max_drawdown"],
        final_impact=f["final_impact"], unconverged_steps=f["unconverged"],
        liquidated_debt_by_market_usd=f["liquidated_m"], seized_by_market_usd=f["seized_m"],
        bad_debt_by_market_usd=f["bad_m"],
    )


def simulate_liquidations(
    book: PositionBook,
    paths_usd: NDArray[Any],
    *,
    liquidity: LiquidityModel | None = None,
    max_rounds: int = 100,
    sell_protocol_fee: bool = False,
    compare_exogenous: bool = True,
    chunk_paths: int = 1024,
    max_pairs: int = 2_000_000,
    band: float = 0.005,
    cross_impact: NDArray[np.float64] | None = None,
    progress: Callable[[int, int], None] | None = None,
    engine: Literal["compiled", "numpy"] = "compiled",
) -> MonteCarloResult:
    """Liquidations along every path, with the cascade's own price impact.

    Parameters
    ----------
    book : PositionBook
        Positions in tokens; ``book.symbols`` gives the asset order of ``paths_usd``.
    paths_usd : ndarray, shape (n_paths, n_steps, n_assets)
        Exogenous prices, USD per unit (e.g. from :mod:`risk.paths`); float32 or float64.
    liquidity : LiquidityModel, optional
        Impact of the cumulative net USD sold per asset and path. ``None`` (or
        :class:`~risk.liquidity.NoImpact`) gives the exogenous-only result.
    max_rounds : int
        Liquidation rounds per step (each followed by an impact update) before giving up; steps
        that give up are counted in ``unconverged_steps``.
    sell_protocol_fee : bool
        Whether the protocol's fee share of seized collateral is sold too (default: kept).
    compare_exogenous : bool
        Also run the same paths without impact (``result.exogenous``).
    chunk_paths : int
        Paths simulated together (memory vs. per-step overhead; results do not depend on it).
    max_pairs : int
        Candidate (path, position) pairs per chunk before the chunk is split (memory bound,
        about 100 bytes per pair per asset pair; results do not depend on it).
    band : float
        Half-width of the impact band the scheduler assumes between rebases (fraction of
        price; speed only: wider means fewer rebases but more positions checked per step).
        Default 0.005: on the bench book (100k positions, 1,000 paths x 288 steps, default depth)
        the endogenous run costs 3.09x the exogenous-only run at 0.002 (1,000 rebases), 2.36x at
        0.005 (280), 2.38x at 0.01, 3.72x at 0.02, 14x at 0.04 (CPU time, same hits at each).
    cross_impact : ndarray, shape (n_assets, n_assets), optional
        ``C[k, j]``: how much of asset ``j``'s impact asset ``k`` takes (zero diagonal); e.g.
        :func:`driver_cross_impact` so that selling WETH drags wstETH (beta 1) with it. ``None``:
        each asset moves with its own impact only.
    progress : callable, optional
        ``progress(done, total)`` after each chunk of paths; ``total`` counts every path of every
        run (twice ``n_paths`` when the exogenous comparison runs too). Results do not depend on it.
    engine : {"compiled", "numpy"}
        ``"compiled"`` (default): the numba per-path event loop of :mod:`risk.compiled_montecarlo`,
        parallel over paths; books with rules that have no compiled kernel or with consumable
        budgets, and liquidity models it does not evaluate itself, run in the numpy engine
        instead (exact either way). ``"numpy"``: the numpy engine (the readable reference).
        The two agree to the last bits of their USD sums (rows are summed in another order).

    Returns
    -------
    MonteCarloResult
    """
    paths = np.asarray(paths_usd)
    if paths.ndim != 3 or paths.shape[2] != book.n_assets:
        raise ValueError(f"paths_usd: expected shape (n_paths, n_steps, {book.n_assets}) in book order "
                         f"{book.symbols}, got {paths.shape}")
    n_paths, n_steps, n_assets = paths.shape
    if n_paths < 1 or n_steps < 1:
        raise ValueError(f"paths_usd: needs at least one path and one step, got {paths.shape}")
    if not np.all(np.isfinite(paths)) or np.any(paths <= 0):
        raise ValueError("paths_usd: prices must be finite and > 0")
    if max_rounds < 1 or chunk_paths < 1 or max_pairs < 1:
        raise ValueError("max_rounds, chunk_paths and max_pairs must be >= 1")
    if engine not in ("compiled", "numpy"):
        raise ValueError(f"unknown Monte Carlo engine {engine!r}; use 'compiled' or 'numpy'")
    if not 0.0 < band < 1.0:
        raise ValueError(f"band: must be in (0, 1), got {band!r}")
    cross = None
    if cross_impact is not None:
        cross = np.array(cross_impact, dtype=np.float64)
        if cross.shape != (n_assets, n_assets) or not np.all(np.isfinite(cross)) or np.any(np.diag(cross) != 0):
            raise ValueError(f"cross_impact: expected a finite ({n_assets}, {n_assets}) matrix with a zero diagonal")
    bk = _Book.of(book)
    runs = 2 if (liquidity is not None and compare_exogenous) else 1
    on_chunk = None if progress is None else _counter(progress, runs * n_paths)

    exo_fields = None
    if compare_exogenous or liquidity is None:
        exo_fields = _run(bk, paths, None, max_rounds, sell_protocol_fee, chunk_paths, max_pairs, band,
                          on_chunk=on_chunk, engine=engine)
    if liquidity is None:
        endo_fields = exo_fields
    else:
        endo_fields = _run(bk, paths, liquidity, max_rounds, sell_protocol_fee, chunk_paths, max_pairs, band, cross,
                           on_chunk=on_chunk, engine=engine)

    assert endo_fields is not None  # one of the two runs above always happens
    endo = _outcomes(endo_fields)
    exo = _outcomes(exo_fields) if (exo_fields is not None and compare_exogenous) else None
    return MonteCarloResult(
        symbols=tuple(book.symbols),
        n_steps=n_steps,
        max_rounds=max_rounds,
        endogenous=endo,
        endogenous_summary=RiskSummary.of(endo),
        exogenous=exo,
        exogenous_summary=RiskSummary.of(exo) if exo is not None else None,
        rebases=int(endo_fields["rebases"].sum()),
        market_ids=market_ids_of(book),
        market_rules=market_rules(book),
    )
