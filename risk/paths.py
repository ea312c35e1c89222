"""Price-path models for the Monte Carlo: GBM, multivariate Student-t, Merton jumps, replay.

Conventions
-----------
- Axis order everywhere: ``(n_paths, n_steps, n_assets)``; values are prices in USD per unit.
- The time grid has ``n_steps`` points including the start: step ``k`` is at
  ``k * horizon_days / (n_steps - 1)`` days, step 0 is exactly ``spot_usd`` and the last step is
  at the horizon. So ``n_steps=288`` over one day is 287 five-minute-ish increments; pass
  ``n_steps = increments + 1`` for a round grid.
- Volatilities are annualised over ``DAYS_PER_YEAR = 365`` days (crypto trades every day).
- Models work in log-prices: ``log S_k = log S_0 + sum of increments``. Each diffusion increment
  carries the convexity correction ``-sigma^2/2 dt`` so that with ``drift_annual=0`` the GBM is a
  martingale (``E[S_t] = S_0``); ``drift_annual`` is the arithmetic drift ``mu`` of ``dS/S``.
- Randomness only from the keyword-only ``seed`` (int, ``numpy.random.Generator`` or None),
  converted with :func:`numpy.random.default_rng`; never global state. The same seed and dtype
  give the same paths; float32 and float64 draw different streams.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

DAYS_PER_YEAR = 365.0
"""Days per year used to annualise volatilities and drifts."""

_PSD_TOL = 1e-10
_SYM_TOL = 1e-10
_DIAG_TOL = 1e-10

FloatArray = npt.NDArray[np.floating]
SeedLike = int | np.random.Generator | None
Dtype = type[np.float64] | type[np.float32] | np.dtype


# ----------------------------------------------------------------------------- validation


def validate_correlation(corr: npt.ArrayLike, n_assets: int | None = None) -> npt.NDArray[np.float64]:
    """Check a correlation matrix and return it as a float64 array.

    Parameters
    ----------
    corr : array_like, shape (n_assets, n_assets)
        Correlation matrix (dimensionless).
    n_assets : int, optional
        Expected size.

    Raises
    ------
    ValueError
        Naming the failed property: shape, non-finite entries, asymmetry, diagonal != 1,
        entries outside [-1, 1], or not positive semi-definite (smallest eigenvalue < -1e-10).
    """
    c = np.asarray(corr, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"corr: expected a square matrix, got shape {c.shape}")
    if n_assets is not None and c.shape[0] != n_assets:
        raise ValueError(f"corr: expected shape ({n_assets}, {n_assets}), got {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError("corr: contains non-finite entries")
    asym = np.abs(c - c.T)
    if asym.max(initial=0.0) > _SYM_TOL:
        i, j = np.unravel_index(int(np.argmax(asym)), c.shape)
        raise ValueError(f"corr: not symmetric (corr[{i},{j}]={c[i, j]!r} != corr[{j},{i}]={c[j, i]!r})")
    diag_err = np.abs(np.diag(c) - 1.0)
    if diag_err.max(initial=0.0) > _DIAG_TOL:
        k = int(np.argmax(diag_err))
        raise ValueError(f"corr: diagonal must be 1 (corr[{k},{k}]={c[k, k]!r})")
    if np.abs(c).max(initial=0.0) > 1.0 + _DIAG_TOL:
        raise ValueError("corr: entries must lie in [-1, 1]")
    min_eig = float(np.linalg.eigvalsh(c).min()) if c.size else 0.0
    if min_eig < -_PSD_TOL:
        raise ValueError(f"corr: not positive semi-definite (smallest eigenvalue {min_eig:.3g} < -1e-10)")
    return 0.5 * (c + c.T)


def correlation_factor(corr: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Return ``L`` with ``L @ L.T == corr`` (validated first).

    Cholesky when ``corr`` is positive definite; for a singular PSD matrix (e.g. two assets with
    correlation 1) Cholesky fails, so fall back to the symmetric eigen square root
    ``V diag(sqrt(max(w, 0)))``, which is exact up to the clipped ~1e-10 negative eigenvalues.

    Returns
    -------
    ndarray, shape (n_assets, n_assets)
    """
    c = validate_correlation(corr)
    try:
        factor: npt.NDArray[np.float64] = np.linalg.cholesky(c).astype(np.float64, copy=False)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(c)
        factor = v * np.sqrt(np.clip(w, 0.0, None))[None, :]
    return factor


