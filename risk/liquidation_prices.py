"""Exact (closed-form, float) liquidation prices, vectorized over positions.

Health factor of a position at prices ``p`` (shape (n_assets,)):

    HF(p) = W(p) / D(p),   W = sum_k coll_k * LT_k * p_k,   D = sum_k debt_k * p_k

(Morpho Blue, Compound V3, Aave v3.5+). Moving one asset ``j`` with the others fixed, HF crosses
1 where

    p*_j = (D_other - W_other) / (coll_j * LT_j - debt_j)

and moving a *driver* with betas, ``p_k = spot_k * (1 + beta_k * r)``, HF crosses 1 at

    r* = (D - W) / (W_beta - D_beta)

Both are linear-fractional, so each position crosses at most once: the sign of the slope says
whether it is liquidated when the price falls (long, :attr:`Side.BELOW`) or rises (short,
:attr:`Side.ABOVE`). Liquidatable means ``HF < 1`` strictly, as every venue checks it.

Aave v3.0-v3.4 (``PositionBook.floored_avg_lt``) floor the value-weighted average LT to whole
bps: ``W = T * floor(1e4 * W_plain / T) / 1e4`` with ``T`` the counted collateral value
(:func:`risk.book.risk_weighted_usd`). Along any price line the average ``x = 1e4 W_plain / T``
is monotone, so the line splits into intervals of constant ``k = floor(x)``, on each of which
``HF < 1`` is linear (``1e4 D > k T``): the liquidation price is piecewise and solved exactly,
level by level, vectorized over positions. Only the levels between two provable bounds are
visited: below the plain crossing every price is liquidatable (``W_floored <= W_plain``), and
where ``W_plain - T / 1e4 >= D`` none is (``floor(x) > x - 1``) — typically one or two levels.
The answer is the *top* of the liquidatable set below the current price (long side; the bottom
above it on the short side), as :func:`risk.exact.aave_liquidation_oracle_price` defines it.
A floored HF is not monotone in a low-LT collateral's price (more of it pulls the average down a
bp): a position can have a thin liquidatable window *above* spot as well; this module reports
the crossing reached by moving in the direction the plain HF says is dangerous.

Engines (issue 11): ``engine="compiled"`` (the default) runs the same arithmetic one position at a
time in numba (:mod:`risk.compiled_prices`, ~10x faster, sums left to right as the plain-loop
reference takes them); ``engine="numpy"`` the vectorized passes below, kept as the readable
reference the compiled engine is tested against (they agree to the last bits of a sum).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal, Mapping

import numpy as np
from numpy.typing import NDArray

from risk.book import (
    AVG_LT_SNAP_BPS,
    BPS,
    Float64Array1D,
    Float64Array2D,
    PositionBook,
    as_asset_vector,
    counted_collateral_usd,
    mixes_liquidation_thresholds,
)


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


@dataclass(frozen=True)
class _Sums:
    """Per-position sums at the current prices, shape (n_positions,), USD.

    weighted: plain ``sum(coll*LT*p)``; floored: the HF numerator as the venue computes it;
    debt: ``sum(debt*p)``; counted: ``sum(coll*p)`` over LT > 0; floors: the positions whose HF
    floors the average LT *and* hold two or more counted collaterals (with one, the average is
    that collateral's LT and nothing is floored).
    """

    weighted: Float64Array1D
    floored: Float64Array1D
    debt: Float64Array1D
    counted: Float64Array1D
    floors: NDArray[np.bool_]


def _sums(book: PositionBook, prices: Float64Array1D) -> _Sums:
    floors = book.floored_avg_lt & mixes_liquidation_thresholds(book.collateral, book.liq_threshold)
    weighted = book.weighted_collateral @ prices
    counted = counted_collateral_usd(book.collateral, book.liq_threshold, prices)
    floored = weighted.copy()
    if floors.any():
        floored[floors] = book.risk_weighted_usd(prices)[floors]
    return _Sums(weighted, floored, book.debt @ prices, counted, floors)


def _counted_tokens(book: PositionBook) -> Float64Array2D:
    return np.where(book.liq_threshold > 0, book.collateral, 0.0)


Engine = Literal["compiled", "numpy"]


def _check_engine(engine: str) -> None:
    if engine not in ("compiled", "numpy"):
        raise ValueError(f"unknown liquidation-price engine {engine!r}; use 'compiled' or 'numpy'")


def _compiled_prices(book: PositionBook, prices: Float64Array1D,
                     columns: NDArray[np.intp]) -> tuple[Float64Array2D, NDArray[np.int8]]:
    from risk.compiled_prices import liquidation_prices_arrays

    return liquidation_prices_arrays(book.collateral, book.debt, book.liq_threshold, prices, book.floored_avg_lt,
                                     columns)


def liquidation_prices_for(
    book: PositionBook, symbol: str, prices_usd: Float64Array1D | None = None, *, engine: Engine = "compiled"
) -> tuple[Float64Array1D, NDArray[np.int8]]:
    """Liquidation price of one asset for every position (the others fixed).

    Returns ``(price_usd, side)``, each shape (n_positions,). Cheaper than
    :func:`liquidation_prices` when one asset is wanted (bands of one asset).
    ``engine``: see the module docstring.
    """
    _check_engine(engine)
    prices = book.prices_usd if prices_usd is None else np.asarray(prices_usd, dtype=np.float64)
    j = book.asset_index(symbol)
    if engine == "compiled":
        price, side = _compiled_prices(book, prices, np.array([j], dtype=np.intp))
        return price[:, 0], side[:, 0]
    sums = _sums(book, prices)
    return crossing_prices(
        sums.weighted, sums.debt, book.weighted_collateral[:, j], book.debt[:, j], prices[j],
        floored_weighted_usd=sums.floored, counted_usd=sums.counted,
        counted_tokens_j=_counted_tokens(book)[:, j], floors=sums.floors,
    )


def liquidation_prices(book: PositionBook, prices_usd: Float64Array1D | None = None, *,
                       engine: Engine = "compiled") -> LiquidationPrices:
    """Liquidation price of every asset for every position, shape (n_positions, n_assets).
    ``engine``: see the module docstring."""
    _check_engine(engine)
    prices = book.prices_usd if prices_usd is None else np.asarray(prices_usd, dtype=np.float64)
    if engine == "compiled":
        price_c, side_c = _compiled_prices(book, prices, np.arange(book.n_assets, dtype=np.intp))
        return LiquidationPrices(book.symbols, prices.copy(), price_c, side_c)
    sums = _sums(book, prices)
    # All assets at once: the per-position sums broadcast against the (n_positions, n_assets)
    # token columns.
    price, side = crossing_prices(
        sums.weighted[:, None], sums.debt[:, None], book.weighted_collateral, book.debt, prices,
        floored_weighted_usd=sums.floored[:, None], counted_usd=sums.counted[:, None],
        counted_tokens_j=_counted_tokens(book), floors=sums.floors[:, None],
    )
    return LiquidationPrices(book.symbols, prices.copy(), price, side)


def crossing_prices(
    weighted_usd: Float64Array1D,
    debt_usd: Float64Array1D,
    weighted_tokens_j: Float64Array1D,
    debt_tokens_j: Float64Array1D,
    price_j: float | Float64Array1D,
    *,
    floored_weighted_usd: Float64Array1D | None = None,
    counted_usd: Float64Array1D | None = None,
    counted_tokens_j: Float64Array1D | None = None,
    floors: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """Liquidation price of asset j from the position sums.

    weighted_usd = sum(coll*LT*p), debt_usd = sum(debt*p) at the current prices, shape
    (n_positions,) — or (n_positions, 1) with token columns of shape (n_positions, n_assets) and
    ``price_j`` of shape (n_assets,) to do every asset at once. The token columns are the asset's
    risk-weighted collateral and debt. For positions under the floored-average rule (``floors``)
    also pass the floored HF numerator, the counted collateral value and the asset's counted
    collateral tokens (see :class:`_Sums`); without them the plain rule is used.
    """
    aw = weighted_usd - weighted_tokens_j * price_j  # the sums with asset j at price 0
    ad = debt_usd - debt_tokens_j * price_j
    scale = np.maximum(np.abs(weighted_tokens_j), np.abs(debt_tokens_j))
    if floors is None or counted_usd is None or counted_tokens_j is None:
        if floors is not None:
            raise ValueError("floors needs counted_usd and counted_tokens_j")
        return _line_crossings(weighted_usd, debt_usd, aw, ad, weighted_tokens_j, debt_tokens_j, price_j, 0.0, scale)
    at = counted_usd - counted_tokens_j * price_j
    return _line_crossings(
        weighted_usd, debt_usd, aw, ad, weighted_tokens_j, debt_tokens_j, price_j, 0.0, scale,
        floored_w_cur=floored_weighted_usd, at=at, tv=counted_tokens_j, floors=floors,
    )


_Line = Float64Array1D | Float64Array2D | float
"""A per-position quantity along a price line: shape (n,), (n, 1), (n, a) or a scalar."""


def _line_crossings(
    w_cur: _Line,
    d_cur: _Line,
    aw: _Line,
    ad: _Line,
    wv: _Line,
    dv: _Line,
    u_cur: _Line,
    u_min: _Line,
    flat_scale: _Line,
    *,
    floored_w_cur: _Line | None = None,
    at: _Line | None = None,
    tv: _Line | None = None,
    floors: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int8]]:
    """Where HF reaches 1 along a line of prices ``u`` (a price, or a driver return).

    Along the line the plain sums are affine: ``W(u) = aw + wv u``, ``D(u) = ad + dv u`` and the
    counted collateral ``T(u) = at + tv u``; ``u_cur`` is where the prices are now (``w_cur``,
    ``d_cur``, ``floored_w_cur`` the sums there) and ``u_min`` the lowest ``u`` in range (prices
    >= 0). All inputs broadcast to one shape; returns ``(u*, side)`` of that shape.
    """
    slope = wv - dv  # d(W - D)/du
    flat = np.abs(slope) <= _FLAT * np.maximum(flat_scale, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        crossing = np.where(flat, np.nan, (ad - aw) / np.where(flat, 1.0, slope))
    shape = np.broadcast_shapes(*(np.shape(x) for x in (w_cur, d_cur, aw, ad, wv, dv, u_cur)))
    crossing = np.broadcast_to(crossing, shape).copy()
    has_debt = np.broadcast_to(d_cur > 0, shape)
    numerator = w_cur if floored_w_cur is None else floored_w_cur
    now = np.broadcast_to(has_debt & (numerator < d_cur), shape)
    live = has_debt & ~now & ~np.broadcast_to(flat, shape)
    rising = live & np.broadcast_to(slope > 0, shape)
    falling = live & np.broadcast_to(slope < 0, shape)
    long_side = rising & (crossing > u_min)
    short_side = falling.copy()
    if floors is not None:
        walk = np.broadcast_to(floors, shape) & (rising | falling)
        if walk.any():
            def b(x: _Line | None) -> Float64Array1D:  # gather one input on the walked entries
                gathered: Float64Array1D = np.broadcast_to(np.asarray(x, dtype=np.float64), shape)[walk]
                return gathered

            sign = np.where(b(slope) > 0, 1.0, -1.0)  # walk the falling prices of longs, rising of shorts
            found = _walk_levels(
                b(aw), b(ad), b(at), sign * b(wv), sign * b(dv), sign * b(tv), sign * b(u_cur),
                np.where(sign > 0, b(u_min), -np.inf), sign * b(crossing),
            )
            u_star = sign * found
            crossing[walk] = u_star
            long_side[walk] = (sign > 0) & ~np.isnan(u_star)
            short_side[walk] = (sign < 0) & ~np.isnan(u_star)
    side = np.full(shape, Side.NEVER, dtype=np.int8)
    side[long_side] = Side.BELOW
    side[short_side] = Side.ABOVE
    side[now] = Side.NOW
    return np.where(long_side | short_side, crossing, np.nan), side


_RETURN_NOISE = 1e-12
"""Driver returns are O(1) fractions: closer than this to a limit is float noise."""

_MAX_LEVELS = 10_002
"""An average LT in bps lies in [0, 10000]: no walk visits more levels than this."""


def _walk_levels(
    aw: Float64Array1D,
    ad: Float64Array1D,
    at: Float64Array1D,
    wv: Float64Array1D,
    dv: Float64Array1D,
    tv: Float64Array1D,
    u_cur: Float64Array1D,
    u_min: Float64Array1D,
    u_c: Float64Array1D,
) -> Float64Array1D:
    """Top of the liquidatable set in ``[u_min, u_cur]`` under the floored-average rule, 1-D.

    Every input has shape (m,) and is oriented so that danger lies at lower ``u`` (shorts are
    passed mirrored, ``u -> -u``). ``u_c`` is the plain crossing: every ``u < u_c`` is
    liquidatable. NaN where no ``u`` above ``u_min`` is.
    """
    out = np.full(aw.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # Provably safe above u_s: W - T/1e4 >= D there (floor(x) > x - 1).
        slope_safe = (wv - dv) - tv / BPS
        u_s = (ad + at / BPS - aw) / slope_safe
        top = np.where(slope_safe > 0, np.minimum(u_cur, u_s), u_cur)
        lower = np.maximum(u_c, u_min)
        fallback = np.where(u_c > u_min, u_c, np.nan)

        def average_bps(u: Float64Array1D) -> Float64Array1D:
            total = at + tv * u
            weighted = aw + wv * u
            tiny = total <= 1e-9 * (np.abs(at) + np.abs(tv * u))
            # At T -> 0 (all counted collateral priced to 0) the average tends to wv / tv.
            return np.where(tiny, BPS * wv / tv, BPS * weighted / np.where(tiny, 1.0, total))

        k_hi = np.floor(average_bps(top) + AVG_LT_SNAP_BPS)
        k_lo = np.floor(average_bps(lower) + AVG_LT_SNAP_BPS)
    empty = ~(top > lower)
    out[empty] = fallback[empty]
    idx = np.flatnonzero(~empty & np.isfinite(k_hi) & np.isfinite(k_lo))
    out[np.flatnonzero(~empty & ~(np.isfinite(k_hi) & np.isfinite(k_lo)))] = np.nan
    top, k = top[idx], k_hi[idx]
    step = np.sign(k_lo[idx] - k)
    for _ in range(_MAX_LEVELS):
        if idx.size == 0:
            break
        a_w, a_d, a_t, w_v, d_v, t_v = aw[idx], ad[idx], at[idx], wv[idx], dv[idx], tv[idx]
        last = k == k_lo[idx]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # Leaving level k downwards: the average crosses k (falling) or k + 1 (rising).
            boundary = np.where(step < 0, k, k + 1.0)
            u_break = (boundary * a_t - BPS * a_w) / (BPS * w_v - boundary * t_v)
            bottom = np.where(last, lower[idx], np.clip(np.nan_to_num(u_break, nan=-np.inf), lower[idx], top))
            # On level k: liquidatable iff f(u) = 1e4 D(u) - k T(u) > 0, f = a + b u (scaled by 1e-4).
            a = a_d - k * a_t / BPS
            b = d_v - k * t_v / BPS
            root = -a / b
        hit_falling = (b < 0) & (root > bottom)  # f grows as u falls: liquidatable below the root
        hit_rising = ((b > 0) & (root < top)) | ((b == 0) & (a > 0))  # liquidatable up to the top
        found = hit_falling | hit_rising
        value = np.where(hit_falling, np.minimum(root, top), top)
        out[idx[found]] = value[found]
        ended = ~found & last
        out[idx[ended]] = fallback[idx[ended]]
        going = ~(found | last)
        idx, top, k, step = idx[going], bottom[going], (k + step)[going], step[going]
    return out


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
    *,
    engine: Engine = "compiled",
) -> DriverThresholds:
    """Driver return at which each position becomes liquidatable (closed form, no loop).

    ``betas`` maps symbols to their beta to the driver (the driver's own beta is forced to 1;
    unlisted assets have beta 0, e.g. stablecoins). A driver move that would need some price
    below zero (``1 + beta * r <= 0``) is out of range and reported as NEVER.
    ``engine``: see the module docstring.
    """
    _check_engine(engine)
    beta = as_asset_vector(book, betas).copy()
    beta[book.asset_index(driver)] = 1.0
    prices = book.prices_usd if prices_usd is None else np.asarray(prices_usd, dtype=np.float64)
    positive_beta = beta[beta > 0]
    # A crossing within float noise of the return that takes a price to zero is the point where
    # the position's own sums vanish with it (collateral and debt in the same beta): not a crossing.
    lowest_return = -1.0 / positive_beta.max() + _RETURN_NOISE if positive_beta.size else -np.inf
    if engine == "compiled":
        from risk.compiled_prices import driver_returns_arrays

        crossing_c, side_c = driver_returns_arrays(book.collateral, book.debt, book.liq_threshold, prices, beta,
                                                   book.floored_avg_lt, lowest_return)
        return DriverThresholds(driver, beta, crossing_c, side_c)
    sums = _sums(book, prices)
    weighted_beta, debt_beta = book.weighted_collateral @ (prices * beta), book.debt @ (prices * beta)
    counted_beta = counted_collateral_usd(book.collateral, book.liq_threshold, prices * beta)
    scale = np.maximum(np.maximum(np.abs(weighted_beta), np.abs(debt_beta)), np.abs(sums.weighted))
    crossing, side = _line_crossings(
        sums.weighted, sums.debt, sums.weighted, sums.debt, weighted_beta, debt_beta, 0.0, lowest_return, scale,
        floored_w_cur=sums.floored, at=sums.counted, tv=counted_beta, floors=sums.floors,
    )
    return DriverThresholds(driver, beta, crossing, side)
