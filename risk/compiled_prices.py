"""Compiled (numba) liquidation prices and driver thresholds: the arithmetic of
:mod:`risk.liquidation_prices` one position at a time (issue 11, "a compiled core").

What is compiled: the per-position sums (``W = sum(coll*LT*p)``, ``D = sum(debt*p)``, the counted
collateral ``T`` and the floored HF numerator of Aave v3.0-v3.4, :func:`risk.book.risk_weighted_usd`),
the linear-fractional crossing of every asset (or of a driver move) and, on positions under the
floored-average rule with two or more counted LTs, the level walk of
:func:`risk.liquidation_prices._walk_levels` — the same expressions in the same order, scalar.

One stated difference from the numpy version: every sum over a position's assets is taken left to
right, as the plain-loop reference (``tests/risk/reference.py``) takes it; numpy's ``@`` (BLAS)
may group them otherwise, so the two engines' sums differ in the last bits (relative 1e-16 per
term) and a crossing ``(D_other - W_other) / slope`` inherits that difference times its
conditioning (``sum(|terms|) / |D_other - W_other|``: large only where the other assets nearly
cancel). Sides agree unless a position sits within that rounding of HF = 1. Against the plain
loop the plain-rule sums are bit-identical (same products, same order).

Compilation: explicit signatures (read-only inputs in any layout), cached as in
:mod:`risk.compiled` (whose import sets numba's cache directory); single-threaded, so "per
position" speed-ups against the plain loop compare one core with one core.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from risk import compiled as _compiled  # sets numba's cache directory before anything is declared

import numba  # noqa: E402
from numba import types  # noqa: E402

BPS = 1e4
AVG_LT_SNAP_BPS = 1e-9
FLAT = 1e-12
MAX_LEVELS = 10_002
NEVER, BELOW, ABOVE, NOW = 0, 1, 2, 3

_CACHE = _compiled._CACHE
_F2_IN = types.Array(types.float64, 2, "A", readonly=True)
_F1_IN = types.Array(types.float64, 1, "A", readonly=True)
_B1_IN = types.Array(types.boolean, 1, "A", readonly=True)
_IP_IN = types.Array(types.intp, 1, "A", readonly=True)
_F2_OUT = types.Array(types.float64, 2, "C")
_I8_2_OUT = types.Array(types.int8, 2, "C")
_F1_OUT = types.Array(types.float64, 1, "C")
_I8_1_OUT = types.Array(types.int8, 1, "C")


@numba.jit(types.float64(types.float64, types.float64), nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _nan_min(a: float, b: float) -> float:
    """``np.minimum``: NaN if either is NaN."""
    if a != a or b != b:
        return np.nan
    return a if a <= b else b


@numba.jit(types.float64(types.float64, types.float64), nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _nan_max(a: float, b: float) -> float:
    """``np.maximum``: NaN if either is NaN."""
    if a != a or b != b:
        return np.nan
    return a if a >= b else b


@numba.jit(types.float64(types.float64, types.float64, types.float64, types.float64, types.float64, types.float64),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _average_bps(at: float, aw: float, tv: float, wv: float, u: float, snap: float) -> float:
    """floor(average LT in bps + snap) at ``u`` (``_walk_levels.average_bps``, then the floor)."""
    total = at + tv * u
    weighted = aw + wv * u
    if total <= 1e-9 * (abs(at) + abs(tv * u)):
        # At T -> 0 (all counted collateral priced to 0) the average tends to wv / tv.
        x = BPS * wv / tv
    else:
        x = BPS * weighted / total
    return float(np.floor(x + snap))


@numba.jit(types.float64(types.float64, types.float64, types.float64, types.float64, types.float64, types.float64,
                         types.float64, types.float64, types.float64),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def walk_levels(aw: float, ad: float, at: float, wv: float, dv: float, tv: float, u_cur: float, u_min: float,
                u_c: float) -> float:
    """Top of the liquidatable set in ``[u_min, u_cur]`` under the floored-average rule, one entry:
    :func:`risk.liquidation_prices._walk_levels` (same inputs, oriented so that danger lies at
    lower ``u``; ``u_c`` the plain crossing). NaN where no ``u`` above ``u_min`` is liquidatable."""
    slope_safe = (wv - dv) - tv / BPS
    u_s = (ad + at / BPS - aw) / slope_safe
    top = _nan_min(u_cur, u_s) if slope_safe > 0 else u_cur
    lower = _nan_max(u_c, u_min)
    fallback = u_c if u_c > u_min else np.nan
    if not top > lower:
        return fallback
    k = _average_bps(at, aw, tv, wv, top, AVG_LT_SNAP_BPS)
    k_lo = _average_bps(at, aw, tv, wv, lower, AVG_LT_SNAP_BPS)
    if not (np.isfinite(k) and np.isfinite(k_lo)):
        return np.nan
    step = np.sign(k_lo - k)
    for _ in range(MAX_LEVELS):
        last = k == k_lo
        # Leaving level k downwards: the average crosses k (falling) or k + 1 (rising).
        boundary = k if step < 0 else k + 1.0
        if last:
            bottom = lower
        else:
            u_break = (boundary * at - BPS * aw) / (BPS * wv - boundary * tv)
            if u_break != u_break:
                u_break = -np.inf
            bottom = min(max(u_break, lower), top)
        # On level k: liquidatable iff f(u) = 1e4 D(u) - k T(u) > 0, f = a + b u (scaled by 1e-4).
        a = ad - k * at / BPS
        b = dv - k * tv / BPS
        root = -a / b
        if b < 0 and root > bottom:  # f grows as u falls: liquidatable below the root
            return _nan_min(root, top)
        if (b > 0 and root < top) or (b == 0 and a > 0):  # liquidatable up to the top
            return top
        if last:
            return fallback
        top = bottom
        k = k + step
    return np.nan


_CROSSING = types.Tuple((types.float64, types.int8))  # type: ignore[no-untyped-call]


@numba.jit(_CROSSING(types.float64, types.float64, types.float64, types.float64, types.float64, types.float64,
                     types.float64, types.float64, types.float64, types.float64, types.boolean, types.float64,
                     types.float64), nopython=True, cache=_CACHE, error_model="numpy", nogil=True, inline="always")
def line_crossing(w_cur: float, d_cur: float, numerator: float, aw: float, ad: float, wv: float, dv: float,
                  u_cur: float, u_min: float, flat_scale: float, floors: bool, at: float,
                  tv: float) -> tuple[float, int]:
    """(u*, side) where HF reaches 1 along one price line, one entry:
    :func:`risk.liquidation_prices._line_crossings` (``numerator`` the HF numerator as the venue
    computes it at ``u_cur``: floored or plain; ``at``/``tv`` only read when ``floors``)."""
    slope = wv - dv
    flat = abs(slope) <= FLAT * max(flat_scale, 1e-300)
    crossing = np.nan if flat else (ad - aw) / slope
    has_debt = d_cur > 0
    if has_debt and numerator < d_cur:
        return np.nan, NOW
    if not has_debt or flat:
        return np.nan, NEVER
    if floors and (slope > 0 or slope < 0):
        if slope > 0:  # walk the falling prices of longs, rising ones of shorts (mirrored, u -> -u)
            u_star = walk_levels(aw, ad, at, wv, dv, tv, u_cur, u_min, crossing)
            return (np.nan, NEVER) if u_star != u_star else (u_star, BELOW)
        found = walk_levels(aw, ad, at, -wv, -dv, -tv, -u_cur, -np.inf, -crossing)
        return (np.nan, NEVER) if found != found else (-found, ABOVE)
    if slope > 0:
        return (crossing, BELOW) if crossing > u_min else (np.nan, NEVER)
    if slope < 0:
        return crossing, ABOVE
    return np.nan, NEVER


_SUMS = types.Tuple((types.float64, types.float64, types.float64, types.float64, types.boolean))  # type: ignore[no-untyped-call]


@numba.jit(_SUMS(_F2_IN, _F2_IN, _F2_IN, _F1_IN, types.intp, types.boolean),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True, inline="always")
def position_sums(collateral: NDArray[np.float64], debt: NDArray[np.float64], liq_threshold: NDArray[np.float64],
                  prices: NDArray[np.float64], i: int, floored_rule: bool) -> tuple[float, float, float, float, bool]:
    """(W, HF numerator as the venue computes it, D, T, floors) of row ``i``, sums left to right.

    ``floors``: the row is under the floored rule and its counted collateral mixes two or more
    LTs (:func:`risk.book.mixes_liquidation_thresholds`); only then is the numerator floored."""
    n = collateral.shape[1]
    weighted = 0.0
    owed = 0.0
    counted = 0.0
    highest, lowest = -np.inf, np.inf
    for k in range(n):
        lt = liq_threshold[i, k]
        c = collateral[i, k]
        p = prices[k]
        weighted += c * lt * p
        owed += debt[i, k] * p
        counted += c * p if lt > 0 else 0.0
        if lt > 0 and c > 0:
            highest = max(highest, lt)
            lowest = min(lowest, lt)
    floors = floored_rule and np.isfinite(highest) and highest - lowest > 0.5 / BPS
    numerator = weighted
    if floors and counted > 0:
        avg_bps = np.floor(weighted / counted * BPS + AVG_LT_SNAP_BPS)
        numerator = counted * avg_bps / BPS
    return weighted, numerator, owed, counted, floors


@numba.jit(_CROSSING(_F2_IN, _F2_IN, _F2_IN, _F1_IN, types.intp, types.intp, types.float64, types.float64,
                     types.float64, types.float64, types.boolean), nopython=True, cache=_CACHE, error_model="numpy",
           nogil=True, inline="always")
def asset_crossing(collateral: NDArray[np.float64], debt: NDArray[np.float64], liq_threshold: NDArray[np.float64],
                   prices: NDArray[np.float64], i: int, j: int, weighted: float, numerator: float, owed: float,
                   counted: float, floors: bool) -> tuple[float, int]:
    """(price of asset ``j`` at HF = 1, side) of row ``i`` from the row's :func:`position_sums`.

    Zero-exposure fast path: a row with neither weighted collateral nor debt in ``j`` (most rows
    for most assets: a position holds two or three of the book's assets) has a flat line in
    ``p_j``, and :func:`line_crossing` would return NOW or NEVER from its first tests; those
    tests are taken here without the line algebra (same answer, bit for bit)."""
    wv = collateral[i, j] * liq_threshold[i, j]
    dv = debt[i, j]
    if wv == 0.0 and dv == 0.0:
        if owed > 0 and numerator < owed:
            return np.nan, NOW
        return np.nan, NEVER
    p_j = prices[j]
    tv = collateral[i, j] if liq_threshold[i, j] > 0 else 0.0
    aw = weighted - wv * p_j  # the sums with asset j at price 0
    ad = owed - dv * p_j
    at = counted - tv * p_j
    return line_crossing(weighted, owed, numerator, aw, ad, wv, dv, p_j, 0.0, max(abs(wv), abs(dv)), floors, at, tv)


@numba.jit(types.void(_F2_IN, _F2_IN, _F2_IN, _F1_IN, types.intp, types.float64, types.float64, types.float64,
                      types.float64, types.boolean, _IP_IN, _F2_OUT, _I8_2_OUT),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True, inline="always")
def _row_prices_into(collateral: NDArray[np.float64], debt: NDArray[np.float64], liq_threshold: NDArray[np.float64],
                     prices: NDArray[np.float64], i: int, weighted: float, numerator: float, owed: float,
                     counted: float, floors: bool, columns: NDArray[np.intp], price_out: NDArray[np.float64],
                     side_out: NDArray[np.int8]) -> None:
    for m in range(columns.shape[0]):
        u, side = asset_crossing(collateral, debt, liq_threshold, prices, i, columns[m], weighted, numerator, owed,
                                 counted, floors)
        price_out[i, m] = u
        side_out[i, m] = side


@numba.jit(types.void(_F2_IN, _F2_IN, _F2_IN, _F1_IN, _B1_IN, _IP_IN, _F2_OUT, _I8_2_OUT),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _prices_into(collateral: NDArray[np.float64], debt: NDArray[np.float64], liq_threshold: NDArray[np.float64],
                 prices: NDArray[np.float64], floored_rule: NDArray[np.bool_], columns: NDArray[np.intp],
                 price_out: NDArray[np.float64], side_out: NDArray[np.int8]) -> None:
    """Two passes: the rows that need the floored level walk (Aave v3.0-v3.4 rows whose counted
    collateral mixes LTs) are set aside and done after the others. The first loop is then
    compiled with ``floors`` a constant False, without the walk in its body: with the walk
    reachable there, a plain row's six columns cost ~200 ns instead of ~30 (measured on the bench
    sample). Each row's arithmetic is unchanged (the set-aside rows recompute their sums, the
    same sums in the same order), so the answers are the same bits."""
    n = collateral.shape[0]
    walked = np.empty(n, dtype=np.intp)
    n_walked = 0
    for i in range(n):
        weighted, numerator, owed, counted, floors = position_sums(collateral, debt, liq_threshold, prices, i,
                                                                   floored_rule[i])
        if floors:
            walked[n_walked] = i
            n_walked += 1
            continue
        _row_prices_into(collateral, debt, liq_threshold, prices, i, weighted, numerator, owed, counted, False,
                         columns, price_out, side_out)
    for r in range(n_walked):
        i = walked[r]
        weighted, numerator, owed, counted, floors = position_sums(collateral, debt, liq_threshold, prices, i, True)
        _row_prices_into(collateral, debt, liq_threshold, prices, i, weighted, numerator, owed, counted, True,
                         columns, price_out, side_out)


@numba.jit(types.void(_F2_IN, _F2_IN, _F2_IN, _F1_IN, _F1_IN, _B1_IN, types.float64, _F1_OUT, _I8_1_OUT),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _driver_into(collateral: NDArray[np.float64], debt: NDArray[np.float64], liq_threshold: NDArray[np.float64],
                 prices: NDArray[np.float64], moved: NDArray[np.float64], floored_rule: NDArray[np.bool_],
                 lowest_return: float, return_out: NDArray[np.float64], side_out: NDArray[np.int8]) -> None:
    n = collateral.shape[1]
    for i in range(collateral.shape[0]):
        weighted, numerator, owed, counted, floors = position_sums(collateral, debt, liq_threshold, prices, i,
                                                                   floored_rule[i])
        weighted_beta = 0.0
        debt_beta = 0.0
        counted_beta = 0.0
        for k in range(n):
            lt = liq_threshold[i, k]
            c = collateral[i, k]
            q = moved[k]
            weighted_beta += c * lt * q
            debt_beta += debt[i, k] * q
            counted_beta += c * q if lt > 0 else 0.0
        scale = max(max(abs(weighted_beta), abs(debt_beta)), abs(weighted))
        u, side = line_crossing(weighted, owed, numerator, weighted, owed, weighted_beta, debt_beta, 0.0,
                                lowest_return, scale, floors, counted, counted_beta)
        return_out[i] = u
        side_out[i] = side


def liquidation_prices_arrays(
    collateral: NDArray[np.float64],
    debt: NDArray[np.float64],
    liq_threshold: NDArray[np.float64],
    prices_usd: NDArray[np.float64],
    floored_avg_lt: NDArray[np.bool_],
    columns: NDArray[np.intp],
) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """Liquidation price (USD per token) and :class:`risk.liquidation_prices.Side` code of the assets
    ``columns`` for every row, each shape (n_rows, len(columns)); NaN price for NEVER and NOW."""
    n = collateral.shape[0]
    price = np.empty((n, columns.shape[0]), dtype=np.float64)
    side = np.empty((n, columns.shape[0]), dtype=np.int8)
    _prices_into(collateral, debt, liq_threshold, np.asarray(prices_usd, dtype=np.float64),
                 np.asarray(floored_avg_lt, dtype=np.bool_), np.asarray(columns, dtype=np.intp), price, side)
    return price, side


def driver_returns_arrays(
    collateral: NDArray[np.float64],
    debt: NDArray[np.float64],
    liq_threshold: NDArray[np.float64],
    prices_usd: NDArray[np.float64],
    betas: NDArray[np.float64],
    floored_avg_lt: NDArray[np.bool_],
    lowest_return: float,
) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """Driver return at liquidation and side per row, each shape (n_rows,), for prices moving as
    ``p_k (1 + beta_k r)`` (:func:`risk.liquidation_prices.driver_thresholds`)."""
    n = collateral.shape[0]
    out = np.empty(n, dtype=np.float64)
    side = np.empty(n, dtype=np.int8)
    prices = np.asarray(prices_usd, dtype=np.float64)
    _driver_into(collateral, debt, liq_threshold, prices, prices * np.asarray(betas, dtype=np.float64),
                 np.asarray(floored_avg_lt, dtype=np.bool_), float(lowest_return), out, side)
    return out, side


__all__ = ["asset_crossing", "driver_returns_arrays", "line_crossing", "liquidation_prices_arrays", "position_sums", "walk_levels"]
