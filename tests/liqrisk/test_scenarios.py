"""Scenario files: every shipped scenario loads and runs; malformed files give one clear error
naming the file, the field path and what was expected."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from liqrisk.errors import LiqriskUserError, ScenarioError
from liqrisk.run import build_liquidity, run_scenario
from liqrisk.scenario import MonteCarloShock, SourceSpec, load_scenario
from liqrisk.sources import load_source
from risk.book import PositionBook
from risk.liquidation_prices import Side, liquidation_prices_for
from risk.sample import ETH_CLUSTER_USD, sample_snapshot

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.toml"))
# Monte Carlo scenarios are run with fewer paths here: the test is that they run, not their tail.
TEST_MAX_PATHS = 64


@pytest.fixture(scope="module")
def book() -> PositionBook:
    return PositionBook.from_snapshot(sample_snapshot())


def test_the_folder_has_the_required_scenarios() -> None:
    names = {p.name for p in SCENARIOS}
    for required in ("2025-10-10_tariff_shock.toml", "2025-02-03_tariffs_ai_selloff.toml", "short_squeeze.toml",
                     "2025-11-04_drawdown.toml", "2026-early_eth_band_sweep.toml", "eth_drawdown_grid.toml",
                     "btc_drawdown_grid.toml", "wsteth_depeg.toml"):
        assert required in names


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_scenario_loads_and_runs(path: Path, book: PositionBook) -> None:
    sf = load_scenario(path)
    scenario = sf.scenario
    if isinstance(scenario.shock, MonteCarloShock):
        scenario = scenario.model_copy(update={"shock": scenario.shock.model_copy(update={"paths": TEST_MAX_PATHS})})
    result = run_scenario(scenario, book, where=str(path))
    assert result.kind == sf.scenario.shock.kind
    if result.cascade is not None:
        assert len(result.cascade) == len(sf.scenario.shock.grid())
        assert np.all(result.cascade.liquidated_debt_usd >= 0)
        # Positions hit never decrease as the initial drawdown deepens (same side of the grid).
        order = np.argsort(result.cascade.initial_drawdown)
        assert np.all(np.diff(result.cascade.positions_hit[order]) >= 0)
    elif result.path is not None:
        assert result.path.result.n_paths == 1
        assert result.path.result.endogenous_summary.mean_positions_hit > 0  # every replay liquidates something
    else:
        assert result.monte_carlo.result.n_paths == TEST_MAX_PATHS


REPLAYS = [p for p in SCENARIOS if load_scenario(p).scenario.shock.kind == "path"]


@pytest.mark.parametrize("path", REPLAYS, ids=lambda p: p.stem)
def test_replays_cite_their_figures(path: Path) -> None:
    text = path.read_text()
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    assert "report" in comments.lower() and "$" in comments, "a replay must cite the public figures it is shaped on"


def test_band_sweep_replay_liquidates_the_band(book: PositionBook) -> None:
    """The early-2026 replay trades through the $1,781-$1,862 WETH band: every long position whose
    WETH liquidation price lies in that band (others fixed) must be liquidated on the path."""
    sf = load_scenario(SCENARIOS[0].parent / "2026-early_eth_band_sweep.toml")
    price, side = liquidation_prices_for(book, "WETH")
    in_band = int(np.sum((side == Side.BELOW) & (price >= ETH_CLUSTER_USD[0]) & (price <= ETH_CLUSTER_USD[1])))
    result = run_scenario(sf.scenario, book)
    assert in_band > 50
    assert result.path.result.exogenous_summary.mean_positions_hit >= in_band


def test_a_deeper_replay_liquidates_more(book: PositionBook) -> None:
    base = load_scenario(SCENARIOS[0].parent / "2026-early_eth_band_sweep.toml").scenario
    deeper = base.model_copy(update={"shock": base.shock.model_copy(update={"returns": [0.0, -0.1, -0.3, -0.25, -0.2]})})
    shallow = run_scenario(base, book).path.result.endogenous_summary
    deep = run_scenario(deeper, book).path.result.endogenous_summary
    assert deep.mean_liquidated_usd > shallow.mean_liquidated_usd


def test_assets_missing_from_the_snapshot_are_noted_not_fatal(book: PositionBook) -> None:
    sf = load_scenario(SCENARIOS[0].parent / "eth_drawdown_grid.toml")
    result = run_scenario(sf.scenario, book)
    assert any("cbBTC" in n for n in result.notes)


def test_driver_missing_from_the_snapshot_is_a_user_error(tmp_path: Path, book: PositionBook) -> None:
    path = _write(tmp_path, """
        name = "x"
        [driver]
        asset = "SOL"
        [shock]
        kind = "grid"
        drawdowns = [0.1]
    """)
    with pytest.raises(LiqriskUserError, match=r"driver asset 'SOL' is not in the snapshot"):
        run_scenario(load_scenario(path).scenario, book, where=str(path))


def test_per_asset_liquidity_uses_each_model(book: PositionBook) -> None:
    from liqrisk.scenario import LiquiditySpec

    spec = LiquiditySpec.model_validate({"model": "none", "assets": {
        "WETH": {"model": "constant_depth", "depth_usd_per_pct": 1e6},
        "wstETH": {"model": "table", "sizes_usd": [0, 1e6], "impacts": [0, 0.02]},
        "WBTC": {"model": "sqrt", "daily_volatility": 0.03, "daily_volume_usd": 1e9}}})
    liquidity = build_liquidity(spec, book.symbols)
    sold = np.zeros(book.n_assets)
    for s in ("WETH", "wstETH", "WBTC", "USDC"):
        sold[book.asset_index(s)] = 1e6
    impact = liquidity.impact(sold)
    assert impact[book.asset_index("WETH")] == pytest.approx(0.01)      # $1M at $1M per 1%
    assert impact[book.asset_index("wstETH")] == pytest.approx(0.02)    # table point
    assert impact[book.asset_index("WBTC")] == pytest.approx(0.03 * np.sqrt(1e6 / 1e9))
    assert impact[book.asset_index("USDC")] == 0.0                      # model = "none"


def test_sample_and_snapshot_sources(tmp_path: Path) -> None:
    loaded = load_source(SourceSpec(kind="sample", sample_positions=50, sample_seed=3))
    assert loaded.snapshot.synthetic and len(loaded.snapshot.positions) == 50
    path = loaded.snapshot.save(tmp_path / "snap.json")
    again = load_source(SourceSpec(kind="snapshot", path="snap.json"), base_dir=tmp_path)
    assert again.snapshot == loaded.snapshot
    with pytest.raises(LiqriskUserError, match="snapshot file not found"):
        load_source(SourceSpec(kind="snapshot", path=str(tmp_path / "nope.json")))
    path.write_text('{"chain_id": 1}')
    with pytest.raises(LiqriskUserError, match="not a valid liqrisk snapshot"):
        load_source(SourceSpec(kind="snapshot", path=str(path)))


def test_rpc_source_without_url_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ETH_RPC_URL", raising=False)
    with pytest.raises(LiqriskUserError, match="no RPC URL"):
        load_source(SourceSpec(kind="rpc"))


# ------------------------------------------------------------------------- malformed files

GOOD = """
name = "ok"
[driver]
asset = "WETH"
[shock]
kind = "monte_carlo"
vol = { WETH = 0.8 }
"""


def _write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message, "the error must name the file"
    return message


def test_good_file_loads(tmp_path: Path) -> None:
    assert load_scenario(_write(tmp_path, GOOD)).scenario.shock.vol == {"WETH": 0.8}


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        # missing field
        ('name = "x"\n[shock]\nkind = "grid"\ndrawdowns = [0.1]\n', "driver", "required field is missing"),
        # wrong type
        (GOOD + "paths = 'many'\n", "shock.paths", "valid integer"),
        # unknown key (a typo)
        (GOOD + "vols = { WETH = 0.8 }\n", "shock.vols", "unknown key"),
        # negative volatility
        (GOOD.replace("0.8", "-0.3"), "shock.vol", "must be >= 0"),
        # correlation not positive semi-definite
        (GOOD + "[shock.correlation]\nassets = ['WETH', 'WBTC', 'wstETH']\n"
                "matrix = [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]\n", "shock.correlation", "positive semi-definite"),
        # correlation without a unit diagonal
        (GOOD + "[shock.correlation]\nassets = ['WETH', 'WBTC']\nmatrix = [[1, 0.5], [0.5, 0.9]]\n",
         "shock.correlation", "diagonal must be 1"),
        # drawdown >= 1
        ('name = "x"\n[driver]\nasset = "WETH"\n[shock]\nkind = "grid"\ndrawdowns = [0.5, 1.0]\n', "shock",
         "must be < 1"),
        # unknown shock kind
        ('name = "x"\n[driver]\nasset = "WETH"\n[shock]\nkind = "crash"\n', "shock", "unknown kind 'crash'"),
        # a path return of -100% or worse
        ('name = "x"\n[driver]\nasset = "WETH"\n[shock]\nkind = "path"\nreturns = [-0.1, -1.0]\n', "shock",
         "must be > -1"),
        # snapshot source without a path
        (GOOD + '[source]\nkind = "snapshot"\n', "source", "needs path"),
        # liquidity table that decreases
        (GOOD + "[liquidity.assets.WETH]\nmodel = 'table'\nsizes_usd = [0, 1e6]\nimpacts = [0, -0.1]\n",
         "liquidity.assets.WETH", "non-decreasing"),
    ],
    ids=["missing-field", "wrong-type", "unknown-key", "negative-vol", "non-psd-corr", "corr-diagonal",
         "drawdown-ge-1", "unknown-kind", "return-le-minus-1", "snapshot-no-path", "table-decreasing"],
)
def test_malformed_scenarios_give_one_clear_error(tmp_path: Path, text: str, field: str, expected: str) -> None:
    message = _error(tmp_path, text)
    assert f"  {field}" in message, f"the error must name the field path {field!r}: {message}"
    assert expected in message, message


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    message = _error(tmp_path, GOOD.replace("0.8", "-1") + "paths = 0\nbogus = 1\n")
    assert "3 problems" in message
    for field in ("shock.vol", "shock.paths", "shock.bogus"):
        assert field in message


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    message = _error(tmp_path, "name = \n")
    assert "not valid TOML" in message
    with pytest.raises(ScenarioError, match="scenario file not found"):
        load_scenario(tmp_path / "missing.toml")


def test_chunked_monte_carlo_equals_one_call(book: PositionBook) -> None:
    """The progress callback's chunking must not change the answer: paths are independent."""
    from liqrisk.run import simulate_in_chunks
    from risk.liquidity import default_constant_depth
    from risk.montecarlo import simulate_liquidations
    from risk.paths import gbm_paths

    corr = np.eye(book.n_assets)
    paths = gbm_paths(book.prices_usd, 1.2, corr, 1.0, 25, 30, seed=5)
    liquidity = default_constant_depth(book.symbols)
    progress: list[tuple[int, int]] = []
    chunked = simulate_in_chunks(book, paths, liquidity, chunk_paths=7, progress=lambda d, t: progress.append((d, t)))
    whole = simulate_liquidations(book, paths, liquidity=liquidity)
    # Two runs over the paths (with impact and without), chunks of 7: total counts both.
    assert progress == [(d, 60) for d in (7, 14, 21, 28, 30, 37, 44, 51, 58, 60)]
    for name in ("liquidated_debt_usd", "bad_debt_usd", "positions_hit", "max_drawdown"):
        np.testing.assert_allclose(getattr(chunked.endogenous, name), getattr(whole.endogenous, name), rtol=1e-12)
        np.testing.assert_allclose(getattr(chunked.exogenous, name), getattr(whole.exogenous, name), rtol=1e-12)
    assert chunked.endogenous_summary == whole.endogenous_summary
