"""Closed-form liquidation of single-pair positions, many at a time, by prefix sums.

A position with exactly one collateral asset ``a`` and one debt asset ``b`` (most of a real
book) is liquidatable iff ``q = debt / collateral > LT * rho`` with ``rho = p_a / p_b``. Its
liquidation is *one-shot* (debt closed, or collateral exhausted and the rest bad debt) whenever
the venue's rule repays the whole debt: always on Morpho Blue and Compound V3, and on Aave when
HF <= 0.95 (``q >= LT * rho / 0.95``). In that case every amount is linear in (collateral, debt)
on either side of the solvency line ``q = rho / bonus``, so a whole *class* of such positions
(same venue, assets, LT, bonus, fee) sorted by ``q`` is liquidated with a few binary searches and
sums over contiguous slices — no per-position Python work, and every position is summed once per
cascade (the frontier never revisits a slice).

Sums are taken over the slice itself, never as differences of running (prefix) sums: every term
is non-negative, so the result carries a relative error of at most ``n * eps`` of *itself*, the
same as the row kernel's per-row sums. A difference of two large prefix sums would instead carry
an error relative to the whole prefix (a flaky 1e-8 on a small slice behind large positions).
Bad debt is summed per position (``debt - collateral / bonus``, each >= 0) for the same reason.

Positions first reached while 0.95 < HF < 1 on Aave (a partial, close-factor liquidation) are
handed back to the caller to go through :func:`risk.liquidation.liquidate_rows` with the rest.
The amounts are the ones ``liquidate_rows`` computes (tested equal through the cascade's
plain-loop reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from risk.book import PositionBook
from risk.liquidation import CLOSE_FACTOR_HF_THRESHOLD, COMPOUND_V3
from risk.rules import RULES, one_shot_codes, pair_fast_path_codes, rule

_MIN_DEBT_USD = 1.0
"""Positions owing less than this at spot stay with the row kernel (its dust rules apply)."""


@dataclass(frozen=True, eq=False)
class PairClass:
    """Single-pair positions sharing venue, assets and parameters, sorted by ``q`` ascending.

    rows : book row indices; q : debt / collateral (tokens per token);
    collateral, debt : the positions' amounts in the same order, tokens.
    """

    venue: int
    collateral_asset: int
    debt_asset: int
    liq_threshold: float
    liq_bonus: float
    protocol_fee: float
    rows: NDArray[np.intp]
    q: NDArray[np.float64]
    collateral: NDArray[np.float64]
    debt: NDArray[np.float64]
    market: int = 0
    """index into ``PositionBook.market_ids`` (classes never mix markets: per-market splits)"""

    @property
    def one_shot_always(self) -> bool:
        return self.venue in one_shot_codes()


def split_pair_classes(book: PositionBook) -> tuple[list[PairClass], NDArray[np.intp]]:
    """Group single-pair positions into classes; return them and the rows left for the kernel."""
    held = book.collateral > 0
    owed = book.debt > 0
    single = (held.sum(axis=1) == 1) & (owed.sum(axis=1) == 1)
    a = np.argmax(held, axis=1)
    b = np.argmax(owed, axis=1)
    rows = np.arange(book.n_positions)
    lt = book.liq_threshold[rows, a]
    single &= (a != b) & (lt > 0) & (book.debt[rows, b] * book.prices_usd[b] >= _MIN_DEBT_USD)
    # Only rules that declare the closed form take it (risk.rules); an unknown rule is an error.
    unknown = (book.venue < 0) | (book.venue >= len(RULES))
    if unknown.any():
        rule(int(book.venue[unknown][0]))
    single &= np.isin(book.venue, pair_fast_path_codes())
    chosen = np.flatnonzero(single)
    rest = np.flatnonzero(~single)
    if chosen.size == 0:
        return [], rest
    key_columns = [
        book.venue[chosen], a[chosen], b[chosen], lt[chosen],
        book.liq_bonus[chosen, a[chosen]], book.protocol_fee[chosen, a[chosen]], book.market[chosen],
    ]
    classes = []
    for members in class_members(chosen, key_columns):
        first = members[0]
        ca, db = int(a[first]), int(b[first])
        coll = book.collateral[members, ca]
        debt = book.debt[members, db]
        q = debt / coll
        order = np.argsort(q, kind="stable")
        classes.append(
            PairClass(
                venue=int(book.venue[first]), collateral_asset=ca, debt_asset=db,
                liq_threshold=float(lt[first]), liq_bonus=float(book.liq_bonus[first, ca]),
                protocol_fee=float(book.protocol_fee[first, ca]),
                rows=members[order], q=q[order],
                collateral=coll[order], debt=debt[order], market=int(book.market[first]),
            )
        )
    return classes, rest


def class_members(rows: NDArray[np.intp], key_columns: list[NDArray[Any]]) -> list[NDArray[np.intp]]:
    """``rows`` grouped by equal keys (one value per row in each column): the groups in ascending
    lexicographic order of the keys, each group's rows in their order in ``rows`` — what
    ``np.unique(np.column_stack(keys), axis=0, return_inverse=True)`` gives, without its
    row-wise sort (1.6 s of the 1M-position bench book's set-up, issue 11). Each column becomes
    its rank (a 1-D ``np.unique``; an integer column its offset from its minimum), the ranks are packed
    into one int64 (mixed radix) and sorted once, stably; a key space too large for int64 falls
    back to one ``np.lexsort`` of the ranks (the same order)."""
    ranks, sizes = [], []
    for column in key_columns:
        if np.issubdtype(column.dtype, np.integer) and column.size:  # small codes: an offset keeps the order
            low, high = int(column.min()), int(column.max())
            ranks.append(column.astype(np.int64) - low)
            sizes.append(high - low + 1)
            continue
        values, rank = np.unique(column, return_inverse=True)
        ranks.append(rank.ravel().astype(np.int64))
        sizes.append(max(int(values.size), 1))
    if float(np.prod(np.array(sizes, dtype=np.float64))) < 2.0**62:
        packed = np.zeros(rows.size, dtype=np.int64)
        for rank, size in zip(ranks, sizes):
            packed = packed * size + rank
        order = np.argsort(packed, kind="stable")
        sorted_keys = packed[order]
        starts = np.flatnonzero(np.diff(sorted_keys)) + 1
    else:
        order = np.lexsort(ranks[::-1])
        stacked = np.stack([r[order] for r in ranks])
        starts = np.flatnonzero(np.any(np.diff(stacked, axis=1) != 0, axis=0)) + 1
    return np.split(rows[order], starts)


@dataclass
class PairRound:
    """What one round did to the pair classes (tokens per asset, USD bad debt, count)."""

    seized_tokens: NDArray[np.float64]
    fee_tokens: NDArray[np.float64]
    repaid_tokens: NDArray[np.float64]
    bad_debt_usd: float
    positions: int
    partial_rows: NDArray[np.intp]
    """Rows first reached in a partial (close-factor) state: liquidate them with the kernel."""
    class_repaid_usd: NDArray[np.float64] | None = None
    """per class (shape (n_classes,)): debt repaid this round, USD at the round's prices"""
    class_seized_usd: NDArray[np.float64] | None = None
    """per class: collateral seized (protocol fee included), USD"""
    class_bad_debt_usd: NDArray[np.float64] | None = None
    class_positions: NDArray[np.int64] | None = None

    @property
    def any(self) -> bool:
        return self.positions > 0 or self.partial_rows.size > 0


def liquidate_pair_classes(
    classes: list[PairClass], frontier_rho: NDArray[np.float64], prices_usd: NDArray[np.float64], n_assets: int
) -> PairRound:
    """Liquidate the positions newly liquidatable at ``prices_usd``; update ``frontier_rho``.

    ``frontier_rho[k]`` is the lowest ``rho`` class ``k`` has been liquidated at (inf at the
    start): every position with ``q > LT * frontier`` has been dealt with already.
    """
    seized = np.zeros(n_assets)
    fees = np.zeros(n_assets)
    repaid = np.zeros(n_assets)
    bad = 0.0
    count = 0
    partial: list[NDArray[np.intp]] = []
    n_classes = len(classes)
    class_repaid, class_seized = np.zeros(n_classes), np.zeros(n_classes)
    class_bad, class_count = np.zeros(n_classes), np.zeros(n_classes, dtype=np.int64)
    for k, cls in enumerate(classes):
        a, b = cls.collateral_asset, cls.debt_asset
        p_a, p_b = prices_usd[a], prices_usd[b]
        rho = p_a / p_b
        if not rho < frontier_rho[k]:
            continue
        lt, bonus = cls.liq_threshold, cls.liq_bonus
        hi = len(cls.q) if np.isinf(frontier_rho[k]) else int(np.searchsorted(cls.q, lt * frontier_rho[k], "right"))
        lo = int(np.searchsorted(cls.q, lt * rho, "right"))  # q > LT * rho: HF < 1
        frontier_rho[k] = rho
        if lo >= hi:
            continue
        if cls.one_shot_always:
            deep = lo
        else:  # Aave: HF <= 0.95 closes the whole reserve debt; above, a close factor applies
            deep = max(lo, int(np.searchsorted(cls.q, lt * rho / CLOSE_FACTOR_HF_THRESHOLD, "left")))
            deep = min(deep, hi)
            if deep > lo:
                partial.append(cls.rows[lo:deep])
        if hi <= deep:
            continue
        # Solvent (collateral covers debt x bonus) iff q <= rho / bonus.
        split = min(max(int(np.searchsorted(cls.q, rho / bonus, "right")), deep), hi)
        debt_solvent = float(cls.debt[deep:split].sum())
        coll_solvent = float(cls.collateral[deep:split].sum())
        coll_insolvent = float(cls.collateral[split:hi].sum())
        repaid_tokens = debt_solvent + coll_insolvent * p_a / (bonus * p_b)
        repaid[b] += repaid_tokens
        # Per position (each term >= 0 up to rounding), as the kernel writes off each row's rest.
        shortfall_usd = cls.debt[split:hi] * p_b - cls.collateral[split:hi] * p_a / bonus
        class_bad[k] = float(np.maximum(shortfall_usd, 0.0).sum())
        bad += class_bad[k]
        if cls.venue == COMPOUND_V3:  # absorb takes all collateral; no protocol fee
            seized_tokens = coll_solvent + coll_insolvent
        else:
            seized_tokens = debt_solvent * p_b * bonus / p_a + coll_insolvent
            fees[a] += cls.protocol_fee * (debt_solvent * p_b * (bonus - 1.0) / p_a + coll_insolvent * (1.0 - 1.0 / bonus))
        seized[a] += seized_tokens
        class_repaid[k], class_seized[k] = repaid_tokens * p_b, seized_tokens * p_a
        class_count[k] = hi - deep
        count += hi - deep
    rows = np.concatenate(partial) if partial else np.zeros(0, dtype=np.intp)
    return PairRound(seized, fees, repaid, bad, count, rows, class_repaid, class_seized, class_bad, class_count)
