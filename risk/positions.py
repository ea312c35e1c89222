"""The positions view: one row per borrower — account, market, HF, and how far the driver must
move before the position can be liquidated — plus the breakdown per market.

Distance to liquidation (``distance``) is the size of the *driver* move, with the other assets
following by their betas (``p_k = spot_k * (1 + beta_k * r)``, as in :mod:`risk.cascade`), at
which HF reaches 1 (:func:`risk.liquidation_prices.driver_thresholds`): 0.12 = the driver falls
12% (long side) or rises 12% (short side); 0 for a position liquidatable already; inf when no
driver move liquidates it (e.g. a wstETH/WETH loop under beta 1). ``liq_price_alone_usd`` is the
driver price at which HF reaches 1 with every other price held at spot — the price the
liquidation map (:mod:`risk.bands`) buckets positions by.

USD at spot; fractions plain (0.12 = 12%).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from risk.book import PositionBook
from risk.frames import check_columns, to_pandas
from risk.liquidation_prices import Side, driver_thresholds, liquidation_prices_for
from risk.snapshot import VENUES

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

SIDE_NAMES: dict[int, str] = {Side.NEVER: "never", Side.BELOW: "long", Side.ABOVE: "short", Side.NOW: "now"}
"""Side labels of the positions view: ``long`` = liquidated on a driver fall, ``short`` = on a rise."""


@dataclass(frozen=True, eq=False)
class PositionTable:
    """Positions as columns, each of shape (n_rows,).

    row : index of the position in the book it came from
    account, market_id, venue : str columns
    collateral_usd, debt_usd : USD at spot
    health_factor : HF at spot (inf without debt)
    main_collateral, main_debt : the symbol holding most of the position's collateral / debt USD
    side : ``now`` | ``long`` | ``short`` | ``never`` under the driver move with betas
    move_to_liquidation : signed driver return at which HF reaches 1 (-0.12 = a 12% fall); 0 for
        ``now``, NaN for ``never``
    distance : ``abs(move_to_liquidation)``; 0 for ``now``, inf for ``never``
    driver_price_at_liquidation_usd : driver spot * (1 + move); NaN for ``never``
    liq_price_alone_usd : driver price at which HF reaches 1 with other prices at spot (NaN if none)
    """

    driver: str
    driver_spot_usd: float
    row: NDArray[np.int64]
    account: NDArray[np.str_]
    market_id: NDArray[np.str_]
    venue: NDArray[np.str_]
    collateral_usd: NDArray[np.float64]
    debt_usd: NDArray[np.float64]
    health_factor: NDArray[np.float64]
    main_collateral: NDArray[np.str_]
    main_debt: NDArray[np.str_]
    side: NDArray[np.str_]
    move_to_liquidation: NDArray[np.float64]
    distance: NDArray[np.float64]
    driver_price_at_liquidation_usd: NDArray[np.float64]
    liq_price_alone_usd: NDArray[np.float64]
    holds: NDArray[np.bool_]
    """shape (n_rows, n_assets): the position holds the asset as collateral or debt."""
    symbols: tuple[str, ...]
    market_ids: tuple[str, ...] = ()
    """every market of the book, in book order (the breakdown's row order)"""

    _COLUMNS = ("row", "account", "market_id", "venue", "collateral_usd", "debt_usd", "health_factor",
                "main_collateral", "main_debt", "side", "move_to_liquidation", "distance",
                "driver_price_at_liquidation_usd", "liq_price_alone_usd")

    def __len__(self) -> int:
        return int(self.row.size)

    def take(self, index: NDArray[np.bool_] | NDArray[np.intp] | Sequence[int]) -> "PositionTable":
        """Rows by boolean mask or indices (order kept as given)."""
        idx = np.asarray(index)
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in (*self._COLUMNS, "holds"):
            values[name] = values[name][idx]
        return PositionTable(**values)

    def filter(
        self,
        *,
        markets: Iterable[str] = (),
        assets: Iterable[str] = (),
        hf_min: float | None = None,
        hf_max: float | None = None,
        sides: Iterable[Literal["now", "long", "short", "never"]] = (),
    ) -> "PositionTable":
        """Rows in any of ``markets`` (ids), holding any of ``assets``, with ``hf_min <= HF < hf_max``."""
        keep = np.ones(len(self), dtype=bool)
        markets, assets, sides = list(markets), list(assets), list(sides)
        if markets:
            keep &= np.isin(self.market_id, markets)
        if assets:
            unknown = sorted(set(assets) - set(self.symbols))
            if unknown:
                raise KeyError(f"unknown asset(s) {', '.join(unknown)}; the book has {', '.join(self.symbols)}")
            cols = [self.symbols.index(a) for a in assets]
            keep &= self.holds[:, cols].any(axis=1)
        if hf_min is not None:
            keep &= self.health_factor >= hf_min
        if hf_max is not None:
            keep &= self.health_factor < hf_max
        if sides:
            keep &= np.isin(self.side, sides)
        return self.take(np.flatnonzero(keep))

    def sorted_by_distance(self) -> "PositionTable":
        """Closest to liquidation first (``now`` rows, then by distance); ties: larger debt first."""
        order = np.lexsort((-self.debt_usd, self.distance))
        return self.take(order)

    def head(self, n: int) -> "PositionTable":
        return self.take(np.arange(min(max(n, 0), len(self))))

    def to_frame(self) -> dict[str, NDArray[Any]]:
        """Columns as a dict of 1-D arrays (``pandas.DataFrame(...)`` works)."""
        return check_columns({name: getattr(self, name) for name in self._COLUMNS})

    def to_pandas(self) -> "pd.DataFrame":
        return to_pandas(self.to_frame())

    def records(self) -> list[dict[str, object]]:
        """Rows as plain dicts (numpy scalars made Python; NaN/inf kept as floats)."""
        frame = self.to_frame()
        return [{k: v[i].item() for k, v in frame.items()} for i in range(len(self))]


def position_table(
    book: PositionBook,
    driver: str,
    betas: Mapping[str, float] | None = None,
    *,
    include_debt_free: bool = False,
) -> PositionTable:
    """The positions view of ``book`` for a ``driver`` asset (see the module docstring).

    ``betas``: beta of each asset to the driver (the driver's own is 1, unlisted 0).
    ``include_debt_free``: keep positions without debt (never liquidatable; hidden by default).
    """
    j = book.asset_index(driver)
    thresholds = driver_thresholds(book, driver, betas or {})
    alone_price, _alone_side = liquidation_prices_for(book, driver)
    prices = book.prices_usd
    coll_usd_by_asset = book.collateral * prices
    debt_usd_by_asset = book.debt * prices
    collateral_usd = coll_usd_by_asset.sum(axis=1)
    debt_usd = debt_usd_by_asset.sum(axis=1)
    side = thresholds.side
    r = thresholds.return_at_liquidation
    move = np.where(side == Side.NOW, 0.0, np.where((side == Side.BELOW) | (side == Side.ABOVE), r, np.nan))
    distance = np.where(np.isnan(move), np.inf, np.abs(move))
    symbols = np.array(book.symbols, dtype=np.str_)
    n = book.n_positions
    main_collateral = np.where(collateral_usd > 0, symbols[np.argmax(coll_usd_by_asset, axis=1)] if n else "", "")
    main_debt = np.where(debt_usd > 0, symbols[np.argmax(debt_usd_by_asset, axis=1)] if n else "", "")
    market_ids = np.array(book.market_ids or ("",), dtype=np.str_)
    venue_names = np.array(VENUES, dtype=np.str_)
    accounts = np.array(book.accounts, dtype=np.str_) if book.accounts else np.full(n, "", dtype=np.str_)
    keep = np.ones(n, dtype=bool) if include_debt_free else debt_usd > 0
    idx = np.flatnonzero(keep)
    side_names = np.array([SIDE_NAMES[k] for k in range(4)], dtype=np.str_)
    table = PositionTable(
        driver=driver,
        driver_spot_usd=float(prices[j]),
        row=idx.astype(np.int64),
        account=accounts[idx],
        market_id=market_ids[book.market[idx]] if book.market_ids else np.full(idx.size, "", dtype=np.str_),
        venue=venue_names[book.venue[idx]],
        collateral_usd=collateral_usd[idx],
        debt_usd=debt_usd[idx],
        health_factor=book.health_factor()[idx],
        main_collateral=np.asarray(main_collateral, dtype=np.str_)[idx] if n else np.array([], dtype=np.str_),
        main_debt=np.asarray(main_debt, dtype=np.str_)[idx] if n else np.array([], dtype=np.str_),
        side=side_names[side[idx]],
        move_to_liquidation=move[idx],
        distance=distance[idx],
        driver_price_at_liquidation_usd=prices[j] * (1.0 + move[idx]),
        liq_price_alone_usd=alone_price[idx],
        holds=((book.collateral > 0) | (book.debt > 0))[idx],
        symbols=tuple(book.symbols),
        market_ids=tuple(book.market_ids),
    )
    return table


@dataclass(frozen=True, eq=False)
class MarketBreakdown:
    """Per market (one row each, book order): positions, collateral, debt and what is close to
    liquidation under the driver move. ``debt_within_usd[k]`` is the debt of positions whose
    distance is at most ``within[k]`` (0 = liquidatable now)."""

    market_id: NDArray[np.str_]
    venue: NDArray[np.str_]
    positions: NDArray[np.int64]
    collateral_usd: NDArray[np.float64]
    debt_usd: NDArray[np.float64]
    min_health_factor: NDArray[np.float64]
    within: tuple[float, ...]
    debt_within_usd: NDArray[np.float64]
    """shape (n_markets, len(within))"""

    def __len__(self) -> int:
        return int(self.market_id.size)

    def to_frame(self) -> dict[str, NDArray[Any]]:
        frame: dict[str, NDArray[Any]] = {
            "market_id": self.market_id, "venue": self.venue, "positions": self.positions,
            "collateral_usd": self.collateral_usd, "debt_usd": self.debt_usd,
            "min_health_factor": self.min_health_factor,
        }
        for k, w in enumerate(self.within):
            frame[f"debt_within_{round(w * 100):g}pct_usd"] = self.debt_within_usd[:, k]
        return check_columns(frame)

    def to_pandas(self) -> "pd.DataFrame":
        return to_pandas(self.to_frame())


def market_breakdown(table: PositionTable, within: Sequence[float] = (0.0, 0.1, 0.2, 0.3)) -> MarketBreakdown:
    """Aggregate a :class:`PositionTable` per market, in book order (markets with no row are left out)."""
    ids, inverse = np.unique(table.market_id, return_inverse=True)
    book_order = {m: k for k, m in enumerate(table.market_ids)}
    order = np.array(sorted(range(ids.size), key=lambda k: (book_order.get(str(ids[k]), len(book_order)), str(ids[k]))),
                     dtype=np.intp)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    group = rank[inverse] if ids.size else inverse
    m = ids.size
    positions = np.bincount(group, minlength=m).astype(np.int64)
    coll = np.bincount(group, weights=table.collateral_usd, minlength=m)
    debt = np.bincount(group, weights=table.debt_usd, minlength=m)
    min_hf = np.full(m, np.inf)
    np.minimum.at(min_hf, group, table.health_factor)
    within_t = tuple(float(w) for w in within)
    near = np.zeros((m, len(within_t)))
    for k, w in enumerate(within_t):
        near[:, k] = np.bincount(group, weights=np.where(table.distance <= w, table.debt_usd, 0.0), minlength=m)
    venue = np.empty(m, dtype=table.venue.dtype)
    venue[group] = table.venue
    return MarketBreakdown(ids[order], venue, positions, coll.astype(np.float64, copy=False), debt.astype(np.float64, copy=False), min_hf, within_t, near)


__all__ = ["MarketBreakdown", "PositionTable", "SIDE_NAMES", "market_breakdown", "position_table"]
