"""Running a scenario: pure computation on a :class:`~risk.book.PositionBook`.

A validated :class:`~liqrisk.scenario.Scenario` becomes engine calls: the liquidity spec an
impact model (:func:`build_liquidity`), the shock a cascade grid, a replayed path or a Monte
Carlo. Positions are read elsewhere (:mod:`liqrisk.sources`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from liqrisk.alerts import human_usd
from liqrisk.errors import LiqriskUserError
from liqrisk.scenario import (CorrelationSpec, GridShock, LiquiditySpec, MonteCarloShock, OutputsSpec, PathShock,
                              Scenario, TableSpec)

if TYPE_CHECKING:  # heavy imports stay lazy: the CLI's --help must not load numpy
    import numpy as np

    from risk.bands import BandReport
    from risk.book import PositionBook
    from risk.cascade import CascadeTable
    from risk.liquidity import LiquidityModel, PerAssetLiquidity
    from risk.montecarlo import MonteCarloResult


ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``; called as work completes (e.g. Monte Carlo paths)."""


def build_liquidity(spec: LiquiditySpec, symbols: Sequence[str], *, pools: Sequence[Any] = (),
                    prices_usd: Sequence[float] | None = None) -> "PerAssetLiquidity":
    """Impact model over ``symbols`` (book order) from a :class:`LiquiditySpec`.

    Assets sharing a model kind are grouped into one vectorized model (one ConstantDepth with a
    depth per asset, one SquareRootImpact per ``y``, one OnChainLiquidity over ``pools`` — the
    snapshot's Uniswap v3 pools — at spot ``prices_usd``); each table is its own model.
    """
    import numpy as np

    from risk import liquidity as lq
    from risk.liquidity import PerAssetLiquidity

    n = len(symbols)
    depth = np.full(n, np.inf)  # inf depth = no impact on columns outside the group
    depth_cols: list[int] = []
    sqrt_groups: dict[float, tuple[list[int], np.ndarray, np.ndarray]] = {}
    models: list[Any] = []
    columns: list[tuple[int, ...]] = []
    described: list[tuple[str, str]] = []
    onchain_cols = [j for j, symbol in enumerate(symbols)
                    if (spec.assets[symbol].model if symbol in spec.assets else spec.model) == "onchain"]
    onchain = None
    if onchain_cols:
        if not pools:
            raise LiqriskUserError("liquidity model 'onchain' (--liquidity onchain, liquidity.model in a scenario) needs "
                               "a snapshot with Uniswap v3 pools (Snapshot.pools): "
                                   "scan the devnet or mainnet again (the sample and older snapshots have none)")
        if prices_usd is None:
            raise ValueError("build_liquidity: the on-chain model needs the spot prices_usd")
        multiplier = lq.DEFAULT_CEX_DEPTH_MULTIPLIER if spec.cex_multiplier is None else spec.cex_multiplier
        onchain = lq.onchain_liquidity(pools, symbols, prices_usd, cex_multiplier=multiplier)
    for j, symbol in enumerate(symbols):
        asset = spec.assets.get(symbol)
        kind = asset.model if asset is not None else spec.model
        if kind == "onchain":
            assert onchain is not None
            if j in onchain.onchain_columns:
                used = [name for name in onchain.pools if symbol in name.split(" ")[0].split("/")]
                described.append((symbol, f"on-chain Uniswap v3 at the block, CEX depth x{onchain.cex_multiplier:g}: "
                                          f"{'; '.join(used)} (+ routes via {lq.VIA})"))
                continue
            if symbol == lq.NUMERAIRE:
                described.append((symbol, f"numeraire of the on-chain model ({lq.NUMERAIRE} = the price unit): no impact"))
                continue
            kind = "constant_depth"  # no pool for this asset in the snapshot: the stated default
            asset = None
            described.append((symbol, "on-chain: no Uniswap v3 pool in the snapshot, so constant depth (below)"))
        if kind == "none":
            described.append((symbol, "no impact"))
        elif kind == "constant_depth":
            d = getattr(asset, "depth_usd_per_pct", None) or lq.DEFAULT_DEPTH_USD_PER_PCT.get(
                symbol, lq.FALLBACK_DEPTH_USD_PER_PCT)
            depth[j] = d
            depth_cols.append(j)
            described.append((symbol, f"constant depth: ${human_usd(d)} moves the price 1%"))
        elif kind == "sqrt":
            vol = getattr(asset, "daily_volatility", None)
            vol = lq.DEFAULT_DAILY_VOLATILITY.get(symbol, 0.05) if vol is None else vol
            volume = getattr(asset, "daily_volume_usd", None) or lq.DEFAULT_DAILY_VOLUME_USD.get(symbol, 0.05e9)
            y = float(getattr(asset, "y", 1.0))
            cols, vols, volumes = sqrt_groups.setdefault(y, ([], np.zeros(n), np.ones(n)))
            cols.append(j)
            vols[j], volumes[j] = vol, volume
            described.append((symbol, f"square root: Y={y:g}, daily vol {vol:.1%}, daily volume ${human_usd(volume)}"))
        else:
            assert isinstance(asset, TableSpec)
            sizes = np.array(asset.sizes_usd, dtype=np.float64)
            impacts = np.repeat(np.array(asset.impacts, dtype=np.float64)[:, None], n, axis=1)
            models.append(lq.ImpactTable(sizes, impacts))
            columns.append((j,))
            described.append((symbol, f"impact table, {len(sizes)} points up to ${human_usd(sizes[-1])}"))
    if depth_cols:
        models.append(lq.ConstantDepth(depth))
        columns.append(tuple(depth_cols))
    for y, (cols, vols, volumes) in sqrt_groups.items():
        models.append(lq.SquareRootImpact(vols, volumes, y))
        columns.append(tuple(cols))
    if onchain is not None:
        cols = tuple(j for j in onchain.onchain_columns if j in onchain_cols)
        if cols:
            models.append(onchain)
            columns.append(cols)
    return PerAssetLiquidity(tuple(models), tuple(columns), tuple(described))


