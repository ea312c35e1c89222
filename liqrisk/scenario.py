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

Running a scenario (:func:`run_scenario`) is pure computation on a
:class:`~risk.book.PositionBook`; loading positions (:func:`load_source`) is the I/O part.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if TYPE_CHECKING:  # heavy imports stay lazy: the CLI's --help must not load numpy
    import numpy as np

    from risk.bands import BandReport
    from risk.book import PositionBook
    from risk.cascade import CascadeTable
    from risk.liquidity import LiquidityModel
    from risk.montecarlo import MonteCarloResult
    from risk.snapshot import Snapshot


class LiqriskUserError(Exception):
    """A problem the user can fix (bad file, bad option, no devnet running, RPC down).

    The CLI prints ``str(error)`` and exits non-zero, never a traceback.
    """


class ScenarioError(LiqriskUserError):
    """A scenario file that cannot be read or does not validate."""


ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``; called as work completes (e.g. Monte Carlo paths)."""


# ------------------------------------------------------------------------------------- models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


BlockSpec = Union[int, Literal["latest", "safe", "finalized"]]


class SourceSpec(_Model):
    """Where positions come from.

    kind : ``sample`` (synthetic, :func:`risk.sample.sample_snapshot`), ``devnet`` (the local
        devnet started by ``liqrisk devnet up``), ``rpc`` (Ethereum mainnet via ``ETH_RPC_URL``)
        or ``snapshot`` (a Snapshot JSON file, ``path``; relative to the scenario file).
    block : block number or tag, resolved once and pinned (devnet/rpc only).
    sample_positions, sample_seed : size and seed of the synthetic sample.
    """

    kind: Literal["sample", "devnet", "rpc", "snapshot"] = "sample"
    path: str | None = None
    block: BlockSpec = "latest"
    sample_positions: int = Field(default=600, ge=1, le=2_000_000)
    sample_seed: int = 7

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
        for d in self.grid():
            _finite(d, "drawdown")
            if d >= 1:
                raise ValueError(f"drawdown {d} must be < 1 (1 = price to zero)")
            if d <= -10:
                raise ValueError(f"drawdown {d} is a rally of more than 1000%")
        if not self.grid():
            raise ValueError("the drawdown grid is empty")
        if len(self.grid()) > 10_000:
            raise ValueError("the drawdown grid has more than 10,000 points")
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
    horizon_hours: float = Field(default=24.0, gt=0)
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
    seed: int | None = 7
    drift_annual: float = 0.0
    dof: float = Field(default=4.0, gt=2, description="Student-t degrees of freedom")
    jump_intensity_per_day: float = Field(default=0.1, ge=0)
    jump_mean_log: float = -0.08
    jump_std_log: float = Field(default=0.05, ge=0)

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
    daily_volatility: float | None = Field(default=None, ge=0)
    daily_volume_usd: float | None = Field(default=None, gt=0)
    y: float = Field(default=1.0, gt=0)


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


AssetLiquidity = Annotated[
    Union[ConstantDepthSpec, SquareRootSpec, TableSpec, NoImpactSpec], Field(discriminator="model")]


class LiquiditySpec(_Model):
    """Impact model per asset. ``model`` is used for every asset not listed in ``assets``, with
    :mod:`risk.liquidity`'s default parameters."""

    model: Literal["constant_depth", "sqrt", "none"] = "constant_depth"
    assets: dict[str, AssetLiquidity] = Field(default_factory=dict)


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


_TAGS = {"grid", "path", "monte_carlo", "constant_depth", "sqrt", "table", "none"}


# -------------------------------------------------------------------------------- loading


def format_validation_error(error: ValidationError, where: str) -> str:
    """One readable message: ``where: field.path: what was expected (got ...)`` per problem."""
    lines = []
    for item in error.errors():
        loc = [str(p) for p in item.get("loc", ())]
        # Drop discriminator tags pydantic puts into the path (shock.grid.drawdowns -> shock.drawdowns).
        loc = [p for i, p in enumerate(loc) if not (p in _TAGS and i > 0)]
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


