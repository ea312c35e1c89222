"""Risk reports: one folder per run with report.json, report.md (PNG charts), and report.html
(interactive plotly charts, plotly.js inlined once, so the page works offline).

- :func:`compute_report` runs the analysis on a loaded snapshot (pure computation): liquidation
  bands of the driver, the positions view and its per-market breakdown, the cascade grid, a
  Monte Carlo (LaR / bad-debt VaR), any scenario files, and the alerts.
- :func:`report_document` turns the results into :class:`ReportDoc`, the pydantic model whose JSON
  schema is ``docs/report.schema.json`` (``python -m liqrisk.report --schema`` rewrites it).
- :func:`send_alerts` posts the alerts to the configured webhook; the *caller* does it (the CLI's
  report job), then hands the delivery to :func:`write_report` to be recorded.
- :func:`write_report` writes everything into a temporary folder next to the target and renames
  it into place, so a reader (or a crash) never sees half a report. It sends nothing.
- :func:`band_history` reads the bands of earlier runs through the run index (the heatmap).

USD amounts are valued at the prices where each liquidation happened (cascade / Monte Carlo) or at
spot (bands, snapshot totals). Fractions are plain (0.2 = 20%).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from liqrisk.alerts import Alert, AlertConfig, alert_payload, band_alerts, cascade_alerts, post_webhook, resolve_format
from risk.frames import finite_or_none, json_safe, usd as _usd
from chain.files import write_atomic
from liqrisk.errors import LiqriskUserError
from liqrisk.venues import build_sections, report_section, sections_schema, validate_sections
from liqrisk.run import ScenarioResult, run_scenario
from liqrisk.scenario import DriverSpec, GridShock, LiquiditySpec, MonteCarloShock, OutputsSpec, Scenario, ScenarioFile
from liqrisk.sources import LoadedSnapshot

if TYPE_CHECKING:
    from risk.bands import Band, BandReport
    from risk.cascade import CascadeTable
    from risk.montecarlo import RiskSummary
    from risk.positions import MarketBreakdown, PositionTable

    from liqrisk.charts import BandSnapshot
    from liqrisk.schedule import RunIndex

SCHEMA_VERSION = 2
"""2: per-market breakdown (``markets``) and the at-risk positions (``at_risk``)."""
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "report.schema.json"
DEFAULT_BETAS: dict[str, float] = {"wstETH": 1.0, "stETH": 1.0, "weETH": 1.0, "rETH": 1.0, "WBTC": 0.8, "cbBTC": 0.8}
"""Betas to an ETH driver used when none are given (an assumption, stated in every report)."""
DEFAULT_DRAWDOWNS: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 13))
SUMMARY_DRAWDOWNS: tuple[float, ...] = (0.10, 0.20, 0.30)
MARKET_WITHIN: tuple[float, ...] = (0.0, 0.10, 0.20, 0.30)
"""Driver moves (fractions) at which each market's debt near liquidation is reported."""
TOP_POSITIONS = 20
HISTORY_RUNS = 48
"""Earlier runs drawn in the band-history heatmap (newest kept)."""


# ------------------------------------------------------------------------------- JSON model


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceDoc(_Doc):
    kind: Literal["sample", "devnet", "rpc", "snapshot"]
    description: str = Field(description="where the positions came from; RPC URLs masked")
    synthetic: bool = Field(description="true for generated sample data (never chain data)")
    chain_id: int
    block_number: int = Field(description="the block every read was pinned to")
    block_timestamp: int = Field(description="unix seconds")
    block_time_utc: str


class MarketDoc(_Doc):
    id: str
    venue: str
    name: str
    positions: int


class AssetDoc(_Doc):
    symbol: str
    price_usd: float


class SkippedDoc(_Doc):
    venue: str
    market: str
    account: str | None = Field(default=None, description="set when one position was left out")
    asset: str | None = Field(default=None, description="token address at fault, when one is")
    reason: str


class SnapshotDoc(_Doc):
    positions: int
    markets: list[MarketDoc]
    assets: list[AssetDoc]
    collateral_usd: float = Field(description="all collateral, USD at spot")
    debt_usd: float = Field(description="all debt, USD at spot")
    skipped: list[SkippedDoc] = Field(default_factory=list,
                                      description="markets, reserves and positions the scan could not read, and why")


class BandDoc(_Doc):
    symbol: str
    side: Literal["long", "short"] = Field(description="long: liquidated when the price falls (below spot)")
    low_usd: float
    high_usd: float
    peak_usd: float
    collateral_usd: float
    debt_usd: float
    positions: int
    share_of_side: float
    distance_from_spot: float = Field(description="(band middle - spot) / spot")
    by_venue: dict[str, float] = Field(description="collateral USD per venue (liquidation rule)")
    by_market: dict[str, float] = Field(default_factory=dict, description="collateral USD per market id")


class BandsDoc(_Doc):
    symbol: str
    spot_usd: float
    bands: list[BandDoc] = Field(description="largest first")
    liquidatable_now_collateral_usd: float
    liquidatable_now_debt_usd: float
    liquidatable_now_positions: int
    outside_grid_collateral_usd: float


class CascadeRowDoc(_Doc):
    initial_drawdown: float
    final_drawdown: float
    amplification: float | None = Field(description="final / initial drawdown; null at 0")
    rounds: int
    liquidated_debt_usd: float
    seized_collateral_usd: float
    bad_debt_usd: float
    positions_hit: int


class CascadeMarketDoc(_Doc):
    market_id: str
    rule: str = Field(description="the market's liquidation rule (venue)")
    liquidated_debt_usd: list[float] = Field(description="per row of `rows` (same drawdowns)")
    seized_collateral_usd: list[float]
    bad_debt_usd: list[float]
    positions_hit: list[int]


class CascadeDoc(_Doc):
    driver: str
    betas: dict[str, float]
    rows: list[CascadeRowDoc]
    by_market: list[CascadeMarketDoc] = Field(
        default_factory=list, description="the rows split per market (markets with positions, book order); "
                                          "liquidated and bad debt add up to the rows' totals")


class RiskSummaryDoc(_Doc):
    n_paths: int
    mean_liquidated_usd: float
    lar_95_usd: float = Field(description="95% quantile of debt liquidated per path")
    lar_99_usd: float
    mean_bad_debt_usd: float
    bad_debt_var_95_usd: float
    bad_debt_var_99_usd: float
    mean_seized_collateral_usd: float
    mean_positions_hit: float
    prob_any_liquidation: float


class MarketMonteCarloDoc(_Doc):
    market_id: str
    rule: str
    mean_liquidated_usd: float
    lar_95_usd: float = Field(description="95% quantile of this market's debt liquidated per path")
    lar_99_usd: float
    mean_bad_debt_usd: float
    bad_debt_var_95_usd: float
    bad_debt_var_99_usd: float
    mean_seized_collateral_usd: float
    prob_any_liquidation: float


class MonteCarloDoc(_Doc):
    model: Literal["gbm", "student_t", "merton"]
    horizon_days: float
    steps: int
    paths: int
    seed: int | None
    vol_annual: dict[str, float]
    endogenous: RiskSummaryDoc = Field(description="with the cascade's own price impact")
    exogenous: RiskSummaryDoc | None = Field(description="same paths without impact")
    amplification: dict[str, float | None]
    by_market: list[MarketMonteCarloDoc] = Field(
        default_factory=list, description="each market's own LaR / bad-debt VaR, with impact (quantiles do not add up)")