@dataclass(frozen=True, eq=False)
class PathRun:
    """A replayed path: exogenous prices and the liquidations along it.

    hours : shape (n_steps,); prices_usd : shape (1, n_steps, n_assets), USD per unit (exogenous)
    """

    hours: "np.ndarray"
    prices_usd: "np.ndarray"
    result: "MonteCarloResult"

    def to_frame(self) -> dict[str, "np.ndarray"]:
        """One row per step: ``hour`` and the exogenous ``price_<SYM>_usd`` of every asset."""
        frame: dict[str, "np.ndarray"] = {"hour": self.hours}
        for j, symbol in enumerate(self.result.symbols):
            frame[f"price_{symbol}_usd"] = self.prices_usd[0, :, j]
        return frame

    def to_pandas(self) -> Any:
        from risk.frames import to_pandas

        return to_pandas(self.to_frame())

    def by_market_frame(self) -> dict[str, "np.ndarray"]:
        """What the path liquidated per market (one row per market; :meth:`MonteCarloResult.by_market_frame`)."""
        return self.result.by_market_frame()

    def by_market_pandas(self) -> Any:
        return self.result.by_market_pandas()


@dataclass(frozen=True, eq=False)
class MonteCarloRun:
    """A Monte Carlo run and the inputs that define it (for the report)."""

    model: str
    horizon_days: float
    steps: int
    seed: int | None
    vol_annual: dict[str, float]
    correlation: "np.ndarray"
    result: "MonteCarloResult"

    def to_frame(self) -> dict[str, "np.ndarray"]:
        """One row per path, per-market columns included (:meth:`MonteCarloResult.to_frame`)."""
        return self.result.to_frame()

    def to_pandas(self) -> Any:
        return self.result.to_pandas()

    def by_market_frame(self) -> dict[str, "np.ndarray"]:
        """One row per market: its LaR / bad-debt VaR (:meth:`MonteCarloResult.by_market_frame`)."""
        return self.result.by_market_frame()

    def by_market_pandas(self) -> Any:
        return self.result.by_market_pandas()


