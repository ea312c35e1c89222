"""The ``liqrisk`` CLI end to end: every command, output formats, the block always printed,
user errors as one line with exit 1 (no traceback), masked RPC URLs, lazy imports."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from liqrisk.cli import cli
from liqrisk.report import SCHEMA_PATH
from risk.snapshot import Snapshot
from tests import stub_node as stub

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
HEAVY = ("numpy", "scipy", "matplotlib", "web3", "pydantic", "eth_abi", "requests")


@pytest.fixture
def run(tmp_path, monkeypatch):
    # A private cache dir keeps the devnet state file (and RPC caches) of these tests away from the
    # user's; the compiled-contract cache is copied in so the devnet does not recompile with solc-js.
    from chain.devnet.solc import cache_dir as solc_cache_dir

    solc_cache = solc_cache_dir()
    monkeypatch.setenv("LIQRISK_CACHE_DIR", str(tmp_path / "cache"))
    if solc_cache.is_dir():
        shutil.copytree(solc_cache, solc_cache_dir())
    monkeypatch.delenv("ETH_RPC_URL", raising=False)
    monkeypatch.delenv("LIQRISK_WEBHOOK_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def _user_error(result, text: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"Error: {text}" in result.stderr, result.stderr


# --------------------------------------------------------------------------- lazy imports


@pytest.mark.parametrize("args", [["--help"], ["bands", "--help"], ["report", "--help"], ["scenario", "run", "--help"],
                                  ["devnet", "--help"], ["demo", "--help"]])
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom liqrisk.cli import cli\n"
        f"r = CliRunner().invoke(cli, {args!r})\nassert r.exit_code == 0, r.output\nassert 'Usage' in r.output\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"--help imported {out.stdout.strip()}"


def test_console_script_runs() -> None:
    script = Path(sys.executable).with_name("liqrisk")
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert "liqrisk" in out.stdout


# ------------------------------------------------------------------------------- commands


def test_bands_table_json_csv_and_png(run, tmp_path) -> None:
    table = run("bands", "--asset", "WETH")
    assert "Using block 0" in table.stderr and "SYNTHETIC" in table.stderr
    assert "liquidation bands" in table.stdout and "$1,781" in table.stdout
    doc = json.loads(run("bands", "--format", "json").stdout)
    assert doc["block_number"] == 0 and doc["synthetic"] is True and doc["spot_usd"] == 2000.0
    biggest = max(doc["rows"], key=lambda r: r["collateral_usd"])
    assert biggest["side"] == "long" and 1_700 < biggest["low_usd"] < biggest["high_usd"] < 2_000
    rows = list(csv.DictReader(io.StringIO(run("bands", "--format", "csv").stdout)))
    assert len(rows) == len(doc["rows"]) and float(rows[0]["collateral_usd"]) > 0
    png = tmp_path / "map.png"
    run("bands", "--png", png)
    assert png.stat().st_size > 20_000


def test_cascade_formats(run, tmp_path) -> None:
    result = run("cascade", "--driver", "WETH", "--drawdowns", "0.1,0.2,0.3", "--format", "json",
                 "--png", tmp_path / "c.png")
    assert "Using block 0" in result.stderr
    doc = json.loads(result.stdout)
    assert [r["initial_drawdown"] for r in doc["rows"]] == [0.1, 0.2, 0.3]
    liquidated = [r["liquidated_debt_usd"] for r in doc["rows"]]
    assert liquidated[0] > 0 and liquidated == sorted(liquidated)
    assert doc["betas"]["wstETH"] == 1.0
    assert (tmp_path / "c.png").stat().st_size > 20_000
    no_impact = json.loads(run("cascade", "--drawdowns", "0.2", "--liquidity", "none", "--format", "json").stdout)
    with_impact = doc["rows"][1]
    assert no_impact["rows"][0]["final_drawdown"] == pytest.approx(0.2)
    assert with_impact["final_drawdown"] > 0.2
    assert "Debt liquidated" in run("cascade", "--drawdowns", "5%,10%").stdout


def test_simulate_is_deterministic_per_seed(run) -> None:
    args = ("simulate", "--paths", "60", "--steps", "25", "--model", "gbm", "--format", "json")
    a = json.loads(run(*args, "--seed", "1").stdout)
    b = json.loads(run(*args, "--seed", "1").stdout)
    c = json.loads(run(*args, "--seed", "2").stdout)
    assert a == b and a["rows"] != c["rows"]
    assert a["rows"][0]["run"] == "with cascade impact" and a["rows"][0]["n_paths"] == 60
    assert "LaR 99%" in run("simulate", "--paths", "40", "--steps", "13", "--vol", "WETH=1.2").stdout


def test_scan_writes_a_snapshot(run, tmp_path) -> None:
    out = tmp_path / "snap.json"
    result = run("scan", "--source", "sample", "--out", out)
    assert "block 0" in result.stderr and result.stdout == ""
    snap = Snapshot.load(out)
    assert len(snap.positions) == 600
    again = json.loads(run("bands", "--source", f"snapshot:{out}", "--format", "json").stdout)
    assert again["block_number"] == 0 and again["rows"]


def test_scenario_check_and_run(run, tmp_path) -> None:
    files = [SCENARIOS / "2026-early_eth_band_sweep.toml", SCENARIOS / "wsteth_depeg.toml"]
    assert "ok (path" in run("scenario", "check", *files).stdout
    result = run("scenario", "run", *files, "--format", "json")
    assert "Using block 0" in result.stderr
    docs = json.loads(result.stdout)["scenarios"]
    assert [d["kind"] for d in docs] == ["path", "grid"]
    assert docs[0]["liquidated_debt_usd"] > 0 and docs[0]["block_number"] == 0
    table = run("scenario", "run", *files)
    assert "[2026-early_eth_band_sweep.toml, path, block 0]" in table.stdout
    report = run("scenario", "run", *files, "--report", tmp_path / "rep")
    assert "Report:" in report.stderr
    assert len(list((tmp_path / "rep").glob("*-b*/report.json"))) == 1


def test_report_once_then_runs_index(run, tmp_path) -> None:
    out = tmp_path / "reports"
    result = run("report", "--out", out, "--paths", "80", "--scenario", SCENARIOS / "short_squeeze.toml",
                 "--alert-band-within", "0.1", "--alert-band-min-usd", "1e6")
    assert "Using block 0" in result.stderr
    assert "biggest band" in result.stdout and "LaR 99%" in result.stdout and "ALERT" in result.stdout
    folders = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink() and p.name != "latest"]
    assert len(folders) == 1
    document = json.loads((folders[0] / "report.json").read_text())
    jsonschema.validate(document, json.loads(SCHEMA_PATH.read_text()))
    assert document["alerts"] and document["scenarios"][0]["name"].startswith("Short squeeze")
    listing = json.loads(run("runs", out, "--format", "json").stdout)
    assert [r["status"] for r in listing["rows"]] == ["ok"] and listing["rows"][0]["block_number"] == 0


def test_report_every_with_max_runs(run, tmp_path) -> None:
    out = tmp_path / "sched"
    result = run("report", "--out", out, "--every", "0.1s", "--max-runs", "2", "--paths", "0", "--no-charts")
    assert "2 run(s), 0 failed" in result.stderr
    assert len(list(out.glob("*-b0*/report.json"))) == 2


# ---------------------------------------------------------------------------- user errors


def test_user_errors_are_one_line_and_exit_1(run, tmp_path) -> None:
    _user_error(run("cascade", "--driver", "DOGE", ok=False), "--driver: asset 'DOGE' is not in the snapshot")
    _user_error(run("cascade", "--drawdowns", "0.5,1.2", ok=False), "--drawdowns 0.5,1.2: drawdown 1.2 must be < 1")
    _user_error(run("cascade", "--drawdowns", "a:b", ok=False), "--drawdowns: expected")
    _user_error(run("cascade", "--beta", "wstETH", ok=False), "--beta: expected SYMBOL=NUMBER")
    _user_error(run("bands", "--source", "nowhere.json", ok=False), "--source: snapshot file not found")
    _user_error(run("bands", "--source", "mainnet", ok=False), "--source: expected devnet | rpc")
    _user_error(run("bands", "--source", "rpc", ok=False), "no RPC URL")
    _user_error(run("bands", "--block", "yesterday", ok=False), "--block: expected a number")
    bad_value = run("simulate", "--paths", "0", ok=False)  # click's own range check: usage error, exit 2
    assert bad_value.exit_code == 2 and "Invalid value for '--paths'" in bad_value.stderr
    _user_error(run("report", "--every", "soon", "--out", tmp_path / "r", ok=False), "--every: invalid interval")
    _user_error(run("runs", tmp_path, ok=False), "no run index")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[driver]\nasset = "WETH"\n[shock]\nkind = "grid"\ndrawdowns = [2.0]\n')
    result = run("scenario", "run", bad, ok=False)
    _user_error(result, f"{bad}: 1 problem")
    assert "shock: drawdown 2.0 must be < 1" in result.stderr


def test_devnet_source_without_devnet_is_a_user_error(run) -> None:
    _user_error(run("bands", "--source", "devnet", ok=False), "no devnet is running")


def test_rpc_url_is_masked_in_every_message(run, monkeypatch) -> None:
    secret = "k3y0123456789abcdef"
    # Answers every call with 5 (not mainnet): enough to see the masked URL in the error.
    with stub.stub_node(lambda request: stub.result(request, "0x5"), path=f"/v2/{secret}") as url:
        result = run("bands", "--source", "rpc", "--rpc-url", url, ok=False)
        _user_error(result, "")
        assert "is chain 5" in result.stderr and secret not in result.output
        monkeypatch.setenv("ETH_RPC_URL", url)
        result = run("scan", "--source", "rpc", ok=False)
        assert "is chain 5" in result.stderr and secret not in result.output


# ---------------------------------------------------------------------------------- devnet


def _port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) == 0


@pytest.mark.devnet
@pytest.mark.slow
def test_devnet_commands_and_devnet_source(run, tmp_path) -> None:
    assert "No devnet running" in run("devnet", "status").stdout
    try:
        up = run("devnet", "up", "--borrowers", "40", "-q")
        assert up.stderr == ""  # -q: the result (URL, addresses) only
        assert "Devnet up" in up.stdout
        state = json.loads((Path(os.environ["LIQRISK_CACHE_DIR"]) / "devnet" / "state.json").read_text())
        for address in (state["deployment"]["aave"]["pool"], state["deployment"]["morpho"]["address"]):
            assert address in up.stdout  # the deployed addresses are printed
        status = json.loads(run("devnet", "status", "--format", "json").stdout)
        assert status["running"] is True
        _user_error(run("devnet", "up", ok=False), "a devnet is already running")
        snap_path = tmp_path / "devnet.json"
        scan = run("scan", "--source", "devnet", "--out", snap_path)
        snap = Snapshot.load(snap_path)
        assert f"block {snap.block_number:,}" in scan.stderr and not snap.synthetic  # status lines go to stderr
        assert {m.venue for m in snap.markets} == {"aave_v30", "aave_v33", "morpho_blue", "compound_v3", "sky_vault",
                                                   "liquity_v2", "euler_v2", "fluid_vault", "aave_v4"}  # Aave v3.0.2 + v3.6; Sky, Liquity, Euler, Fluid, V4 doubles
        bands = json.loads(run("bands", "--source", "devnet", "--format", "json").stdout)
        assert bands["block_number"] == snap.block_number and bands["synthetic"] is False and bands["rows"]
        pinned = json.loads(run("cascade", "--source", "devnet", "--block", str(snap.block_number - 1),
                                "--drawdowns", "0.2", "--format", "json").stdout)
        assert pinned["block_number"] == snap.block_number - 1
        run("report", "--source", "devnet", "--out", tmp_path / "r", "--paths", "50", "--no-charts", "-q")
        assert json.loads(next((tmp_path / "r").glob("*-b*/report.json")).read_text())["source"]["kind"] == "devnet"
    finally:
        run("devnet", "down")
    assert json.loads(run("devnet", "status", "--format", "json").stdout)["running"] is False


@pytest.mark.devnet
@pytest.mark.slow
def test_demo_end_to_end(run, tmp_path) -> None:
    out = tmp_path / "demo"
    result = run("demo", "--out", out, "--borrowers", "60", "--paths", "100")
    text = result.stdout
    for needle in ("biggest band", "cascade -10%", "cascade -20%", "cascade -30%", "LaR 99%", "replay", str(out)):
        assert needle in text, text
    anvil_url = next(line.split(" at ")[1].strip() for line in result.stderr.splitlines() if "anvil at" in line)
    assert not _port_open(anvil_url), "the demo must stop its devnet"
    document = json.loads(next(out.glob("*-b*/report.json")).read_text())
    jsonschema.validate(document, json.loads(SCHEMA_PATH.read_text()))
    assert document["source"]["kind"] == "devnet" and document["source"]["synthetic"] is False
    assert document["source"]["chain_id"] == 31337
    assert f"block {document['source']['block_number']:,}" in text
    assert document["scenarios"] and document["monte_carlo"]["paths"] == 100
    # Liquity v2 (test double): its branches are markets of the book and have their own section.
    assert {m["market_id"] for m in document["markets"] if m["venue"] == "liquity_v2"} == {
        "liquity-v2:WETH", "liquity-v2:wstETH", "liquity-v2:rETH"}
    assert [b["collateral"] for b in document["venue_sections"]["liquity_v2"]["branches"]] == ["WETH", "wstETH", "rETH"]
    assert any(s["debt_redistributed_usd"] > 0 for b in document["venue_sections"]["liquity_v2"]["branches"] for s in b["stress"])
    # Fluid vaults (test double): both vaults are markets of the book, with their rule
    assert {m["market_id"] for m in document["markets"] if m["venue"] == "fluid_vault"} == {
        "fluid:1:WETH/USDC", "fluid:2:wstETH/WETH"}
    fluid_eth_usdc = [m for m in document["cascade"]["by_market"] if m["market_id"] == "fluid:1:WETH/USDC"]
    assert max(fluid_eth_usdc[0]["positions_hit"]) > 0  # an ETH drawdown liquidates (or absorbs) ETH/USDC positions
    assert {p.name for p in next(out.glob("*-b*")).glob("*.png")} >= {"liquidation_map.png", "cascade.png",
                                                                      "monte_carlo.png", "cascade_markets.png",
                                                                      "monte_carlo_markets.png"}
    # Every market of the devnet book is its own series/row (issues 8/12: by market, not by rule).
    with_positions = {m["id"]: m["name"] for m in document["snapshot"]["markets"] if m["positions"] > 0}
    assert len(with_positions) >= 4
    assert {m["market_id"] for m in document["cascade"]["by_market"]} == set(with_positions)
    assert {m["market_id"] for m in document["monte_carlo"]["by_market"]} == set(with_positions)
    html = next(out.glob("*-b*/report.html")).read_text()
    figures = json.loads(re.search(r"<script type='application/json' id='liqrisk-figures'>(.*?)</script>", html,
                                   re.S).group(1))
    series = {t.get("name", "") for key in ("liquidation_map", "cascade_markets") for t in figures[key]["data"]}
    cascade_hit = {m["market_id"] for m in document["cascade"]["by_market"] if max(m["liquidated_debt_usd"]) > 0}
    for market_id in cascade_hit:
        assert any(name.startswith(with_positions[market_id] + " · ") for name in series), (market_id, series)


def test_no_stray_environment(run) -> None:
    """The fixture isolates the devnet state file; nothing here touches the user's cache."""
    assert os.environ["LIQRISK_CACHE_DIR"].endswith("cache")
