"""Compiled (numba) Monte Carlo core: the per-path event loop of :mod:`risk.montecarlo`, parallel
over paths (issue 11, "a compiled core").

Paths are independent, so :func:`run_paths` runs them with ``numba.prange`` and each path's
results depend on that path's prices alone: bit-identical for any number of threads and any
chunking of the paths. Per path the state is small: the book is read-only and shared; a row
liquidated on the path gets a *slot* (its own copy of the row's amounts and parameters) in the
path's overlay, and every later check and liquidation of that row on the path uses the slot.

Which rows are looked at, per path (the result equals checking every row at every step):

- **Single-pair rows** (weighted collateral in one asset ``c``, debt in one other asset ``j``):
  HF < 1 iff the price ratio ``p_c / p_j`` is below ``theta = d_j / w_c``. Each (c, j) class is
  sorted by ``theta`` once per book (:class:`risk.montecarlo._Book`), so the rows that can be
  liquidatable are those with ``theta (1 + 1e-9)`` above the running minimum of the path's
  *actual* (impacted) ratio: a suffix of the class, found by moving one pointer per class down
  as that minimum falls, at every round. Cost O(classes) per round plus O(1) per row reached.
  A row reached joins the watch list below.
- **Watch list**: the rows reached, and every multi-asset row whose HF lower bound can be < 1
  from the current step on. Each entry has the first step at which its bound can be < 1: the
  bound prices collateral at ``exo * f_lo`` and debt at ``exo * f_hi`` (LT less 1 bp on floored
  rows, as in :mod:`risk.montecarlo`), ``f_lo, f_hi = mult * (1 -/+ band)`` around the path's
  impact multiplier at the last *rebase*; it is found through the suffix minimum of the path,
  then block minima/maxima (``ceil(sqrt(n_steps))`` steps a block), then steps. Entries due are
  checked with the row kernel's own health check (:func:`risk.compiled._debt_usd`,
  :func:`risk.compiled._weighted_usd`) every round of their step and rescheduled after it.
  When impacts move a multiplier out of ``[f_lo, f_hi]`` the band is re-centred and the
  multi-asset part of the list rebuilt from the current step (a rebase).

Liquidations are :func:`risk.compiled._liquidate_row_from` (the compiled built-in rules:
``aave_v30``, ``aave_v33`` incl. the floored average LT and the $2,000 / $1,000 rules,
``morpho_blue``, ``compound_v3``), handed the sums of the check, as the whole-book sweep does.
Books with other rules or consumable budgets, and liquidity models other than the ones of
:data:`IMPACT_MODELS`, are run by the numpy engine of :mod:`risk.montecarlo` instead (the caller
decides; nothing here approximates them).

Within a round the rows are liquidated in the order the path reached them, not in book order, so
the USD totals can differ from the numpy engine's and the plain loop's in the last bits of their
sums (tested within 1e-9 relative; which rows are liquidated, and with what amounts, is the same).

Compilation: ``numba.njit`` with ``cache=True`` in :mod:`risk.compiled`'s cache directory (types
are fixed by the caller, :mod:`risk.montecarlo`, so each function compiles once).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from risk import compiled
from risk.compiled import _CACHE, BPS
from risk.liquidity import MAX_IMPACT
from risk.montecarlo import _EPS_REL as EPS_REL  # one slack for both engines' bounds
NO_IMPACT, CONSTANT_DEPTH, SQUARE_ROOT = 0, 1, 2
IMPACT_MODELS = ("NoImpact", "ConstantDepth", "SquareRootImpact")
"""Liquidity models the core evaluates itself (codes NO_IMPACT, CONSTANT_DEPTH, SQUARE_ROOT)."""
_FIELDS_PER_PATH = 4  # rows of the per-path int outputs: positions hit, unconverged steps, rebases, error
ERROR_IMPACT = 1
"""Error code of a path whose liquidity impact reached 1 (a price at or below zero)."""


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _impact_into(model: int, params: NDArray[np.float64], y: float, sold_usd: NDArray[np.float64],
                 out: NDArray[np.float64]) -> None:
    """The liquidity model's impact of cumulative net USD sold, per asset, as
    :mod:`risk.liquidity` computes it (same operations, same order). ``params`` rows:
    CONSTANT_DEPTH ``depth_usd_per_pct * 100``; SQUARE_ROOT daily volatility, daily volume USD."""
    for a in range(sold_usd.shape[0]):
        q = sold_usd[a]
        if model == CONSTANT_DEPTH:
            raw = q / params[0, a]
        elif model == SQUARE_ROOT:
            raw = np.sign(q) * y * params[0, a] * np.sqrt(np.abs(q) / params[1, a])
        else:
            raw = 0.0
        out[a] = min(max(raw, -MAX_IMPACT), MAX_IMPACT)


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _terms_below_one(lo_usd: NDArray[np.float64], hi_usd: NDArray[np.float64], t: int, weights: NDArray[np.float64],
                     assets: NDArray[np.int64], n_coll: int, n_debt: int) -> bool:
    """Is a row's HF bound < 1 at collateral prices ``lo_usd[t]`` and debt prices ``hi_usd[t]``?
    The row is given by its non-zero terms (:func:`_next_step`)."""
    weighted = 0.0
    for m in range(n_coll):
        weighted += weights[0, m] * lo_usd[t, assets[0, m]]
    owed = 0.0
    for m in range(n_debt):
        owed += weights[1, m] * hi_usd[t, assets[1, m]]
    return bool(weighted < owed)


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _packed_below_one(weighted: NDArray[np.float64], debt: NDArray[np.float64], g: int, lo_usd: NDArray[np.float64],
                      hi_usd: NDArray[np.float64]) -> bool:
    """:func:`_next_step`'s first test of a multi-asset row from its packed bound weights (collateral x
    LT less 1 bp on floored rows) and debt, at the band's suffix envelope ``lo_usd``/``hi_usd``."""
    w_usd = 0.0
    owed = 0.0
    for a in range(weighted.shape[1]):
        w_usd += weighted[g, a] * lo_usd[a]
        owed += debt[g, a] * hi_usd[a]
    return bool(w_usd < owed * (1.0 + EPS_REL))


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _next_step(coll: NDArray[np.float64], debt: NDArray[np.float64], lt: NDArray[np.float64], i: int,
               floored: bool, k0: int, exo: NDArray[np.float64], suffix_min: NDArray[np.float64],
               suffix_max: NDArray[np.float64], block_min: NDArray[np.float64], block_max: NDArray[np.float64],
               block: int, f_lo: NDArray[np.float64], f_hi: NDArray[np.float64], weights: NDArray[np.float64],
               assets: NDArray[np.int64]) -> int:
    """First step >= ``k0`` at which row ``i``'s HF bound under the band can be < 1 (``n_steps``:
    never): collateral x LT (less 1 bp on floored rows: the floored average exceeds the plain one
    less 1 bp) at ``exo * f_lo`` against debt at ``exo * f_hi`` with a relative slack of
    :data:`EPS_REL`. Searched through the suffix envelope, then the rest of ``k0``'s block step by
    step, then block envelopes. ``weights``/``assets`` (shape (2, n_assets)) are scratch: the row's
    non-zero terms (most rows have one or two), with the band factors and the slack folded in
    (rounding of 1e-16 against a slack of 1e-9)."""
    n_steps, n_assets = exo.shape
    if k0 >= n_steps:
        return int(n_steps)
    n_coll, n_debt = 0, 0
    for a in range(n_assets):
        t = lt[i, a]
        if floored and t > 0:
            t = max(t - 1.0 / BPS, 0.0)
        w = coll[i, a] * t * f_lo[a]
        if w > 0:
            weights[0, n_coll], assets[0, n_coll] = w, a
            n_coll += 1
        owed = debt[i, a] * f_hi[a] * (1.0 + EPS_REL)
        if owed > 0:
            weights[1, n_debt], assets[1, n_debt] = owed, a
            n_debt += 1
    if not _terms_below_one(suffix_min, suffix_max, k0, weights, assets, n_coll, n_debt):
        return int(n_steps)
    b0 = k0 // block
    for t in range(k0, min((b0 + 1) * block, n_steps)):
        if _terms_below_one(exo, exo, t, weights, assets, n_coll, n_debt):
            return t
    for b in range(b0 + 1, block_min.shape[0]):
        if not _terms_below_one(block_min, block_max, b, weights, assets, n_coll, n_debt):
            continue
        for t in range(b * block, min((b + 1) * block, n_steps)):
            if _terms_below_one(exo, exo, t, weights, assets, n_coll, n_debt):
                return t
    return int(n_steps)


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _owes(debt: NDArray[np.float64], i: int) -> bool:
    for a in range(debt.shape[1]):
        if debt[i, a] > 0:
            return True
    return False


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _grow2(x: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.empty((2 * x.shape[0], x.shape[1]))
    out[: x.shape[0]] = x
    return out


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _grow1(x: NDArray[np.int64]) -> NDArray[np.int64]:
    out = np.empty(2 * x.shape[0], dtype=x.dtype)
    out[: x.shape[0]] = x
    return out


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _envelopes(exo: NDArray[np.float64], block: int) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                               NDArray[np.float64], NDArray[np.float64]]:
    """Suffix minima/maxima (n_steps, n_assets) and block minima/maxima (n_blocks, n_assets) of a path."""
    n_steps, n_assets = exo.shape
    suffix_min, suffix_max = np.empty_like(exo), np.empty_like(exo)
    suffix_min[n_steps - 1, :] = exo[n_steps - 1, :]
    suffix_max[n_steps - 1, :] = exo[n_steps - 1, :]
    for t in range(n_steps - 2, -1, -1):
        for a in range(n_assets):
            suffix_min[t, a] = min(exo[t, a], suffix_min[t + 1, a])
            suffix_max[t, a] = max(exo[t, a], suffix_max[t + 1, a])
    n_blocks = -(-n_steps // block)
    block_min, block_max = np.empty((n_blocks, n_assets)), np.empty((n_blocks, n_assets))
    for b in range(n_blocks):
        for a in range(n_assets):
            lo, hi = np.inf, -np.inf
            for t in range(b * block, min((b + 1) * block, n_steps)):
                lo, hi = min(lo, exo[t, a]), max(hi, exo[t, a])
            block_min[b, a], block_max[b, a] = lo, hi
    return suffix_min, suffix_max, block_min, block_max


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _row_next_step(r: int, k0: int, slot_of: NDArray[np.int64], coll: NDArray[np.float64], debt: NDArray[np.float64],
                   lt: NDArray[np.float64], s_coll: NDArray[np.float64], s_debt: NDArray[np.float64],
                   s_lt: NDArray[np.float64], floored: NDArray[np.bool_], exo: NDArray[np.float64],
                   env: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
                   block: int, f_lo: NDArray[np.float64], f_hi: NDArray[np.float64], weights: NDArray[np.float64],
                   assets: NDArray[np.int64]) -> int:
    """:func:`_next_step` of book row ``r`` in its state on the path (its slot, else the book's
    row); -1 when it owes nothing."""
    s = slot_of[r]
    if s >= 0:
        if not _owes(s_debt, s):
            return -1
        return _next_step(s_coll, s_debt, s_lt, s, floored[r], k0, exo, env[0], env[1], env[2], env[3], block, f_lo,
                          f_hi, weights, assets)
    return _next_step(coll, debt, lt, r, floored[r], k0, exo, env[0], env[1], env[2], env[3], block, f_lo, f_hi,
                      weights, assets)


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _place(e: int, t: int, k: int, bucket: NDArray[np.int64], link: NDArray[np.int64], due: NDArray[np.int64],
           n_due: int) -> int:
    """Entry ``e`` due at step ``t``: into the current due list (t == k), step t's bucket, or
    parked (t = n_steps). Returns the due list's new length."""
    if t == k:
        due[n_due] = e
        return n_due + 1
    if t < bucket.shape[0]:
        link[e] = bucket[t]
        bucket[t] = e
    return n_due


@numba.njit(cache=_CACHE, nogil=True, error_model="numpy")
def _path(exo: NDArray[np.float64], coll: NDArray[np.float64], debt: NDArray[np.float64], lt: NDArray[np.float64],
          bonus: NDArray[np.float64], fee: NDArray[np.float64], venue: NDArray[np.int8],
          floored: NDArray[np.bool_], market: NDArray[np.int64], pos_class: NDArray[np.int64],
          class_c: NDArray[np.int64], class_j: NDArray[np.int64], class_start: NDArray[np.int64],
          class_rows: NDArray[np.int64], class_theta_eps: NDArray[np.float64], generic: NDArray[np.int64],
          generic_weighted: NDArray[np.float64], generic_debt: NDArray[np.float64], model: int, impact_params: NDArray[np.float64], impact_y: float, cross: NDArray[np.float64],
          has_cross: bool, band: float, max_rounds: int, max_passes: int, sell_protocol_fee: bool,
          liquidated_m: NDArray[np.float64], seized_m: NDArray[np.float64], bad_m: NDArray[np.float64],
          sums: NDArray[np.float64], counts: NDArray[np.int64]) -> None:
    """One path (``exo`` shape (n_steps, n_assets), USD per unit). Writes the path's per-market
    USD (``*_m``, shape (n_markets,)), ``sums`` = [protocol fee USD, then max drawdown and final
    impact per asset] and ``counts`` = [positions hit, unconverged steps, rebases, error code]."""
    n_steps, n_assets = exo.shape
    n_rows = coll.shape[0]
    block = max(1, int(np.ceil(np.sqrt(n_steps))))
    env = _envelopes(exo, block)
    weights, assets = np.empty((2, n_assets)), np.empty((2, n_assets), dtype=np.int64)  # _next_step's scratch
    suffix_lo_usd, suffix_hi_usd = np.empty(n_assets), np.empty(n_assets)
    endogenous = model != NO_IMPACT
    width = band if endogenous else 0.0
    mult = np.ones(n_assets)
    f_lo, f_hi = mult * (1.0 - width), mult * (1.0 + width)
    sold_usd, impact, flow_usd = np.zeros(n_assets), np.zeros(n_assets), np.zeros(n_assets)
    prices = np.empty((1, n_assets))
    peak = exo[0].copy()
    drawdown = np.zeros(n_assets)
    row_seized, row_fees, row_repaid = np.zeros(n_assets), np.zeros(n_assets), np.zeros(n_assets)
    fee_usd_total = 0.0
    unconverged = 0
    rebases = 0

    # The path's overlay: slot of each book row (-1: the book's own amounts), and the slots.
    slot_of = np.full(n_rows, -1, dtype=np.int64)
    cap = 64
    s_coll, s_debt = np.empty((cap, n_assets)), np.empty((cap, n_assets))
    s_lt, s_bonus, s_fee = np.empty((cap, n_assets)), np.empty((cap, n_assets)), np.empty((cap, n_assets))
    s_venue = np.empty(cap, dtype=np.int8)
    n_slots = 0
    # Class pointers: rows class_start[c] .. ptr[c]-1 of a class are not reached yet.
    n_classes = class_c.shape[0]
    ptr = class_start[1:].copy()
    # Watch entries (a book row each) sit in the bucket of the step they are due at (singly
    # linked through e_link), in the step's due list, or parked (single-pair rows the bound says
    # never reach HF < 1 under the band: only a rebuild looks at them again).
    e_cap = 256
    e_row, e_link = np.empty(e_cap, dtype=np.int64), np.empty(e_cap, dtype=np.int64)
    n_entries = 0
    bucket = np.full(n_steps, -1, dtype=np.int64)
    due = np.empty(e_cap, dtype=np.int64)
    n_due = 0
    rebuild = True

    for k in range(n_steps):
        for a in range(n_assets):
            prices[0, a] = exo[k, a] * mult[a]
        n_due = 0
        e = bucket[k]
        bucket[k] = -1
        while e >= 0:
            due[n_due] = e
            n_due += 1
            e = e_link[e]
        rounds = 0
        while True:
            if rebuild:
                # Keep the single-pair entries (the pointers never reach them again), reschedule
                # them under the new band, and look for multi-asset rows from scratch.
                rebuild = False
                bucket[k:] = -1
                n_due = 0
                kept = 0
                for e in range(n_entries):
                    r = e_row[e]
                    if pos_class[r] < 0:
                        continue
                    t = _row_next_step(r, k, slot_of, coll, debt, lt, s_coll, s_debt, s_lt, floored, exo, env, block,
                                       f_lo, f_hi, weights, assets)
                    if t < 0:
                        continue
                    e_row[kept] = r
                    n_due = _place(kept, t, k, bucket, e_link, due, n_due)
                    kept += 1
                n_entries = kept
                for a in range(n_assets):  # (the suffix envelope under the band)
                    suffix_lo_usd[a] = env[0][k, a] * f_lo[a]
                    suffix_hi_usd[a] = env[1][k, a] * f_hi[a]
                for g in range(generic.shape[0]):
                    r = generic[g]
                    if slot_of[r] < 0 and not _packed_below_one(generic_weighted, generic_debt, g, suffix_lo_usd,
                                                                suffix_hi_usd):
                        continue  # _next_step's first test, on the book's rows packed in generic order
                    t = _row_next_step(r, k, slot_of, coll, debt, lt, s_coll, s_debt, s_lt, floored, exo, env, block,
                                       f_lo, f_hi, weights, assets)
                    if 0 <= t < n_steps:
                        if n_entries == e_cap:
                            e_row, e_link, due, e_cap = _grow1(e_row), _grow1(e_link), _grow1(due), 2 * e_cap
                        e_row[n_entries] = r
                        n_due = _place(n_entries, t, k, bucket, e_link, due, n_due)
                        n_entries += 1
            # Single-pair rows reached by the running minimum of the actual price ratio: due now.
            for c in range(n_classes):
                ratio = prices[0, class_c[c]] / prices[0, class_j[c]]
                q = ptr[c]
                while q > class_start[c] and class_theta_eps[q - 1] > ratio:
                    q -= 1
                    if n_entries == e_cap:
                        e_row, e_link, due, e_cap = _grow1(e_row), _grow1(e_link), _grow1(due), 2 * e_cap
                    e_row[n_entries] = class_rows[q]
                    due[n_due] = n_entries
                    n_due += 1
                    n_entries += 1
                ptr[c] = q
            # One round: every due entry with HF < 1 at this round's prices is liquidated.
            found = False
            stop = False
            for a in range(n_assets):
                flow_usd[a] = 0.0
            for d in range(n_due):
                r = e_row[due[d]]
                s = slot_of[r]
                if s >= 0:
                    owed = compiled._debt_usd(s_debt, prices, s, 0)
                    if not owed > compiled.DUST_USD:
                        continue
                    weighted = compiled._weighted_usd(s_coll, s_lt, prices, s, 0, floored[r])
                else:
                    owed = compiled._debt_usd(debt, prices, r, 0)
                    if not owed > compiled.DUST_USD:
                        continue
                    weighted = compiled._weighted_usd(coll, lt, prices, r, 0, floored[r])
                if not weighted < owed:
                    continue
                if not found:
                    found = True
                    if rounds == max_rounds:
                        unconverged += 1
                        stop = True
                        break
                    rounds += 1
                if s < 0:
                    if n_slots == cap:
                        s_coll, s_debt, s_lt = _grow2(s_coll), _grow2(s_debt), _grow2(s_lt)
                        s_bonus, s_fee = _grow2(s_bonus), _grow2(s_fee)
                        grown = np.empty(2 * cap, dtype=np.int8)
                        grown[:cap] = s_venue
                        s_venue = grown
                        cap *= 2
                    s = n_slots
                    n_slots += 1
                    slot_of[r] = s
                    s_coll[s, :] = coll[r, :]
                    s_debt[s, :] = debt[r, :]
                    s_lt[s, :] = lt[r, :]
                    s_bonus[s, :] = bonus[r, :]
                    s_fee[s, :] = fee[r, :]
                    s_venue[s] = venue[r]
                row_seized[:] = 0.0
                row_fees[:] = 0.0
                row_repaid[:] = 0.0
                bad_usd, _ = compiled._liquidate_row_from(s, 0, s_coll, s_debt, s_lt, s_bonus, s_fee, s_venue, prices,
                                                          floored[r], row_seized, row_fees, row_repaid, max_passes,
                                                          owed, weighted)
                repaid_usd = 0.0
                seized_usd = 0.0
                fee_usd = 0.0
                for a in range(n_assets):
                    repaid_usd += row_repaid[a] * prices[0, a]
                    seized_usd += row_seized[a] * prices[0, a]
                    fee_usd += row_fees[a] * prices[0, a]
                    sold_tokens = row_seized[a] if sell_protocol_fee else row_seized[a] - row_fees[a]
                    # As risk.cascade: flows are tokens valued at the path's start price.
                    flow_usd[a] += (sold_tokens - row_repaid[a]) * exo[0, a]
                m = market[r]
                liquidated_m[m] += repaid_usd
                seized_m[m] += seized_usd
                bad_m[m] += bad_usd
                fee_usd_total += fee_usd
            if stop or not found:
                break
            if endogenous:
                for a in range(n_assets):
                    sold_usd[a] += flow_usd[a]
                _impact_into(model, impact_params, impact_y, sold_usd, impact)
                escaped = False
                for a in range(n_assets):
                    mult_a = 1.0 - impact[a]
                    if has_cross:
                        drag = 1.0
                        for j in range(n_assets):
                            drag *= 1.0 - cross[a, j] * impact[j]
                        mult_a = mult_a * drag
                    if not mult_a > 0:
                        counts[3] = ERROR_IMPACT
                        return
                    mult[a] = mult_a
                    prices[0, a] = exo[k, a] * mult_a
                    escaped = escaped or mult_a < f_lo[a] or mult_a > f_hi[a]
                if escaped:
                    rebases += 1
                    for a in range(n_assets):
                        f_lo[a], f_hi[a] = mult[a] * (1.0 - width), mult[a] * (1.0 + width)
                    rebuild = True
        # Every entry due at this step is rescheduled from the next step while it owes.
        for d in range(n_due):
            e = due[d]
            t = _row_next_step(e_row[e], k + 1, slot_of, coll, debt, lt, s_coll, s_debt, s_lt, floored, exo, env,
                               block, f_lo, f_hi, weights, assets)
            if 0 <= t < n_steps:
                e_link[e] = bucket[t]
                bucket[t] = e
            # else: owes nothing (dropped), or parked until a rebuild (multi-asset rows are found again there)
        for a in range(n_assets):
            peak[a] = max(peak[a], prices[0, a])
            drawdown[a] = max(drawdown[a], 1.0 - prices[0, a] / peak[a])

    sums[0] = fee_usd_total
    for a in range(n_assets):
        sums[1 + a] = drawdown[a]
        sums[1 + n_assets + a] = 1.0 - mult[a]
    counts[0], counts[1], counts[2] = n_slots, unconverged, rebases


@numba.njit(cache=_CACHE, parallel=True, error_model="numpy")
def _run_paths(exo: NDArray[np.float64], coll: NDArray[np.float64], debt: NDArray[np.float64],
               lt: NDArray[np.float64], bonus: NDArray[np.float64], fee: NDArray[np.float64],
               venue: NDArray[np.int8], floored: NDArray[np.bool_], market: NDArray[np.int64],
               pos_class: NDArray[np.int64], class_c: NDArray[np.int64], class_j: NDArray[np.int64],
               class_start: NDArray[np.int64], class_rows: NDArray[np.int64], class_theta_eps: NDArray[np.float64],
               generic: NDArray[np.int64], generic_weighted: NDArray[np.float64],
               generic_debt: NDArray[np.float64], model: int, impact_params: NDArray[np.float64], impact_y: float,
               cross: NDArray[np.float64], has_cross: bool, band: float, max_rounds: int, max_passes: int,
               sell_protocol_fee: bool, liquidated_m: NDArray[np.float64], seized_m: NDArray[np.float64],
               bad_m: NDArray[np.float64], sums: NDArray[np.float64], counts: NDArray[np.int64]) -> None:
    for p in numba.prange(exo.shape[0]):
        _path(exo[p], coll, debt, lt, bonus, fee, venue, floored, market, pos_class, class_c, class_j, class_start,
              class_rows, class_theta_eps, generic, generic_weighted, generic_debt, model, impact_params, impact_y, cross, has_cross, band,
              max_rounds, max_passes, sell_protocol_fee, liquidated_m[p], seized_m[p], bad_m[p], sums[p], counts[p])


def run_paths(exo: NDArray[np.float64], book_arrays: tuple[NDArray[np.generic], ...],
              classes: tuple[NDArray[np.generic], ...], n_markets: int, model: int,
              impact_params: NDArray[np.float64], impact_y: float, cross: NDArray[np.float64] | None,
              band: float, max_rounds: int, max_passes: int, sell_protocol_fee: bool
              ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                         NDArray[np.int64]]:
    """Simulate the paths ``exo`` (shape (n_paths, n_steps, n_assets), float64, USD per unit).

    ``book_arrays``: collateral, debt, LT, bonus, protocol fee (each (n_positions, n_assets)),
    venue (int8), floored average LT (bool), market (int64) (each (n_positions,)); ``classes``:
    pos_class, class_c, class_j, class_start (n_classes + 1 offsets), class_rows, class_bar
    (rows of each single-pair class sorted by theta, concatenated; theta times ``1 + EPS_REL``),
    generic rows, their bound weights (collateral x LT, less 1 bp on floored rows, as
    :func:`_next_step` computes them) and their debt, packed so that a rebuild's first test reads
    them in order. All of it is per book (built once by the caller), none of it per chunk.
    Returns liquidated, seized and bad debt per (path, market) USD (n_paths, n_markets), the
    float sums (n_paths, 1 + 2 n_assets) and the int counts (n_paths, 4) of :func:`_path`.
    """
    n_paths, _, n_assets = exo.shape
    pos_class, class_c, class_j, class_start, class_rows, class_bar, generic, generic_weighted, generic_debt = classes
    liquidated_m, seized_m, bad_m = (np.zeros((n_paths, n_markets)) for _ in range(3))
    sums = np.zeros((n_paths, 1 + 2 * n_assets))
    counts = np.zeros((n_paths, _FIELDS_PER_PATH), dtype=np.int64)
    cross_matrix = np.zeros((n_assets, n_assets)) if cross is None else np.ascontiguousarray(cross, dtype=np.float64)
    kernel: Any = _run_paths  # the book's columns come as one tuple (mypy cannot spread it over the signature)
    kernel(np.ascontiguousarray(exo, dtype=np.float64), *book_arrays, pos_class, class_c, class_j, class_start,
               class_rows, class_bar, generic, generic_weighted, generic_debt, model,
               np.ascontiguousarray(impact_params, dtype=np.float64), float(impact_y), cross_matrix,
               cross is not None, float(band), int(max_rounds), int(max_passes), bool(sell_protocol_fee),
               liquidated_m, seized_m, bad_m, sums, counts)
    return liquidated_m, seized_m, bad_m, sums, counts


__all__ = ["CONSTANT_DEPTH", "ERROR_IMPACT", "IMPACT_MODELS", "NO_IMPACT", "SQUARE_ROOT", "run_paths"]