@dataclass(frozen=True, eq=False)
class ScenarioResult:
    """What running one scenario produced (exactly one of cascade / path / monte_carlo is set)."""

    name: str
    kind: str
    driver: str
    betas: dict[str, float]
    liquidity: tuple[tuple[str, str], ...]
    bands: "BandReport | None" = None
    cascade: "CascadeTable | None" = None
    path: PathRun | None = None
    monte_carlo: MonteCarloRun | None = None
    notes: tuple[str, ...] = ()
    file: str | None = None
    description: str = ""
    references: tuple[str, ...] = ()
    outputs: OutputsSpec = field(default_factory=OutputsSpec)

    def _table(self) -> Any:
        table = self.cascade if self.cascade is not None else self.path if self.path is not None else self.monte_carlo
        if table is None:
            raise ValueError(f"scenario {self.name!r} has no result table")
        return table

    def to_frame(self) -> dict[str, "np.ndarray"]:
        """The result as columns: the cascade grid (per-market columns included), the path's
        steps, or the Monte Carlo's paths."""
        frame: dict[str, "np.ndarray"] = self._table().to_frame()
        return frame

    def to_pandas(self) -> Any:
        from risk.frames import to_pandas

        return to_pandas(self.to_frame())

    def by_market_frame(self) -> dict[str, "np.ndarray"]:
        """The per-market split: one row per (drawdown, market) for a cascade, one per market for a
        path or a Monte Carlo."""
        frame: dict[str, "np.ndarray"] = self._table().by_market_frame()
        return frame

    def by_market_pandas(self) -> Any:
        from risk.frames import to_pandas

        return to_pandas(self.by_market_frame())


def _known(book: "PositionBook", values: Mapping[str, Any], what: str, notes: list[str]) -> dict[str, Any]:
    """Keep entries for assets the book has; note the ones it lacks (scenarios are portable)."""
    missing = sorted(set(values) - set(book.symbols))
    if missing:
        notes.append(f"{what} for {', '.join(missing)} ignored: not in this snapshot")
    return {k: v for k, v in values.items() if k in book.symbols}


def _check_driver(book: "PositionBook", driver: str, where: str) -> None:
    if driver not in book.symbols:
        raise LiqriskUserError(f"{where}: driver asset {driver!r} is not in the snapshot "
                               f"(it has {', '.join(book.symbols)})")


def run_scenario(
    scenario: Scenario,
    book: "PositionBook",
    *,
    seed: int | None = None,
    progress: ProgressCallback | None = None,
    where: str | None = None,
    pools: Sequence[Any] = (),
    runner: Any = None,
) -> ScenarioResult:
    """Run ``scenario`` against ``book`` (pure computation). ``seed`` overrides the file's seed;
    ``pools``: the snapshot's Uniswap v3 pools, for the ``onchain`` liquidity model; ``runner``:
    where a Monte Carlo's chunks run (:mod:`liqrisk.scaleout`; default this process — the result
    does not depend on it)."""
    from risk.bands import liquidation_bands
    from risk.cascade import cascade_grid

    in_file = where is not None
    where = where or scenario.name
    notes: list[str] = []
    _check_driver(book, scenario.driver.asset, where)
    betas = _known(book, scenario.driver.betas, "betas", notes)
    _known(book, scenario.liquidity.assets, "liquidity settings", notes)
    try:
        liquidity = build_liquidity(scenario.liquidity, book.symbols, pools=pools, prices_usd=book.prices_usd)
    except LiqriskUserError as exc:
        if not in_file:
            raise
        raise LiqriskUserError(f"{where}: liquidity: {exc}") from None
    common: dict[str, Any] = dict(
        name=scenario.name, kind=scenario.shock.kind, driver=scenario.driver.asset, betas=betas,
        liquidity=liquidity.description, description=scenario.description, references=tuple(scenario.references),
        outputs=scenario.outputs,
    )
    if scenario.outputs.bands:
        common["bands"] = liquidation_bands(book, scenario.driver.asset)
    shock = scenario.shock
    if isinstance(shock, GridShock):
        table = cascade_grid(book, driver=scenario.driver.asset, betas=betas, drawdowns=shock.grid(), liquidity=liquidity)
        return ScenarioResult(cascade=table, notes=tuple(notes), **common)
    if isinstance(shock, PathShock):
        run = run_path(book, scenario.driver.asset, betas, shock, liquidity, notes)
        return ScenarioResult(path=run, notes=tuple(notes), **common)
    assert isinstance(shock, MonteCarloShock)
    run_mc = run_monte_carlo(book, scenario.driver.asset, betas, shock, liquidity,
                             seed=shock.seed if seed is None else seed, progress=progress, notes=notes, where=where,
                             runner=runner)
    return ScenarioResult(monte_carlo=run_mc, notes=tuple(notes), **common)


