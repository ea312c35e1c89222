"""Monte Carlo of liquidations along price paths, with endogenous cascades.

Along each path (prices from :mod:`risk.paths`, shape ``(n_paths, n_steps, n_assets)``, USD per
unit) the engine walks the steps in order. At step ``k`` every position whose HF < 1 at the
path's current prices is liquidated by its venue's rule (:func:`risk.liquidation.liquidate_rows`);
liquidators sell the seized collateral (less the protocol's fee share, which the protocol keeps,
as in :mod:`risk.cascade`) and buy the repaid debt asset. The *cumulative* net USD sold per asset
on that path goes through the liquidity model, and the resulting impact ``I`` multiplies that
step's and every later step's price of that path::

    price[p, k, a] = exogenous[p, k, a] * (1 - I_a(cum_net_sold_usd[p, a]))

so the path moves endogenously. Within a step this repeats (rounds) until nothing is
liquidatable, at most ``max_rounds`` times (steps cut short are counted in
``PathOutcomes.unconverged_steps``). Impact is per asset (no cross-impact between assets: the
exogenous paths already carry the correlation). Paths are independent of each other.

Speed without changing the answer
---------------------------------
Positions are never looped over in Python, and an (untouched) position is only looked at on a
path from the first step at which a *lower bound* of its HF drops below 1. The bound prices
collateral at ``exogenous * (1 - margin_down)`` and debt at ``exogenous * (1 + margin_up)``
(per path and asset), which is a valid lower bound as long as the realised impacts stay inside
the margin. Positions with one collateral and one debt asset (most of a book) get that first step
from the running minimum of the price ratio (a binary search); others from per-block price
envelopes, refined step by step. A position checked and not liquidatable, or liquidated and
still owing, is rescheduled the same way from the next step. After the run the realised impacts
are compared with the margin; paths that left it are re-run with a wider margin (finally with no
filter at all), so the result equals the brute-force loop over every position at every step.

The exogenous-only run (same paths, no impact) is returned alongside, so the amplification by the
cascade is visible.

Units: USD at the (impacted) prices of the step where each liquidation happened.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from risk.book import PositionBook
from risk.liquidation import liquidatable, liquidate_rows
from risk.liquidity import LiquidityModel

Float64Array1D = NDArray[np.float64]
Float64Array2D = NDArray[np.float64]

QUANTILES = (0.95, 0.99)
"""Levels of LaR and bad-debt VaR reported in :class:`RiskSummary`."""

_EPS_REL = 1e-9
"""Relative slack of the HF lower bound, so float rounding can never drop a liquidation."""
_INITIAL_MARGIN = 0.002
"""Floor of the first impact margin (fraction of price)."""
_MARGIN_GROWTH = 2.0
_MARGIN_PAD = 0.005
_KERNEL_PASSES = 32
"""Liquidation passes per kernel call (the kernel's own default)."""
_UNFILTERED_DOWN = 1.0
_UNFILTERED_UP = 1e300
"""Huge but finite: ``0 * margin`` must stay 0 (no NaN) for assets a position does not hold."""


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
        Liquidity impact at the end of the path (fraction; > 0 = price pushed down).
    unconverged_steps : ndarray of int64, shape (n_paths,)
        Steps whose rounds hit ``max_rounds`` with positions still liquidatable.
    """

    liquidated_debt_usd: Float64Array1D
    seized_collateral_usd: Float64Array1D
    protocol_fee_usd: Float64Array1D
    bad_debt_usd: Float64Array1D
    positions_hit: NDArray[np.int64]
    max_drawdown: Float64Array2D
    final_impact: Float64Array2D
    unconverged_steps: NDArray[np.int64]

    @property
    def n_paths(self) -> int:
        return self.liquidated_debt_usd.shape[0]

    def to_frame(self, symbols: tuple[str, ...], prefix: str = "") -> dict[str, NDArray]:
        """Columns as a dict of 1-D arrays, one row per path (``pandas.DataFrame(...)`` works)."""
        frame: dict[str, NDArray] = {
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


@dataclass(frozen=True, eq=False)
class MonteCarloResult:
    """Endogenous (with liquidity impact) and exogenous-only outcomes on the same paths.

    Attributes
    ----------
    symbols : asset symbols in book order
    n_steps : steps per path (step 0 included)
    endogenous, exogenous : per-path outcomes (``exogenous`` is None if not requested)
    endogenous_summary, exogenous_summary : tail statistics
    margin_reruns : paths re-run because realised impacts left the candidate margin
    """

    symbols: tuple[str, ...]
    n_steps: int
    max_rounds: int
    endogenous: PathOutcomes
    endogenous_summary: RiskSummary
    exogenous: PathOutcomes | None
    exogenous_summary: RiskSummary | None
    margin_reruns: int

    @property
    def n_paths(self) -> int:
        return self.endogenous.n_paths

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

    def to_frame(self) -> dict[str, NDArray]:
        """Per-path columns (``endo_*`` and ``exo_*``) as a dict of 1-D numpy arrays."""
        frame: dict[str, NDArray] = {"path": np.arange(self.n_paths)}
        frame.update(self.endogenous.to_frame(self.symbols, "endo_"))
        if self.exogenous is not None:
            frame.update(self.exogenous.to_frame(self.symbols, "exo_"))
        return frame

    def to_json(self, *, include_paths: bool = False) -> str:
        """Summary (and optionally every per-path column) as JSON; NaN/inf become null."""
        doc: dict[str, Any] = {
            "symbols": list(self.symbols),
            "n_paths": self.n_paths,
            "n_steps": self.n_steps,
            "max_rounds": self.max_rounds,
            "margin_reruns": self.margin_reruns,
            "endogenous": self.endogenous_summary.as_dict(),
            "exogenous": None if self.exogenous_summary is None else self.exogenous_summary.as_dict(),
            "amplification": self.amplification,
        }
        if include_paths:
            doc["paths"] = {k: v.tolist() for k, v in self.to_frame().items()}
        return json.dumps(_finite(doc), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


# ----------------------------------------------------------------------------- engine


@dataclass(frozen=True, eq=False)
class _Book:
    """Book columns plus the classification used by the candidate filter.

    A *simple* position has weighted collateral in exactly one asset ``c`` and debt in exactly
    one other asset ``j``: its HF is ``w_c p_c / (d_j p_j)``, so it is liquidatable iff the price
    ratio ``p_c / p_j`` is below ``theta = d_j / w_c``. Every other position with debt is generic.
    """

    weighted: Float64Array2D  # (n, a) collateral * LT, tokens
    debt: Float64Array2D
    collateral: Float64Array2D
    liq_threshold: Float64Array2D
    liq_bonus: Float64Array2D
    protocol_fee: Float64Array2D
    venue: NDArray[np.int8]
    class_c: NDArray[np.intp]  # (n_classes,) collateral asset of each simple class
    class_j: NDArray[np.intp]  # (n_classes,) debt asset
    class_rows: tuple[NDArray[np.intp], ...]  # rows of each class, sorted by theta
    class_theta: tuple[Float64Array1D, ...]  # theta of those rows, ascending
    pos_class: NDArray[np.intp]  # (n,) class index, -1 for generic / no debt
    generic: NDArray[np.intp]  # rows with debt that are not simple

    @classmethod
    def of(cls, book: PositionBook) -> "_Book":
        weighted = np.asarray(book.weighted_collateral)
        debt = np.asarray(book.debt)
        has_w, has_d = weighted > 0, debt > 0
        n_w, n_d = has_w.sum(axis=1), has_d.sum(axis=1)
        c, j = np.argmax(has_w, axis=1), np.argmax(has_d, axis=1)
        simple = (n_w == 1) & (n_d == 1) & (c != j)
        pos_class = np.full(book.n_positions, -1, dtype=np.intp)
        class_c, class_j, class_rows, class_theta = [], [], [], []
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
        return cls(weighted, debt, np.asarray(book.collateral), np.asarray(book.liq_threshold),
                   np.asarray(book.liq_bonus), np.asarray(book.protocol_fee), np.asarray(book.venue),
                   np.array(class_c, dtype=np.intp), np.array(class_j, dtype=np.intp), tuple(class_rows),
                   tuple(class_theta), pos_class, np.flatnonzero((n_d > 0) & ~simple))


@dataclass(frozen=True, eq=False)
class _Bounds:
    """Worst-case prices of a set of paths, for the HF lower bound, at step and block level.

    Blocks have ``block`` steps; arrays ending in ``_pad`` are padded to ``n_blocks * block``
    steps by repeating the last step (which changes no minimum or maximum).
    """

    n_steps: int
    block: int
    n_blocks: int
    lo_steps: NDArray[np.float64]  # (P, S, A) exogenous * (1 - margin_down): collateral side
    hi_steps: NDArray[np.float64]  # (P, S, A) exogenous * (1 + margin_up): debt side
    lo_blocks: NDArray[np.float64]  # (P, nb, A) block minima of lo_steps
    hi_blocks: NDArray[np.float64]  # (P, nb, A) block maxima of hi_steps
    ratio_pad: NDArray[np.float64]  # (n_classes, P, W) worst-case p_c / p_j per simple class
    ratio_block_suffix_min: NDArray[np.float64]  # (n_classes, P, W) min of ratio from k to its block's end
    ratio_block_min: NDArray[np.float64]  # (n_classes, P, nb)

    @classmethod
    def of(cls, bk: _Book, exo: NDArray[np.float64], margin_down: Float64Array2D,
           margin_up: Float64Array2D) -> "_Bounds":
        n_paths, n_steps, n_assets = exo.shape
        block = max(1, int(math.ceil(math.sqrt(n_steps))))
        n_blocks = -(-n_steps // block)
        width = n_blocks * block
        with np.errstate(invalid="ignore", over="ignore"):
            lo = exo * np.maximum(1.0 - margin_down, 0.0)[:, None, :]
            hi = exo * (1.0 + margin_up)[:, None, :]
        lo_b = _pad(lo, width).reshape(n_paths, n_blocks, block, n_assets).min(axis=2)
        hi_b = _pad(hi, width).reshape(n_paths, n_blocks, block, n_assets).max(axis=2)
        n_cls = bk.class_c.size
        ratio = np.empty((n_cls, n_paths, width))
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            for k in range(n_cls):
                c, j = bk.class_c[k], bk.class_j[k]
                factor = np.maximum(1.0 - margin_down[:, c], 0.0) / (1.0 + margin_up[:, j])
                ratio[k] = _pad(exo[:, :, c] / exo[:, :, j] * factor[:, None], width)
        blocks = ratio.reshape(n_cls, n_paths, n_blocks, block)
        suffix = np.minimum.accumulate(blocks[..., ::-1], axis=3)[..., ::-1].reshape(n_cls, n_paths, width)
        return cls(n_steps, block, n_blocks, lo, hi, lo_b, hi_b, ratio, suffix, blocks.min(axis=3))


def _pad(x: NDArray[np.float64], width: int) -> NDArray[np.float64]:
    """Pad axis 1 to ``width`` by repeating the last entry."""
    extra = width - x.shape[1]
    if extra == 0:
        return x
    return np.concatenate([x, np.repeat(x[:, -1:], extra, axis=1)], axis=1)


def _bound_below_one(weighted: Float64Array2D, debt: Float64Array2D, lo: Float64Array2D,
                     hi: Float64Array2D) -> NDArray[np.bool_]:
    """Row-wise: can HF < 1 with collateral priced at ``lo`` and debt at ``hi``?"""
    with np.errstate(invalid="ignore", over="ignore"):
        w = np.einsum("ij,ij->i", weighted, lo)
        o = np.einsum("ij,ij->i", debt, hi)
        return w < o * (1.0 + _EPS_REL)


def _next_trigger_generic(bd: _Bounds, pair_path: NDArray[np.intp], weighted: Float64Array2D,
                          debt: Float64Array2D, k0: int) -> NDArray[np.int64]:
    """First step >= ``k0`` where the HF lower bound is < 1, per row (``n_steps`` = never)."""
    n_steps, block = bd.n_steps, bd.block
    out = np.full(pair_path.size, n_steps, dtype=np.int64)
    if pair_path.size == 0 or k0 >= n_steps:
        return out
    b0 = k0 // block

    def scan(rows: NDArray[np.intp], first: int, last: int) -> NDArray[np.intp]:
        for k in range(first, last):
            if rows.size == 0:
                break
            hit = _bound_below_one(weighted[rows], debt[rows], bd.lo_steps[pair_path[rows], k],
                                   bd.hi_steps[pair_path[rows], k])
            out[rows[hit]] = k
            rows = rows[~hit]
        return rows

    pending = scan(np.arange(pair_path.size), k0, min((b0 + 1) * block, n_steps))
    for b in range(b0 + 1, bd.n_blocks):
        if pending.size == 0:
            break
        p = pair_path[pending]
        maybe = _bound_below_one(weighted[pending], debt[pending], bd.lo_blocks[p, b], bd.hi_blocks[p, b])
        left = scan(pending[maybe], b * block, min((b + 1) * block, n_steps))
        pending = np.concatenate([pending[~maybe], left]) if left.size else pending[~maybe]
    return out


def _next_trigger_simple(bd: _Bounds, cls: NDArray[np.intp], pair_path: NDArray[np.intp],
                         bar: Float64Array1D, k0: int) -> NDArray[np.int64]:
    """First step >= ``k0`` where the worst-case ratio of a simple pair is below ``bar``."""
    n_steps, block, width = bd.n_steps, bd.block, bd.ratio_pad.shape[2]
    out = np.full(pair_path.size, n_steps, dtype=np.int64)
    if pair_path.size == 0 or k0 >= n_steps:
        return out
    row_base = (cls * bd.ratio_pad.shape[1] + pair_path) * width  # flat offset of each pair's series
    ratio = bd.ratio_pad.reshape(-1)
    b0 = k0 // block
    end0 = (b0 + 1) * block
    here = bd.ratio_block_suffix_min.reshape(-1)[row_base + k0] < bar
    rows = np.flatnonzero(here)
    if rows.size:
        steps = np.arange(k0, end0)
        below = ratio[row_base[rows, None] + steps] < bar[rows, None]
        out[rows] = k0 + np.argmax(below, axis=1)
    rows = np.flatnonzero(~here)
    if rows.size and b0 + 1 < bd.n_blocks:
        blocks = np.arange(b0 + 1, bd.n_blocks)
        n_cls_paths = bd.ratio_block_min.shape[1]
        bmin = bd.ratio_block_min.reshape(-1)[(cls[rows, None] * n_cls_paths + pair_path[rows, None]) * bd.n_blocks
                                              + blocks]
        below_b = bmin < bar[rows, None]
        found = below_b.any(axis=1)
        rows = rows[found]
        first_b = blocks[np.argmax(below_b[found], axis=1)]
        steps = first_b[:, None] * block + np.arange(block)
        below = ratio[row_base[rows, None] + steps] < bar[rows, None]
        out[rows] = first_b * block + np.argmax(below, axis=1)
    np.minimum(out, n_steps, out=out)  # a hit on the padding is the last step itself
    return out


def _simple_bar(bk: _Book, cls: NDArray[np.intp], pos: NDArray[np.intp], coll: Float64Array2D,
                debt: Float64Array2D) -> Float64Array1D:
    """``theta * (1 + eps)`` of simple pairs from their current collateral and debt."""
    c, j = bk.class_c[cls], bk.class_j[cls]
    k = np.arange(cls.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = debt[k, j] / (coll[k, c] * bk.liq_threshold[pos, c])
    return np.where(np.isnan(theta), np.inf, theta) * (1.0 + _EPS_REL)


def _discover(bk: _Book, bd: _Bounds) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.int64]]:
    """Candidate (path, position) pairs and the first step each may be liquidatable."""
    n_steps = bd.n_steps
    paths_parts: list[NDArray[np.intp]] = []
    pos_parts: list[NDArray[np.intp]] = []
    trig_parts: list[NDArray[np.int64]] = []
    for k, (rows, theta) in enumerate(zip(bk.class_rows, bk.class_theta)):
        neg_min = -np.minimum.accumulate(bd.ratio_pad[k, :, :n_steps], axis=1)  # non-decreasing
        bar = theta * (1.0 + _EPS_REL)
        starts = np.searchsorted(bar, -neg_min[:, -1], side="right")
        for p in np.flatnonzero(starts < rows.size):
            s = starts[p]
            paths_parts.append(np.full(rows.size - s, p, dtype=np.intp))
            pos_parts.append(rows[s:])
            trig_parts.append(np.searchsorted(neg_min[p], -bar[s:], side="right").astype(np.int64))
    if bk.generic.size:
        g = bk.generic
        path_lo = bd.lo_blocks.min(axis=1)  # (P, A) whole-path envelope
        path_hi = bd.hi_blocks.max(axis=1)
        with np.errstate(invalid="ignore", over="ignore"):
            cand = (bk.weighted[g] @ path_lo.T) < (bk.debt[g] @ path_hi.T) * (1.0 + _EPS_REL)  # (n_generic, P)
        gi, pi = np.nonzero(cand)
        if gi.size:
            trig = _next_trigger_generic(bd, pi, bk.weighted[g[gi]], bk.debt[g[gi]], 0)
            keep = trig < n_steps
            paths_parts.append(pi[keep])
            pos_parts.append(g[gi[keep]])
            trig_parts.append(trig[keep])
    if not paths_parts:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0, dtype=np.int64)
    return np.concatenate(paths_parts), np.concatenate(pos_parts), np.concatenate(trig_parts)


@dataclass
class _RunOut:
    liquidated: Float64Array1D
    seized: Float64Array1D
    fee: Float64Array1D
    bad: Float64Array1D
    hit: NDArray[np.int64]
    max_drawdown: Float64Array2D
    final_impact: Float64Array2D
    unconverged: NDArray[np.int64]
    mult_min: Float64Array2D
    mult_max: Float64Array2D
    sold_max: Float64Array2D
    sold_min: Float64Array2D


class _TooManyPairs(Exception):
    pass


def _run_paths(bk: _Book, exo: NDArray[np.float64], liquidity: LiquidityModel | None,
               margin_down: Float64Array2D, margin_up: Float64Array2D, max_rounds: int,
               sell_protocol_fee: bool, max_pairs: int) -> _RunOut:
    """Simulate a set of paths; exact if the realised multipliers stay inside the margins."""
    n_paths, n_steps, n_assets = exo.shape
    bd = _Bounds.of(bk, exo, margin_down, margin_up)
    pair_path, pair_pos, trigger = _discover(bk, bd)
    n_pairs = pair_path.size
    if n_pairs > max_pairs and n_paths > 1:
        raise _TooManyPairs
    pair_cls = bk.pos_class[pair_pos]
    coll = bk.collateral[pair_pos]
    debt = bk.debt[pair_pos]
    ever_hit = np.zeros(n_pairs, dtype=bool)

    buckets: list[list[NDArray[np.intp]]] = [[] for _ in range(n_steps)]

    def schedule(ids: NDArray[np.intp], steps: NDArray[np.int64]) -> None:
        keep = steps < n_steps
        ids, steps = ids[keep], steps[keep]
        if ids.size == 0:
            return
        order = np.argsort(steps, kind="stable")
        ids, steps = ids[order], steps[order]
        cuts = np.flatnonzero(np.diff(steps)) + 1
        for part, k in zip(np.split(ids, cuts), steps[np.concatenate([[0], cuts])]):
            buckets[int(k)].append(part)

    schedule(np.arange(n_pairs), trigger)

    mult = np.ones((n_paths, n_assets))
    mult_min = np.ones((n_paths, n_assets))
    mult_max = np.ones((n_paths, n_assets))
    sold = np.zeros((n_paths, n_assets))
    sold_max = np.zeros((n_paths, n_assets))
    sold_min = np.zeros((n_paths, n_assets))
    liquidated = np.zeros(n_paths)
    seized_total = np.zeros(n_paths)
    fee_total = np.zeros(n_paths)
    bad_total = np.zeros(n_paths)
    unconverged = np.zeros(n_paths, dtype=np.int64)
    peak = exo[:, 0, :].copy()
    max_dd = np.zeros((n_paths, n_assets))
    asset_index = np.arange(n_assets)

    def per_path(paths: NDArray[np.intp], values: Float64Array1D) -> Float64Array1D:
        return np.bincount(paths, weights=values, minlength=n_paths)

    for k in range(n_steps):
        prices = exo[:, k, :] * mult
        parts = buckets[k]
        buckets[k] = []
        due = parts[0] if len(parts) == 1 else (np.concatenate(parts) if parts else None)
        if due is not None and due.size:
            check = due
            rounds = 0
            while check.size:
                pr = prices[pair_path[check]]
                lt_check = bk.liq_threshold[pair_pos[check]]
                c_check, d_check = coll[check], debt[check]
                rows_mask = liquidatable(c_check, d_check, lt_check, pr)
                if not rows_mask.any():
                    break
                rows = check[rows_mask]
                paths_l = pair_path[rows]
                changed = np.unique(paths_l)
                if rounds == max_rounds:
                    unconverged[changed] += 1
                    break
                rounds += 1
                pos = pair_pos[rows]
                c_rows, d_rows = c_check[rows_mask], d_check[rows_mask]
                pr_l = pr[rows_mask]
                out = liquidate_rows(c_rows, d_rows, lt_check[rows_mask], bk.liq_bonus[pos],
                                     bk.protocol_fee[pos], bk.venue[pos], pr_l, max_passes=_KERNEL_PASSES)
                coll[rows], debt[rows] = c_rows, d_rows
                ever_hit[rows] |= out.hit
                seized_usd = out.seized_tokens * pr_l
                fee_usd = out.protocol_fee_tokens * pr_l
                repaid_usd = out.repaid_tokens * pr_l
                liquidated += per_path(paths_l, repaid_usd.sum(axis=1))
                seized_total += per_path(paths_l, seized_usd.sum(axis=1))
                fee_total += per_path(paths_l, fee_usd.sum(axis=1))
                bad_total += per_path(paths_l, out.bad_debt_usd)
                flow = (seized_usd if sell_protocol_fee else seized_usd - fee_usd) - repaid_usd
                flow_pa = np.bincount((paths_l[:, None] * n_assets + asset_index).ravel(), weights=flow.ravel(),
                                      minlength=n_paths * n_assets).reshape(n_paths, n_assets)
                sold[changed] += flow_pa[changed]
                sold_max[changed] = np.maximum(sold_max[changed], sold[changed])
                sold_min[changed] = np.minimum(sold_min[changed], sold[changed])
                if liquidity is not None:
                    mult[changed] = 1.0 - np.asarray(liquidity.impact(sold[changed]), dtype=np.float64)
                    mult_min[changed] = np.minimum(mult_min[changed], mult[changed])
                    mult_max[changed] = np.maximum(mult_max[changed], mult[changed])
                    prices[changed] = exo[changed, k, :] * mult[changed]
                elif out.passes < _KERNEL_PASSES:
                    break  # prices did not move and the kernel stopped because nothing was left
                moved = np.zeros(n_paths, dtype=bool)
                moved[changed] = True
                check = due[moved[pair_path[due]]]
            # Everything looked at this step is rescheduled from the next step while it owes.
            if k + 1 < n_steps:
                owing = due[debt[due].any(axis=1)]
                simple = pair_cls[owing] >= 0
                ids = owing[simple]
                if ids.size:
                    bar = _simple_bar(bk, pair_cls[ids], pair_pos[ids], coll[ids], debt[ids])
                    schedule(ids, _next_trigger_simple(bd, pair_cls[ids], pair_path[ids], bar, k + 1))
                ids = owing[~simple]
                if ids.size:
                    weighted = coll[ids] * bk.liq_threshold[pair_pos[ids]]
                    schedule(ids, _next_trigger_generic(bd, pair_path[ids], weighted, debt[ids], k + 1))
        np.maximum(peak, prices, out=peak)
        np.maximum(max_dd, 1.0 - prices / peak, out=max_dd)

    hit_count = np.bincount(pair_path[ever_hit], minlength=n_paths).astype(np.int64)
    return _RunOut(liquidated, seized_total, fee_total, bad_total, hit_count, max_dd, 1.0 - mult,
                   unconverged, mult_min, mult_max, sold_max, sold_min)


def _run(bk: _Book, paths: NDArray, liquidity: LiquidityModel | None, margin_down: Float64Array2D,
         margin_up: Float64Array2D, max_rounds: int, sell_protocol_fee: bool, chunk_paths: int,
         max_pairs: int, idx: NDArray[np.intp]) -> dict[str, NDArray]:
    """Run the paths ``idx`` in chunks; returns the stacked fields of :class:`_RunOut`.

    A chunk whose candidate pairs exceed ``max_pairs`` is split in two (memory bound).
    """
    fields: dict[str, list[NDArray]] = {}
    todo = [idx[s:s + chunk_paths] for s in range(0, idx.size, chunk_paths)][::-1]
    while todo:
        sel = todo.pop()
        exo = np.asarray(paths[sel], dtype=np.float64)
        try:
            out = _run_paths(bk, exo, liquidity, margin_down[sel], margin_up[sel], max_rounds,
                             sell_protocol_fee, max_pairs)
        except _TooManyPairs:
            half = sel.size // 2
            todo += [sel[half:], sel[:half]]
            continue
        for name, value in vars(out).items():
            fields.setdefault(name, []).append(value)
    return {name: np.concatenate(parts) for name, parts in fields.items()}


def _outcomes(f: dict[str, NDArray]) -> PathOutcomes:
    return PathOutcomes(
        liquidated_debt_usd=f["liquidated"], seized_collateral_usd=f["seized"], protocol_fee_usd=f["fee"],
        bad_debt_usd=f["bad"], positions_hit=f["hit"], max_drawdown=f["max_drawdown"],
        final_impact=f["final_impact"], unconverged_steps=f["unconverged"],
    )


def simulate_liquidations(
    book: PositionBook,
    paths_usd: NDArray,
    *,
    liquidity: LiquidityModel | None = None,
    max_rounds: int = 32,
    sell_protocol_fee: bool = False,
    compare_exogenous: bool = True,
    chunk_paths: int = 1024,
    max_pairs: int = 2_000_000,
    max_margin_attempts: int = 3,
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
    max_margin_attempts : int
        Filtered re-runs of paths whose impacts left the margin before running them unfiltered.

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
    bk = _Book.of(book)
    all_idx = np.arange(n_paths)
    zero = np.zeros((n_paths, n_assets))

    exo_fields = None
    if compare_exogenous or liquidity is None:
        exo_fields = _run(bk, paths, None, zero, zero, max_rounds, sell_protocol_fee, chunk_paths,
                       max_pairs, all_idx)

    reruns = 0
    if liquidity is None:
        endo_fields = exo_fields
    else:
        # First margin: twice the impact the exogenous liquidations alone would cause, plus a floor.
        if exo_fields is not None:
            down0 = np.clip(np.asarray(liquidity.impact(exo_fields["sold_max"])), 0.0, None)
            up0 = np.clip(-np.asarray(liquidity.impact(exo_fields["sold_min"])), 0.0, None)
            margin_down = np.minimum(_MARGIN_GROWTH * down0 + _INITIAL_MARGIN, _UNFILTERED_DOWN)
            margin_up = _MARGIN_GROWTH * up0 + _INITIAL_MARGIN
        else:
            margin_down = np.full((n_paths, n_assets), _INITIAL_MARGIN)
            margin_up = np.full((n_paths, n_assets), _INITIAL_MARGIN)
        endo_fields = _run(bk, paths, liquidity, margin_down, margin_up, max_rounds, sell_protocol_fee,
                           chunk_paths, max_pairs, all_idx)
        attempt = 0
        while True:
            outside = (endo_fields["mult_min"] < 1.0 - margin_down) | (endo_fields["mult_max"] > 1.0 + margin_up)
            bad_paths = np.flatnonzero(outside.any(axis=1))
            if bad_paths.size == 0:
                break
            if attempt > max_margin_attempts:  # pragma: no cover - an unfiltered run has no margin to leave
                raise AssertionError("unfiltered re-run left its margin")
            reruns += bad_paths.size
            if attempt == max_margin_attempts:
                margin_down[bad_paths] = _UNFILTERED_DOWN
                margin_up[bad_paths] = _UNFILTERED_UP
            else:
                realised_down = 1.0 - endo_fields["mult_min"][bad_paths]
                realised_up = endo_fields["mult_max"][bad_paths] - 1.0
                margin_down[bad_paths] = np.minimum(
                    np.maximum(margin_down[bad_paths], _MARGIN_GROWTH * realised_down + _MARGIN_PAD), _UNFILTERED_DOWN)
                margin_up[bad_paths] = np.maximum(margin_up[bad_paths], _MARGIN_GROWTH * realised_up + _MARGIN_PAD)
            again = _run(bk, paths, liquidity, margin_down, margin_up, max_rounds, sell_protocol_fee,
                         chunk_paths, max_pairs, bad_paths)
            for name in endo_fields:
                endo_fields[name][bad_paths] = again[name]
            attempt += 1

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
        margin_reruns=reruns,
    )
