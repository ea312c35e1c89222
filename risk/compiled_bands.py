"""Compiled (numba) liquidation map and band totals of :mod:`risk.bands`, in one compiled call.

:func:`map_sweep` computes what the numpy version computed in a dozen whole-book passes (two
matrix products, the liquidation prices, the bins, six ``np.bincount``, the masked sums): the
liquidation price and side of one asset for every row (:func:`risk.compiled_prices._prices_into`,
the default engine's arithmetic), then one sweep in book order: each row's collateral and debt
USD at spot, its price bin, added to the per-(bin, venue) and per-(bin, market) histograms and
the liquidatable-now totals.
:func:`band_totals` sums the members of one band (one pass per band instead of a mask per venue
and per market).

Summation order, stated: a row's USD values are summed over its assets left to right (numpy's
``@`` may group them otherwise, the last bits can differ); the histograms add rows in book order,
as ``np.bincount`` does; the totals (now, outside, per side, per band) add rows in book order,
where numpy's masked ``.sum()`` summed pairwise: totals agree with numpy within 1e-12 relative
(all terms are >= 0, so there is no cancellation), and bit for bit with a plain loop in row order.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from risk import compiled_prices as _prices  # sets numba's cache directory before anything is declared

import numba  # noqa: E402
from numba import types  # noqa: E402

BELOW, ABOVE, NOW = _prices.BELOW, _prices.ABOVE, _prices.NOW
_CACHE = _prices._CACHE
_F2_IN, _F1_IN, _B1_IN = _prices._F2_IN, _prices._F1_IN, _prices._B1_IN
_F1_OUT, _F2_OUT, _I8_1_OUT = _prices._F1_OUT, _prices._F2_OUT, _prices._I8_1_OUT
_I8_1_IN = types.Array(types.int8, 1, "A", readonly=True)
_I32_1_IN = types.Array(types.int32, 1, "A", readonly=True)
_I64_1_OUT = types.Array(types.int64, 1, "C")
_I64_2_OUT = types.Array(types.int64, 2, "C")

# Slots of map_sweep's ``totals_usd`` (USD) and ``counts`` (positions).
NOW_COLLATERAL, NOW_DEBT, OUTSIDE_COLLATERAL, BELOW_COLLATERAL, ABOVE_COLLATERAL = range(5)
N_TOTALS = 5
NOW_COUNT, BELOW_COUNT, ABOVE_COUNT = range(3)
N_COUNTS = 3


@numba.jit(types.void(_F2_IN, _F2_IN, _F2_IN, _F1_IN, _B1_IN, types.intp, _I8_1_IN, _I32_1_IN, types.float64,
                      types.float64, types.intp, _F1_OUT, _I8_1_OUT, _F1_OUT, _F1_OUT, _F2_OUT, _F2_OUT, _I64_2_OUT,
                      _F2_OUT, _F2_OUT, _I64_2_OUT, _F1_OUT, _F1_OUT, _I64_1_OUT),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _map_sweep(collateral: NDArray[np.float64], debt: NDArray[np.float64], liq_threshold: NDArray[np.float64],
               prices: NDArray[np.float64], floored_rule: NDArray[np.bool_], j: int, venue: NDArray[np.int8],
               market: NDArray[np.int32], lower: float, bin_width: float, n_bins: int,
               price_out: NDArray[np.float64], side_out: NDArray[np.int8], collateral_usd_out: NDArray[np.float64],
               debt_usd_out: NDArray[np.float64], collateral_by_venue: NDArray[np.float64],
               debt_by_venue: NDArray[np.float64], positions_by_venue: NDArray[np.int64],
               collateral_by_market: NDArray[np.float64], debt_by_market: NDArray[np.float64],
               positions_by_market: NDArray[np.int64], now_collateral_by_market: NDArray[np.float64],
               totals_usd: NDArray[np.float64], counts: NDArray[np.int64]) -> None:
    # the prices first (their two passes, see risk.compiled_prices._prices_into), then the
    # histograms and totals in book order
    columns = np.full(1, j, dtype=np.intp)
    _prices._prices_into(collateral, debt, liq_threshold, prices, floored_rule, columns,
                         price_out.reshape((price_out.shape[0], 1)), side_out.reshape((side_out.shape[0], 1)))
    spot = prices[j]
    n_assets = collateral.shape[1]
    for i in range(collateral.shape[0]):
        held_usd = 0.0
        owed = 0.0  # position_sums' debt sum (same products, same order)
        for k in range(n_assets):
            held_usd += collateral[i, k] * prices[k]
            owed += debt[i, k] * prices[k]
        u, side = price_out[i], side_out[i]
        collateral_usd_out[i] = held_usd
        debt_usd_out[i] = owed
        if side == NOW:
            totals_usd[NOW_COLLATERAL] += held_usd
            totals_usd[NOW_DEBT] += owed
            counts[NOW_COUNT] += 1
            now_collateral_by_market[market[i]] += held_usd
            continue
        if side == BELOW:
            totals_usd[BELOW_COLLATERAL] += held_usd
            counts[BELOW_COUNT] += 1
        elif side == ABOVE:
            totals_usd[ABOVE_COLLATERAL] += held_usd
            counts[ABOVE_COUNT] += 1
        else:
            continue
        # np.floor((price / spot - lower) / bin_width), compared as a float so that no
        # out-of-range value is ever cast to an integer
        at = np.floor((u / spot - lower) / bin_width)
        if not (at >= 0 and at < n_bins):
            totals_usd[OUTSIDE_COLLATERAL] += held_usd
            continue
        b = int(at)
        v, m = venue[i], market[i]
        collateral_by_venue[b, v] += held_usd
        debt_by_venue[b, v] += owed
        positions_by_venue[b, v] += 1
        collateral_by_market[b, m] += held_usd
        debt_by_market[b, m] += owed
        positions_by_market[b, m] += 1


class MapSweep:
    """What :func:`map_sweep` returns: per-row arrays, shape (n_positions,): ``price_usd`` (NaN for
    NEVER/NOW), ``side`` (:class:`risk.liquidation_prices.Side` codes), ``collateral_usd``,
    ``debt_usd``; histograms of USD at spot and counts, shape (n_bins, n_venues) and (n_bins,
    n_markets); ``now_collateral_by_market_usd``, shape (n_markets,); ``totals_usd`` and ``counts``
    indexed by this module's slot constants."""

    __slots__ = ("price_usd", "side", "collateral_usd", "debt_usd", "collateral_by_venue_usd", "debt_by_venue_usd",
                 "positions_by_venue", "collateral_by_market_usd", "debt_by_market_usd", "positions_by_market",
                 "now_collateral_by_market_usd", "totals_usd", "counts")

    def __init__(self, n_positions: int, n_bins: int, n_venues: int, n_markets: int) -> None:
        self.price_usd = np.empty(n_positions, dtype=np.float64)
        self.side = np.empty(n_positions, dtype=np.int8)
        self.collateral_usd = np.empty(n_positions, dtype=np.float64)
        self.debt_usd = np.empty(n_positions, dtype=np.float64)
        self.collateral_by_venue_usd = np.zeros((n_bins, n_venues), dtype=np.float64)
        self.debt_by_venue_usd = np.zeros((n_bins, n_venues), dtype=np.float64)
        self.positions_by_venue = np.zeros((n_bins, n_venues), dtype=np.int64)
        self.collateral_by_market_usd = np.zeros((n_bins, n_markets), dtype=np.float64)
        self.debt_by_market_usd = np.zeros((n_bins, n_markets), dtype=np.float64)
        self.positions_by_market = np.zeros((n_bins, n_markets), dtype=np.int64)
        self.now_collateral_by_market_usd = np.zeros(n_markets, dtype=np.float64)
        self.totals_usd = np.zeros(N_TOTALS, dtype=np.float64)
        self.counts = np.zeros(N_COUNTS, dtype=np.int64)