def _rng(seed: SeedLike) -> np.random.Generator:
    return np.random.default_rng(seed)


def _as_vector(x: npt.ArrayLike, n_assets: int, name: str, *, positive: bool = False) -> npt.NDArray[np.float64]:
    v = np.asarray(x, dtype=np.float64)
    if v.ndim == 0:
        v = np.full(n_assets, float(v))
    if v.shape != (n_assets,):
        raise ValueError(f"{name}: expected shape ({n_assets},) or a scalar, got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name}: contains non-finite entries")
    if positive and np.any(v <= 0):
        raise ValueError(f"{name}: must be > 0")
    return v


def _check_grid(horizon_days: float, n_steps: int, n_paths: int) -> float:
    """Validate the grid and return the step length in years."""
    if not (np.isfinite(horizon_days) and horizon_days > 0):
        raise ValueError(f"horizon_days: must be a positive number, got {horizon_days!r}")
    if int(n_steps) != n_steps or n_steps < 2:
        raise ValueError(f"n_steps: must be an integer >= 2 (step 0 is spot), got {n_steps!r}")
    if int(n_paths) != n_paths or n_paths < 1:
        raise ValueError(f"n_paths: must be an integer >= 1, got {n_paths!r}")
    return float(horizon_days) / (int(n_steps) - 1) / DAYS_PER_YEAR


def _check_dtype(dtype: Dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype: must be float64 or float32, got {dt}")
    return dt


def _common_inputs(
    spot_usd: npt.ArrayLike, vol_annual: npt.ArrayLike, corr: npt.ArrayLike, horizon_days: float, n_steps: int,
    n_paths: int, drift_annual: npt.ArrayLike, dtype: Dtype,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64],
           float, np.dtype[Any]]:
    spot = np.asarray(spot_usd, dtype=np.float64)
    if spot.ndim != 1 or spot.size == 0:
        raise ValueError(f"spot_usd: expected shape (n_assets,), got {spot.shape}")
    n_assets = spot.shape[0]
    if not np.all(np.isfinite(spot)) or np.any(spot <= 0):
        raise ValueError("spot_usd: prices must be finite and > 0")
    vol = _as_vector(vol_annual, n_assets, "vol_annual")
    drift = _as_vector(drift_annual, n_assets, "drift_annual")
    if np.any(vol < 0):
        raise ValueError("vol_annual: must be >= 0")
    chol = correlation_factor(validate_correlation(corr, n_assets))
    dt_years = _check_grid(horizon_days, n_steps, n_paths)
    return spot, vol, drift, chol, dt_years, _check_dtype(dtype)


def _correlated_normals(rng: np.random.Generator, chol: np.ndarray, shape: tuple[int, int, int],
                        dtype: np.dtype) -> np.ndarray:
    """Standard normals of ``shape`` (…, n_assets) with cross-asset correlation ``chol @ chol.T``."""
    z = rng.standard_normal(shape, dtype=dtype)
    if shape[-1] > 1:
        z = z @ chol.T.astype(dtype, copy=False)
    return z


