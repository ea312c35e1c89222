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

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Protocol, Sequence

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # pragma: no cover
    from risk.snapshot import UniswapV3Pool
    from risk.uniswap_v3 import PoolState

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
        clipped: NDArray[np.float64] = np.clip(np.sign(q) * out, -MAX_IMPACT, MAX_IMPACT)
        return clipped


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


# ------------------------------------------------------------------ on-chain (Uniswap v3) model

DEFAULT_CEX_DEPTH_MULTIPLIER = 2.0
"""Off-chain (CEX) order-book depth as a multiple of the on-chain depth at the same price move.

Stated, not measured by liqrisk. Sources, for ETH against USD stablecoins at +/-2% depth:
Uniswap Labs, "The Dominance of Uniswap v3 Liquidity" (G. Liao, D. Robinson, May 2022, Kaiko
order-book data, Jun 2021 - Mar 2022): Uniswap v3 held ~2x the depth of Binance and ~2x that of
Coinbase — so the largest CEXs together hold about 1-2x Uniswap's; Kaiko Research, "CEX vs DEX:
liquidity depth of Uniswap v3 and Binance" (A. Melachrinos, Sep 2023): Binance's ETH/USDT book
held more than 4x the Uniswap v3 wETH/USDT pool at most levels. 2.0 sits inside that range; set
0 for DEX-only (the chain-run cascade check does) and calibrate for serious use."""

NUMERAIRE = "USDC"
VIA = "WETH"


@dataclass(frozen=True)
class _PoolRef:
    index: int
    base: str  # the asset priced
    quote: str
    base_is_token0: bool


def _pair(pool: UniswapV3Pool, a: str, b: str) -> bool:
    return {pool.token0, pool.token1} == {a, b}


def _direction(pool: UniswapV3Pool, token_in: str) -> bool:
    """zero_for_one when selling ``token_in`` into ``pool``."""
    return bool(pool.token0 == token_in)


def sale_routes(pools: Sequence[UniswapV3Pool], token: str, *, to: str = NUMERAIRE, via: str = VIA) -> list[tuple[tuple[int, bool], ...]]:
    """Routes that sell ``token`` for ``to``: every direct pool, then every two-hop route through
    ``via`` (token/via pool, then via/to pool). Indices into ``pools`` with swap directions."""
    routes: list[tuple[tuple[int, bool], ...]] = []
    for i, pool in enumerate(pools):
        if _pair(pool, token, to):
            routes.append(((i, _direction(pool, token)),))
    if token not in (via, to):
        for i, first in enumerate(pools):
            if not _pair(first, token, via):
                continue
            for j, second in enumerate(pools):
                if _pair(second, via, to):
                    routes.append(((i, _direction(first, token)), (j, _direction(second, via))))
    return routes


def buy_routes(pools: Sequence[UniswapV3Pool], token: str, *, numeraire: str = NUMERAIRE, via: str = VIA) -> list[tuple[tuple[int, bool], ...]]:
    """Routes that buy ``token`` with the numeraire (the reverse of :func:`sale_routes`)."""
    routes: list[tuple[tuple[int, bool], ...]] = []
    for route in sale_routes(pools, token, to=numeraire, via=via):
        routes.append(tuple((i, not zfo) for i, zfo in reversed(route)))
    return routes


def reference_pools(pools: Sequence[UniswapV3Pool], symbols: Sequence[str], *, numeraire: str = NUMERAIRE, via: str = VIA) -> dict[str, list[_PoolRef]]:
    """Per asset, the chain of pools its USD price is read from: its deepest pool against the
    numeraire (largest in-range liquidity among the fee tiers), else its deepest pool against
    ``via`` followed by ``via``'s reference. Assets with neither are left out."""
    def deepest(a: str, b: str) -> _PoolRef | None:
        best = None
        for i, pool in enumerate(pools):
            if _pair(pool, a, b) and (best is None or pool.liquidity > pools[best].liquidity):
                best = i
        return None if best is None else _PoolRef(best, a, b, pools[best].token0 == a)

    refs: dict[str, list[_PoolRef]] = {}
    direct = {s: deepest(s, numeraire) for s in symbols if s != numeraire}
    for s in symbols:
        if s == numeraire:
            continue
        direct_ref = direct.get(s)
        if direct_ref is not None:
            refs[s] = [direct_ref]
        else:
            hop = deepest(s, via)
            via_ref = direct.get(via) or deepest(via, numeraire)
            if hop is not None and via_ref is not None:
                refs[s] = [hop, via_ref]
    return refs


