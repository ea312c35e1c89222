"""Compiled (numba) pieces of the event-driven cascade (:mod:`risk.cascade_events`, issue 11).

- :func:`pair_round`: one round of every single-pair class in closed form (the arithmetic of
  :func:`risk.pair_classes.liquidate_pair_classes`, compiled). The class sums over contiguous
  slices are differences of *double-double* prefix sums, built once per grid (they do not depend
  on the drawdown): a slice sum is then accurate to the double rounding of the slice itself plus
  ~1e-32 of the whole prefix, i.e. as accurate as summing the slice, but O(1) instead of O(slice).
  Bad debt stays a per-position sum (``max(debt - collateral / bonus, 0)``, as the reference).
- :func:`active_round`: one round over an *active list* of row ids. A row is touched only when
  its schedule says it may have become liquidatable: after every check the row gets a key on the
  cumulative price path ``L = sum_k |m_k - m_(k-1)|_inf`` (``m`` the prices as multiples of spot).
  With ``G_j = (coll_j * LT'_j - debt_j) * spot_j`` (``LT'`` = LT less 1 bp on floored rows, a lower
  bound of the floored average) and the round's multipliers ``m``, every later price ``m'`` has
  ``sum(coll LT p') - sum(debt p') >= G.m - |G|_1 |m' - m|_inf >= G.m - |G|_1 (L' - L)``, so the
  row cannot be liquidatable before ``L' >= L + (G.m - tol) / |G|_1`` (``tol`` a relative 1e-10 of
  the row's USD magnitude, far above the rounding of the kernel's sums). Exact: a row whose key is
  passed is re-checked with the row kernel's own health check. Rows left without debt leave the list.
  Liquidations use :func:`risk.compiled._liquidate_row` (the compiled built-in rules), unchanged.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

import numba

from risk import compiled
from risk.compiled import _CACHE

BUILTIN_MAX_CODE = compiled.COMPOUND_V3
SLACK_RELATIVE_TOLERANCE = 1e-10
"""Part of a row's USD magnitude kept back from its slack before it is scheduled (rounding room)."""


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _two_sum(a: float, b: float) -> tuple[float, float]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def dd_prefix(values: NDArray[np.float64], hi: NDArray[np.float64], lo: NDArray[np.float64]) -> None:
    """``hi[i] + lo[i]`` = sum of ``values[:i]`` in double-double (``hi``/``lo`` of size n + 1)."""
    h, e = 0.0, 0.0
    hi[0], lo[0] = 0.0, 0.0
    for i in range(values.shape[0]):
        s, err = _two_sum(h, values[i])
        e += err
        h, e = _two_sum(s, e)
        hi[i + 1], lo[i + 1] = h, e


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _dd_slice(hi: NDArray[np.float64], lo: NDArray[np.float64], start: int, stop: int) -> float:
    if stop <= start:
        return 0.0
    s, e = _two_sum(hi[stop], -hi[start])
    return float(s + (e + (lo[stop] - lo[start])))


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def pair_round(starts: NDArray[np.int64], stops: NDArray[np.int64], venue: NDArray[np.int64],
               coll_asset: NDArray[np.int64], debt_asset: NDArray[np.int64], liq_threshold: NDArray[np.float64],
               liq_bonus: NDArray[np.float64], protocol_fee: NDArray[np.float64], one_shot: NDArray[np.bool_],
               q: NDArray[np.float64], collateral: NDArray[np.float64], debt: NDArray[np.float64],
               coll_hi: NDArray[np.float64], coll_lo: NDArray[np.float64],
               debt_hi: NDArray[np.float64], debt_lo: NDArray[np.float64], frontier: NDArray[np.float64],
               prices: NDArray[np.float64], compound_code: int, close_factor_hf: float,
               seized: NDArray[np.float64], fees: NDArray[np.float64], repaid: NDArray[np.float64],
               class_repaid_usd: NDArray[np.float64], class_seized_usd: NDArray[np.float64],
               class_bad_usd: NDArray[np.float64], class_count: NDArray[np.int64],
               partial_out: NDArray[np.int64], n_partial: int) -> tuple[int, int]:
    """One round of the pair classes at ``prices`` (shape (n_assets,)), flat class arrays with
    class ``k`` at ``[starts[k], stops[k])`` sorted by ``q``. Adds tokens per asset to
    ``seized``/``fees``/``repaid``; writes per class USD and counts (zeroed here); appends the flat
    indices first reached under a close factor to ``partial_out`` from ``n_partial`` on (for
    :func:`close_factor_round`, in the same round).
    Returns (positions liquidated in closed form, new ``n_partial``)."""
    count = 0
    for k in range(starts.shape[0]):
        class_repaid_usd[k] = 0.0
        class_seized_usd[k] = 0.0
        class_bad_usd[k] = 0.0
        class_count[k] = 0
        a, b = coll_asset[k], debt_asset[k]
        p_a, p_b = prices[a], prices[b]
        rho = p_a / p_b
        if not rho < frontier[k]:
            continue
        lt, bonus = liq_threshold[k], liq_bonus[k]
        s0, s1 = starts[k], stops[k]
        qs = q[s0:s1]
        if np.isinf(frontier[k]):
            hi = s1
        else:
            hi = s0 + np.searchsorted(qs, lt * frontier[k], side="right")
        lo = s0 + np.searchsorted(qs, lt * rho, side="right")
        frontier[k] = rho
        if lo >= hi:
            continue
        if one_shot[k]:
            deep = lo
        else:
            deep = max(lo, s0 + np.searchsorted(qs, lt * rho / close_factor_hf, side="left"))
            deep = min(deep, hi)
            for i in range(lo, deep):
                partial_out[n_partial] = i
                n_partial += 1
        if hi <= deep:
            continue
        split = min(max(s0 + np.searchsorted(qs, rho / bonus, side="right"), deep), hi)
        debt_solvent = _dd_slice(debt_hi, debt_lo, deep, split)
        coll_solvent = _dd_slice(coll_hi, coll_lo, deep, split)
        coll_insolvent = _dd_slice(coll_hi, coll_lo, split, hi)
        repaid_tokens = debt_solvent + coll_insolvent * p_a / (bonus * p_b)
        repaid[b] += repaid_tokens
        bad = 0.0
        for i in range(split, hi):
            bad += max(debt[i] * p_b - collateral[i] * p_a / bonus, 0.0)
        class_bad_usd[k] = bad
        if venue[k] == compound_code:
            seized_tokens = coll_solvent + coll_insolvent
        else:
            seized_tokens = debt_solvent * p_b * bonus / p_a + coll_insolvent
            fees[a] += protocol_fee[k] * (debt_solvent * p_b * (bonus - 1.0) / p_a + coll_insolvent * (1.0 - 1.0 / bonus))
        seized[a] += seized_tokens
        class_repaid_usd[k] = repaid_tokens * p_b
        class_seized_usd[k] = seized_tokens * p_a
        class_count[k] = hi - deep
        count += hi - deep
    return count, n_partial


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _schedule(i: int, collateral: NDArray[np.float64], debt: NDArray[np.float64],
              bound_lt: NDArray[np.float64], spot: NDArray[np.float64], prices: NDArray[np.float64],
              path: float, schedule_scale: float) -> float:
    """The path length at which row ``i`` (healthy now) must be checked again (``schedule_scale``
    is 1; the tests set it above 1 to show that a schedule that skips too far is caught)."""
    slack, lipschitz, magnitude = 0.0, 0.0, 0.0
    for k in range(collateral.shape[1]):
        g = collateral[i, k] * bound_lt[i, k] - debt[i, k]
        slack += g * prices[0, k]
        lipschitz += abs(g) * spot[k]
        magnitude += (abs(collateral[i, k] * bound_lt[i, k]) + abs(debt[i, k])) * prices[0, k]
    room = slack - SLACK_RELATIVE_TOLERANCE * magnitude
    if not (room > 0 and lipschitz > 0):
        return path  # check again next round
    return path + schedule_scale * room / lipschitz


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def active_round(active: NDArray[np.int64], n_active: int, key: NDArray[np.float64], path: float,
                 collateral: NDArray[np.float64], debt: NDArray[np.float64], liq_threshold: NDArray[np.float64],
                 bound_lt: NDArray[np.float64], liq_bonus: NDArray[np.float64], protocol_fee: NDArray[np.float64],
                 venue: NDArray[np.int8], market: NDArray[np.int32], floored: NDArray[np.bool_],
                 spot: NDArray[np.float64], prices: NDArray[np.float64], hit: NDArray[np.bool_],
                 touched: NDArray[np.bool_], touched_rows: NDArray[np.int64], n_touched: int, max_passes: int,
                 seized_tokens: NDArray[np.float64], fee_tokens: NDArray[np.float64],
                 repaid_tokens: NDArray[np.float64], liquidated_by_market_usd: NDArray[np.float64],
                 seized_by_market_usd: NDArray[np.float64], bad_debt_by_market_usd: NDArray[np.float64],
                 checks: NDArray[np.int64], schedule_scale: float = 1.0) -> tuple[int, int, int]:
    """One cascade round over the rows ``active[:n_active]`` at ``prices`` (shape (1, n_assets)):
    rows whose key is passed are checked; liquidatable ones are liquidated by the compiled rule
    kernel (as :func:`risk.compiled._pool_round`), the rest rescheduled; rows without debt leave
    the list (compacted in order). Rows first written are recorded in ``touched_rows`` (to be
    restored after the grid point). Returns (rows liquidated, new ``n_active``, new ``n_touched``).
    ``checks[0]`` counts the health checks made (for the bench and the tests)."""
    n = collateral.shape[1]
    row_seized, row_fees, row_repaid = np.zeros(n), np.zeros(n), np.zeros(n)
    count = 0
    kept = 0
    for idx in range(n_active):
        i = active[idx]
        if venue[i] > BUILTIN_MAX_CODE or venue[i] < 0:
            continue  # rows of rules with their own kernel are run by the caller
        if key[i] > path:
            active[kept] = i
            kept += 1
            continue
        checks[0] += 1
        owed = compiled._debt_usd(debt, prices, i, 0)
        if not (owed > compiled.DUST_USD
                and compiled._weighted_usd(collateral, liq_threshold, prices, i, 0, floored[i]) < owed):
            if owed > 0 or _has_debt(debt, i):
                key[i] = _schedule(i, collateral, debt, bound_lt, spot, prices, path, schedule_scale)
                active[kept] = i
                kept += 1
            continue
        if not touched[i]:
            touched[i] = True
            touched_rows[n_touched] = i
            n_touched += 1
        row_seized[:] = 0.0
        row_fees[:] = 0.0
        row_repaid[:] = 0.0
        bad_debt_usd, passes = compiled._liquidate_row(i, 0, collateral, debt, liq_threshold, liq_bonus, protocol_fee,
                                                       venue, prices, floored[i], row_seized, row_fees, row_repaid,
                                                       max_passes)
        if passes > 0:
            hit[i] = True
        count += 1
        repaid_usd, seized_usd = compiled._add_row_tokens(row_seized, row_fees, row_repaid, prices, seized_tokens,
                                                          fee_tokens, repaid_tokens)
        m = market[i]
        liquidated_by_market_usd[m] += repaid_usd
        seized_by_market_usd[m] += seized_usd
        bad_debt_by_market_usd[m] += bad_debt_usd
        if _has_debt(debt, i):
            # still owing: healthy again (or out of passes: then its key is this round's path)
            key[i] = _schedule(i, collateral, debt, bound_lt, spot, prices, path, schedule_scale)
            active[kept] = i
            kept += 1
    return count, kept, n_touched


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _has_debt(debt: NDArray[np.float64], i: int) -> bool:
    for k in range(debt.shape[1]):
        if debt[i, k] != 0.0:
            return True
    return False


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def restore_rows(rows: NDArray[np.int64], n_rows: int, collateral: NDArray[np.float64], debt: NDArray[np.float64],
                 pristine_collateral: NDArray[np.float64], pristine_debt: NDArray[np.float64],
                 touched: NDArray[np.bool_], hit: NDArray[np.bool_], market: NDArray[np.int32],
                 hits_by_market: NDArray[np.int64]) -> None:
    """After a grid point: count the hit rows per market, put the touched rows back as at the block."""
    for r in range(n_rows):
        i = rows[r]
        if hit[i]:
            hits_by_market[market[i]] += 1
        hit[i] = False
        touched[i] = False
        for k in range(collateral.shape[1]):
            collateral[i, k] = pristine_collateral[i, k]
            debt[i, k] = pristine_debt[i, k]


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _compact(store_flat: NDArray[np.int64], store_coll: NDArray[np.float64], store_debt: NDArray[np.float64],
             store_q: NDArray[np.float64], store_hit: NDArray[np.bool_], seg_class: NDArray[np.int64],
             seg_lo: NDArray[np.int64], seg_hi: NDArray[np.int64], sizes: NDArray[np.int64]) -> None:
    """Move the live members of the live segments to the front of the store (order kept)."""
    write, kept = 0, 0
    for s in range(sizes[1]):
        lo, hi = seg_lo[s], seg_hi[s]
        if hi <= lo:
            continue
        for r in range(lo, hi):
            store_flat[write + r - lo] = store_flat[r]
            store_coll[write + r - lo] = store_coll[r]
            store_debt[write + r - lo] = store_debt[r]
            store_q[write + r - lo] = store_q[r]
            store_hit[write + r - lo] = store_hit[r]
        seg_class[kept] = seg_class[s]
        seg_lo[kept] = write
        seg_hi[kept] = write + hi - lo
        write += hi - lo
        kept += 1
    sizes[0], sizes[1] = write, kept


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def close_factor_round(new_flat: NDArray[np.int64], n_new: int, flat_class: NDArray[np.int64],
                       venue: NDArray[np.int64], coll_asset: NDArray[np.int64], debt_asset: NDArray[np.int64],
                       liq_threshold: NDArray[np.float64], liq_bonus: NDArray[np.float64],
                       protocol_fee: NDArray[np.float64], collateral: NDArray[np.float64], debt: NDArray[np.float64],
                       store_flat: NDArray[np.int64], store_coll: NDArray[np.float64], store_debt: NDArray[np.float64],
                       store_q: NDArray[np.float64], store_hit: NDArray[np.bool_], seg_class: NDArray[np.int64],
                       seg_lo: NDArray[np.int64], seg_hi: NDArray[np.int64], sizes: NDArray[np.int64],
                       prices: NDArray[np.float64], max_passes: int, seized: NDArray[np.float64],
                       fees: NDArray[np.float64], repaid: NDArray[np.float64],
                       class_repaid_usd: NDArray[np.float64], class_seized_usd: NDArray[np.float64],
                       class_bad_usd: NDArray[np.float64], class_count: NDArray[np.int64]) -> int:
    """One round of the single-pair positions under a close factor (Aave), in class order.

    Members live in a *store* (``store_*``, amounts in tokens, ``q = debt / collateral``) cut into
    *segments* (``seg_class``/``seg_lo``/``seg_hi``; ``sizes`` = [store entries, segments]), each
    sorted by ``q`` ascending. A member enters at the round :func:`pair_round` first reaches it
    (``new_flat[:n_new]``, flat class indices, pristine amounts). Each round, a segment's members
    with ``q > LT * rho`` (a suffix: a binary search) are liquidated one by one by the row kernel's
    own arithmetic (:func:`risk.compiled._liquidate_row_from` on a one-row scratch book: the same
    operations as on the book row, whose other entries are zeros: close factor, Aave v3.3's
    $2,000 / $1,000 rules, several passes, bad debt); each member's tokens are bit-identical to
    the kernel's. Survivors (debt left) join new segments in their order, a new segment whenever
    ``q`` would decrease: one partial pass with the same prices maps a slice's amounts by the same
    linear map (``debt' = debt / 2``, ``coll' = coll - debt * bonus / (2 rho)``), which keeps
    their order, so a slice stays one segment and no member is looked at until its ``q`` crosses
    the threshold (no per-round re-checks). Adds tokens per asset to ``seized``/``fees``/``repaid``
    and per class USD and first hits to the ``class_*`` arrays (not zeroed here); returns the
    members liquidated this round."""
    n_assets = prices.shape[1]
    cap = store_flat.shape[0]
    # Appends this round <= live members + n_new, and live members <= sizes[0]: compacting when
    # this could overflow keeps the store (2x the members that can enter it) from ever filling.
    if 2 * sizes[0] + n_new > cap:
        _compact(store_flat, store_coll, store_debt, store_q, store_hit, seg_class, seg_lo, seg_hi, sizes)
    row_c, row_d = np.zeros((1, n_assets)), np.zeros((1, n_assets))
    row_lt, row_bonus, row_fee = np.zeros((1, n_assets)), np.zeros((1, n_assets)), np.zeros((1, n_assets))
    row_venue = np.zeros(1, dtype=np.int8)
    row_seized, row_fees, row_repaid = np.zeros(n_assets), np.zeros(n_assets), np.zeros(n_assets)
    count = 0
    n_segments = sizes[1]
    # the existing segments' due suffixes first, then the members reached this round
    for source in range(n_segments + 1):
        if source < n_segments:
            k = seg_class[source]
            lo, hi = seg_lo[source], seg_hi[source]
            if hi <= lo:
                continue
            rho = prices[0, coll_asset[k]] / prices[0, debt_asset[k]]
            first = lo + np.searchsorted(store_q[lo:hi], liq_threshold[k] * rho, side="right")
            if first >= hi:
                continue
            seg_hi[source] = first
        else:
            first, hi = 0, n_new
        current = -1  # the segment survivors are appended to (-1: open a new one)
        k_row = -1
        for r in range(first, hi):
            if source < n_segments:
                flat, c, d, was_hit = store_flat[r], store_coll[r], store_debt[r], store_hit[r]
            else:
                flat = new_flat[r]
                c, d, was_hit = collateral[flat], debt[flat], False
            k = flat_class[flat]
            a, b = coll_asset[k], debt_asset[k]
            if k != k_row:  # the class's parameters on the scratch row
                row_c[0, :] = 0.0
                row_d[0, :] = 0.0
                row_lt[0, :] = 0.0
                row_lt[0, a] = liq_threshold[k]
                row_bonus[0, :] = liq_bonus[k]
                row_fee[0, :] = protocol_fee[k]
                row_venue[0] = venue[k]
                k_row = k
                current = -1
            row_c[0, a], row_d[0, b] = c, d
            owed = compiled._debt_usd(row_d, prices, 0, 0)
            weighted = compiled._weighted_usd(row_c, row_lt, prices, 0, 0, False)
            if owed > compiled.DUST_USD and weighted < owed:
                row_seized[:] = 0.0
                row_fees[:] = 0.0
                row_repaid[:] = 0.0
                bad_debt_usd, passes = compiled._liquidate_row_from(
                    0, 0, row_c, row_d, row_lt, row_bonus, row_fee, row_venue, prices, False, row_seized, row_fees,
                    row_repaid, max_passes, owed, weighted)
                count += 1
                repaid_usd, seized_usd = compiled._add_row_tokens(row_seized, row_fees, row_repaid, prices, seized,
                                                                  fees, repaid)
                class_repaid_usd[k] += repaid_usd
                class_seized_usd[k] += seized_usd
                class_bad_usd[k] += bad_debt_usd
                if passes > 0 and not was_hit:
                    class_count[k] += 1
                    was_hit = True
                c, d = row_c[0, a], row_d[0, b]
            if d == 0.0:
                continue  # closed (or written off): out of the cascade
            q = d / c
            w = sizes[0]
            if current < 0 or q < store_q[w - 1]:
                current = sizes[1]
                seg_class[current] = k
                seg_lo[current] = w
                sizes[1] += 1
            store_flat[w], store_coll[w], store_debt[w], store_q[w], store_hit[w] = flat, c, d, q, was_hit
            sizes[0] = w + 1
            seg_hi[current] = w + 1
    return count


__all__ = ["active_round", "close_factor_round", "dd_prefix", "pair_round", "restore_rows"]