class PathDoc(_Doc):
    horizon_hours: float
    steps: int
    endogenous: RiskSummaryDoc
    exogenous: RiskSummaryDoc | None
    max_drawdown: dict[str, float] = Field(description="largest peak-to-trough fall per asset, with impact")
    final_impact: dict[str, float]
    hours: list[float] | None = None
    prices_usd: dict[str, list[float]] | None = Field(default=None, description="exogenous path per asset")


class ScenarioDoc(_Doc):
    name: str
    file: str | None
    kind: Literal["grid", "path", "monte_carlo"]
    description: str
    references: list[str]
    driver: str
    betas: dict[str, float]
    liquidity: dict[str, str]
    notes: list[str]
    bands: BandsDoc | None
    cascade: CascadeDoc | None
    path: PathDoc | None
    monte_carlo: MonteCarloDoc | None
    charts: dict[str, str]


class AlertDoc(_Doc):
    kind: Literal["band_proximity", "cascade"]
    severity: Literal["warning", "critical"]
    message: str
    details: dict[str, float | str]


class AlertThresholdsDoc(_Doc):
    band_within: float
    band_min_usd: float
    drawdown: float
    cascade_usd: float


class WebhookDoc(_Doc):
    url: str = Field(description="masked")
    format: Literal["plain", "slack"] = Field(description="payload shape posted")
    delivered: bool
    status: int | None
    error: str | None


class PositionDoc(_Doc):
    account: str
    market_id: str
    venue: str
    health_factor: float | None = Field(description="at spot; null without debt")
    collateral_usd: float
    debt_usd: float
    main_collateral: str
    main_debt: str
    side: Literal["now", "long", "short", "never"] = Field(
        description="under the driver move with betas: now = liquidatable, long = on a fall, short = on a rise")
    move_to_liquidation: float | None = Field(description="signed driver return at which HF reaches 1; null for never")
    driver_price_at_liquidation_usd: float | None


class AtRiskDoc(_Doc):
    within: float = Field(description="driver move (fraction) that defines 'at risk': the alert drawdown")
    positions: int = Field(description="positions liquidated by a driver move of at most `within`")
    debt_usd: float
    collateral_usd: float
    top: list[PositionDoc] = Field(description="the largest at-risk positions by debt, at most 20")


class MarketRiskDoc(_Doc):
    market_id: str
    venue: str
    positions: int = Field(description="positions with debt")
    collateral_usd: float
    debt_usd: float
    min_health_factor: float | None
    debt_within_usd: dict[str, float] = Field(description="debt liquidated by a driver move of at most the key ('0%' = now)")


class SummaryDoc(_Doc):
    biggest_band: BandDoc | None
    cascade: dict[str, CascadeRowDoc] = Field(description="rows at the summary drawdowns, keyed '10%', '20%', ...")
    lar_99_usd: float | None
    bad_debt_var_99_usd: float | None


class ReportDoc(_Doc):
    """report.json (schema ``docs/report.schema.json``)."""

    schema_version: Literal[2]
    run_id: str
    generated_at: str = Field(description="ISO 8601 UTC")
    liqrisk_version: str
    source: SourceDoc
    snapshot: SnapshotDoc
    driver: str
    betas: dict[str, float]
    liquidity: dict[str, str]
    summary: SummaryDoc
    bands: BandsDoc
    markets: list[MarketRiskDoc] = Field(description="per market, book order")
    at_risk: AtRiskDoc
    cascade: CascadeDoc
    monte_carlo: MonteCarloDoc | None
    scenarios: list[ScenarioDoc]
    alerts: list[AlertDoc]
    alert_thresholds: AlertThresholdsDoc
    webhook: WebhookDoc | None
    charts: dict[str, str] = Field(description="chart name -> PNG file in the run folder (report.html draws its own)")
    warnings: list[str]
    venue_sections: dict[str, Any] = Field(
        default_factory=dict, description="sections venue plugins contribute (liqrisk.venues), by key")

    @field_validator("venue_sections", mode="before")
    @classmethod
    def _section_documents(cls, raw: Any) -> dict[str, Any]:
        return dict(validate_sections(raw))


def report_schema() -> dict[str, Any]:
    schema = ReportDoc.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://liqrisk.invalid/report.schema.json"
    sections_schema(schema)
    return schema


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    write_atomic(path, json.dumps(report_schema(), indent=2) + "\n")
    return path


# ----------------------------------------------------------------------------- computation


@dataclass(frozen=True)
class ReportConfig:
    """What a report computes. ``monte_carlo`` None skips the Monte Carlo."""

    driver: str = "WETH"
    betas: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_BETAS))
    drawdowns: tuple[float, ...] = DEFAULT_DRAWDOWNS
    liquidity: LiquiditySpec = field(default_factory=LiquiditySpec)
    monte_carlo: MonteCarloShock | None = field(
        default_factory=lambda: MonteCarloShock(kind="monte_carlo", model="student_t", horizon_days=1, steps=97,
                                                paths=1000, seed=7))
    scenarios: tuple[ScenarioFile, ...] = ()
    alerts: AlertConfig = field(default_factory=AlertConfig)
    charts: bool = True
    seed: int | None = None


ProgressFn = Callable[[str, int, int], None]
"""``progress(task, done, total)``."""


@dataclass(frozen=True, eq=False)
class ReportResult:
    loaded: LoadedSnapshot
    config: ReportConfig
    bands: "BandReport"
    core: ScenarioResult
    monte_carlo: ScenarioResult | None
    scenarios: tuple[ScenarioResult, ...]
    alerts: tuple[Alert, ...]
    warnings: tuple[str, ...]
    positions: "PositionTable"
    """borrowers under the driver move with the report's betas (closest to liquidation first)"""
    markets: "MarketBreakdown"