def _check_codes(codes: NDArray[np.integer], n: int, what: str) -> None:
    # The sweep indexes histograms with these codes unchecked (numba has no bounds checks).
    if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= n):
        raise ValueError(f"{what} codes must lie in [0, {n}), got {int(codes.min())}..{int(codes.max())}")


def map_sweep(collateral: NDArray[np.float64], debt: NDArray[np.float64], liq_threshold: NDArray[np.float64],
              prices_usd: NDArray[np.float64], floored_avg_lt: NDArray[np.bool_], j: int, venue: NDArray[np.int8],
              market: NDArray[np.int32], *, lower: float, bin_width: float, n_bins: int, n_venues: int,
              n_markets: int) -> MapSweep:
    """The liquidation map of asset ``j`` on bins ``spot_j * (lower + bin_width * [b, b + 1))``,
    b < ``n_bins``, in one sweep (see the module docstring). ``venue`` codes index the venue axis
    (``n_venues``), ``market`` codes the market axis (``n_markets``)."""
    venue = np.asarray(venue, dtype=np.int8)
    market = np.asarray(market, dtype=np.int32)
    _check_codes(venue, n_venues, "venue")
    _check_codes(market, n_markets, "market")
    out = MapSweep(collateral.shape[0], n_bins, n_venues, n_markets)
    _map_sweep(collateral, debt, liq_threshold, np.asarray(prices_usd, dtype=np.float64),
               np.asarray(floored_avg_lt, dtype=np.bool_), int(j), venue, market, float(lower), float(bin_width),
               int(n_bins), out.price_usd, out.side, out.collateral_usd, out.debt_usd, out.collateral_by_venue_usd,
               out.debt_by_venue_usd, out.positions_by_venue, out.collateral_by_market_usd, out.debt_by_market_usd,
               out.positions_by_market, out.now_collateral_by_market_usd, out.totals_usd, out.counts)
    return out


