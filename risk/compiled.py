"""Compiled (numba) row kernel of the built-in rules: the same arithmetic as the numpy passes of
:func:`risk.liquidation.liquidate_rows`, one row at a time (issue 11, "a compiled core").

What is compiled: the health check and the liquidation passes of the four built-in rules
(``aave_v30``, ``aave_v33``, ``morpho_blue``, ``compound_v3``), including the floored average LT
of Aave v3.0-v3.4 rows (:func:`risk.book.risk_weighted_usd`) and the v3.3+ $2,000 / $1,000 dust
rule. Rules with their own kernel (:mod:`risk.rules`) are dispatched before this runs.

Same operations in the same order as the numpy kernel, with one stated difference: every sum
over the assets of a row is taken left to right. ``np.sum(axis=1)`` does that too for rows of
fewer than 8 assets, but ``np.einsum`` (the numpy kernel's ``sum(coll*LT*p)`` and ``sum(debt*p)``)
accumulates in SIMD lanes, so the two kernels' health factors can differ in the last bits
(relative 1e-15 per sum); left to right is also the order of the plain-loop reference
(``tests/risk/reference.py``). Amounts agree to 1e-12 relative unless a decision (HF < 1,
HF > 0.95, $2,000, $1,000) sits within that rounding of its threshold.

Compilation: one explicit signature (read-only inputs in any layout), so a process compiles
each function at most once, on first use (this module is imported lazily). The machine code is
cached in ``platformdirs.user_cache_dir("liqrisk")/numba`` (or ``NUMBA_CACHE_DIR`` when set),
never next to the installed package; when no cache directory can be written, the functions are
compiled per process instead.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
from numpy.typing import NDArray


def _cache_dir() -> str | None:
    """A writable directory for numba's cache, or None (then compile in memory per process)."""
    path = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(_user_cache_dir(), "numba")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError:
        return None
    return path


def _user_cache_dir() -> str:
    import platformdirs

    return str(platformdirs.user_cache_dir("liqrisk"))


_CACHE_DIR = _cache_dir()

import numba  # noqa: E402  (after the cache directory is known)
from numba import types  # noqa: E402

if _CACHE_DIR is not None and not getattr(numba.config, "CACHE_DIR", ""):
    # numba reads the user-provided cache directory when a cached function is declared.
    setattr(numba.config, "CACHE_DIR", _CACHE_DIR)

# Codes of risk.book.VENUE_CODE (risk.snapshot.VENUES order); tests check they agree.
AAVE_V30, AAVE_V33, MORPHO_BLUE, COMPOUND_V3 = 0, 1, 2, 3
CLOSE_FACTOR_HF_THRESHOLD = 0.95
DEFAULT_CLOSE_FACTOR = 0.5
AAVE_V33_MIN_BASE_FOR_CLOSE_FACTOR_USD = 2_000.0
AAVE_V33_MIN_LEFTOVER_USD = 1_000.0
DUST_USD = 1e-6
BPS = 1e4
AVG_LT_SNAP_BPS = 1e-9

_F2_IN = types.Array(types.float64, 2, "A", readonly=True)
_F2_OUT = types.Array(types.float64, 2, "A")
_F1_OUT = types.Array(types.float64, 1, "A")
_B1_IN = types.Array(types.boolean, 1, "A", readonly=True)
_B1_OUT = types.Array(types.boolean, 1, "A")
_I8_IN = types.Array(types.int8, 1, "A", readonly=True)
_IP_IN = types.Array(types.intp, 1, "A", readonly=True)
_I32_IN = types.Array(types.int32, 1, "A", readonly=True)

_CACHE = _CACHE_DIR is not None


