"""Scenario files: what to shock, how, against which positions, with which liquidity.

A scenario is a TOML file (read with stdlib :mod:`tomllib`) validated by pydantic models with
``extra="forbid"``: a typo is an error, not a silently ignored key. Every error names the file,
the field path and what was expected (:class:`ScenarioError`, one message for all problems).

Shape of a file (see ``scenarios/*.toml`` for complete examples)::

    name = "ETH -5 ... -60%"
    [source]                 # where the positions come from (CLI --source/--block override it)
    kind = "sample"          # sample | devnet | rpc | snapshot (+ path = "snap.json")
    block = "latest"
    [driver]                 # the asset that moves; others follow p_k = spot_k (1 + beta_k r)
    asset = "WETH"
    betas = { wstETH = 1.0, WBTC = 0.8 }
    [shock]                  # one of three kinds
    kind = "grid"            # grid: instantaneous drawdowns, cascade to a fixed point
    drawdowns = [0.05, 0.10, 0.20]            # or start/stop/step
    # kind = "path": cumulative driver returns vs the snapshot's spot at given hours
    # kind = "monte_carlo": model gbm|student_t|merton, vol, correlation, horizon, steps, paths, seed
    [liquidity]              # impact model per asset; default = risk.liquidity defaults
    model = "constant_depth"
    [liquidity.assets.wstETH]
    model = "sqrt"
    daily_volume_usd = 2e8

Replays are written *relative to the snapshot's spot* (the snapshot's prices are the start),
so the same file runs against the sample, the devnet or mainnet.

This module is the file format and its loading only. Running a scenario is
:func:`liqrisk.run.run_scenario` (pure computation on a :class:`~risk.book.PositionBook`); reading
positions is :func:`liqrisk.sources.load_source` (the I/O part); the app's errors are in
:mod:`liqrisk.errors`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from liqrisk.errors import LiqriskUserError, ScenarioError
from chain.toml_input import TomlNestingError, loads_toml


# ------------------------------------------------------------------------------------- models


class _Model(BaseModel):
    # allow_inf_nan=False: nan and ±inf are refused for every float field (TOML has inf and nan).
    # strict: TOML is typed, so a string where a number belongs ("20"), a float where an integer
    # belongs (1e3) or a string for a flag ("yes") is an error, never silently converted.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


MAX_SCENARIO_BYTES = 1 << 20
"""A scenario file is a few kB; anything over 1 MiB is refused before parsing."""
MAX_GRID_POINTS = 10_000


BlockSpec = Union[int, Literal["latest", "safe", "finalized"]]


class SourceSpec(_Model):
    """Where positions come from.

    kind : ``sample`` (synthetic, :func:`risk.sample.sample_snapshot`), ``devnet`` (the local
        devnet started by ``liqrisk devnet up``), ``rpc`` (Ethereum mainnet via ``ETH_RPC_URL``)
        or ``snapshot`` (a Snapshot JSON file, ``path``; relative to the scenario file).
    block : block number or tag, resolved once and pinned (devnet/rpc only).
    sample_positions, sample_seed : size and seed of the synthetic sample.
    markets : market file for ``rpc`` (default the shipped ``chain/data/markets.toml``; relative
        to the scenario file); the node's chain id picks its network.
    network : for ``rpc``, the network of the market file to scan (its chain id must be the node's).
    rpc_url_env : for ``rpc``, the environment variable holding this source's node URL, so one sweep
        can read several networks (``BASE_RPC_URL``, ``ARB_RPC_URL``, ...). A file names the
        variable, never the URL (URLs carry API keys). Without it: ``--rpc-url``, else ``ETH_RPC_URL``.
    """

    kind: Literal["sample", "devnet", "rpc", "snapshot"] = "sample"
    path: str | None = None
    markets: str | None = None
    network: str | None = None
    rpc_url_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    block: BlockSpec = "latest"
    sample_positions: int = Field(default=600, ge=1, le=2_000_000)
    sample_seed: int = Field(default=7, ge=0)

    @field_validator("block")
    @classmethod
    def _block_non_negative(cls, block: BlockSpec) -> BlockSpec:
        if isinstance(block, int) and block < 0:
            raise ValueError("block number must be >= 0")
        return block

    @model_validator(mode="after")
    def _path_only_for_snapshot(self) -> "SourceSpec":
        if self.kind == "snapshot" and not self.path:
            raise ValueError("kind = 'snapshot' needs path = '<snapshot.json>'")
        if self.kind != "snapshot" and self.path:
            raise ValueError(f"path is only used with kind = 'snapshot' (kind is {self.kind!r})")
        for key in ("markets", "network", "rpc_url_env"):
            if self.kind != "rpc" and getattr(self, key):
                raise ValueError(f"{key} is only used with kind = 'rpc' (kind is {self.kind!r})")
        return self


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number")
    return value


class DriverSpec(_Model):
    """The asset that moves, and how the others follow: ``p_k = spot_k * (1 + beta_k * r)``.

    betas : symbol -> beta to the driver (driver itself is 1; unlisted assets 0, e.g. stablecoins).
    """

    asset: str = Field(min_length=1)
    betas: dict[str, float] = Field(default_factory=dict)

    @field_validator("betas")
    @classmethod
    def _betas_reasonable(cls, betas: dict[str, float]) -> dict[str, float]:
        for symbol, beta in betas.items():
            _finite(beta, f"beta of {symbol}")
            if abs(beta) > 10:
                raise ValueError(f"beta of {symbol} = {beta} is outside [-10, 10]")
        return betas


class GridShock(_Model):
    """Instantaneous driver drawdowns (fractions: 0.2 = -20%; negative = a rally), each cascaded
    to a fixed point. Give ``drawdowns`` or ``start``/``stop``/``step`` (stop included)."""

    kind: Literal["grid"]
    drawdowns: list[float] | None = None
    start: float | None = None
    stop: float | None = None
    step: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_grid(self) -> "GridShock":
        ranged = (self.start, self.stop, self.step)
        if self.drawdowns is None and any(v is None for v in ranged):
            raise ValueError("give drawdowns = [...] or all of start, stop, step")
        if self.drawdowns is not None and any(v is not None for v in ranged):
            raise ValueError("give either drawdowns or start/stop/step, not both")
        if self.drawdowns is None:
            assert self.start is not None and self.stop is not None and self.step is not None
            # A range is a drawdown sweep from spot; rallies are written as an explicit list.
            if self.start < 0:
                raise ValueError(f"start = {self.start} must be >= 0 (a range sweeps drawdowns; "
                                 "list rallies explicitly in drawdowns = [...])")
            if self.stop < self.start:
                raise ValueError(f"stop = {self.stop} is below start = {self.start}")
            if (self.stop - self.start) / self.step >= MAX_GRID_POINTS:
                raise ValueError(f"the drawdown grid has more than {MAX_GRID_POINTS:,} points")
        elif len(self.drawdowns) > MAX_GRID_POINTS:
            raise ValueError(f"the drawdown grid has more than {MAX_GRID_POINTS:,} points")
        for d in self.grid():
            _finite(d, "drawdown")
            if d >= 1:
                raise ValueError(f"drawdown {d} must be < 1 (1 = price to zero)")
            if d <= -10:
                raise ValueError(f"drawdown {d} is a rally of more than 1000%")
        if not self.grid():
            raise ValueError("the drawdown grid is empty")
        return self

    def grid(self) -> list[float]:
        if self.drawdowns is not None:
            return list(self.drawdowns)
        assert self.start is not None and self.stop is not None and self.step is not None
        n = int(math.floor((self.stop - self.start) / self.step + 1e-9)) + 1
        return [round(self.start + i * self.step, 12) for i in range(max(n, 0))]


class PathShock(_Model):
    """A replayed price path, relative to the snapshot's spot.

    returns : cumulative simple returns of the driver at each point (-0.07 = 7% below spot);
        the path starts at spot (a leading 0 is added when the first point is not at hour 0).
    hours : time of each point in hours since the start (increasing); default evenly spread
        over ``horizon_hours``.
    assets : optional explicit cumulative returns of other assets at the same points (they then
        ignore their beta), e.g. ``{ WBTC = [0.0, 0.0625] }``.
    steps : grid points of the simulated path (liquidations are checked at each).
    """

    kind: Literal["path"]
    returns: list[float] = Field(min_length=1)
    hours: list[float] | None = None
    horizon_hours: float = Field(default=24.0, gt=0, le=24 * 3650)
    assets: dict[str, list[float]] = Field(default_factory=dict)
    steps: int = Field(default=97, ge=2, le=100_000)

    @model_validator(mode="after")
    def _consistent(self) -> "PathShock":
        for r in self.returns:
            _finite(r, "return")
            if r <= -1:
                raise ValueError(f"return {r} must be > -1 (a price cannot reach zero)")
        if self.hours is not None:
            if len(self.hours) != len(self.returns):
                raise ValueError(f"hours has {len(self.hours)} entries, returns {len(self.returns)}")
            if any(b <= a for a, b in zip(self.hours, self.hours[1:])) or self.hours[0] < 0:
                raise ValueError("hours must be >= 0 and strictly increasing")
            if self.hours[-1] > self.horizon_hours:
                raise ValueError(f"last hour {self.hours[-1]} is after horizon_hours = {self.horizon_hours}")
        for symbol, series in self.assets.items():
            if len(series) != len(self.returns):
                raise ValueError(f"assets.{symbol} has {len(series)} points, returns has {len(self.returns)}")
            if any((not math.isfinite(r)) or r <= -1 for r in series):
                raise ValueError(f"assets.{symbol}: returns must be finite and > -1")
        if self.steps < len(self.points()[0]):
            raise ValueError(f"steps = {self.steps} is fewer than the {len(self.points()[0])} path points")
        return self

    def points(self) -> tuple[list[float], list[float], dict[str, list[float]]]:
        """(hours, driver returns, other assets' returns), with the start at hour 0, return 0."""
        n = len(self.returns)
        hours = list(self.hours) if self.hours is not None else [
            self.horizon_hours * (i + 1) / n for i in range(n)]
        returns, assets = list(self.returns), {k: list(v) for k, v in self.assets.items()}
        if hours[0] > 0:
            hours = [0.0, *hours]
            returns = [0.0, *returns]
            assets = {k: [0.0, *v] for k, v in assets.items()}
        return hours, returns, assets


class CorrelationSpec(_Model):
    """Correlation of log-return shocks among ``assets`` (others: independent)."""

    assets: list[str] = Field(min_length=1)
    matrix: list[list[float]]

    @model_validator(mode="after")
    def _valid_matrix(self) -> "CorrelationSpec":
        if len(set(self.assets)) != len(self.assets):
            raise ValueError("assets must be unique")
        n = len(self.assets)
        if len(self.matrix) != n or any(len(row) != n for row in self.matrix):
            raise ValueError(f"matrix must be {n}x{n} to match assets {self.assets}")
        from risk.paths import validate_correlation  # numpy; only when a matrix is given

        try:
            validate_correlation(self.matrix, n)
        except ValueError as exc:
            import re

            text = re.sub(r"np\.float64\(([^)]*)\)", r"\1", str(exc).removeprefix("corr: "))
            text = re.sub(r"corr\[(\d+),(\d+)\]",
                          lambda m: f"{self.assets[int(m[1])]}/{self.assets[int(m[2])]}", text)
            raise ValueError(text) from None
        return self


class MonteCarloShock(_Model):
    """Random price paths (:mod:`risk.paths`) with endogenous cascades (:mod:`risk.montecarlo`).

    vol : annualised log-return volatility per symbol (0.8 = 80%); unlisted assets use
        ``risk.liquidity.DEFAULT_DAILY_VOLATILITY * sqrt(365)``.
    correlation : optional matrix; without it a one-factor correlation from the driver betas,
        ``rho_jk = c_j c_k`` with ``c = clip(beta, -0.99, 0.99)`` (driver 1), which is always PSD.
    seed : RNG seed (the CLI ``--seed`` overrides it).
    """

    kind: Literal["monte_carlo"]
    model: Literal["gbm", "student_t", "merton"] = "gbm"
    vol: dict[str, float] = Field(default_factory=dict)
    correlation: CorrelationSpec | None = None
    horizon_days: float = Field(default=1.0, gt=0, le=3650)
    steps: int = Field(default=97, ge=2, le=100_000)
    paths: int = Field(default=1_000, ge=1, le=10_000_000)
    seed: int | None = Field(default=7, ge=0)
    # Bounds far beyond any market (a 1000%/yr drift, 100 jumps a day, a jump of e^±5): beyond
    # them prices overflow or underflow to 0 and the run could only fail later, less clearly.
    drift_annual: float = Field(default=0.0, ge=-10, le=10)
    dof: float = Field(default=4.0, gt=2, le=1e6, description="Student-t degrees of freedom")
    jump_intensity_per_day: float = Field(default=0.1, ge=0, le=100)
    jump_mean_log: float = Field(default=-0.08, ge=-5, le=5)
    jump_std_log: float = Field(default=0.05, ge=0, le=5)

    @field_validator("vol")
    @classmethod
    def _vol_non_negative(cls, vol: dict[str, float]) -> dict[str, float]:
        for symbol, v in vol.items():
            _finite(v, f"vol of {symbol}")
            if v < 0:
                raise ValueError(f"vol of {symbol} = {v} must be >= 0 (annualised fraction)")
            if v > 20:
                raise ValueError(f"vol of {symbol} = {v} is above 2000% a year; give a fraction (0.8 = 80%)")
        return vol


Shock = Annotated[Union[GridShock, PathShock, MonteCarloShock], Field(discriminator="kind")]


class ConstantDepthSpec(_Model):
    """Linear impact; ``depth_usd_per_pct`` USD moves the price 1% (default: risk.liquidity's)."""

    model: Literal["constant_depth"]
    depth_usd_per_pct: float | None = Field(default=None, gt=0)


class SquareRootSpec(_Model):
    """Square-root law ``Y sigma_daily sqrt(Q / V_daily)``; unset fields use risk.liquidity's defaults."""

    model: Literal["sqrt"]
    daily_volatility: float | None = Field(default=None, ge=0, le=1, description="fraction per day (1 = 100%)")
    daily_volume_usd: float | None = Field(default=None, gt=0)
    y: float = Field(default=1.0, gt=0, le=10, description="the law's constant, of order 1")


class TableSpec(_Model):
    """Piecewise-linear impact: ``impacts[i]`` (fraction) after selling ``sizes_usd[i]`` USD."""

    model: Literal["table"]
    sizes_usd: list[float] = Field(min_length=2)
    impacts: list[float] = Field(min_length=2)

    @model_validator(mode="after")
    def _monotone(self) -> "TableSpec":
        if len(self.sizes_usd) != len(self.impacts):
            raise ValueError("sizes_usd and impacts must have the same length")
        if self.sizes_usd[0] != 0 or self.impacts[0] != 0:
            raise ValueError("the table must start at sizes_usd = 0, impacts = 0")
        if any(b <= a for a, b in zip(self.sizes_usd, self.sizes_usd[1:])):
            raise ValueError("sizes_usd must be strictly increasing")
        if any(b < a for a, b in zip(self.impacts, self.impacts[1:])):
            raise ValueError("impacts must be non-decreasing")
        if any(not (0 <= i < 1) for i in self.impacts):
            raise ValueError("impacts are fractions in [0, 1)")
        return self


class NoImpactSpec(_Model):
    model: Literal["none"]


class OnChainSpec(_Model):
    """Impact measured on the snapshot's Uniswap v3 pools (:class:`risk.liquidity.OnChainLiquidity`)."""

    model: Literal["onchain"]


AssetLiquidity = Annotated[
    Union[ConstantDepthSpec, SquareRootSpec, TableSpec, NoImpactSpec, OnChainSpec], Field(discriminator="model")]


class LiquiditySpec(_Model):
    """Impact model per asset. ``model`` is used for every asset not listed in ``assets``, with
    :mod:`risk.liquidity`'s default parameters. ``onchain`` reads the snapshot's Uniswap v3 pools
    (assets without a pool fall back to the constant-depth default, and say so);
    ``cex_multiplier`` is its off-chain depth multiple (default
    :data:`risk.liquidity.DEFAULT_CEX_DEPTH_MULTIPLIER`, 0 = DEX only)."""

    model: Literal["constant_depth", "sqrt", "none", "onchain"] = "constant_depth"
    assets: dict[str, AssetLiquidity] = Field(default_factory=dict)
    cex_multiplier: float | None = Field(default=None, ge=0, le=1_000)


class OutputsSpec(_Model):
    """What a run produces: liquidation bands of the driver, charts, the replayed path per step."""

    bands: bool = True
    charts: bool = True
    path_detail: bool = False


class Scenario(_Model):
    name: str = Field(min_length=1)
    description: str = ""
    references: list[str] = Field(default_factory=list, description="public sources of the figures")
    source: SourceSpec = Field(default_factory=SourceSpec)
    driver: DriverSpec
    shock: Shock
    liquidity: LiquiditySpec = Field(default_factory=LiquiditySpec)
    outputs: OutputsSpec = Field(default_factory=OutputsSpec)


_TAGS = {"grid", "path", "monte_carlo", "constant_depth", "sqrt", "table", "none", "onchain"}


# -------------------------------------------------------------------------------- loading


def format_validation_error(error: ValidationError, where: str) -> str:
    """One readable message: ``where: field.path: what was expected (got ...)`` per problem."""
    lines = []
    for item in error.errors():
        loc = [str(p) for p in item.get("loc", ())]
        # Drop the discriminator tags pydantic puts into the path (shock.grid.drawdowns ->
        # shock.drawdowns): they follow "shock" and "liquidity.assets.<symbol>", and only there
        # (a field called "path" elsewhere is kept).
        loc = [p for i, p in enumerate(loc)
               if not (p in _TAGS and i > 0 and (loc[i - 1] == "shock" or (i > 2 and loc[i - 2] == "assets")))]
        path = ".".join(loc) or "(top level)"
        kind = item.get("type", "")
        msg = item.get("msg", "")
        if kind == "missing":
            text = "required field is missing"
        elif kind == "extra_forbidden":
            text = "unknown key (not part of the scenario format; check the spelling)"
        elif kind == "union_tag_invalid":
            ctx = item.get("ctx", {})
            text = f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
        elif kind == "union_tag_not_found":
            text = f"needs a {item.get('ctx', {}).get('discriminator', 'kind')} key"
        else:
            text = msg.removeprefix("Value error, ")
            if "input" in item and kind not in ("value_error", "assertion_error") and not isinstance(item["input"], dict):
                text += f" (got {item['input']!r})"
        lines.append(f"  {path}: {text}")
    count = len(lines)
    return f"{where}: {count} problem{'s' if count != 1 else ''}:\n" + "\n".join(lines)


def parse_scenario(data: Mapping[str, Any], where: str = "<scenario>") -> Scenario:
    try:
        return Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, where)) from None