def reference_price(states: Sequence[PoolState], pools: Sequence[UniswapV3Pool], chain: Sequence[_PoolRef]) -> float:
    """Price of ``chain[0].base`` in the numeraire from the pool states (human units)."""
    from risk.uniswap_v3 import price_token1_per_token0

    price = 1.0
    for ref in chain:
        pool, state = pools[ref.index], states[ref.index]
        p = price_token1_per_token0(state.sqrt_price_x96, pool.decimals0, pool.decimals1)
        price *= p if ref.base_is_token0 else 1.0 / p
    return price


def _curve(pools: Sequence[UniswapV3Pool], routes: list[tuple[tuple[int, bool], ...]], refs: Sequence[_PoolRef], spot_usd: float, decimals_in: int,
           grid_usd: NDArray[np.float64], buy: bool, chunks: int) -> NDArray[np.float64]:
    """Impact at each cumulative size of ``grid_usd`` (first point 0), selling (or buying) in
    increments routed by :class:`risk.uniswap_v3.Router` from the block's pool states."""
    from risk.uniswap_v3 import Router

    router = Router([p.state() for p in pools])
    start = reference_price(router.states, pools, refs)
    impacts = np.zeros(grid_usd.size)
    done = 0  # raw units of the asset sold (or bought) so far
    numeraire_decimals = None
    for k in range(1, grid_usd.size):
        target = int(grid_usd[k] / spot_usd * 10**decimals_in)
        if not buy:
            legs = router.sell(routes, target - done, chunks)
            done += sum(leg.amount_in for leg in legs)
        else:
            # Spend numeraire until the asset bought reaches the target (numeraire at $1 a unit).
            if numeraire_decimals is None:
                first = pools[routes[0][0][0]]
                numeraire_decimals = first.decimals0 if routes[0][0][1] else first.decimals1
            spend = int((grid_usd[k] - grid_usd[k - 1]) * 10**numeraire_decimals)
            legs = router.sell(routes, spend, chunks)
            done += sum(leg.amount_out for leg in legs)
        price = reference_price(router.states, pools, refs)
        impacts[k] = min(MAX_IMPACT, max(-MAX_IMPACT, 1.0 - price / start))
        if not legs or abs(impacts[k]) >= MAX_IMPACT:
            impacts[k:] = MAX_IMPACT if not buy else -MAX_IMPACT
            break
    return impacts


def impact_grid_usd(max_usd: float = 1e11, ratio: float = 1.03, first_usd: float = 1e3) -> NDArray[np.float64]:
    n = int(np.ceil(np.log(max_usd / first_usd) / np.log(ratio))) + 1
    return np.concatenate([[0.0], first_usd * ratio ** np.arange(n)])


@dataclass(frozen=True, eq=False)
class OnChainLiquidity:
    """Impact of selling into the Uniswap v3 pools of a snapshot, at its block (a :class:`LiquidityModel`).

    Per asset, the curve of price impact against the USD amount sold (tokens valued at spot, as
    the cascade counts them): the sale is split across the asset's pools against the numeraire
    (every fee tier) and the route via WETH (asset/WETH pool, then WETH/USDC), each increment
    sent where the marginal rate is best (:class:`risk.uniswap_v3.Router`), executed with
    Uniswap's exact integer swap math; the price is read from the asset's reference pool(s)
    (:func:`reference_pools`). Buying uses the reverse routes. Off-chain depth: the curve is
    evaluated at ``size / (1 + cex_multiplier)`` (CEX books absorb ``cex_multiplier`` times what
    the pools absorb at the same move; :data:`DEFAULT_CEX_DEPTH_MULTIPLIER`).

    Assets without pools (and the numeraire, whose price is the unit) use ``fallback`` columns
    (``None``: no impact). Between grid points the curve is linear; sales beyond the pools'
    liquidity reach :data:`MAX_IMPACT`. Each asset is priced on its own: a sale of one asset
    routed via WETH moves WETH only inside that asset's own curve (no cross-impact between assets).
    """

    symbols: tuple[str, ...]
    grid_usd: NDArray[np.float64]
    sell_impacts: NDArray[np.float64]  # (n_grid, n_assets); NaN columns = not on-chain
    buy_impacts: NDArray[np.float64]  # (n_grid, n_assets), <= 0
    cex_multiplier: float
    pools: tuple[str, ...]  # pool descriptions used
    fallback: LiquidityModel | None = None

    @property
    def onchain_columns(self) -> tuple[int, ...]:
        return tuple(j for j in range(len(self.symbols)) if not np.isnan(self.sell_impacts[0, j]))

    def impact(self, net_sell_usd: NDArray[np.float64]) -> NDArray[np.float64]:
        q = np.asarray(net_sell_usd, dtype=np.float64)
        out = np.zeros_like(q) if self.fallback is None else np.asarray(self.fallback.impact(q), dtype=np.float64).copy()
        size = np.abs(q) / (1.0 + self.cex_multiplier)
        top = self.grid_usd[-1]
        for j in self.onchain_columns:
            col = size[..., j]
            sold = np.interp(col, self.grid_usd, self.sell_impacts[:, j])
            bought = np.interp(col, self.grid_usd, self.buy_impacts[:, j])
            sold = np.where(col > top, MAX_IMPACT, sold)
            bought = np.where(col > top, -MAX_IMPACT, bought)
            out[..., j] = np.where(q[..., j] >= 0, sold, bought)
        return out

    def describe(self) -> str:
        return (f"on-chain Uniswap v3 ({len(self.pools)} pools: {', '.join(self.pools)}), "
                f"CEX depth multiplier {self.cex_multiplier:g}")


