"""Exact (closed-form, float) liquidation prices, vectorized over positions.

Health factor of a position at prices ``p`` (shape (n_assets,)):

    HF(p) = sum_k coll_k * LT_k * p_k / sum_k debt_k * p_k

Moving one asset ``j`` with the others fixed, HF crosses 1 where

    p*_j = (D_other - C_other) / (coll_j * LT_j - debt_j)

and moving a *driver* with betas, ``p_k = spot_k * (1 + beta_k * r)``, HF crosses 1 at

    r* = (D - C) / (C_beta - D_beta)

Both are linear-fractional, so each position crosses at most once: the sign of the slope says
whether it is liquidated when the price falls (long, :attr:`Side.BELOW`) or rises (short,
:attr:`Side.ABOVE`). Liquidatable means ``HF < 1`` strictly, as every venue checks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Mapping

import numpy as np
from numpy.typing import NDArray

from risk.book import Float64Array1D, Float64Array2D, PositionBook, as_asset_vector


class Side(IntEnum):
    """How a position reaches its liquidation price for one asset (or for a driver move)."""

    NEVER = 0
    """No debt, or no price of this asset makes HF < 1 (e.g. a pegged pair under a driver move)."""
    BELOW = 1
    """Liquidated when the price falls below the liquidation price (collateral side, longs)."""
    ABOVE = 2
    """Liquidated when the price rises above the liquidation price (debt side, shorts)."""
    NOW = 3
    """Already liquidatable at the given prices (HF < 1)."""


# Slopes smaller than this fraction of the position's own scale count as flat (no crossing):
# collateral and debt of the same asset that cancel to rounding noise.
_FLAT = 1e-12


@dataclass(frozen=True, eq=False)
class LiquidationPrices:
    """Per position and asset: the price at which HF reaches 1, all other prices fixed.

    price_usd : ndarray, shape (n_positions, n_assets), USD per token; NaN where side is NEVER or NOW
    side : ndarray of int8, shape (n_positions, n_assets), :class:`Side` codes
    """

    symbols: tuple[str, ...]
    spot_usd: Float64Array1D
    price_usd: Float64Array2D
    side: NDArray[np.int8]

    def column(self, symbol: str) -> tuple[Float64Array1D, NDArray[np.int8]]:
        j = self.symbols.index(symbol)
        return self.price_usd[:, j], self.side[:, j]

    def to_frame(self) -> dict[str, NDArray[Any]]:
        """One row per position: ``liq_price_<SYM>_usd`` and ``side_<SYM>`` (Side name) per asset."""
        names = np.array([s.name.lower() for s in Side])
        frame: dict[str, NDArray[Any]] = {}
        for j, symbol in enumerate(self.symbols):
            frame[f"liq_price_{symbol}_usd"] = self.price_usd[:, j]
            frame[f"side_{symbol}"] = names[self.side[:, j]]
        return frame

    def to_pandas(self) -> Any:
        """:meth:`to_frame` as a ``pandas.DataFrame`` (needs the ``liqrisk[frames]`` extra)."""
        from risk.frames import to_pandas

        return to_pandas(self.to_frame())


def _health_sums(book: PositionBook, prices: Float64Array1D) -> tuple[Float64Array1D, Float64Array1D]:
    """Risk-weighted collateral and debt in USD, each shape (n_positions,)."""
    return book.weighted_collateral @ prices, book.debt @ prices


def liquidation_prices_for(
    book: PositionBook, symbol: str, prices_usd: Float64Array1D | None = None
) -> tuple[Float64Array1D, NDArray[np.int8]]:
    """Liquidation price of one asset for every position (the others fixed).

    Returns ``(price_usd, side)``, each shape (n_positions,). Cheaper than
    :func:`liquidation_prices` when one asset is wanted (bands of one asset).
    """
    prices = book.prices_usd if prices_usd is None else np.asarray(prices_usd, dtype=np.float64)
    j = book.asset_index(symbol)
    weighted_usd, debt_usd = _health_sums(book, prices)
    return crossing_prices(
        weighted_usd, debt_usd, book.weighted_collateral[:, j], book.debt[:, j], prices[j]
    )


def liquidation_prices(book: PositionBook, prices_usd: Float64Array1D | None = None) -> LiquidationPrices:
    """Liquidation price of every asset for every position, shape (n_positions, n_assets)."""
    prices = book.prices_usd if prices_usd is None else np.asarray(prices_usd, dtype=np.float64)
    weighted_usd, debt_usd = _health_sums(book, prices)
    # All assets at once: the per-position sums broadcast against the (n_positions, n_assets)
    # token columns.
    price, side = crossing_prices(weighted_usd[:, None], debt_usd[:, None], book.weighted_collateral, book.debt, prices)
    return LiquidationPrices(book.symbols, prices.copy(), price, side)


def crossing_prices(
    weighted_usd: Float64Array1D,
    debt_usd: Float64Array1D,
    weighted_tokens_j: Float64Array1D,
    debt_tokens_j: Float64Array1D,
    price_j: float | Float64Array1D,
) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """Liquidation price of asset j from the position sums.

    weighted_usd = sum(coll*LT*p), debt_usd = sum(debt*p) at the current prices, shape
    (n_positions,) — or (n_positions, 1) with token columns of shape (n_positions, n_assets) and
    ``price_j`` of shape (n_assets,) to do every asset at once. The token columns are the asset's
    risk-weighted collateral and debt.
    """
    slope = weighted_tokens_j - debt_tokens_j  # d(C - D)/d p_j, USD per (USD/token)
    other_gap = (debt_usd - debt_tokens_j * price_j) - (weighted_usd - weighted_tokens_j * price_j)
    scale = np.maximum(np.abs(weighted_tokens_j), np.abs(debt_tokens_j))
    flat = np.abs(slope) <= _FLAT * np.maximum(scale, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        crossing = np.where(flat, np.nan, other_gap / np.where(flat, 1.0, slope))
    side = np.full(np.broadcast_shapes(np.shape(weighted_usd), np.shape(weighted_tokens_j)), Side.NEVER, dtype=np.int8)
    has_debt = debt_usd > 0
    now = has_debt & (weighted_usd < debt_usd)
    live = has_debt & ~now & ~flat
    long_side = live & (slope > 0) & (crossing > 0)
    short_side = live & (slope < 0)
    side[long_side] = Side.BELOW
    side[short_side] = Side.ABOVE
    side[np.broadcast_to(now, side.shape)] = Side.NOW
    price = np.where(long_side | short_side, crossing, np.nan)
    return price, side


@dataclass(frozen=True, eq=False)
class DriverThresholds:
    """Per position: the driver return at which it becomes liquidatable.

    driver : symbol of the driver asset; betas : shape (n_assets,), price moves as
    ``p_k = spot_k * (1 + beta_k * r)`` for a driver return ``r`` (-0.2 = driver down 20%).
    return_at_liquidation : shape (n_positions,), the crossing ``r*`` (NaN for NEVER/NOW)
    side : shape (n_positions,), BELOW = liquidated on a drawdown of ``-r*``, ABOVE = on a rally of ``r*``
    """

    driver: str
    betas: Float64Array1D
    return_at_liquidation: Float64Array1D
    side: NDArray[np.int8]

    @property
    def drawdown_at_liquidation(self) -> Float64Array1D:
        """``-r*`` for long-side positions (fraction, 0.1 = driver down 10%); NaN elsewhere."""
        return np.where(self.side == Side.BELOW, -self.return_at_liquidation, np.nan)

    def to_frame(self) -> dict[str, NDArray[Any]]:
        """One row per position: ``return_at_liquidation``, ``side`` (Side name), ``drawdown_at_liquidation``."""
        names = np.array([s.name.lower() for s in Side])
        return {"return_at_liquidation": self.return_at_liquidation, "side": names[self.side],
                "drawdown_at_liquidation": self.drawdown_at_liquidation}

    def to_pandas(self) -> Any:
        """:meth:`to_frame` as a ``pandas.DataFrame`` (needs the ``liqrisk[frames]`` extra)."""
        from risk.frames import to_pandas

        return to_pandas(self.to_frame())


def driver_thresholds(
    book: PositionBook,
    driver: str,
    betas: Mapping[str, float] | Float64Array1D,
    prices_usd: Float64Array1D | None = None,
) -> DriverThresholds:
    """Driver return at which each position becomes liquidatable (closed form, no loop).

    ``betas`` maps symbols to their beta to the driver (the driver's own beta is forced to 1;
    unlisted assets have beta 0, e.g. stablecoins). A driver move that would need some price
    below zero (``1 + beta * r <= 0``) is out of range and reported as NEVER.
    """
    beta = as_asset_vector(book, betas).copy()
    beta[book.asset_index(driver)] = 1.0
    prices = book.prices_usd if prices_usd is None else np.asarray(prices_usd, dtype=np.float64)
    weighted_usd, debt_usd = _health_sums(book, prices)
    weighted_beta, debt_beta = _health_sums(book, prices * beta)
    slope = weighted_beta - debt_beta
    scale = np.maximum(np.abs(weighted_beta), np.abs(debt_beta))
    flat = np.abs(slope) <= _FLAT * np.maximum(np.maximum(scale, np.abs(weighted_usd)), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        crossing = np.where(flat, np.nan, (debt_usd - weighted_usd) / np.where(flat, 1.0, slope))
    positive_beta = beta[beta > 0]
    lowest_return = -1.0 / positive_beta.max() if positive_beta.size else -np.inf
    has_debt = debt_usd > 0
    now = has_debt & (weighted_usd < debt_usd)
    long_side = has_debt & ~now & ~flat & (slope > 0) & (crossing > lowest_return)
    short_side = has_debt & ~now & ~flat & (slope < 0)
    side = np.full(book.n_positions, Side.NEVER, dtype=np.int8)
    side[long_side] = Side.BELOW
    side[short_side] = Side.ABOVE
    side[now] = Side.NOW
    return DriverThresholds(driver, beta, np.where(long_side | short_side, crossing, np.nan), side)