def run_path(book: "PositionBook", driver: str, betas: Mapping[str, float], shock: PathShock,
             liquidity: "LiquidityModel", notes: list[str] | None = None) -> PathRun:
    """Replay ``shock`` (returns relative to the book's spot) with endogenous cascades."""
    import numpy as np

    from risk.montecarlo import driver_cross_impact, simulate_liquidations
    from risk.paths import replay_paths

    notes = [] if notes is None else notes
    hours, returns, assets = shock.points()
    assets = _known(book, assets, "path returns", notes)
    beta = book.asset_vector(betas)
    d = book.asset_index(driver)
    beta[d] = 1.0
    r = np.array(returns)
    # Cumulative return of every asset at each point: beta-linked, unless given explicitly.
    cum = np.maximum(1.0 + r[:, None] * beta[None, :], 1e-6) - 1.0
    for symbol, series in assets.items():
        cum[:, book.asset_index(symbol)] = series
    horizon = max(shock.horizon_hours, hours[-1])
    at_steps = np.rint(np.array(hours) / horizon * (shock.steps - 1)).astype(np.int64)
    if np.any(np.diff(at_steps) <= 0):
        raise LiqriskUserError(f"path points closer than one step: raise steps above {shock.steps}")
    paths = replay_paths(cum, shock.steps, kind="cum_return", spot_usd=book.prices_usd, at_steps=at_steps)
    # Liquidations of the driver drag beta-linked assets with it, as in the cascade grid.
    result = simulate_liquidations(book, paths, liquidity=liquidity,
                                   cross_impact=driver_cross_impact(book, driver, betas))
    grid_hours = np.linspace(0.0, horizon, shock.steps)
    return PathRun(grid_hours, paths, result)


def mc_correlation(book: "PositionBook", driver: str, betas: Mapping[str, float],
                   spec: CorrelationSpec | None, notes: list[str]) -> "np.ndarray":
    """Correlation in book order: the given matrix (others independent) or one factor from betas."""
    import numpy as np

    n = book.n_assets
    if spec is None:
        c = np.clip(book.asset_vector(betas), -0.99, 0.99)
        c[book.asset_index(driver)] = 1.0
        corr = np.outer(c, c)
        np.fill_diagonal(corr, 1.0)
        return corr
    corr = np.eye(n)
    present = [a for a in spec.assets if a in book.symbols]
    if len(present) < len(spec.assets):
        notes.append(f"correlation rows for {', '.join(sorted(set(spec.assets) - set(present)))} ignored: not in this snapshot")
    given = np.array(spec.matrix)
    for i, a in enumerate(spec.assets):
        for j, b in enumerate(spec.assets):
            if a in book.symbols and b in book.symbols:
                corr[book.asset_index(a), book.asset_index(b)] = given[i, j]
    return corr