def onchain_liquidity(pools: Sequence[UniswapV3Pool], symbols: Sequence[str], prices_usd: Sequence[float], *,
                      cex_multiplier: float = DEFAULT_CEX_DEPTH_MULTIPLIER, numeraire: str = NUMERAIRE,
                      via: str = VIA, fallback: LiquidityModel | None = None,
                      grid_usd: NDArray[np.float64] | None = None, chunks: int = 8) -> OnChainLiquidity:
    """Build :class:`OnChainLiquidity` from ``pools`` (:class:`risk.snapshot.UniswapV3Pool`, e.g.
    ``snapshot.pools``) for the assets ``symbols`` (book order) at spot ``prices_usd``.

    The curves depend only on the pools, assets, prices and grid; building them walks every pool
    with the exact math (seconds), so the last few builds are memoized on those inputs (the
    pools are frozen records: the same snapshot gives the same curves)."""
    if cex_multiplier < 0:
        raise ValueError(f"cex_multiplier must be >= 0, got {cex_multiplier}")
    grid = impact_grid_usd() if grid_usd is None else np.asarray(grid_usd, dtype=np.float64)
    curves = _curves(tuple(pools), tuple(symbols), tuple(float(p) for p in prices_usd), numeraire, via,
                     tuple(grid.tolist()), chunks)
    return OnChainLiquidity(tuple(symbols), grid, curves[0], curves[1], float(cex_multiplier), curves[2], fallback)


@functools.lru_cache(maxsize=8)
def _curves(pools: tuple[UniswapV3Pool, ...], symbols: tuple[str, ...], prices_usd: tuple[float, ...], numeraire: str, via: str,
            grid_points: tuple[float, ...], chunks: int) -> tuple[NDArray[np.float64], NDArray[np.float64], tuple[str, ...]]:
    grid = np.array(grid_points)
    n = len(symbols)
    sell = np.full((grid.size, n), np.nan)
    buy = np.full((grid.size, n), np.nan)
    refs = reference_pools(pools, symbols, numeraire=numeraire, via=via)
    decimals = {}
    for p in pools:
        decimals[p.token0], decimals[p.token1] = p.decimals0, p.decimals1
    used: set[int] = set()
    for j, symbol in enumerate(symbols):
        if symbol not in refs:
            continue
        s_routes = sale_routes(pools, symbol, to=numeraire, via=via)
        b_routes = buy_routes(pools, symbol, numeraire=numeraire, via=via)
        if not s_routes:
            continue
        sell[:, j] = _curve(pools, s_routes, refs[symbol], float(prices_usd[j]), decimals[symbol], grid, False, chunks)
        buy[:, j] = _curve(pools, b_routes, refs[symbol], float(prices_usd[j]), decimals[symbol], grid, True, chunks)
        used.update(i for route in s_routes for i, _ in route)
    names = tuple(f"{pools[i].name} {pools[i].address}" for i in sorted(used))
    sell.setflags(write=False)
    buy.setflags(write=False)
    return sell, buy, names