@dataclass(frozen=True)
class ScenarioFile:
    """A validated scenario and the file it came from (relative paths resolve against it)."""

    path: Path
    scenario: Scenario

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def read_limited(path: Path, limit: int, what: str, error: type[Exception] = ScenarioError) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else one clear ``error``.

    A FIFO or device is refused before opening (reading ``/dev/zero`` or a FIFO never ends)."""
    import stat

    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise error(f"{path}: the {what} is {kind}")
    if info.st_size > limit:
        raise error(f"{path}: the {what} is {info.st_size:,} bytes, over the {limit:,}-byte limit")
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror})") from None
    if len(data) > limit:
        raise error(f"{path}: the {what} is over the {limit:,}-byte limit")
    return data


def load_scenario(path: str | Path) -> ScenarioFile:
    """Read and validate one TOML scenario file; raises :class:`ScenarioError` naming the file."""
    path = Path(path)
    text = read_limited(path, MAX_SCENARIO_BYTES, "scenario file")
    try:
        data = loads_toml(text.decode("utf-8"))
    except TomlNestingError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    try:
        return ScenarioFile(path, parse_scenario(data, str(path)))
    except RecursionError:
        raise ScenarioError(f"{path}: nested too deeply to be a scenario") from None


def shipped_scenarios_dir() -> Path:
    """The scenario files shipped with liqrisk: ``scenarios/`` of a checkout, or the copy a wheel
    installs as package data (``liqrisk/scenarios``)."""
    from chain.locations import PACKAGE_ROOT, is_checkout

    return PACKAGE_ROOT / "scenarios" if is_checkout() else Path(__file__).resolve().parent / "scenarios"


_MOVED = {
    # name -> module it moved to (the split of this file); kept importable from here for code
    # written against the old layout.
    "LoadedSnapshot": "liqrisk.sources", "load_source": "liqrisk.sources", "cache_dir": "liqrisk.sources",
    "CACHE_DIR_ENV": "liqrisk.sources",
    "MAINNET_CHAIN_ID": "liqrisk.mainnet", "mainnet_sources": "liqrisk.mainnet",
    "PerAssetLiquidity": "risk.liquidity",
    "ProgressCallback": "liqrisk.run", "build_liquidity": "liqrisk.run", "PathRun": "liqrisk.run",
    "MonteCarloRun": "liqrisk.run", "ScenarioResult": "liqrisk.run", "run_scenario": "liqrisk.run",
    "run_path": "liqrisk.run", "run_monte_carlo": "liqrisk.run", "mc_correlation": "liqrisk.run",
    "simulate_in_chunks": "liqrisk.run",
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "BlockSpec", "ConstantDepthSpec", "CorrelationSpec", "DriverSpec", "GridShock", "LiqriskUserError",
    "LiquiditySpec", "MonteCarloShock", "NoImpactSpec", "OnChainSpec", "OutputsSpec", "PathShock", "Scenario", "ScenarioError",
    "ScenarioFile", "SourceSpec", "SquareRootSpec", "TableSpec", "format_validation_error", "load_scenario",
    "parse_scenario", "shipped_scenarios_dir",
]
