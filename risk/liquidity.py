"""Liquidity models: how far a price moves when liquidators sell (or buy) an asset.

Every model maps a *net USD amount sold* per asset to a *fractional price impact* per asset:

    impact(net_sell_usd) -> fraction, shape (..., n_assets)

``net_sell_usd > 0`` is selling (the price falls by ``impact``), ``< 0`` buying (the price rises
by ``-impact``). Impact is odd-symmetric and concave or linear in size, capped at
:data:`MAX_IMPACT` so a price never reaches zero. The amounts are *cumulative* since the shock
began, so a concave model is not re-applied from zero each round.

Default parameters (:data:`DEFAULT_DEPTH_USD_PER_PCT`) are order-of-magnitude figures for
on-chain + CEX liquidity available to liquidators within minutes, in USD that moves the price
by 1%. They are stated, not measured by liqrisk: calibrate them for serious use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

import numpy as np
from numpy.typing import NDArray

MAX_IMPACT = 0.95
"""No model moves a price by more than 95% in one direction."""

DEFAULT_DEPTH_USD_PER_PCT: dict[str, float] = {
    "WETH": 250e6,
    "ETH": 250e6,
    "wstETH": 40e6,
    "stETH": 40e6,
    "weETH": 20e6,
    "WBTC": 300e6,
    "cbBTC": 50e6,
    "USDC": 2e9,
    "USDT": 2e9,
    "DAI": 500e6,
    "USDS": 500e6,
}
"""USD sold per 1% price move, per asset (constant-depth model defaults)."""

DEFAULT_DAILY_VOLATILITY: dict[str, float] = {
    "WETH": 0.04, "ETH": 0.04, "wstETH": 0.04, "stETH": 0.04, "weETH": 0.04,
    "WBTC": 0.03, "cbBTC": 0.03, "USDC": 0.001, "USDT": 0.001, "DAI": 0.001, "USDS": 0.001,
}
DEFAULT_DAILY_VOLUME_USD: dict[str, float] = {
    "WETH": 15e9, "ETH": 15e9, "wstETH": 0.3e9, "stETH": 0.3e9, "weETH": 0.15e9,
    "WBTC": 25e9, "cbBTC": 0.5e9, "USDC": 50e9, "USDT": 80e9, "DAI": 2e9, "USDS": 1e9,
}
FALLBACK_DEPTH_USD_PER_PCT = 5e6
"""Depth assumed for an asset with no default (thin)."""


class LiquidityModel(Protocol):
    def impact(self, net_sell_usd: NDArray[np.float64]) -> NDArray[np.float64]:
        """Fractional price impact, same shape as ``net_sell_usd`` (..., n_assets)."""


@dataclass(frozen=True)
class NoImpact:
    """Infinite liquidity: the cascade reduces to the direct liquidations."""

    def impact(self, net_sell_usd: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.zeros_like(np.asarray(net_sell_usd, dtype=np.float64))


@dataclass(frozen=True)
class ConstantDepth:
    """Linear impact: ``impact = net_sell_usd / (depth_usd_per_pct * 100)``.

    depth_usd_per_pct : shape (n_assets,), USD that moves the price by 1%.
    """

    depth_usd_per_pct: NDArray[np.float64]

    def impact(self, net_sell_usd: NDArray[np.float64]) -> NDArray[np.float64]:
        raw = np.asarray(net_sell_usd, dtype=np.float64) / (self.depth_usd_per_pct * 100.0)
        return np.clip(raw, -MAX_IMPACT, MAX_IMPACT)


@dataclass(frozen=True)
class SquareRootImpact:
    """Square-root law: ``impact = Y * sigma_daily * sqrt(|Q| / V_daily)``, signed like Q.

    y : dimensionless prefactor (~0.5–1 in the market-impact literature);
    daily_volatility : shape (n_assets,), fraction; daily_volume_usd : shape (n_assets,), USD.
    """

    daily_volatility: NDArray[np.float64]
    daily_volume_usd: NDArray[np.float64]
    y: float = 1.0

    def impact(self, net_sell_usd: NDArray[np.float64]) -> NDArray[np.float64]:
        q = np.asarray(net_sell_usd, dtype=np.float64)
        raw = np.sign(q) * self.y * self.daily_volatility * np.sqrt(np.abs(q) / self.daily_volume_usd)
        return np.clip(raw, -MAX_IMPACT, MAX_IMPACT)


@dataclass(frozen=True)
class ImpactTable:
    """Piecewise-linear impact from a table of (USD size, impact fraction) per asset.

    sizes_usd : shape (n_points,), increasing, starting at 0;
    impacts : shape (n_points, n_assets), non-decreasing per asset. Sizes beyond the table
    extrapolate with the last segment's slope (then capped).
    """

    sizes_usd: NDArray[np.float64]
    impacts: NDArray[np.float64]

    def __post_init__(self) -> None:
        sizes = np.asarray(self.sizes_usd, dtype=np.float64)
        impacts = np.asarray(self.impacts, dtype=np.float64)
        if sizes.ndim != 1 or sizes.size < 2 or sizes[0] != 0 or np.any(np.diff(sizes) <= 0):
            raise ValueError("sizes_usd must be increasing, start at 0 and have >= 2 points")
        if impacts.ndim != 2 or impacts.shape[0] != sizes.size:
            raise ValueError(f"impacts must have shape (n_points={sizes.size}, n_assets)")
        if np.any(np.diff(impacts, axis=0) < 0) or np.any(impacts[0] != 0):
            raise ValueError("impacts must start at 0 and be non-decreasing in size")

    def impact(self, net_sell_usd: NDArray[np.float64]) -> NDArray[np.float64]:
        q = np.asarray(net_sell_usd, dtype=np.float64)
        size = np.abs(q)
        out = np.empty_like(size)
        last_slope = (self.impacts[-1] - self.impacts[-2]) / (self.sizes_usd[-1] - self.sizes_usd[-2])
        for j in range(self.impacts.shape[1]):
            column = size[..., j]
            inside = np.interp(column, self.sizes_usd, self.impacts[:, j])
            beyond = self.impacts[-1, j] + last_slope[j] * (column - self.sizes_usd[-1])
            out[..., j] = np.where(column > self.sizes_usd[-1], beyond, inside)
        return np.clip(np.sign(q) * out, -MAX_IMPACT, MAX_IMPACT)


def default_constant_depth(symbols: Sequence[str], overrides: Mapping[str, float] | None = None) -> ConstantDepth:
    depth = {**DEFAULT_DEPTH_USD_PER_PCT, **(overrides or {})}
    return ConstantDepth(np.array([depth.get(s, FALLBACK_DEPTH_USD_PER_PCT) for s in symbols]))


def default_square_root(symbols: Sequence[str], y: float = 1.0) -> SquareRootImpact:
    vol = np.array([DEFAULT_DAILY_VOLATILITY.get(s, 0.05) for s in symbols])
    volume = np.array([DEFAULT_DAILY_VOLUME_USD.get(s, 0.05e9) for s in symbols])
    return SquareRootImpact(vol, volume, y)


@dataclass(frozen=True)
class PerAssetLiquidity:
    """Liquidity model mixing models per asset: column ``j`` of the impact comes from the model
    whose ``columns`` entry lists ``j``; columns no model lists have no impact.

    models : the component models, each over all ``n_assets`` columns;
    columns : per model, the asset indices (book order) it prices;
    description : ``(symbol, text)`` pairs saying which model prices each asset (for reports).

    Satisfies :class:`LiquidityModel`; ``net_sell_usd`` shape (..., n_assets).
    """

    models: tuple[LiquidityModel, ...]
    columns: tuple[tuple[int, ...], ...]
    description: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if len(self.models) != len(self.columns):
            raise ValueError(f"{len(self.models)} models but {len(self.columns)} column groups")
        flat = [j for cols in self.columns for j in cols]
        if len(flat) != len(set(flat)):
            raise ValueError("an asset column is priced by more than one model")

    def impact(self, net_sell_usd: NDArray[np.float64]) -> NDArray[np.float64]:
        q = np.asarray(net_sell_usd, dtype=np.float64)
        out = np.zeros_like(q)
        for model, cols in zip(self.models, self.columns):
            idx = list(cols)
            out[..., idx] = model.impact(q)[..., idx]
        return out