def compute_report(loaded: LoadedSnapshot, config: ReportConfig, *, progress: ProgressFn | None = None,
                   runner: Any = None) -> ReportResult:
    """Bands, cascade grid, Monte Carlo, scenarios and alerts for one snapshot.

    ``runner`` (:mod:`liqrisk.scaleout`; default this process): where the Monte Carlo's chunks and
    the scenario files run -- on a Dask cluster they are tasks; the report is the same either way."""
    from risk.bands import liquidation_bands
    from risk.book import PositionBook

    book = PositionBook.from_snapshot(loaded.snapshot)
    if not book.n_positions:
        raise LiqriskUserError(f"the snapshot at {loaded.block_line} has no positions to analyse")
    if config.driver not in book.symbols:
        raise LiqriskUserError(f"driver asset {config.driver!r} is not in the snapshot (it has {', '.join(book.symbols)})")
    warnings: list[str] = []
    if loaded.snapshot.synthetic:
        warnings.append("SYNTHETIC sample data, not chain data")
    betas = dict(config.betas)
    if betas == DEFAULT_BETAS:  # the stated defaults cover assets a given snapshot may not list
        betas = {k: v for k, v in betas.items() if k in book.symbols}
    driver = DriverSpec(asset=config.driver, betas=betas)
    grid = sorted(set(config.drawdowns) | set(SUMMARY_DRAWDOWNS) | {round(config.alerts.drawdown, 6)})
    core_scenario = Scenario(name=f"{config.driver} drawdown grid", driver=driver,
                             shock=GridShock(kind="grid", drawdowns=grid), liquidity=config.liquidity,
                             outputs=OutputsSpec(bands=False))
    pools = loaded.snapshot.pools  # Uniswap v3 pools at the block, for the on-chain liquidity model
    core = run_scenario(core_scenario, book, pools=pools)
    warnings += [f"{core.name}: {n}" for n in core.notes]
    bands = liquidation_bands(book, config.driver)
    mc = None
    if config.monte_carlo is not None:
        mc_scenario = Scenario(name="Monte Carlo", driver=driver, shock=config.monte_carlo, liquidity=config.liquidity,
                               outputs=OutputsSpec(bands=False))
        mc = run_scenario(mc_scenario, book, seed=config.seed,
                          progress=(lambda d, t: progress("Monte Carlo", d, t)) if progress else None, pools=pools,
                          runner=runner)
    from liqrisk.scaleout import InProcess, run_scenarios

    jobs = [(sf.scenario, book, dict(seed=config.seed, where=str(sf.path), pools=pools)) for sf in config.scenarios]

    def scenario_progress(i: int, _: object = None) -> Callable[[int, int], None] | None:
        name = config.scenarios[i].scenario.name
        return (lambda d, t: progress(name, d, t)) if progress else None

    swept = run_scenarios(jobs, runner or InProcess(), progress=scenario_progress)
    results = [dataclasses.replace(res, file=str(sf.path)) for sf, res in zip(config.scenarios, swept)]
    alerts = [*band_alerts(bands, config.alerts)]
    assert core.cascade is not None
    alerts += cascade_alerts(core.cascade, config.alerts)
    from risk.positions import market_breakdown, position_table

    known = {k: v for k, v in betas.items() if k in book.symbols}  # assets absent here are noted by the scenario run
    positions = position_table(book, config.driver, known).sorted_by_distance()
    markets = market_breakdown(positions, within=MARKET_WITHIN)
    return ReportResult(loaded, config, bands, core, mc, tuple(results), tuple(alerts), tuple(warnings), positions,
                        markets)


# ---------------------------------------------------------------------------- JSON document


_num = finite_or_none


# The documents are validated from the results' own plain forms (dataclass fields, ``at()`` rows,
# ``as_dict()``): one serialization per result type, the pydantic models only state the schema.


def band_doc(band: "Band") -> BandDoc:
    return BandDoc.model_validate(json_safe({**dataclasses.asdict(band), "by_venue": dict(band.by_venue),
                                             "by_market": dict(band.by_market)}))


def bands_doc(report: "BandReport") -> BandsDoc:
    m = report.map
    return BandsDoc(
        symbol=m.symbol, spot_usd=m.spot_usd, bands=[band_doc(b) for b in report.bands],
        liquidatable_now_collateral_usd=m.now_collateral_usd, liquidatable_now_debt_usd=m.now_debt_usd,
        liquidatable_now_positions=m.now_positions, outside_grid_collateral_usd=m.outside_collateral_usd,
    )


def cascade_row(table: "CascadeTable", i: int) -> CascadeRowDoc:
    return CascadeRowDoc.model_validate(json_safe(table.at(float(table.initial_drawdown[i]))))


def cascade_doc(table: "CascadeTable") -> CascadeDoc:
    betas = {s: float(b) for s, b in zip(table.symbols, table.betas) if b != 0}
    by_market = []
    if table.liquidated_debt_by_market_usd.shape == (len(table), len(table.market_ids)):
        by_market = [CascadeMarketDoc(market_id=m, rule=table.market_rules[k],
                                      liquidated_debt_usd=table.liquidated_debt_by_market_usd[:, k].tolist(),
                                      seized_collateral_usd=table.seized_by_market_usd[:, k].tolist(),
                                      bad_debt_usd=table.bad_debt_by_market_usd[:, k].tolist(),
                                      positions_hit=table.positions_hit_by_market[:, k].tolist())
                     for k, m in enumerate(table.market_ids) if table.market_rules[k]]
    return CascadeDoc(driver=table.driver, betas=betas, rows=[cascade_row(table, i) for i in range(len(table))],
                      by_market=by_market)


def summary_doc(summary: "RiskSummary") -> RiskSummaryDoc:
    return RiskSummaryDoc.model_validate(json_safe(summary.as_dict()))


def monte_carlo_doc(result: ScenarioResult) -> MonteCarloDoc:
    run = result.monte_carlo
    assert run is not None
    r = run.result
    return MonteCarloDoc(
        model=run.model, horizon_days=run.horizon_days, steps=run.steps, paths=r.n_paths, seed=run.seed,
        vol_annual=run.vol_annual, endogenous=summary_doc(r.endogenous_summary),
        exogenous=summary_doc(r.exogenous_summary) if r.exogenous_summary is not None else None,
        amplification={k: _num(v) for k, v in r.amplification.items()},
        by_market=[MarketMonteCarloDoc.model_validate(json_safe(s.as_dict())) for s in r.by_market() if s.rule],
    )


def path_doc(result: ScenarioResult) -> PathDoc:
    run = result.path
    assert run is not None
    r = run.result
    symbols = r.symbols
    detail = result.outputs.path_detail
    return PathDoc(
        horizon_hours=float(run.hours[-1]), steps=int(run.hours.size),
        endogenous=summary_doc(r.endogenous_summary),
        exogenous=summary_doc(r.exogenous_summary) if r.exogenous_summary is not None else None,
        max_drawdown={s: float(v) for s, v in zip(symbols, r.endogenous.max_drawdown[0])},
        final_impact={s: float(v) for s, v in zip(symbols, r.endogenous.final_impact[0])},
        hours=[float(h) for h in run.hours] if detail else None,
        prices_usd={s: run.prices_usd[0, :, j].astype(float).tolist() for j, s in enumerate(symbols)} if detail else None,
    )


def scenario_doc(result: ScenarioResult, charts: dict[str, str]) -> ScenarioDoc:
    return ScenarioDoc(
        name=result.name, file=result.file, kind=result.kind, description=result.description,  # type: ignore[arg-type]
        references=list(result.references), driver=result.driver, betas=dict(result.betas),
        liquidity=dict(result.liquidity), notes=list(result.notes),
        bands=bands_doc(result.bands) if result.bands is not None else None,
        cascade=cascade_doc(result.cascade) if result.cascade is not None else None,
        path=path_doc(result) if result.path is not None else None,
        monte_carlo=monte_carlo_doc(result) if result.monte_carlo is not None else None,
        charts=charts,
    )


def snapshot_doc(loaded: LoadedSnapshot) -> SnapshotDoc:
    from risk.book import PositionBook

    snap = loaded.snapshot
    book = PositionBook.from_snapshot(snap)
    counts: dict[str, int] = {}
    for p in snap.positions:
        counts[p.market] = counts.get(p.market, 0) + 1
    return SnapshotDoc(
        positions=len(snap.positions),
        markets=[MarketDoc(id=m.id, venue=m.venue, name=m.name, positions=counts.get(m.id, 0)) for m in snap.markets],
        assets=[AssetDoc(symbol=a.symbol, price_usd=a.price_usd) for a in snap.assets],
        collateral_usd=float(book.collateral_usd().sum()), debt_usd=float(book.debt_usd().sum()),
        skipped=[SkippedDoc(venue=k.venue, market=k.market, account=k.account, asset=k.asset, reason=k.reason)
                 for k in snap.skipped],
    )