def _assemble(spot: np.ndarray, log_inc: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Turn log-increments (n_paths, n_steps-1, n_assets) into prices with step 0 = spot."""
    n_paths, n_inc, n_assets = log_inc.shape
    out = np.empty((n_paths, n_inc + 1, n_assets), dtype=dtype)
    out[:, 0, :] = 0.0
    np.cumsum(log_inc, axis=1, out=out[:, 1:, :])
    np.exp(out, out=out)
    out *= spot.astype(dtype)[None, None, :]
    out[:, 0, :] = spot.astype(dtype)  # exact, independent of rounding in exp(0)*spot
    return out


# ----------------------------------------------------------------------------- models


def gbm_paths(
    spot_usd: npt.ArrayLike,
    vol_annual: npt.ArrayLike,
    corr: npt.ArrayLike,
    horizon_days: float,
    n_steps: int,
    n_paths: int,
    *,
    drift_annual: npt.ArrayLike = 0.0,
    seed: SeedLike = None,
    dtype: Dtype = np.float64,
) -> FloatArray:
    """Correlated geometric Brownian motion.

    ``log S_{k+1} - log S_k = (mu - sigma^2/2) dt + sigma sqrt(dt) Z``, ``Z ~ N(0, corr)``.

    Parameters
    ----------
    spot_usd : array_like, shape (n_assets,)
        Start prices, USD per unit (> 0).
    vol_annual : array_like, shape (n_assets,) or scalar
        Annualised log-return volatility (fraction, e.g. 0.6 for 60%).
    corr : array_like, shape (n_assets, n_assets)
        Correlation of the log-return shocks (validated: symmetric, unit diagonal, PSD).
    horizon_days : float
        Length of the path in days.
    n_steps : int
        Grid points including step 0 (>= 2).
    n_paths : int
        Number of paths.
    drift_annual : array_like, shape (n_assets,) or scalar
        Arithmetic drift ``mu`` per year; 0 makes each price a martingale.
    seed : int, numpy.random.Generator or None
    dtype : float64 or float32

    Returns
    -------
    ndarray, shape (n_paths, n_steps, n_assets), USD per unit
    """
    spot, vol, drift, chol, dt, dt_ = _common_inputs(spot_usd, vol_annual, corr, horizon_days, n_steps,
                                                     n_paths, drift_annual, dtype)
    rng = _rng(seed)
    z = _correlated_normals(rng, chol, (int(n_paths), int(n_steps) - 1, spot.size), dt_)
    z *= (vol * np.sqrt(dt)).astype(dt_)
    z += ((drift - 0.5 * vol**2) * dt).astype(dt_)
    return _assemble(spot, z, dt_)


def student_t_paths(
    spot_usd: npt.ArrayLike,
    vol_annual: npt.ArrayLike,
    corr: npt.ArrayLike,
    horizon_days: float,
    n_steps: int,
    n_paths: int,
    *,
    dof: float,
    drift_annual: npt.ArrayLike = 0.0,
    seed: SeedLike = None,
    dtype: Dtype = np.float64,
) -> FloatArray:
    """Multivariate Student-t log-returns (fat tails, tail dependence across assets).

    Shock per (path, step): ``X = Z / sqrt(W / dof) * sqrt((dof - 2) / dof)`` with
    ``Z ~ N(0, corr)`` and one ``W ~ chi2(dof)`` shared by all assets (that sharing is what makes
    crashes joint). The last factor rescales to unit variance, so ``vol_annual`` is the
    volatility of the log-returns, as in :func:`gbm_paths`. Requires ``dof > 2``.

    The drift uses the Gaussian convexity correction ``-sigma^2/2 dt``: Student-t log-returns have
    no finite exponential moment, so no exact martingale correction exists; the Gaussian one
    matches the log-return mean and variance of the GBM with the same ``vol_annual``.

    Returns
    -------
    ndarray, shape (n_paths, n_steps, n_assets), USD per unit
    """
    if not (np.isfinite(dof) and dof > 2):
        raise ValueError(f"dof: must be > 2 for a finite variance, got {dof!r}")
    spot, vol, drift, chol, dt, dt_ = _common_inputs(spot_usd, vol_annual, corr, horizon_days, n_steps,
                                                     n_paths, drift_annual, dtype)
    rng = _rng(seed)
    shape = (int(n_paths), int(n_steps) - 1, spot.size)
    z = _correlated_normals(rng, chol, shape, dt_)
    w = rng.chisquare(dof, size=shape[:2]).astype(dt_, copy=False)
    scale = np.sqrt((dof - 2.0) / w)  # = sqrt(dof/W) * sqrt((dof-2)/dof)
    z *= scale[:, :, None]
    z *= (vol * np.sqrt(dt)).astype(dt_)
    z += ((drift - 0.5 * vol**2) * dt).astype(dt_)
    return _assemble(spot, z, dt_)


JumpMode = Literal["common", "independent"]


def merton_jump_paths(
    spot_usd: npt.ArrayLike,
    vol_annual: npt.ArrayLike,
    corr: npt.ArrayLike,
    horizon_days: float,
    n_steps: int,
    n_paths: int,
    *,
    jump_intensity_per_day: npt.ArrayLike,
    jump_mean_log: npt.ArrayLike,
    jump_std_log: npt.ArrayLike,
    jump_mode: JumpMode = "common",
    drift_annual: npt.ArrayLike = 0.0,
    seed: SeedLike = None,
    dtype: Dtype = np.float64,
) -> FloatArray:
    """GBM plus compound-Poisson log-normal jumps (Merton 1976).

    Per step: ``N ~ Poisson(lambda dt)`` jumps, each adding ``J ~ N(jump_mean_log,
    jump_std_log^2)`` to the log-price (so a jump multiplies the price by ``e^J``).

    Jump modes
    ----------
    ``"common"`` (default)
        One jump clock for the whole market: the count ``N`` per (path, step) is shared by all
        assets (``jump_intensity_per_day`` must be a scalar) and the jump sizes are correlated
        across assets with the same ``corr`` as the diffusion. With a negative
        ``jump_mean_log`` this is a market-wide crash.
    ``"independent"``
        Each asset has its own jump clock (intensity may be per asset) and independent sizes.

    Drift: the compensator ``-lambda k dt`` with ``k = E[e^J - 1] = exp(m + s^2/2) - 1`` is
    added to the Gaussian ``(mu - sigma^2/2) dt``, so with ``drift_annual=0`` each price is a
    martingale. ``vol_annual`` is the diffusion volatility only (jumps add variance
    ``lambda (m^2 + s^2)`` per unit time).

    Parameters
    ----------
    jump_intensity_per_day : float or array_like, shape (n_assets,)
        Expected jumps per day (>= 0).
    jump_mean_log, jump_std_log : float or array_like, shape (n_assets,)
        Mean and standard deviation of one jump's log size (``jump_std_log >= 0``).

    Returns
    -------
    ndarray, shape (n_paths, n_steps, n_assets), USD per unit
    """
    spot, vol, drift, chol, dt, dt_ = _common_inputs(spot_usd, vol_annual, corr, horizon_days, n_steps,
                                                     n_paths, drift_annual, dtype)
    n_assets = spot.size
    lam_day = np.asarray(jump_intensity_per_day, dtype=np.float64)
    if jump_mode == "common":
        if lam_day.ndim != 0:
            raise ValueError("jump_intensity_per_day: must be a scalar with jump_mode='common'")
        lam_vec = np.full(n_assets, float(lam_day))
    elif jump_mode == "independent":
        lam_vec = _as_vector(lam_day, n_assets, "jump_intensity_per_day")
    else:
        raise ValueError(f"jump_mode: expected 'common' or 'independent', got {jump_mode!r}")
    if not np.all(np.isfinite(lam_vec)) or np.any(lam_vec < 0):
        raise ValueError("jump_intensity_per_day: must be finite and >= 0")
    m = _as_vector(jump_mean_log, n_assets, "jump_mean_log")
    s = _as_vector(jump_std_log, n_assets, "jump_std_log")
    if np.any(s < 0):
        raise ValueError("jump_std_log: must be >= 0")

    lam_year = lam_vec * DAYS_PER_YEAR
    k = np.expm1(m + 0.5 * s**2)
    rng = _rng(seed)
    shape = (int(n_paths), int(n_steps) - 1, n_assets)
    z = _correlated_normals(rng, chol, shape, dt_)
    z *= (vol * np.sqrt(dt)).astype(dt_)
    z += ((drift - 0.5 * vol**2 - lam_year * k) * dt).astype(dt_)

    if jump_mode == "common":
        counts = rng.poisson(float(lam_year[0]) * dt, size=shape[:2])[:, :, None]
        size_shocks = _correlated_normals(rng, chol, shape, dt_)
    else:
        counts = rng.poisson(lam_year * dt, size=shape)
        size_shocks = rng.standard_normal(shape, dtype=dt_)
    # Sum of N iid N(m, s^2) jumps is N(N m, N s^2).
    n_f = counts.astype(dt_)
    z += n_f * m.astype(dt_) + np.sqrt(n_f) * s.astype(dt_) * size_shocks
    return _assemble(spot, z, dt_)


ReplayKind = Literal["price", "cum_return", "log_return"]


def replay_paths(
    points: npt.ArrayLike,
    n_steps: int,
    *,
    kind: ReplayKind = "price",
    spot_usd: npt.ArrayLike | None = None,
    at_steps: npt.ArrayLike | None = None,
    interp: Literal["log", "linear"] = "log",
    dtype: Dtype = np.float64,
) -> FloatArray:
    """Replay a given series (e.g. BTC 122k -> 113.6k -> 102k) on the step grid.

    Point ``i`` is pinned to step ``at_steps[i]``; by default the points are spread evenly,
    ``round(i * (n_steps - 1) / (n_points - 1))``, so the first is step 0 and the last the final
    step. Between pinned steps prices are interpolated geometrically (``interp="log"``, constant
    return per step) or linearly in USD. The path passes exactly through every point.

    Parameters
    ----------
    points : array_like, shape (n_points, n_assets) (or (n_points,) for one asset)
        ``kind="price"``: USD per unit (> 0). ``kind="cum_return"``: cumulative simple return
        since the start (``-0.07`` = 7% down; needs ``spot_usd``). ``kind="log_return"``:
        cumulative log-return since the start (needs ``spot_usd``).
    n_steps : int
        Grid points including step 0 (>= n_points, >= 2).
    spot_usd : array_like, shape (n_assets,), optional
        Start prices for the return kinds.
    at_steps : array_like of int, shape (n_points,), optional
        Strictly increasing step indices in ``[0, n_steps - 1]``.

    Returns
    -------
    ndarray, shape (1, n_steps, n_assets), USD per unit
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ValueError(f"points: expected shape (n_points, n_assets), got {np.shape(points)}")
    if not np.all(np.isfinite(p)):
        raise ValueError("points: contains non-finite entries")
    n_points, n_assets = p.shape
    if int(n_steps) != n_steps or n_steps < max(2, n_points):
        raise ValueError(f"n_steps: must be an integer >= max(2, n_points={n_points}), got {n_steps!r}")
    n_steps = int(n_steps)
    if kind == "price":
        levels = p
    elif kind in ("cum_return", "log_return"):
        if spot_usd is None:
            raise ValueError(f"spot_usd: required with kind={kind!r}")
        spot = np.asarray(spot_usd, dtype=np.float64)
        if spot.shape != (n_assets,) or np.any(spot <= 0):
            raise ValueError(f"spot_usd: expected {n_assets} positive prices, got {spot!r}")
        levels = spot * (1.0 + p) if kind == "cum_return" else spot * np.exp(p)
    else:
        raise ValueError(f"kind: expected 'price', 'cum_return' or 'log_return', got {kind!r}")
    if np.any(levels <= 0):
        raise ValueError("points: price levels must be > 0 (a cumulative return must be > -1)")

    if at_steps is None:
        if n_points == 1:
            idx = np.array([0])
        else:
            idx = np.rint(np.arange(n_points) * (n_steps - 1) / (n_points - 1)).astype(np.int64)
    else:
        idx = np.asarray(at_steps)
        if idx.shape != (n_points,) or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"at_steps: expected {n_points} integer step indices")
        if np.any(np.diff(idx) <= 0) or idx[0] < 0 or idx[-1] > n_steps - 1:
            raise ValueError(f"at_steps: must be strictly increasing within [0, {n_steps - 1}]")
    grid = np.arange(n_steps, dtype=np.float64)
    out = np.empty((1, n_steps, n_assets), dtype=np.float64)
    for a in range(n_assets):
        if interp == "log":
            out[0, :, a] = np.exp(np.interp(grid, idx, np.log(levels[:, a])))
        elif interp == "linear":
            out[0, :, a] = np.interp(grid, idx, levels[:, a])
        else:
            raise ValueError(f"interp: expected 'log' or 'linear', got {interp!r}")
    out[0, idx, :] = levels  # exact at the pinned steps
    return out.astype(_check_dtype(dtype), copy=False)


def log_returns(paths: FloatArray) -> FloatArray:
    """Per-step log-returns of ``paths``.

    Parameters
    ----------
    paths : ndarray, shape (n_paths, n_steps, n_assets), USD per unit

    Returns
    -------
    ndarray, shape (n_paths, n_steps - 1, n_assets)
    """
    return np.diff(np.log(paths), axis=1)