@numba.jit(types.float64(_F2_IN, _F2_IN, _F2_IN, types.intp, types.intp, types.boolean),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _weighted_usd(collateral: NDArray[np.float64], liq_threshold: NDArray[np.float64], prices: NDArray[np.float64],
                  i: int, pr: int, floored: bool) -> float:
    """HF numerator of row ``i`` at price row ``pr`` (risk.book.risk_weighted_usd, one row)."""
    n = collateral.shape[1]
    weighted = 0.0
    for k in range(n):
        weighted += collateral[i, k] * liq_threshold[i, k] * prices[pr, k]
    if not floored:
        return weighted
    highest, lowest = -np.inf, np.inf
    for k in range(n):
        if liq_threshold[i, k] > 0 and collateral[i, k] > 0:
            highest = max(highest, liq_threshold[i, k])
            lowest = min(lowest, liq_threshold[i, k])
    if not (np.isfinite(highest) and highest - lowest > 0.5 / BPS):
        return weighted  # one LT among the counted collateral: the average is that LT, no floor
    total = 0.0
    for k in range(n):
        total += collateral[i, k] * prices[pr, k] if liq_threshold[i, k] > 0 else 0.0
    if not total > 0:
        return weighted
    avg_bps = float(np.floor(weighted / total * BPS + AVG_LT_SNAP_BPS))
    return total * avg_bps / BPS


@numba.jit(types.float64(_F2_IN, _F2_IN, types.intp, types.float64, types.float64),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _floor_numerator(collateral: NDArray[np.float64], liq_threshold: NDArray[np.float64], i: int, weighted: float,
                     total: float) -> float:
    """The floored-rule tail of :func:`_weighted_usd` given the row's plain ``sum(coll*LT*p)`` and
    counted collateral ``total`` (computed by the caller in the same order as there)."""
    highest, lowest = -np.inf, np.inf
    for k in range(collateral.shape[1]):
        if liq_threshold[i, k] > 0 and collateral[i, k] > 0:
            highest = max(highest, liq_threshold[i, k])
            lowest = min(lowest, liq_threshold[i, k])
    if not (np.isfinite(highest) and highest - lowest > 0.5 / BPS):
        return weighted  # one LT among the counted collateral: the average is that LT, no floor
    if not total > 0:
        return weighted
    avg_bps = float(np.floor(weighted / total * BPS + AVG_LT_SNAP_BPS))
    return total * avg_bps / BPS


@numba.jit(types.float64(_F2_IN, _F2_IN, types.intp, types.intp),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _debt_usd(debt: NDArray[np.float64], prices: NDArray[np.float64], i: int, pr: int) -> float:
    owed = 0.0
    for k in range(debt.shape[1]):
        owed += debt[i, k] * prices[pr, k]
    return owed


@numba.jit(types.intp(_F2_IN, _F2_IN, _F2_IN, _F2_IN, types.boolean, _B1_IN, types.Array(types.intp, 1, "C")),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _liquidatable_into(collateral: NDArray[np.float64], debt: NDArray[np.float64], liq_threshold: NDArray[np.float64],
                       prices: NDArray[np.float64], shared: bool, floored: NDArray[np.bool_],
                       out: NDArray[np.intp]) -> int:
    count = 0
    for i in range(collateral.shape[0]):
        pr = 0 if shared else i
        owed = _debt_usd(debt, prices, i, pr)
        if owed > DUST_USD and _weighted_usd(collateral, liq_threshold, prices, i, pr, floored[i]) < owed:
            out[count] = i
            count += 1
    return count


_ROW_OUTCOME = types.Tuple((types.float64, types.intp))  # type: ignore[no-untyped-call]  # (bad debt USD, passes)


@numba.jit(_ROW_OUTCOME(types.intp, types.intp, _F2_OUT, _F2_OUT, _F2_IN, _F2_IN, _F2_IN, _I8_IN, _F2_IN, types.boolean,
                        _F1_OUT, _F1_OUT, _F1_OUT, types.intp, types.float64, types.float64),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _liquidate_row_from(i: int, pr: int, collateral: NDArray[np.float64], debt: NDArray[np.float64],
                        liq_threshold: NDArray[np.float64], liq_bonus: NDArray[np.float64],
                        protocol_fee: NDArray[np.float64], venue: NDArray[np.int8], prices: NDArray[np.float64],
                        floored: bool, seized: NDArray[np.float64], fees: NDArray[np.float64],
                        repaid: NDArray[np.float64], max_passes: int, total_debt_usd: float,
                        weighted_usd: float) -> tuple[float, int]:
    """:func:`_liquidate_row` given the row's debt USD and HF numerator at its prices (as the
    liquidatable check computed them). Each pass ends by computing both for the next pass's
    check: the same sums in the same order as recomputing them at the next pass's start (the
    dust-cleaned debt sum adds the zeroed entries as 0.0, as the recomputation would), so passing
    them on changes no bit and saves two row loops per pass."""
    n = collateral.shape[1]
    bad_debt_usd = 0.0
    passes = 0
    active = True
    while active and passes < max_passes:
        passes += 1
        health = weighted_usd / total_debt_usd
        kind = venue[i]
        if kind == COMPOUND_V3:
            # absorb: all seizable collateral, all debt; credit = value / bonus, shortfall = bad debt
            credit_usd = 0.0
            for k in range(n):
                value_usd = collateral[i, k] * prices[pr, k] if liq_threshold[i, k] > 0 else 0.0
                credit_usd += value_usd / liq_bonus[i, k]
            shortfall = max(total_debt_usd - credit_usd, 0.0)
            cover = min(credit_usd, total_debt_usd) / total_debt_usd if total_debt_usd > 0 else 0.0
            for k in range(n):
                if liq_threshold[i, k] > 0:
                    seized[k] += collateral[i, k]
                    collateral[i, k] = 0.0
                repaid[k] += debt[i, k] * cover
                debt[i, k] = 0.0
            bad_debt_usd += shortfall
        else:
            # largest seizable collateral c and largest debt j by USD (first of equals, as argmax)
            c, j = 0, 0
            coll_c_usd = collateral[i, 0] * prices[pr, 0] if liq_threshold[i, 0] > 0 else 0.0
            debt_j_usd = debt[i, 0] * prices[pr, 0]
            for k in range(1, n):
                value_usd = collateral[i, k] * prices[pr, k] if liq_threshold[i, k] > 0 else 0.0
                if value_usd > coll_c_usd:
                    c, coll_c_usd = k, value_usd
                owed_usd = debt[i, k] * prices[pr, k]
                if owed_usd > debt_j_usd:
                    j, debt_j_usd = k, owed_usd
            max_repay = debt_j_usd
            bonus = liq_bonus[i, c]
            if kind == AAVE_V30:
                max_repay = debt_j_usd * (DEFAULT_CLOSE_FACTOR if health > CLOSE_FACTOR_HF_THRESHOLD else 1.0)
            elif kind == AAVE_V33:
                capped = (health > CLOSE_FACTOR_HF_THRESHOLD and coll_c_usd >= AAVE_V33_MIN_BASE_FOR_CLOSE_FACTOR_USD
                          and debt_j_usd >= AAVE_V33_MIN_BASE_FOR_CLOSE_FACTOR_USD)
                cap = min(debt_j_usd, DEFAULT_CLOSE_FACTOR * total_debt_usd) if capped else debt_j_usd
                leftover = debt_j_usd - cap
                if capped and leftover > 0 and leftover < AAVE_V33_MIN_LEFTOVER_USD:
                    cap = debt_j_usd - AAVE_V33_MIN_LEFTOVER_USD
                # a partial seizure must leave >= $1,000 of the seized reserve (MustNotLeaveDust)
                if (capped and cap < debt_j_usd and cap * bonus < coll_c_usd
                        and coll_c_usd - cap * bonus < AAVE_V33_MIN_LEFTOVER_USD):
                    cap = min(cap, (coll_c_usd - AAVE_V33_MIN_LEFTOVER_USD) / bonus)
                max_repay = cap
            seize_usd = max_repay * bonus
            short = seize_usd > coll_c_usd
            if short:
                seize_usd = coll_c_usd
                repay_usd = coll_c_usd / bonus
            else:
                repay_usd = max_repay
            fee_usd = (seize_usd - seize_usd / bonus) * protocol_fee[i, c]
            p_c, p_j = prices[pr, c], prices[pr, j]
            seize_tokens = collateral[i, c] if short else seize_usd / p_c
            repay_tokens = repay_usd / p_j
            seized[c] += seize_tokens
            fees[c] += fee_usd / p_c
            repaid[j] += repay_tokens
            collateral[i, c] = max(collateral[i, c] - seize_tokens, 0.0)
            debt[i, j] = max(debt[i, j] - repay_tokens, 0.0)
        # dust and bad debt: no seizable collateral left while debt remains
        left_collateral_usd = 0.0
        left_debt_usd = 0.0
        left_weighted_usd = 0.0  # the next check's plain HF numerator, in _weighted_usd's order
        for k in range(n):
            left_weighted_usd += collateral[i, k] * liq_threshold[i, k] * prices[pr, k]
            left_collateral_usd += collateral[i, k] * prices[pr, k] if liq_threshold[i, k] > 0 else 0.0
            owed_usd = debt[i, k] * prices[pr, k]
            if owed_usd < DUST_USD:
                owed_usd = 0.0
            left_debt_usd += owed_usd
            if not owed_usd > 0:
                debt[i, k] = 0.0
        if left_collateral_usd <= DUST_USD and left_debt_usd > DUST_USD:
            bad_debt_usd += left_debt_usd
            left_debt_usd = 0.0
            for k in range(n):
                debt[i, k] = 0.0
        total_debt_usd = left_debt_usd
        active = left_debt_usd > DUST_USD
        if active:
            # left_collateral_usd is _weighted_usd's counted total (same terms, same order)
            weighted_usd = (_floor_numerator(collateral, liq_threshold, i, left_weighted_usd, left_collateral_usd)
                            if floored else left_weighted_usd)
            active = weighted_usd < left_debt_usd
    return bad_debt_usd, passes


@numba.jit(_ROW_OUTCOME(types.intp, types.intp, _F2_OUT, _F2_OUT, _F2_IN, _F2_IN, _F2_IN, _I8_IN, _F2_IN, types.boolean,
                        _F1_OUT, _F1_OUT, _F1_OUT, types.intp),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _liquidate_row(i: int, pr: int, collateral: NDArray[np.float64], debt: NDArray[np.float64],
                   liq_threshold: NDArray[np.float64], liq_bonus: NDArray[np.float64],
                   protocol_fee: NDArray[np.float64], venue: NDArray[np.int8], prices: NDArray[np.float64],
                   floored: bool, seized: NDArray[np.float64], fees: NDArray[np.float64],
                   repaid: NDArray[np.float64], max_passes: int) -> tuple[float, int]:
    """Liquidate liquidatable row ``i`` (a built-in rule) at price row ``pr`` until it is healthy
    or ``max_passes`` ran; adds its tokens to ``seized``/``fees``/``repaid`` (shape (n_assets,))
    and returns (bad debt USD, passes)."""
    return _liquidate_row_from(i, pr, collateral, debt, liq_threshold, liq_bonus, protocol_fee, venue, prices, floored,
                               seized, fees, repaid, max_passes, _debt_usd(debt, prices, i, pr),
                               _weighted_usd(collateral, liq_threshold, prices, i, pr, floored))


@numba.jit(types.intp(_IP_IN, _F2_OUT, _F2_OUT, _F2_IN, _F2_IN, _F2_IN, _I8_IN, _F2_IN, types.boolean, _B1_IN,
                      _F2_OUT, _F2_OUT, _F2_OUT, _F1_OUT, _B1_OUT, types.intp),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _liquidate_rows(rows: NDArray[np.intp], collateral: NDArray[np.float64], debt: NDArray[np.float64],
                    liq_threshold: NDArray[np.float64], liq_bonus: NDArray[np.float64],
                    protocol_fee: NDArray[np.float64], venue: NDArray[np.int8], prices: NDArray[np.float64],
                    shared: bool, floored: NDArray[np.bool_], seized: NDArray[np.float64], fees: NDArray[np.float64],
                    repaid: NDArray[np.float64], bad_debt: NDArray[np.float64], hit: NDArray[np.bool_],
                    max_passes: int) -> int:
    most_passes = 0
    for r in range(rows.shape[0]):
        i = rows[r]
        bad_debt_usd, passes = _liquidate_row(i, 0 if shared else i, collateral, debt, liq_threshold, liq_bonus,
                                              protocol_fee, venue, prices, floored[i], seized[i], fees[i], repaid[i],
                                              max_passes)
        bad_debt[i] += bad_debt_usd
        if passes > 0:
            hit[i] = True
        most_passes = max(most_passes, passes)
    return most_passes


_USD_PAIR = types.UniTuple(types.float64, 2)  # type: ignore[no-untyped-call]


@numba.jit(_USD_PAIR(_F1_OUT, _F1_OUT, _F1_OUT, _F2_IN, _F1_OUT, _F1_OUT, _F1_OUT),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _add_row_tokens(row_seized: NDArray[np.float64], row_fees: NDArray[np.float64], row_repaid: NDArray[np.float64],
                    prices: NDArray[np.float64], seized_tokens: NDArray[np.float64], fee_tokens: NDArray[np.float64],
                    repaid_tokens: NDArray[np.float64]) -> tuple[float, float]:
    """Add one liquidated row's tokens (seized, protocol fee, repaid; per asset) to a round's
    totals; returns the row's (repaid, seized) USD at ``prices[0]`` (summed in asset order)."""
    repaid_usd = 0.0
    seized_usd = 0.0
    for k in range(row_seized.shape[0]):
        seized_tokens[k] += row_seized[k]
        fee_tokens[k] += row_fees[k]
        repaid_tokens[k] += row_repaid[k]
        repaid_usd += row_repaid[k] * prices[0, k]
        seized_usd += row_seized[k] * prices[0, k]
    return repaid_usd, seized_usd


@numba.jit(types.intp(types.intp, _F2_OUT, _F2_OUT, _F2_IN, _F2_IN, _F2_IN, _I8_IN, _I32_IN, _B1_IN, _F2_IN,
                      _B1_OUT, types.intp, _F1_OUT, _F1_OUT, _F1_OUT, _F1_OUT, _F1_OUT, _F1_OUT),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _pool_round(n_rows: int, collateral: NDArray[np.float64], debt: NDArray[np.float64],
                liq_threshold: NDArray[np.float64], liq_bonus: NDArray[np.float64], protocol_fee: NDArray[np.float64],
                venue: NDArray[np.int8], market: NDArray[np.int32], floored: NDArray[np.bool_],
                prices: NDArray[np.float64], hit: NDArray[np.bool_], max_passes: int,
                seized_tokens: NDArray[np.float64], fee_tokens: NDArray[np.float64],
                repaid_tokens: NDArray[np.float64], liquidated_by_market_usd: NDArray[np.float64],
                seized_by_market_usd: NDArray[np.float64], bad_debt_by_market_usd: NDArray[np.float64]) -> int:
    """One cascade round over the first ``n_rows`` rows of a row pool at one price vector
    (``prices`` shape (1, n_assets)): every row of a built-in rule with HF < 1 is liquidated
    (rows of other rules are skipped: the caller runs their kernels). Adds the round's tokens per
    asset and USD per market to the six accumulators; returns how many rows were liquidated."""
    n = collateral.shape[1]
    row_seized, row_fees, row_repaid = np.zeros(n), np.zeros(n), np.zeros(n)
    count = 0
    for i in range(n_rows):
        if venue[i] > COMPOUND_V3 or venue[i] < 0:
            continue
        owed = _debt_usd(debt, prices, i, 0)
        if not owed > DUST_USD:
            continue
        weighted = _weighted_usd(collateral, liq_threshold, prices, i, 0, floored[i])
        if not weighted < owed:
            continue
        row_seized[:] = 0.0
        row_fees[:] = 0.0
        row_repaid[:] = 0.0
        bad_debt_usd, passes = _liquidate_row_from(i, 0, collateral, debt, liq_threshold, liq_bonus, protocol_fee,
                                                   venue, prices, floored[i], row_seized, row_fees, row_repaid,
                                                   max_passes, owed, weighted)
        if passes > 0:
            hit[i] = True
        count += 1
        repaid_usd, seized_usd = _add_row_tokens(row_seized, row_fees, row_repaid, prices, seized_tokens, fee_tokens,
                                                 repaid_tokens)
        m = market[i]
        liquidated_by_market_usd[m] += repaid_usd
        seized_by_market_usd[m] += seized_usd
        bad_debt_by_market_usd[m] += bad_debt_usd
    return count


_TWO_COUNTS = types.UniTuple(types.intp, 2)  # type: ignore[no-untyped-call]  # (most passes, rows deferred)


@numba.jit(_TWO_COUNTS(_F2_OUT, _F2_OUT, _F2_IN, _F2_IN, _F2_IN, _I8_IN, _F2_IN, types.boolean,
                                          _B1_IN, _F2_OUT, _F2_OUT, _F2_OUT, _F1_OUT, _B1_OUT, types.intp,
                                          types.Array(types.intp, 1, "C")),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _scan_and_liquidate(collateral: NDArray[np.float64], debt: NDArray[np.float64],
                        liq_threshold: NDArray[np.float64], liq_bonus: NDArray[np.float64],
                        protocol_fee: NDArray[np.float64], venue: NDArray[np.int8], prices: NDArray[np.float64],
                        shared: bool, floored: NDArray[np.bool_], seized: NDArray[np.float64],
                        fees: NDArray[np.float64], repaid: NDArray[np.float64], bad_debt: NDArray[np.float64],
                        hit: NDArray[np.bool_], max_passes: int, deferred: NDArray[np.intp]) -> tuple[int, int]:
    """The whole-book kernel in one sweep: each row is checked (debt above dust, HF < 1) and, if
    liquidatable under a built-in rule, liquidated right away from the sums the check computed
    (:func:`_liquidate_row_from`), while its arrays are in cache. Liquidatable rows of other rules
    are written to ``deferred`` for their own kernels. Returns (most passes, number deferred).
    Same results as :func:`_liquidatable_into` then :func:`_liquidate_rows` (rows are independent)."""
    most_passes = 0
    n_deferred = 0
    n = collateral.shape[1]
    for i in range(collateral.shape[0]):
        pr = 0 if shared else i
        # _debt_usd and _weighted_usd's plain sum in one loop (two independent chains, same orders)
        owed = 0.0
        weighted = 0.0
        for k in range(n):
            p = prices[pr, k]
            owed += debt[i, k] * p
            weighted += collateral[i, k] * liq_threshold[i, k] * p
        if not owed > DUST_USD:
            continue
        if floored[i]:
            total = 0.0
            for k in range(n):
                total += collateral[i, k] * prices[pr, k] if liq_threshold[i, k] > 0 else 0.0
            weighted = _floor_numerator(collateral, liq_threshold, i, weighted, total)
        if not weighted < owed:
            continue
        if venue[i] > COMPOUND_V3 or venue[i] < 0:
            deferred[n_deferred] = i
            n_deferred += 1
            continue
        bad_debt_usd, passes = _liquidate_row_from(i, pr, collateral, debt, liq_threshold, liq_bonus, protocol_fee,
                                                   venue, prices, floored[i], seized[i], fees[i], repaid[i],
                                                   max_passes, owed, weighted)
        bad_debt[i] += bad_debt_usd
        if passes > 0:
            hit[i] = True
        most_passes = max(most_passes, passes)
    return most_passes, n_deferred


def scan_and_liquidate(collateral: NDArray[np.float64], debt: NDArray[np.float64],
                       liq_threshold: NDArray[np.float64], liq_bonus: NDArray[np.float64],
                       protocol_fee: NDArray[np.float64], venue: NDArray[np.int8], prices_usd: NDArray[np.float64],
                       floored_avg_lt: NDArray[np.bool_], seized: NDArray[np.float64], fees: NDArray[np.float64],
                       repaid: NDArray[np.float64], bad_debt: NDArray[np.float64], hit: NDArray[np.bool_],
                       max_passes: int) -> tuple[int, NDArray[np.intp]]:
    """Check and liquidate every row of a built-in rule in one sweep, in place (see
    :func:`_scan_and_liquidate`); returns (most passes, the liquidatable rows of other rules)."""
    prices, shared = price_rows(prices_usd)
    f64 = np.float64
    liq_threshold, liq_bonus = np.asarray(liq_threshold, dtype=f64), np.asarray(liq_bonus, dtype=f64)
    protocol_fee, venue = np.asarray(protocol_fee, dtype=f64), np.asarray(venue, dtype=np.int8)
    deferred = np.empty(collateral.shape[0], dtype=np.intp)
    most_passes, n_deferred = _scan_and_liquidate(collateral, debt, liq_threshold, liq_bonus, protocol_fee, venue,
                                                  prices, shared, np.asarray(floored_avg_lt, dtype=np.bool_), seized,
                                                  fees, repaid, bad_debt, hit, max_passes, deferred)
    return int(most_passes), deferred[:n_deferred]


def price_rows(prices_usd: NDArray[np.float64]) -> tuple[NDArray[np.float64], bool]:
    """Prices as the kernels take them: one row shared by every book row, or one row per book row."""
    prices_usd = np.asarray(prices_usd, dtype=np.float64)
    if prices_usd.ndim == 1:
        return prices_usd.reshape(1, -1), True
    return prices_usd, False


def liquidatable_rows(collateral: NDArray[np.float64], debt: NDArray[np.float64], liq_threshold: NDArray[np.float64],
                      prices_usd: NDArray[np.float64], floored_avg_lt: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Indices of the rows with debt above dust and HF < 1 (:func:`risk.liquidation.liquidatable`)."""
    prices, shared = price_rows(prices_usd)
    liq_threshold = np.asarray(liq_threshold, dtype=np.float64)
    floored_avg_lt = np.asarray(floored_avg_lt, dtype=np.bool_)
    out = np.empty(collateral.shape[0], dtype=np.intp)
    count = int(_liquidatable_into(collateral, debt, liq_threshold, prices, shared, floored_avg_lt, out))
    return out[:count]


def liquidate_rows_in_place(rows: NDArray[np.intp], collateral: NDArray[np.float64], debt: NDArray[np.float64],
                            liq_threshold: NDArray[np.float64], liq_bonus: NDArray[np.float64],
                            protocol_fee: NDArray[np.float64], venue: NDArray[np.int8],
                            prices_usd: NDArray[np.float64], floored_avg_lt: NDArray[np.bool_],
                            seized: NDArray[np.float64], fees: NDArray[np.float64], repaid: NDArray[np.float64],
                            bad_debt: NDArray[np.float64], hit: NDArray[np.bool_], max_passes: int) -> int:
    """Liquidate ``rows`` (built-in rules only) until each is healthy or ``max_passes`` ran;
    updates every array after ``floored_avg_lt`` and ``collateral``/``debt`` in place and returns
    the number of passes the busiest row took (the numpy kernel's ``passes``)."""
    prices, shared = price_rows(prices_usd)
    f64 = np.float64
    liq_threshold, liq_bonus = np.asarray(liq_threshold, dtype=f64), np.asarray(liq_bonus, dtype=f64)
    protocol_fee, venue = np.asarray(protocol_fee, dtype=f64), np.asarray(venue, dtype=np.int8)
    floored_avg_lt = np.asarray(floored_avg_lt, dtype=np.bool_)
    return int(_liquidate_rows(rows, collateral, debt, liq_threshold, liq_bonus, protocol_fee, venue, prices, shared,
                               floored_avg_lt, seized, fees, repaid, bad_debt, hit, max_passes))


def pool_round(n_rows: int, collateral: NDArray[np.float64], debt: NDArray[np.float64],
               liq_threshold: NDArray[np.float64], liq_bonus: NDArray[np.float64], protocol_fee: NDArray[np.float64],
               venue: NDArray[np.int8], market: NDArray[np.int32], floored_avg_lt: NDArray[np.bool_],
               prices_usd: NDArray[np.float64], hit: NDArray[np.bool_], max_passes: int,
               seized_tokens: NDArray[np.float64], fee_tokens: NDArray[np.float64], repaid_tokens: NDArray[np.float64],
               liquidated_by_market_usd: NDArray[np.float64], seized_by_market_usd: NDArray[np.float64],
               bad_debt_by_market_usd: NDArray[np.float64]) -> int:
    """One cascade round over a row pool's first ``n_rows`` rows (built-in rules only), in place;
    see :func:`_pool_round`. Returns the number of rows liquidated."""
    prices, _ = price_rows(prices_usd)
    return int(_pool_round(n_rows, collateral, debt, liq_threshold, liq_bonus, protocol_fee, venue,
                           np.asarray(market, dtype=np.int32), floored_avg_lt, prices, hit, max_passes, seized_tokens,
                           fee_tokens, repaid_tokens, liquidated_by_market_usd, seized_by_market_usd,
                           bad_debt_by_market_usd))


__all__ = ["liquidatable_rows", "liquidate_rows_in_place", "pool_round", "price_rows", "scan_and_liquidate"]
