"""Liquidation bands: where, in one asset's price, the liquidations are.

1. Every position's liquidation price for the asset (others fixed, :mod:`risk.liquidation_prices`).
2. A *liquidation map*: positions bucketed on a price grid, weighted by the position's collateral
   USD and debt USD (both valued at spot), and counted, per venue. Long-side liquidations (price
   falling) sit below spot, short-side ones (price rising) above it.
3. *Bands* (clusters): the collateral density is smoothed with a Gaussian kernel
   (``scipy.ndimage.gaussian_filter1d``, ``smoothing_usd`` wide), peaks are found with
   ``scipy.signal.find_peaks`` and a minimum prominence (a share of the highest peak on that
   side), each peak's extent is taken where the smoothed density stays above
   ``1 - rel_height`` of the peak's prominence (``scipy.signal.peak_widths``), and the band's edges
   are then tightened to the lowest and highest liquidation price of the positions inside it.
   Bands never straddle spot: each side is searched on its own.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks, peak_widths

from risk.book import Float64Array1D, Float64Array2D, PositionBook
from risk.frames import human_usd as _human
from risk.liquidation_prices import Side
from risk.snapshot import VENUES

if TYPE_CHECKING:
    from risk.compiled_bands import MapSweep


@dataclass(frozen=True)
class Band:
    """A dense range of liquidation prices of one asset.

    low_usd, high_usd : edges (USD per token); peak_usd : densest price
    collateral_usd, debt_usd : totals of the positions in the band, valued at spot
    positions : count; share_of_side : collateral share of all that side's liquidatable collateral
    distance_from_spot : (band middle - spot) / spot, negative below spot
    by_venue : collateral USD per venue name (liquidation rule)
    by_market : collateral USD per market id (``PositionBook.market_ids``), book order
    """

    symbol: str
    side: Literal["long", "short"]
    low_usd: float
    high_usd: float
    peak_usd: float
    collateral_usd: float
    debt_usd: float
    positions: int
    share_of_side: float
    distance_from_spot: float
    by_venue: tuple[tuple[str, float], ...]
    by_market: tuple[tuple[str, float], ...] = ()

    def describe(self) -> str:
        where = "below" if self.distance_from_spot < 0 else "above"
        return (
            f"{self.symbol} band ${self.low_usd:,.0f}–${self.high_usd:,.0f}: "
            f"${_human(self.collateral_usd)} of collateral (${_human(self.debt_usd)} debt) in "
            f"{self.positions:,} positions, {abs(self.distance_from_spot):.0%} {where} spot"
        )


@dataclass(frozen=True, eq=False)
class LiquidationMap:
    """Positions bucketed by liquidation price of one asset.

    edges_usd : shape (n_bins + 1,); the arrays below have shape (n_bins, n_venues), venue
    order :data:`risk.snapshot.VENUES`. Positions outside the grid are counted in
    ``outside_collateral_usd``; those liquidatable already in ``now_collateral_usd``.

    Per market (``market_ids``, book order; ``market_rules`` = each one's liquidation rule):
    ``collateral_by_market_usd``, ``debt_by_market_usd``, ``positions_by_market``, shape
    (n_bins, n_markets), and ``now_collateral_by_market_usd``, shape (n_markets,). Summed over
    markets they are the per-venue arrays summed over venues (the same positions).
    """

    symbol: str
    spot_usd: float
    edges_usd: Float64Array1D
    collateral_usd: Float64Array2D
    debt_usd: Float64Array2D
    positions: NDArray[np.int64]
    now_collateral_usd: float
    now_debt_usd: float
    now_positions: int
    outside_collateral_usd: float
    market_ids: tuple[str, ...] = ()
    market_rules: tuple[str, ...] = ()
    collateral_by_market_usd: Float64Array2D = field(default_factory=lambda: np.zeros((0, 0)))
    debt_by_market_usd: Float64Array2D = field(default_factory=lambda: np.zeros((0, 0)))
    positions_by_market: NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    now_collateral_by_market_usd: Float64Array1D = field(default_factory=lambda: np.zeros(0))

    @property
    def centers_usd(self) -> Float64Array1D:
        return 0.5 * (self.edges_usd[1:] + self.edges_usd[:-1])

    @property
    def venues(self) -> tuple[str, ...]:
        return VENUES

    def to_frame(self) -> dict[str, NDArray[Any]]:
        """One row per price bucket: edges, positions, then collateral and debt USD per venue."""
        frame: dict[str, NDArray[Any]] = {"low_usd": self.edges_usd[:-1], "high_usd": self.edges_usd[1:],
                                     "positions": self.positions.sum(axis=1),
                                     "collateral_usd": self.collateral_usd.sum(axis=1), "debt_usd": self.debt_usd.sum(axis=1)}
        for v, venue in enumerate(self.venues):
            frame[f"collateral_{venue}_usd"] = self.collateral_usd[:, v]
        if self.collateral_by_market_usd.shape[1:] == (len(self.market_ids),):
            for m, market in enumerate(self.market_ids):
                frame[f"collateral_{market}_usd"] = self.collateral_by_market_usd[:, m]
        return frame

    def to_pandas(self) -> Any:
        """:meth:`to_frame` as a ``pandas.DataFrame`` (needs the ``liqrisk[frames]`` extra)."""
        from risk.frames import to_pandas

        return to_pandas(self.to_frame())


@dataclass(frozen=True, eq=False)
class BandReport:
    """A liquidation map and the bands found in it, for one asset."""

    map: LiquidationMap
    bands: tuple[Band, ...]

    def largest(self, side: Literal["long", "short"] | None = None) -> Band | None:
        chosen = [b for b in self.bands if side is None or b.side == side]
        return max(chosen, key=lambda b: b.collateral_usd, default=None)

    def to_json(self) -> str:
        m = self.map
        return json.dumps(
            {
                "symbol": m.symbol,
                "spot_usd": m.spot_usd,
                "bands": [asdict(b) for b in self.bands],
                "liquidatable_now": {
                    "collateral_usd": m.now_collateral_usd, "debt_usd": m.now_debt_usd, "positions": m.now_positions,
                },
                "map": {
                    "edges_usd": m.edges_usd.tolist(),
                    "venues": list(m.venues),
                    "collateral_usd": m.collateral_usd.tolist(),
                    "debt_usd": m.debt_usd.tolist(),
                    "positions": m.positions.tolist(),
                    "markets": list(m.market_ids),
                    "market_rules": list(m.market_rules),
                    "collateral_by_market_usd": m.collateral_by_market_usd.tolist(),
                },
            }
        )

    def to_frame(self) -> dict[str, NDArray[Any]]:
        """One row per band, as columns."""
        fields = Band.__dataclass_fields__
        frame = {f: np.array([getattr(b, f) for b in self.bands], dtype=object) for f in fields
                 if f not in ("by_venue", "by_market")}
        for market in self.map.market_ids:
            frame[f"collateral_{market}_usd"] = np.array([dict(b.by_market).get(market, 0.0) for b in self.bands],
                                                         dtype=np.float64)
        return frame

    def to_pandas(self) -> Any:
        """:meth:`to_frame` as a ``pandas.DataFrame`` (needs the ``liqrisk[frames]`` extra)."""
        from risk.frames import to_pandas

        return to_pandas(self.to_frame())


def liquidation_map(
    book: PositionBook,
    symbol: str,
    *,
    prices_usd: Float64Array1D | None = None,
    lower: float = 0.3,
    upper: float = 1.7,
    bin_width: float = 0.0025,
) -> tuple[LiquidationMap, Float64Array1D, NDArray[np.int8], Float64Array1D, Float64Array1D]:
    """Bucket liquidation prices on a grid from ``lower * spot`` to ``upper * spot``.

    ``bin_width`` is a fraction of spot (0.0025 = $5 bins at $2,000). Also returns the per
    position arrays the bands need: (map, liq price, side, collateral USD, debt USD).
    """
    lmap, sweep = _map(book, symbol, prices_usd, lower, upper, bin_width)
    return lmap, sweep.price_usd, sweep.side, sweep.collateral_usd, sweep.debt_usd


def _map(book: PositionBook, symbol: str, prices_usd: Float64Array1D | None, lower: float, upper: float,
         bin_width: float) -> tuple[LiquidationMap, MapSweep]:
    """The map and the sweep it was built from (:func:`risk.compiled_bands.map_sweep`: prices as
    the venue computes HF, Aave v3.0-v3.4's floored average LT included; one pass over the book)."""
    from risk.cascade import market_ids_of, market_rules
    from risk.compiled_bands import NOW_COLLATERAL, NOW_COUNT, NOW_DEBT, OUTSIDE_COLLATERAL, map_sweep  # numba: lazily

    prices = book.prices_usd if prices_usd is None else np.asarray(prices_usd, dtype=np.float64)
    j = book.asset_index(symbol)
    spot = float(prices[j])
    n_bins = int(round((upper - lower) / bin_width))
    edges: Float64Array1D = spot * (lower + bin_width * np.arange(n_bins + 1, dtype=np.float64))
    market_ids = market_ids_of(book)
    sweep = map_sweep(book.collateral, book.debt, book.liq_threshold, prices, book.floored_avg_lt, j, book.venue,
                      book.market, lower=lower, bin_width=bin_width, n_bins=n_bins, n_venues=len(VENUES),
                      n_markets=len(market_ids))
    totals, counts = sweep.totals_usd, sweep.counts
    result = LiquidationMap(
        symbol=symbol,
        spot_usd=spot,
        edges_usd=edges,
        collateral_usd=sweep.collateral_by_venue_usd,
        debt_usd=sweep.debt_by_venue_usd,
        positions=sweep.positions_by_venue,
        now_collateral_usd=float(totals[NOW_COLLATERAL]),
        now_debt_usd=float(totals[NOW_DEBT]),
        now_positions=int(counts[NOW_COUNT]),
        outside_collateral_usd=float(totals[OUTSIDE_COLLATERAL]),
        market_ids=market_ids,
        market_rules=market_rules(book),
        collateral_by_market_usd=sweep.collateral_by_market_usd,
        debt_by_market_usd=sweep.debt_by_market_usd,
        positions_by_market=sweep.positions_by_market,
        now_collateral_by_market_usd=sweep.now_collateral_by_market_usd,
    )
    return result, sweep


def liquidation_bands(
    book: PositionBook,
    symbol: str,
    *,
    prices_usd: Float64Array1D | None = None,
    lower: float = 0.3,
    upper: float = 1.7,
    bin_width: float = 0.0025,
    smoothing: float = 0.005,
    min_prominence: float = 0.15,
    rel_height: float = 0.8,
    min_share: float = 0.02,
    min_positions: int = 3,
) -> BandReport:
    """Liquidation map and dense bands of ``symbol``.

    smoothing : Gaussian kernel sigma as a fraction of spot (0.005 = $10 at $2,000)
    min_prominence : a peak must stand out by this share of the side's highest smoothed peak
    rel_height : how far down each peak its extent is measured (0.8 = down to 20% of prominence)
    min_share, min_positions : smaller clusters are not reported as bands (they stay in the map)
    """
    from risk.compiled_bands import ABOVE_COLLATERAL, ABOVE_COUNT, BELOW_COLLATERAL, BELOW_COUNT, band_totals

    lmap, sweep = _map(book, symbol, prices_usd, lower, upper, bin_width)
    density = lmap.collateral_usd.sum(axis=1)
    smoothed = gaussian_filter1d(density, sigma=max(smoothing / bin_width, 0.5), mode="constant")
    centers = lmap.centers_usd
    spot = lmap.spot_usd
    bands: list[Band] = []
    for band_side, side_code, mask_bins, n_side, side_total in (
        ("long", Side.BELOW, centers < spot, sweep.counts[BELOW_COUNT], float(sweep.totals_usd[BELOW_COLLATERAL])),
        ("short", Side.ABOVE, centers > spot, sweep.counts[ABOVE_COUNT], float(sweep.totals_usd[ABOVE_COLLATERAL])),
    ):
        if n_side == 0:
            continue
        local = np.where(mask_bins, smoothed, 0.0)
        if local.max() <= 0:
            continue
        peaks, _ = find_peaks(local, prominence=min_prominence * local.max())
        if peaks.size == 0:
            continue
        _, _, left, right = peak_widths(local, peaks, rel_height=rel_height)
        bin_width_usd = lmap.edges_usd[1] - lmap.edges_usd[0]
        ranges = sorted(
            (lmap.edges_usd[0] + lo * bin_width_usd + bin_width_usd / 2, lmap.edges_usd[0] + hi * bin_width_usd + bin_width_usd / 2, centers[p])
            for lo, hi, p in zip(left, right, peaks)
        )
        for low, high, peak in _merge(ranges):
            count, coll, debt, low_p, high_p, by_venue_usd, in_venue, by_market_usd, in_market = band_totals(
                sweep, side_code, low, high, book.venue, book.market)
            if count < min_positions or coll < min_share * side_total:
                continue
            bands.append(
                Band(
                    symbol=symbol,
                    side=band_side,  # type: ignore[arg-type]
                    low_usd=low_p,
                    high_usd=high_p,
                    peak_usd=float(peak),
                    collateral_usd=coll,
                    debt_usd=debt,
                    positions=count,
                    share_of_side=coll / side_total if side_total > 0 else 0.0,
                    distance_from_spot=(0.5 * (low_p + high_p) - spot) / spot,
                    by_venue=tuple((venue, float(by_venue_usd[code])) for code, venue in enumerate(VENUES)
                                   if in_venue[code]),
                    by_market=tuple((market, float(by_market_usd[code])) for code, market in enumerate(lmap.market_ids)
                                    if in_market[code]),
                )
            )
    bands.sort(key=lambda b: b.collateral_usd, reverse=True)
    return BandReport(lmap, tuple(bands))


def _merge(ranges: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """Merge overlapping (low, high, peak) ranges, keeping the first peak."""
    merged: list[tuple[float, float, float]] = []
    for low, high, peak in ranges:
        if merged and low <= merged[-1][1]:
            m_low, m_high, m_peak = merged[-1]
            merged[-1] = (m_low, max(m_high, high), m_peak)
        else:
            merged.append((low, high, peak))
    return merged