_BAND = types.Tuple((types.int64, types.float64, types.float64, types.float64, types.float64))  # type: ignore[no-untyped-call]


@numba.jit(_BAND(_F1_IN, _I8_1_IN, types.int8, types.float64, types.float64, _F1_IN, _F1_IN, _I8_1_IN, _I32_1_IN,
                 _F1_OUT, _I64_1_OUT, _F1_OUT, _I64_1_OUT),
           nopython=True, cache=_CACHE, error_model="numpy", nogil=True)
def _band_totals(price: NDArray[np.float64], side: NDArray[np.int8], side_code: int, low: float, high: float,
                 collateral_usd: NDArray[np.float64], debt_usd: NDArray[np.float64], venue: NDArray[np.int8],
                 market: NDArray[np.int32], collateral_by_venue: NDArray[np.float64],
                 positions_by_venue: NDArray[np.int64], collateral_by_market: NDArray[np.float64],
                 positions_by_market: NDArray[np.int64]) -> tuple[int, float, float, float, float]:
    count = 0
    held_usd = 0.0
    owed_usd = 0.0
    lowest, highest = np.inf, -np.inf
    for i in range(price.shape[0]):
        p = price[i]
        if side[i] != side_code or not (p >= low and p <= high):
            continue
        count += 1
        held_usd += collateral_usd[i]
        owed_usd += debt_usd[i]
        lowest = min(lowest, p)
        highest = max(highest, p)
        collateral_by_venue[venue[i]] += collateral_usd[i]
        positions_by_venue[venue[i]] += 1
        collateral_by_market[market[i]] += collateral_usd[i]
        positions_by_market[market[i]] += 1
    return count, held_usd, owed_usd, lowest, highest


def band_totals(sweep: MapSweep, side_code: int, low_usd: float, high_usd: float, venue: NDArray[np.int8],
                market: NDArray[np.int32]) -> tuple[int, float, float, float, float, NDArray[np.float64],
                                                    NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Members of one band: the rows of side ``side_code`` whose liquidation price lies in
    ``[low_usd, high_usd]``. Returns (count, collateral USD, debt USD, lowest price, highest price,
    collateral USD and count per venue, per market), sums in row order. ``venue``/``market`` are
    the codes :func:`map_sweep` checked."""
    n_venues, n_markets = sweep.positions_by_venue.shape[1], sweep.positions_by_market.shape[1]
    by_venue, in_venue = np.zeros(n_venues), np.zeros(n_venues, dtype=np.int64)
    by_market, in_market = np.zeros(n_markets), np.zeros(n_markets, dtype=np.int64)
    count, held, owed, lowest, highest = _band_totals(
        sweep.price_usd, sweep.side, int(side_code), float(low_usd), float(high_usd), sweep.collateral_usd,
        sweep.debt_usd, np.asarray(venue, dtype=np.int8), np.asarray(market, dtype=np.int32), by_venue, in_venue,
        by_market, in_market)
    return int(count), float(held), float(owed), float(lowest), float(highest), by_venue, in_venue, by_market, in_market


__all__ = ["MapSweep", "band_totals", "map_sweep"]