def load_scenario(path: str | Path) -> ScenarioFile:
    """Read and validate one TOML scenario file; raises :class:`ScenarioError` naming the file."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(f"{path}: scenario file not found") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return ScenarioFile(path, parse_scenario(data, str(path)))


# --------------------------------------------------------------------------- source loading


CACHE_DIR_ENV = "LIQRISK_CACHE_DIR"


def cache_dir() -> Path:
    from chain.anvil import PROJECT_ROOT

    return Path(os.environ.get(CACHE_DIR_ENV, PROJECT_ROOT / ".liqrisk-cache"))


@dataclass(frozen=True)
class LoadedSnapshot:
    """A snapshot and how it was obtained (``description`` is safe to print: URLs are masked)."""

    snapshot: "Snapshot"
    kind: str
    description: str

    @property
    def block_line(self) -> str:
        s = self.snapshot
        tag = " — SYNTHETIC sample, not chain data" if s.synthetic else ""
        return f"block {s.block_number:,} (chain {s.chain_id}, {self.description}){tag}"


MAINNET_CHAIN_ID = 1


def mainnet_sources() -> dict[str, Any]:
    """Ethereum mainnet venues scanned by ``--source rpc`` (addresses and deployment blocks from
    the project's protocol reference: Aave V3 Core, Prime and EtherFi, SparkLend, Morpho Blue,
    Compound V3 cUSDCv3). Prime's and EtherFi's deployment blocks are not in the reference: their
    scans start at Core's (earlier is safe, only slower on the first run). cWETHv3 is left out: its
    feeds are ETH-denominated, not USD."""
    from chain.scan import AaveSource, CometSource, MorphoSource

    return {
        "aave_pools": [
            AaveSource("0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e", "aave-core", "Aave V3 Core", 16291127),
            AaveSource("0xcfBf336fe147D643B9Cb705648500e101504B16d", "aave-prime", "Aave V3 Prime", 16291127),
            AaveSource("0xeBa440B438Ad808101d1c451C1C5322c90BEFCdA", "aave-etherfi", "Aave V3 EtherFi", 16291127),
            AaveSource("0x02C3eA4e34C0cBd694D2adFa2c690EECbC1793eE", "spark", "SparkLend", 16776401),
        ],
        "morpho": MorphoSource("0xBBBBBbbBBb9cC5e90e3b3Af64bdAF62C37EEFFCb", start_block=18883124),
        "comets": [CometSource("0xc3d688B66703497DAA19211EEdff47f25384cdc3", "comet-usdc", "Compound V3 USDC", 15331586)],
    }


def load_source(
    source: SourceSpec,
    *,
    rpc_url: str | None = None,
    block: BlockSpec | None = None,
    base_dir: Path | None = None,
) -> LoadedSnapshot:
    """Read positions as ``source`` says (``block`` overrides ``source.block``).

    Every failure a user can fix (no devnet, RPC unreachable, missing file, bad JSON) becomes a
    :class:`LiqriskUserError` with the masked URL or the path in the message.
    """
    from pydantic import ValidationError as _VE

    block = source.block if block is None else block
    if source.kind == "sample":
        from risk.sample import sample_snapshot

        snap = sample_snapshot(source.sample_positions, seed=source.sample_seed)
        return LoadedSnapshot(snap, "sample", f"synthetic sample, seed {source.sample_seed}")
    if source.kind == "snapshot":
        from risk.snapshot import Snapshot

        path = Path(source.path or "")
        if base_dir is not None and not path.is_absolute() and not path.exists():
            path = base_dir / path
        try:
            snap = Snapshot.load(path)
        except FileNotFoundError:
            raise LiqriskUserError(f"snapshot file not found: {path}") from None
        except _VE as exc:
            raise LiqriskUserError(format_validation_error(exc, f"{path}: not a valid liqrisk snapshot")) from None
        return LoadedSnapshot(snap, "snapshot", f"snapshot file {path}")
    from chain.transport import RpcError

    if source.kind == "devnet":
        from chain.devnet import DevnetError, load_deployment
        from chain.devnet.core import devnet_status
        from chain.scan import scan_devnet

        status = devnet_status()
        if not status["running"]:
            raise LiqriskUserError("no devnet is running: start one with `liqrisk devnet up` "
                                   f"(state file {status['state_path']})")
        try:
            deployment = load_deployment()
            snap = scan_devnet(deployment, block)
        except (RpcError, DevnetError) as exc:
            raise LiqriskUserError(f"devnet scan failed: {exc}") from None
        return LoadedSnapshot(snap, "devnet", f"devnet {snap.source}")
    # rpc
    from chain.cache import CachingTransport
    from chain.scan import scan_snapshot
    from chain.transport import HttpTransport, url_from_env_or_arg

    try:
        url = url_from_env_or_arg(rpc_url)
    except ValueError as exc:
        raise LiqriskUserError(str(exc)) from None
    root = cache_dir()
    try:
        with HttpTransport(url) as http:
            if http.chain_id != MAINNET_CHAIN_ID:
                raise LiqriskUserError(f"{http.masked_url} is chain {http.chain_id}; --source rpc reads the "
                                       f"Ethereum mainnet venues (chain 1)")
            cached = CachingTransport(http, root / "rpc-cache.sqlite")
            snap = scan_snapshot(cached, block=block, accounts_index=root / "accounts.sqlite", **mainnet_sources())
            return LoadedSnapshot(snap, "rpc", f"rpc {http.masked_url}")
    except RpcError as exc:
        raise LiqriskUserError(f"RPC scan failed: {exc}") from None


# ----------------------------------------------------------------------------------- running


@dataclass(frozen=True)
class PerAssetLiquidity:
    """Liquidity model mixing models per asset: column ``j`` of the impact comes from ``models[j]``.

    Satisfies :class:`risk.liquidity.LiquidityModel`; ``net_sell_usd`` shape (..., n_assets).
    """

    models: tuple["LiquidityModel", ...]
    columns: tuple[tuple[int, ...], ...]
    description: tuple[tuple[str, str], ...] = ()

    def impact(self, net_sell_usd):  # noqa: ANN001 - numpy array in, numpy array out
        import numpy as np

        q = np.asarray(net_sell_usd, dtype=np.float64)
        out = np.zeros_like(q)
        for model, cols in zip(self.models, self.columns):
            idx = list(cols)
            out[..., idx] = model.impact(q)[..., idx]
        return out


def build_liquidity(spec: LiquiditySpec, symbols: Sequence[str]) -> PerAssetLiquidity:
    """Impact model over ``symbols`` (book order) from a :class:`LiquiditySpec`.

    Assets sharing a model kind are grouped into one vectorized model (one ConstantDepth with a
    depth per asset, one SquareRootImpact per ``y``); each table is its own model.
    """
    import numpy as np

    from risk import liquidity as lq

    n = len(symbols)
    depth = np.full(n, np.inf)  # inf depth = no impact on columns outside the group
    depth_cols: list[int] = []
    sqrt_groups: dict[float, tuple[list[int], np.ndarray, np.ndarray]] = {}
    models: list[Any] = []
    columns: list[tuple[int, ...]] = []
    described: list[tuple[str, str]] = []
    for j, symbol in enumerate(symbols):
        asset = spec.assets.get(symbol)
        kind = asset.model if asset is not None else spec.model
        if kind == "none":
            described.append((symbol, "no impact"))
        elif kind == "constant_depth":
            d = getattr(asset, "depth_usd_per_pct", None) or lq.DEFAULT_DEPTH_USD_PER_PCT.get(
                symbol, lq.FALLBACK_DEPTH_USD_PER_PCT)
            depth[j] = d
            depth_cols.append(j)
            described.append((symbol, f"constant depth: ${_human(d)} moves the price 1%"))
        elif kind == "sqrt":
            vol = getattr(asset, "daily_volatility", None)
            vol = lq.DEFAULT_DAILY_VOLATILITY.get(symbol, 0.05) if vol is None else vol
            volume = getattr(asset, "daily_volume_usd", None) or lq.DEFAULT_DAILY_VOLUME_USD.get(symbol, 0.05e9)
            y = float(getattr(asset, "y", 1.0))
            cols, vols, volumes = sqrt_groups.setdefault(y, ([], np.zeros(n), np.ones(n)))
            cols.append(j)
            vols[j], volumes[j] = vol, volume
            described.append((symbol, f"square root: Y={y:g}, daily vol {vol:.1%}, daily volume ${_human(volume)}"))
        else:
            assert isinstance(asset, TableSpec)
            sizes = np.array(asset.sizes_usd, dtype=np.float64)
            impacts = np.repeat(np.array(asset.impacts, dtype=np.float64)[:, None], n, axis=1)
            models.append(lq.ImpactTable(sizes, impacts))
            columns.append((j,))
            described.append((symbol, f"impact table, {len(sizes)} points up to ${_human(sizes[-1])}"))
    if depth_cols:
        models.append(lq.ConstantDepth(depth))
        columns.append(tuple(depth_cols))
    for y, (cols, vols, volumes) in sqrt_groups.items():
        models.append(lq.SquareRootImpact(vols, volumes, y))
        columns.append(tuple(cols))
    return PerAssetLiquidity(tuple(models), tuple(columns), tuple(described))


@dataclass(frozen=True, eq=False)
class PathRun:
    """A replayed path: exogenous prices and the liquidations along it.

    hours : shape (n_steps,); prices_usd : shape (1, n_steps, n_assets), USD per unit (exogenous)
    """

    hours: "np.ndarray"
    prices_usd: "np.ndarray"
    result: "MonteCarloResult"


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
) -> ScenarioResult:
    """Run ``scenario`` against ``book`` (pure computation). ``seed`` overrides the file's seed."""
    from risk.bands import liquidation_bands
    from risk.cascade import cascade_grid

    where = where or scenario.name
    notes: list[str] = []
    _check_driver(book, scenario.driver.asset, where)
    betas = _known(book, scenario.driver.betas, "betas", notes)
    _known(book, scenario.liquidity.assets, "liquidity settings", notes)
    liquidity = build_liquidity(scenario.liquidity, book.symbols)
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
                             seed=shock.seed if seed is None else seed, progress=progress, notes=notes)
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
    chunk_paths: int = 250,
) -> MonteCarloRun:
    """Draw paths and simulate them in chunks (for progress); paths are independent, so the
    result equals one call over all paths."""
    import numpy as np

    from risk import liquidity as lq
    from risk import paths as rp

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
    common = dict(drift_annual=shock.drift_annual, seed=seed)
    args = (book.prices_usd, vol_vec, corr, shock.horizon_days, shock.steps, shock.paths)
    if shock.model == "gbm":
        paths = rp.gbm_paths(*args, **common)
    elif shock.model == "student_t":
        paths = rp.student_t_paths(*args, dof=shock.dof, **common)
    else:
        paths = rp.merton_jump_paths(*args, jump_intensity_per_day=shock.jump_intensity_per_day,
                                     jump_mean_log=shock.jump_mean_log, jump_std_log=shock.jump_std_log, **common)
    from risk.montecarlo import driver_cross_impact

    result = simulate_in_chunks(book, paths, liquidity, progress=progress, chunk_paths=chunk_paths,
                                cross_impact=driver_cross_impact(book, driver, betas))
    return MonteCarloRun(shock.model, shock.horizon_days, shock.steps, seed, vol, corr, result)


def simulate_in_chunks(book: "PositionBook", paths: "np.ndarray", liquidity: "LiquidityModel", *,
                       progress: ProgressCallback | None = None, chunk_paths: int = 250,
                       cross_impact: "np.ndarray | None" = None) -> "MonteCarloResult":
    """:func:`risk.montecarlo.simulate_liquidations` with its ``progress`` callback per chunk of paths."""
    from risk.montecarlo import simulate_liquidations

    return simulate_liquidations(book, paths, liquidity=liquidity, cross_impact=cross_impact, chunk_paths=chunk_paths,
                                 progress=progress)


def _human(usd: float) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(usd) >= scale:
            return f"{usd / scale:,.1f}{unit}"
    return f"{usd:,.0f}"


__all__ = [
    "DriverSpec", "GridShock", "LiqriskUserError", "LiquiditySpec", "LoadedSnapshot", "MonteCarloRun",
    "MonteCarloShock", "OutputsSpec", "PathRun", "PathShock", "PerAssetLiquidity", "Scenario", "ScenarioError",
    "ScenarioFile", "ScenarioResult", "SourceSpec", "build_liquidity", "format_validation_error", "load_scenario",
    "load_source", "parse_scenario", "run_monte_carlo", "run_path", "run_scenario",
]