def source_doc(loaded: LoadedSnapshot) -> SourceDoc:
    s = loaded.snapshot
    when = datetime.fromtimestamp(s.block_timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return SourceDoc(kind=loaded.kind, description=loaded.description, synthetic=s.synthetic,  # type: ignore[arg-type]
                     chain_id=s.chain_id, block_number=s.block_number, block_timestamp=s.block_timestamp,
                     block_time_utc=when)


def pct_key(d: float) -> str:
    return f"{d:.0%}"


def markets_doc(breakdown: "MarketBreakdown") -> list[MarketRiskDoc]:
    return [MarketRiskDoc(market_id=str(breakdown.market_id[i]), venue=str(breakdown.venue[i]),
                          positions=int(breakdown.positions[i]), collateral_usd=float(breakdown.collateral_usd[i]),
                          debt_usd=float(breakdown.debt_usd[i]), min_health_factor=_num(breakdown.min_health_factor[i]),
                          debt_within_usd={pct_key(w): float(breakdown.debt_within_usd[i, k])
                                           for k, w in enumerate(breakdown.within)})
            for i in range(len(breakdown))]


def position_doc(table: "PositionTable", i: int) -> PositionDoc:
    return PositionDoc(
        account=str(table.account[i]), market_id=str(table.market_id[i]), venue=str(table.venue[i]),
        health_factor=_num(table.health_factor[i]), collateral_usd=float(table.collateral_usd[i]),
        debt_usd=float(table.debt_usd[i]), main_collateral=str(table.main_collateral[i]), main_debt=str(table.main_debt[i]),
        side=str(table.side[i]),  # type: ignore[arg-type]
        move_to_liquidation=_num(table.move_to_liquidation[i]),
        driver_price_at_liquidation_usd=_num(table.driver_price_at_liquidation_usd[i]),
    )


def at_risk_table(positions: "PositionTable", within: float, top: int = TOP_POSITIONS) -> "PositionTable":
    """Positions a driver move of at most ``within`` liquidates, largest debt first, at most ``top``."""
    import numpy as np

    near = positions.take(np.flatnonzero(positions.distance <= within))
    return near.take(np.argsort(-near.debt_usd, kind="stable")[:top])


def at_risk_doc(positions: "PositionTable", within: float) -> AtRiskDoc:
    import numpy as np

    near = positions.distance <= within
    top = at_risk_table(positions, within)
    return AtRiskDoc(within=within, positions=int(near.sum()), debt_usd=float(positions.debt_usd[near].sum()),
                     collateral_usd=float(positions.collateral_usd[near].sum()),
                     top=[position_doc(top, i) for i in range(len(top))])


def report_document(result: ReportResult, run_id: str, charts: dict[str, dict[str, str]] | None = None,
                    webhook: WebhookDoc | None = None, generated_at: datetime | None = None) -> ReportDoc:
    """The report.json model. ``charts``: ``{"": {name: file}, scenario_index: {...}}``."""
    import numpy as np

    charts = charts or {}
    table = result.core.cascade
    assert table is not None
    cascade_at = {}
    for d in SUMMARY_DRAWDOWNS:
        i = int(np.argmin(np.abs(table.initial_drawdown - d)))
        cascade_at[pct_key(d)] = cascade_row(table, i)
    mc = result.monte_carlo.monte_carlo if result.monte_carlo is not None else None
    biggest = result.bands.largest()
    cfg = result.config.alerts
    return ReportDoc(
        schema_version=SCHEMA_VERSION, run_id=run_id,
        generated_at=(generated_at or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        liqrisk_version=_version(), source=source_doc(result.loaded), snapshot=snapshot_doc(result.loaded),
        driver=result.config.driver, betas=dict(result.core.betas), liquidity=dict(result.core.liquidity),
        summary=SummaryDoc(
            biggest_band=band_doc(biggest) if biggest is not None else None, cascade=cascade_at,
            lar_99_usd=mc.result.endogenous_summary.lar_99_usd if mc is not None else None,
            bad_debt_var_99_usd=mc.result.endogenous_summary.bad_debt_var_99_usd if mc is not None else None,
        ),
        bands=bands_doc(result.bands), markets=markets_doc(result.markets),
        at_risk=at_risk_doc(result.positions, cfg.drawdown), cascade=cascade_doc(table),
        monte_carlo=monte_carlo_doc(result.monte_carlo) if result.monte_carlo is not None else None,
        scenarios=[scenario_doc(s, charts.get(str(k), {})) for k, s in enumerate(result.scenarios)],
        alerts=[AlertDoc(**a.as_dict()) for a in result.alerts],
        alert_thresholds=AlertThresholdsDoc(band_within=cfg.band_within, band_min_usd=cfg.band_min_usd,
                                            drawdown=cfg.drawdown, cascade_usd=cfg.cascade_usd),
        webhook=webhook, charts=charts.get("", {}), warnings=list(result.warnings),
        venue_sections=build_sections(result),
    )


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("liqrisk")
    except Exception:  # noqa: BLE001 - running from a checkout without metadata
        return "0+unknown"


# ----------------------------------------------------------------------------- rendering


def market_names(result: ReportResult) -> dict[str, str]:
    """Market id -> display name (the snapshot's ``Market.name``), for chart series."""
    return {m.id: m.name for m in result.loaded.snapshot.markets}


def render_charts(result: ReportResult, folder: Path) -> dict[str, dict[str, str]]:
    """Write the PNGs into ``folder``; returns ``{"": {...}, "<scenario index>": {...}}``."""
    from liqrisk import charts

    sub = result.loaded.block_line
    names = market_names(result)
    out: dict[str, dict[str, str]] = {"": {}}
    charts.liquidation_map_png(result.bands, folder / "liquidation_map.png", subtitle=sub, market_names=names)
    out[""]["liquidation_map"] = "liquidation_map.png"
    assert result.core.cascade is not None
    liq = _liquidity_line(result.core.liquidity)
    charts.cascade_png(result.core.cascade, folder / "cascade.png", subtitle=f"{sub}; liquidity: {liq}")
    out[""]["cascade"] = "cascade.png"
    charts.cascade_markets_png(result.core.cascade, folder / "cascade_markets.png", subtitle=f"{sub}; liquidity: {liq}",
                               market_names=names)
    out[""]["cascade_markets"] = "cascade_markets.png"
    if result.monte_carlo is not None and result.monte_carlo.monte_carlo is not None:
        charts.monte_carlo_png(result.monte_carlo.monte_carlo, folder / "monte_carlo.png", subtitle=sub)
        out[""]["monte_carlo"] = "monte_carlo.png"
        charts.monte_carlo_markets_png(result.monte_carlo.monte_carlo, folder / "monte_carlo_markets.png", subtitle=sub,
                                       market_names=names)
        out[""]["monte_carlo_markets"] = "monte_carlo_markets.png"
    for k, s in enumerate(result.scenarios):
        if not s.outputs.charts:
            continue
        files: dict[str, str] = {}
        stem = f"scenario_{k + 1:02d}"
        if s.cascade is not None:
            charts.cascade_png(s.cascade, folder / f"{stem}_cascade.png", subtitle=f"{s.name} — {sub}")
            files["cascade"] = f"{stem}_cascade.png"
        if s.path is not None:
            charts.path_png(s.path, s.path.result.symbols, s.driver, folder / f"{stem}_path.png", title=s.name, subtitle=sub)
            files["path"] = f"{stem}_path.png"
        if s.monte_carlo is not None:
            charts.monte_carlo_png(s.monte_carlo, folder / f"{stem}_monte_carlo.png", subtitle=f"{s.name} — {sub}")
            files["monte_carlo"] = f"{stem}_monte_carlo.png"
        if s.bands is not None and s.driver != result.config.driver:
            charts.liquidation_map_png(s.bands, folder / f"{stem}_liquidation_map.png", subtitle=f"{s.name} — {sub}")
            files["liquidation_map"] = f"{stem}_liquidation_map.png"
        out[str(k)] = files
    return out


def _liquidity_line(liquidity: Sequence[tuple[str, str]] | Mapping[str, str]) -> str:
    items = list(liquidity.items()) if isinstance(liquidity, Mapping) else list(liquidity)
    kinds = sorted({text.split(":")[0] for _, text in items})
    return ", ".join(kinds) if kinds else "none"


def render_figures(result: ReportResult, history: "Sequence[BandSnapshot]" = ()) -> dict[str, Any]:
    """The interactive charts of report.html: ``{chart key: plotly Figure}``; keys are the PNG
    stems (``liquidation_map``, ``scenario_01_path``, ...) plus ``cumulative``, ``market_split`` and
    ``band_history`` (``history``: earlier runs, oldest first; this run is appended)."""
    from liqrisk import charts

    sub = result.loaded.block_line
    names = market_names(result)
    out: dict[str, Any] = {
        "liquidation_map": charts.liquidation_map_figure(result.bands, subtitle=sub, market_names=names),
        "cumulative": charts.cumulative_figure(result.bands, subtitle=sub),
        "market_split": charts.market_split_figure(result.markets, driver=result.config.driver, subtitle=sub,
                                                   market_names=names),
        "band_history": charts.band_history_figure([*history, current_band_snapshot(result)],
                                                   symbol=result.config.driver),
    }
    assert result.core.cascade is not None
    liq = _liquidity_line(result.core.liquidity)
    out["cascade"] = charts.cascade_figure(result.core.cascade, subtitle=f"{sub}; liquidity: {liq}")
    out["cascade_markets"] = charts.cascade_markets_figure(result.core.cascade, subtitle=f"{sub}; liquidity: {liq}",
                                                           market_names=names)
    if result.monte_carlo is not None and result.monte_carlo.monte_carlo is not None:
        out["monte_carlo"] = charts.monte_carlo_figure(result.monte_carlo.monte_carlo, subtitle=sub)
        out["monte_carlo_markets"] = charts.monte_carlo_markets_figure(result.monte_carlo.monte_carlo, subtitle=sub,
                                                                       market_names=names)
    for k, s in enumerate(result.scenarios):
        stem = f"scenario_{k + 1:02d}"
        if s.cascade is not None:
            out[f"{stem}_cascade"] = charts.cascade_figure(s.cascade, subtitle=s.name)
        if s.path is not None:
            out[f"{stem}_path"] = charts.path_figure(s.path, s.path.result.symbols, s.driver, title=s.name, subtitle=sub)
        if s.monte_carlo is not None:
            out[f"{stem}_monte_carlo"] = charts.monte_carlo_figure(s.monte_carlo, subtitle=s.name)
        if s.bands is not None and s.driver != result.config.driver:
            out[f"{stem}_liquidation_map"] = charts.liquidation_map_figure(s.bands, subtitle=s.name)
    return out


def current_band_snapshot(result: ReportResult, label: str = "this run") -> "BandSnapshot":
    from liqrisk.charts import BandSnapshot

    return BandSnapshot(label, result.loaded.snapshot.block_number, result.bands.map.spot_usd,
                        tuple((b.low_usd, b.high_usd, b.collateral_usd) for b in result.bands.bands))


def band_history(index: "RunIndex", driver: str, *, limit: int = HISTORY_RUNS) -> list["BandSnapshot"]:
    """Bands of the last ``limit`` successful runs of ``driver`` in the run index, oldest first:
    every band from each run's report.json, or the index's biggest band when that file is gone."""
    from liqrisk.charts import BandSnapshot

    out: list[BandSnapshot] = []
    for run in index.runs(limit * 4):
        if run.status != "ok" or run.driver != driver or run.block_number is None:
            continue
        bands: tuple[tuple[float, float, float], ...] = ()
        spot = run.spot_usd
        try:
            doc = json.loads((Path(run.folder or "") / "report.json").read_text())
            bands = tuple((float(b["low_usd"]), float(b["high_usd"]), float(b["collateral_usd"]))
                          for b in doc["bands"]["bands"])
            spot = float(doc["bands"]["spot_usd"])
        except (OSError, ValueError, KeyError, TypeError):
            if run.band_low_usd is not None and run.band_high_usd is not None and run.band_collateral_usd is not None:
                bands = ((run.band_low_usd, run.band_high_usd, run.band_collateral_usd),)
        label = run.started_at.replace("T", " ").removesuffix("Z")
        out.append(BandSnapshot(label, int(run.block_number), spot, bands))
        if len(out) >= limit:
            break
    return out[::-1]


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _liquidity_rows(liquidity: Mapping[str, str]) -> list[list[str]]:
    """One row per asset: the model, and the pools it reads (addresses shortened: the full ones
    are in report.json) — as one paragraph, a few pools each made the section a wall of hex."""
    rows = []
    for symbol, text in liquidity.items():
        model, sep, pools = text.partition(": ")
        if not sep or not _ADDRESS.search(pools):
            model, pools = text, ""
        short = [_ADDRESS.sub(lambda m: f"{m.group()[:6]}…{m.group()[-4:]}", p.strip()) for p in pools.split(";")]
        rows.append([symbol, model, "; ".join(p for p in short if p) or "—"])
    return rows


@dataclass
class _Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)
    charts: list[tuple[str, str]] = field(default_factory=list)  # (chart key = PNG stem, alt text)
    level: int = 2
    anchor: str = ""


def _hf_text(v: float | None) -> str:
    return "∞" if v is None else f"{v:.3f}"


def _short_id(market_id: str, width: int = 28) -> str:
    """A market id that fits a table cell: ``morpho:0x49cc81…52ed`` (Morpho ids are 32-byte hashes)."""
    return market_id if len(market_id) <= width else f"{market_id[:width - 6]}…{market_id[-4:]}"


def _market_text(market_id: str, names: Mapping[str, str]) -> str:
    """The market's name (what a desk calls it), its id shortened after it when the two differ."""
    name = names.get(market_id)
    return f"{name} ({_short_id(market_id)})" if name and name != market_id else _short_id(market_id)


def _sections(doc: ReportDoc, figure_keys: Sequence[str] = ()) -> list[_Section]:
    s = doc.source
    out = []
    head = _Section("Summary", anchor="summary")
    head.paragraphs.append(
        f"Block **{s.block_number:,}** on chain {s.chain_id} ({s.block_time_utc}); source: {s.description}. "
        f"{doc.snapshot.positions:,} positions in {len(doc.snapshot.markets)} markets; collateral "
        f"{_usd(doc.snapshot.collateral_usd)}, debt {_usd(doc.snapshot.debt_usd)} (USD at spot).")
    for w in doc.warnings:
        head.paragraphs.append(f"**Warning:** {w}")
    if doc.snapshot.skipped:
        n_pos = sum(1 for k in doc.snapshot.skipped if k.account)
        head.paragraphs.append(f"**Left out of the snapshot:** {len(doc.snapshot.skipped) - n_pos} markets or reserves "
                               f"and {n_pos} positions could not be read exactly (see *Skipped*); everything else was read.")
    b = doc.summary.biggest_band
    if b is not None:
        head.paragraphs.append(
            f"Biggest {doc.driver} band: **${b.low_usd:,.0f}–${b.high_usd:,.0f}** ({b.side}), {_usd(b.collateral_usd)} of "
            f"collateral in {b.positions:,} positions, {abs(b.distance_from_spot):.1%} "
            f"{'below' if b.distance_from_spot < 0 else 'above'} spot ${doc.bands.spot_usd:,.2f}.")
    ar = doc.at_risk
    head.paragraphs.append(f"At risk: **{_usd(ar.debt_usd)}** of debt in {ar.positions:,} positions is liquidated by a "
                           f"{doc.driver} move of {ar.within:.0%} or less (betas applied).")
    rows = [[k, f"{r.final_drawdown:.1%}", _usd(r.liquidated_debt_usd), _usd(r.bad_debt_usd), f"{r.positions_hit:,}"]
            for k, r in doc.summary.cascade.items()]
    head.tables.append((["Initial drawdown", "Final drawdown", "Debt liquidated", "Bad debt", "Positions hit"], rows))
    if doc.summary.lar_99_usd is not None:
        head.paragraphs.append(f"Monte Carlo LaR 99%: **{_usd(doc.summary.lar_99_usd)}**; bad-debt VaR 99%: "
                               f"**{_usd(doc.summary.bad_debt_var_99_usd)}**.")
    out.append(head)
    if doc.snapshot.skipped:
        sk = _Section("Skipped", anchor="skipped")
        sk.paragraphs.append("Markets, reserves and positions the scan left out, and why (the protocol itself "
                             "cannot value or liquidate them, or their USD value is unknown).")
        sk.tables.append((["Venue", "Market", "Account", "Reason"],
                          [[k.venue, k.market, k.account or "—", k.reason] for k in doc.snapshot.skipped]))
        out.append(sk)
    al = _Section("Alerts", anchor="alerts")
    t = doc.alert_thresholds
    al.paragraphs.append(f"Rules: spot within {t.band_within:.1%} of a band holding ≥ {_usd(t.band_min_usd)}; a "
                         f"{t.drawdown:.0%} drawdown liquidating ≥ {_usd(t.cascade_usd)} of debt.")
    if doc.alerts:
        al.tables.append((["Severity", "Kind", "Message"], [[a.severity.upper(), a.kind, a.message] for a in doc.alerts]))
    else:
        al.paragraphs.append("No alert.")
    if doc.webhook is not None:
        al.paragraphs.append(f"Webhook {doc.webhook.url} ({doc.webhook.format}): " + (
            "delivered" if doc.webhook.delivered else f"FAILED ({doc.webhook.error})"))
    out.append(al)
    bs = _Section(f"{doc.driver} liquidation bands", anchor="bands")
    bs.paragraphs.append(f"Spot ${doc.bands.spot_usd:,.2f}. Liquidation prices move {doc.driver} alone (other prices at "
                         f"spot); collateral valued at spot.")
    market_names_by_id = {m.id: m.name for m in doc.snapshot.markets}
    bs.tables.append((["Side", "Range", "Collateral", "Debt", "Positions", "From spot", "Markets"], [
        [x.side, f"${x.low_usd:,.0f}–${x.high_usd:,.0f}", _usd(x.collateral_usd), _usd(x.debt_usd), f"{x.positions:,}",
         f"{x.distance_from_spot:+.1%}",
         ", ".join(f"{market_names_by_id.get(m, _short_id(m))} {_usd(u)}"
                   for m, u in sorted((x.by_market or x.by_venue).items(), key=lambda kv: -kv[1]))]
        for x in doc.bands.bands]))
    bs.charts += [("liquidation_map", "liquidation map"), ("cumulative", "liquidatable if the price reaches X")]
    out.append(bs)
    ms = _Section("Markets", anchor="markets")
    keys = list(doc.markets[0].debt_within_usd) if doc.markets else []
    ms.paragraphs.append(f"Debt liquidated per market by a {doc.driver} move of at most the given size (other assets "
                         f"follow by their betas; 0% = liquidatable now).")
    ms.tables.append((["Market", "Rule", "Positions", "Collateral", "Debt", "Min HF",
                       *[("Now" if k == "0%" else f"≤ {k}") for k in keys]],
                      [[_market_text(m.market_id, market_names_by_id), m.venue, f"{m.positions:,}",
                        _usd(m.collateral_usd), _usd(m.debt_usd),
                        _hf_text(m.min_health_factor), *[_usd(m.debt_within_usd[k]) for k in keys]] for m in doc.markets]))
    ms.charts.append(("market_split", "debt per market by distance to liquidation"))
    out.append(ms)
    for key, section_doc in doc.venue_sections.items():  # venue plugins' sections (liqrisk.venues), key order
        plugin = report_section(key)
        vs = _Section(plugin.title, anchor=plugin.anchor)
        vs.paragraphs, vs.tables = plugin.render(section_doc)
        out.append(vs)
    ps = _Section(f"Largest positions at risk (≤ {ar.within:.0%} {doc.driver} move)", anchor="positions")
    if ar.top:
        ps.paragraphs.append(f"The {len(ar.top)} largest by debt of {ar.positions:,} positions a {doc.driver} move of "
                             f"{ar.within:.0%} or less liquidates. Full list: `liqrisk positions`.")
        ps.tables.append((["Account", "Market", "HF", "Collateral", "Debt", "Assets", "Side", f"{doc.driver} move",
                           f"{doc.driver} at liquidation"],
                          [[p.account, market_names_by_id.get(p.market_id, _short_id(p.market_id)),
                            _hf_text(p.health_factor), _usd(p.collateral_usd), _usd(p.debt_usd),
                            f"{p.main_collateral}/{p.main_debt}", p.side,
                            "now" if p.side == "now" else f"{p.move_to_liquidation:+.1%}",
                            "—" if p.driver_price_at_liquidation_usd is None else f"${p.driver_price_at_liquidation_usd:,.2f}"]
                           for p in ar.top]))
    else:
        ps.paragraphs.append(f"No position is liquidated by a {doc.driver} move of {ar.within:.0%} or less.")
    out.append(ps)
    if "band_history" in figure_keys:
        hs = _Section("Band history", anchor="history")
        hs.paragraphs.append("Liquidation bands of the scheduled runs in this output folder (run index), this run last: "
                             "each band's collateral spread over its price range.")
        hs.charts.append(("band_history", "band history heatmap"))
        out.append(hs)
    cs = _Section(f"Cascade ({doc.driver} drawdown grid)", anchor="cascade")
    cs.paragraphs.append("Betas: " + (", ".join(f"{k} {v:g}" for k, v in doc.betas.items()) or "none") +
                         ". The price impact of selling seized collateral, per asset, is in the last table"
                         " (pool addresses in full in report.json).")
    cs.tables.append((["Initial", "Final", "Amplification", "Rounds", "Debt liquidated", "Bad debt", "Positions hit"], [
        [f"{r.initial_drawdown:.0%}", f"{r.final_drawdown:.1%}", "—" if r.amplification is None else f"×{r.amplification:.3f}",
         str(r.rounds), _usd(r.liquidated_debt_usd), _usd(r.bad_debt_usd), f"{r.positions_hit:,}"] for r in doc.cascade.rows]))
    cs.charts.append(("cascade", "cascade curve"))
    if doc.cascade.by_market:
        picks = [i for i, r in enumerate(doc.cascade.rows) if r.initial_drawdown > 0]
        picks = [i for i in picks if f"{doc.cascade.rows[i].initial_drawdown:.0%}" in doc.summary.cascade] or picks[-3:]
        cs.paragraphs.append("The second table splits the cascade per market (the first table's totals are the sums "
                             "of these parts): debt liquidated at the summary drawdowns, bad debt at the largest.")
        last = picks[-1] if picks else len(doc.cascade.rows) - 1
        cs.tables.append((["Market", "Rule", *[f"Liquidated at {doc.cascade.rows[i].initial_drawdown:.0%}" for i in picks],
                           f"Bad debt at {doc.cascade.rows[last].initial_drawdown:.0%}"],
                          [[_market_text(m.market_id, market_names_by_id), m.rule,
                            *[_usd(m.liquidated_debt_usd[i]) for i in picks], _usd(m.bad_debt_usd[last])]
                           for m in doc.cascade.by_market]))
        cs.charts.append(("cascade_markets", "cascade by market"))
    if doc.liquidity:
        cs.tables.append((["Asset", "Liquidity model", "Pools at the block"], _liquidity_rows(doc.liquidity)))
    out.append(cs)
    if doc.monte_carlo is not None:
        mc = _mc_section("Monte Carlo", doc.monte_carlo)
        mc.anchor = "monte-carlo"
        mc.charts.append(("monte_carlo", "Monte Carlo distribution"))
        if doc.monte_carlo.by_market:
            mc.paragraphs.append("The second table, per market (with impact): each market's own Liquidations-at-Risk and "
                                 "bad-debt VaR over the same paths (means add up to the book's; quantiles do not).")
            mc.tables.append((["Market", "Rule", "Mean liquidated", "LaR 95%", "LaR 99%", "Bad-debt VaR 99%", "P(any)"],
                              [[_market_text(m.market_id, market_names_by_id), m.rule,
                                _usd(m.mean_liquidated_usd), _usd(m.lar_95_usd), _usd(m.lar_99_usd),
                                _usd(m.bad_debt_var_99_usd), f"{m.prob_any_liquidation:.0%}"]
                               for m in doc.monte_carlo.by_market]))
            mc.charts.append(("monte_carlo_markets", "Monte Carlo by market"))
        out.append(mc)
    for k, sc in enumerate(doc.scenarios):
        stem = f"scenario_{k + 1:02d}_"
        sec = _Section(f"Scenario: {sc.name}", anchor=f"scenario-{k + 1}")
        if sc.file:
            sec.paragraphs.append(f"File `{sc.file}`. {sc.description}")
        for n in sc.notes:
            sec.paragraphs.append(f"Note: {n}")
        if sc.cascade is not None:
            sec.tables.append((["Initial", "Final", "Debt liquidated", "Bad debt", "Positions hit"], [
                [f"{r.initial_drawdown:.1%}", f"{r.final_drawdown:.1%}", _usd(r.liquidated_debt_usd), _usd(r.bad_debt_usd),
                 f"{r.positions_hit:,}"] for r in sc.cascade.rows]))
        if sc.path is not None:
            e, x = sc.path.endogenous, sc.path.exogenous
            sec.paragraphs.append(
                f"Debt liquidated {_usd(e.mean_liquidated_usd)}" + (f" (without impact {_usd(x.mean_liquidated_usd)})" if x else "")
                + f", bad debt {_usd(e.mean_bad_debt_usd)}, positions hit {e.mean_positions_hit:,.0f}; largest "
                f"{sc.driver} fall with impact {sc.path.max_drawdown.get(sc.driver, 0.0):.1%}.")
        if sc.monte_carlo is not None:
            mc = _mc_section("", sc.monte_carlo)
            sec.paragraphs += mc.paragraphs
            sec.tables += mc.tables
        names = {Path(f).stem.removeprefix(stem) for f in sc.charts.values()}
        names |= {key.removeprefix(stem) for key in figure_keys if key.startswith(stem)}
        for name in sorted(names):
            sec.charts.append((stem + name, f"{sc.name} {name}"))
        for ref in sc.references:
            sec.paragraphs.append(f"Source: {ref}")
        out.append(sec)
    return out


def _mc_section(title: str, mc: MonteCarloDoc) -> _Section:
    sec = _Section(title)
    sec.paragraphs.append(f"{mc.model}, horizon {mc.horizon_days:g} day(s), {mc.steps} steps, {mc.paths:,} paths, seed {mc.seed}.")
    rows = []
    for label, s in (("with cascade impact", mc.endogenous), ("price paths only", mc.exogenous)):
        if s is not None:
            rows.append([label, _usd(s.mean_liquidated_usd), _usd(s.lar_95_usd), _usd(s.lar_99_usd),
                         _usd(s.bad_debt_var_95_usd), _usd(s.bad_debt_var_99_usd), f"{s.prob_any_liquidation:.0%}"])
    sec.tables.append((["", "Mean liquidated", "LaR 95%", "LaR 99%", "Bad-debt VaR 95%", "Bad-debt VaR 99%", "P(any)"], rows))
    return sec


def _png_files(doc: ReportDoc) -> dict[str, str]:
    """Chart key (PNG stem) -> PNG file of the run folder."""
    files = [*doc.charts.values(), *(f for sc in doc.scenarios for f in sc.charts.values())]
    return {Path(f).stem: f for f in files}


def render_markdown(doc: ReportDoc) -> str:
    """Markdown with the PNG charts (interactive charts are in report.html only)."""
    pngs = _png_files(doc)
    lines = [f"# liqrisk report — {doc.driver}, block {doc.source.block_number:,}", "",
             f"Run `{doc.run_id}`, generated {doc.generated_at} by liqrisk {doc.liqrisk_version}. "
             f"Interactive charts: `report.html`.", ""]
    for sec in _sections(doc):
        lines += [f"{'#' * sec.level} {sec.title}", ""] if sec.title else []
        for p in sec.paragraphs:
            lines += [p, ""]
        for header, rows in sec.tables:
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "|".join("---" for _ in header) + "|")
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
            lines.append("")
        for key, alt in sec.charts:
            if key in pngs:
                lines += [f"![{alt}]({pngs[key]})", ""]
    return "\n".join(lines)


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1180px;margin:24px auto;padding:0 16px;color:#222}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee;margin:6px 0}
.meta{color:#666;font-size:13px}.chart{width:100%;min-height:300px;margin:8px 0 18px;border:1px solid #eee}
nav{font-size:13px;margin:6px 0 12px}nav a{margin-right:12px;color:#2F6FED;text-decoration:none}
td.t,th.t{text-align:left}td.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
"""

_BOOT = """
(function () {
  var figures = JSON.parse(document.getElementById("liqrisk-figures").textContent);
  var config = {responsive: true, displaylogo: false, scrollZoom: false};
  Object.keys(figures).forEach(function (key) {
    var el = document.getElementById("chart-" + key);
    if (el) { Plotly.newPlot(el, figures[key].data, figures[key].layout, config); }
  });
})();
"""


def _figures_json(figures: Mapping[str, Any]) -> str:
    """``{key: figure}`` as one JSON object, safe inside a <script> element."""
    import plotly.io as pio

    body = ",".join(f"{json.dumps(k)}:{pio.to_json(fig, validate=False, remove_uids=True)}" for k, fig in figures.items())
    return ("{" + body + "}").replace("</", "<\\/")


_TEXT_COLUMNS = frozenset({"Account", "Market", "Venue", "Venues", "Assets", "Side", "Severity", "Kind", "Message",
                           "Asset", "Liquidity model", "Pools at the block"})


def _cls(name: str | None) -> str:
    return f" class='{name}'" if name else ""


def render_html(doc: ReportDoc, figures: Mapping[str, Any] | None = None, folder: Path | None = None) -> str:
    """One self-contained page: plotly.js inlined once in <head>, every chart drawn from the
    figures embedded as JSON (works offline). A chart without a figure falls back to its PNG
    (base64) when ``folder`` holds it."""
    import re

    from plotly.offline import get_plotlyjs

    figures = dict(figures or {})
    pngs = _png_files(doc)

    def inline(text: str) -> str:
        text = html.escape(text)
        text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", text)

    sections = _sections(doc, tuple(figures))
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>liqrisk report {html.escape(doc.run_id)}</title><style>{_CSS}</style>"]
    if figures:
        parts.append(f"<script>{get_plotlyjs()}</script>")
    parts += ["</head><body>",
              f"<h1>liqrisk report — {html.escape(doc.driver)}, block {doc.source.block_number:,}</h1>",
              f"<p class='meta'>Run {html.escape(doc.run_id)}, generated {doc.generated_at} by liqrisk "
              f"{html.escape(doc.liqrisk_version)}. Charts: hover for values, drag to zoom, double-click to reset.</p>",
              "<nav>" + "".join(f"<a href='#{sec.anchor}'>{html.escape(sec.title)}</a>" for sec in sections if sec.anchor)
              + "</nav>"]
    for sec in sections:
        if sec.title:
            anchor = f" id='{sec.anchor}'" if sec.anchor else ""
            parts.append(f"<h{sec.level}{anchor}>{html.escape(sec.title)}</h{sec.level}>")
        parts += [f"<p>{inline(p)}</p>" for p in sec.paragraphs]
        for header, rows in sec.tables:
            cls = {i: ("t mono" if h == "Account" else "t") for i, h in enumerate(header) if h in _TEXT_COLUMNS}
            parts.append("<table><tr>" + "".join(f"<th{_cls(cls.get(i))}>{html.escape(h)}</th>"
                                                 for i, h in enumerate(header)) + "</tr>")
            parts += ["<tr>" + "".join(f"<td{_cls(cls.get(i))}>{html.escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
                      for row in rows]
            parts.append("</table>")
        for key, alt in sec.charts:
            if key in figures:
                parts.append(f"<div class='chart' id='chart-{html.escape(key)}' role='img' aria-label='{html.escape(alt)}'></div>")
            elif folder is not None and key in pngs and (folder / pngs[key]).is_file():
                data = base64.b64encode((folder / pngs[key]).read_bytes()).decode()
                parts.append(f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>")
    if figures:
        parts.append(f"<script type='application/json' id='liqrisk-figures'>{_figures_json(figures)}</script>")
        parts.append(f"<script>{_BOOT}</script>")
    parts.append("</body></html>")
    return "\n".join(parts)


# ------------------------------------------------------------------------------- writing


def make_run_id(block_number: int, when: datetime | None = None) -> str:
    when = when or datetime.now(timezone.utc)
    return f"{when:%Y%m%dT%H%M%SZ}-b{block_number}"


_RESERVED: set[Path] = set()
"""Run folders this process reserved (empty until :func:`write_report` renames the finished
report over them)."""


def _reserve(root: Path, base: str) -> str:
    """Reserve ``root/base`` (else ``base-2``, ``base-3``...) by creating it: ``os.mkdir`` is atomic,
    so two processes — or two runs within the same second — never get the same id."""
    root.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        run_id = base if n == 1 else f"{base}-{n}"
        try:
            os.mkdir(root / run_id)
        except FileExistsError:
            n += 1
            continue
        _RESERVED.add((root / run_id).resolve())
        return run_id


def reserve_run_id(out_root: str | Path, block_number: int, when: datetime | None = None) -> str:
    """A fresh run id under ``out_root``, its folder reserved (created empty, atomically); pass it to
    :func:`write_report`, which fills it. Concurrent runs into one root always get distinct ids."""
    return _reserve(Path(out_root), make_run_id(block_number, when))


free_run_id = reserve_run_id  # the earlier name


def send_alerts(result: ReportResult, run_id: str) -> WebhookDoc | None:
    """POST the alerts to the configured webhook (plain or Slack shape); None when there is no URL
    or no alert. Never raises: a failed delivery is returned (and logged, URL masked)."""
    cfg = result.config.alerts
    if not cfg.webhook_url or not result.alerts:
        return None
    from chain.transport import mask_url

    fmt = resolve_format(cfg.webhook_url, cfg.webhook_format)
    snap = result.loaded.snapshot
    payload = alert_payload(result.alerts, run_id=run_id, chain_id=snap.chain_id, block_number=snap.block_number,
                            driver=result.config.driver, fmt=fmt)
    delivery = post_webhook(cfg.webhook_url, payload, timeout_s=cfg.timeout_s)
    return WebhookDoc(url=mask_url(cfg.webhook_url), format=fmt, delivered=delivery.ok, status=delivery.status,
                      error=delivery.error)


def write_report(result: ReportResult, out_root: str | Path, *, run_id: str | None = None,
                 webhook: WebhookDoc | None = None, history: "Sequence[BandSnapshot]" = ()) -> tuple[Path, ReportDoc]:
    """Write one run folder ``out_root/<run_id>/`` atomically; returns (folder, document).

    Sends nothing: ``webhook`` is the delivery the caller made (:func:`send_alerts`), recorded in
    the report; ``history`` the earlier runs' bands for the heatmap (:func:`band_history`).
    Files go into ``out_root/.tmp-<run_id>-<pid>/`` first; the folder is renamed into place only
    when complete, and the temporary folder is removed on any error (or interrupt).
    """
    root = Path(out_root)
    root.mkdir(parents=True, exist_ok=True)
    if run_id is None or (root / run_id).resolve() not in _RESERVED:
        run_id = _reserve(root, run_id or make_run_id(result.loaded.snapshot.block_number))
    final = root / run_id
    tmp = root / f".tmp-{run_id}-{os.getpid()}"
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        charts = render_charts(result, tmp) if result.config.charts else {}
        doc = report_document(result, run_id, charts, webhook)
        (tmp / "report.json").write_text(doc.model_dump_json(indent=2))
        (tmp / "report.md").write_text(render_markdown(doc))
        (tmp / "report.html").write_text(render_html(doc, render_figures(result, history), tmp))
        os.rename(tmp, final)  # replaces the empty reserved folder in one step (POSIX rename)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            final.rmdir()  # give the reservation back (only while it is still empty)
        except OSError:
            pass
        raise
    finally:
        _RESERVED.discard(final.resolve())
    _point_latest(root, final.name)
    return final, doc


def _point_latest(root: Path, name: str) -> None:
    """``root/latest`` -> the newest run folder (symlink swapped atomically; skipped where unsupported)."""
    link = root / "latest"
    tmp = root / f".latest-{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(name, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)




if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import sys

    if "--schema" in sys.argv:
        print(write_schema())


__all__ = ["ReportConfig", "ReportDoc", "ReportResult", "SCHEMA_PATH", "band_history", "compute_report", "free_run_id",
           "reserve_run_id",
           "render_figures", "render_html", "render_markdown", "report_document", "report_schema", "send_alerts",
           "write_report", "write_schema"]