def run_monte_carlo(
    book: "PositionBook",
    driver: str,
    betas: Mapping[str, float],
    shock: MonteCarloShock,
    liquidity: "LiquidityModel",
    *,
    seed: int | None,
    progress: ProgressCallback | None = None,
    notes: list[str] | None = None,
    chunk_paths: int | None = None,
    where: str = "Monte Carlo",
    runner: Any = None,
) -> MonteCarloRun:
    """Draw paths and simulate them in fixed-size chunks (:func:`liqrisk.scaleout.chunked_monte_carlo`:
    chunk ``i`` draws its paths from ``SeedSequence(seed).spawn(n_chunks)[i]``), in this process or
    on a Dask cluster (``runner``) with the same result for a seed. The memory the paths need is
    checked against what is available before anything is allocated (:func:`check_paths_memory`)."""
    import numpy as np

    from risk import liquidity as lq
    from risk import paths as rp

    check_paths_memory(shock.paths, shock.steps, book.n_assets, where)
    notes = [] if notes is None else notes
    vol_given = _known(book, shock.vol, "vol", notes)
    vol = {s: float(vol_given.get(s, lq.DEFAULT_DAILY_VOLATILITY.get(s, 0.05) * math.sqrt(rp.DAYS_PER_YEAR)))
           for s in book.symbols}
    vol_vec = np.array([vol[s] for s in book.symbols])
    corr = mc_correlation(book, driver, betas, shock.correlation, notes)
    try:
        rp.validate_correlation(corr, book.n_assets)
    except ValueError as exc:  # a valid sub-matrix embedded in the identity stays valid; be safe
        raise LiqriskUserError(f"correlation for this snapshot: {exc}") from None
    from liqrisk.scaleout import MC_CHUNK_PATHS, PathDraw, chunked_monte_carlo
    from risk.montecarlo import driver_cross_impact

    draw = PathDraw(model=shock.model, spot_usd=np.asarray(book.prices_usd, dtype=np.float64), vol_annual=vol_vec,
                    corr=corr, horizon_days=shock.horizon_days, steps=shock.steps, drift_annual=shock.drift_annual,
                    dof=shock.dof, jump_intensity_per_day=shock.jump_intensity_per_day,
                    jump_mean_log=shock.jump_mean_log, jump_std_log=shock.jump_std_log)
    result = chunked_monte_carlo(book, draw, shock.paths, seed, liquidity,
                                 cross_impact=driver_cross_impact(book, driver, betas), runner=runner,
                                 progress=progress, chunk_paths=chunk_paths or MC_CHUNK_PATHS, where=where)
    return MonteCarloRun(shock.model, shock.horizon_days, shock.steps, seed, vol, corr, result)


PATHS_PEAK_COPIES = 4
"""Arrays of the paths' full size alive at once while they are drawn: the normals, their
correlated copy, the increments and the prices (:mod:`risk.paths`)."""


def available_memory_bytes() -> int | None:
    """Memory the system can give this process now (Linux ``MemAvailable``; else free pages);
    None when the platform does not say."""
    import os

    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_paths_memory(n_paths: int, n_steps: int, n_assets: int, where: str, *,
                       available_bytes: int | None = None) -> None:
    """Refuse a Monte Carlo whose paths (``n_paths x n_steps x n_assets`` float64, several
    copies while drawn) need more memory than is available, before allocating any of it."""
    need = PATHS_PEAK_COPIES * 8 * int(n_paths) * int(n_steps) * max(int(n_assets), 1)
    avail = available_memory_bytes() if available_bytes is None else available_bytes
    if avail is not None and need > avail:
        gib = 2**30
        raise LiqriskUserError(
            f"{where}: a Monte Carlo of {n_paths:,} paths x {n_steps:,} steps x {n_assets} assets needs about "
            f"{need / gib:,.1f} GiB, more than the {avail / gib:,.1f} GiB of memory available: lower the paths or "
            "steps (--paths/--steps; shock.paths/shock.steps in a scenario file)")


def simulate_in_chunks(book: "PositionBook", paths: "np.ndarray", liquidity: "LiquidityModel", *,
                       progress: ProgressCallback | None = None, chunk_paths: int = 250,
                       cross_impact: "np.ndarray | None" = None) -> "MonteCarloResult":
    """:func:`risk.montecarlo.simulate_liquidations` reporting ``progress(done, total)`` per chunk
    of ``chunk_paths`` paths (the engine's own callback; results do not depend on the chunking)."""
    from risk.montecarlo import simulate_liquidations

    return simulate_liquidations(book, paths, liquidity=liquidity, cross_impact=cross_impact,
                                 chunk_paths=chunk_paths, progress=progress)


__all__ = [
    "MonteCarloRun", "PathRun", "ProgressCallback", "ScenarioResult", "available_memory_bytes", "build_liquidity",
    "check_paths_memory", "mc_correlation",
    "run_monte_carlo", "run_path", "run_scenario", "simulate_in_chunks",
]
