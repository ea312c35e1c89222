"""``liqrisk positions``: the four formats carry the same rows as the library's PositionTable,
filters and --by-market work, user errors are one line with exit 1."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from click.testing import CliRunner

from liqrisk.cli import cli
from risk.book import PositionBook
from risk.positions import market_breakdown, position_table
from risk.sample import sample_snapshot

DEFAULT_BETAS = {"wstETH": 1.0, "WBTC": 0.8}  # the sample's assets among the CLI's ETH defaults


@pytest.fixture(scope="module")
def library_table():
    return position_table(PositionBook.from_snapshot(sample_snapshot()), "WETH", DEFAULT_BETAS).sorted_by_distance()


@pytest.fixture
def run(monkeypatch):
    monkeypatch.delenv("ETH_RPC_URL", raising=False)
    runner = CliRunner()

    def invoke(*args, ok: bool = True):
        result = runner.invoke(cli, ["positions", *map(str, args)], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def test_table_is_sorted_closest_first(run, library_table) -> None:
    out = run("--limit", 5)
    assert "Using block 0" in out.stderr and "SYNTHETIC" in out.stderr
    assert "Positions closest to liquidation (5 of" in out.stdout
    first = library_table.account[0]
    assert first[:8] in out.stdout.splitlines()[4]  # title, 3 header lines, then the closest row


def test_json_csv_parquet_carry_the_library_rows(run, library_table, tmp_path) -> None:
    import pandas as pd

    doc = json.loads(run("--format", "json", "--limit", 0).stdout)
    assert doc["rows_total"] == len(library_table) == len(doc["rows"])
    assert [r["account"] for r in doc["rows"]] == library_table.account.tolist()
    never = [r for r in doc["rows"] if r["side"] == "never"]
    assert never and all(r["distance"] is None for r in never)  # inf is null in JSON
    rows = list(csv.DictReader(io.StringIO(run("--format", "csv", "--limit", 0).stdout)))
    assert len(rows) == len(library_table)
    assert [float(r["health_factor"]) for r in rows] == pytest.approx(library_table.health_factor.tolist(), rel=1e-12)
    assert math.isinf(float(rows[-1]["distance"]))
    path = tmp_path / "p.parquet"
    run("--format", "parquet", "--out", path, "--limit", 0)
    df = pd.read_parquet(path)
    assert df["account"].tolist() == library_table.account.tolist()
    assert df["debt_usd"].tolist() == pytest.approx(library_table.debt_usd.tolist(), rel=1e-15)
    csv_file = tmp_path / "p.csv"
    run("--format", "csv", "--out", csv_file, "--limit", 3)
    assert len(csv_file.read_text().splitlines()) == 4


def test_filters(run, library_table) -> None:
    doc = json.loads(run("--format", "json", "--limit", 0, "--market", "aave-core", "--asset", "WBTC",
                         "--hf-min", 1.0, "--hf-max", 1.5).stdout)
    want = library_table.filter(markets=["aave-core"], assets=["WBTC"], hf_min=1.0, hf_max=1.5)
    assert [r["account"] for r in doc["rows"]] == want.account.tolist() and len(want) > 0
    doc = json.loads(run("--format", "json", "--limit", 0, "--venue", "aave_v33", "--side", "short").stdout)
    assert doc["rows"] and {r["venue"] for r in doc["rows"]} == {"aave_v33"} and {r["side"] for r in doc["rows"]} == {"short"}


def test_by_market(run, library_table) -> None:
    doc = json.loads(run("--by-market", "--format", "json").stdout)
    want = market_breakdown(library_table)
    assert [r["market_id"] for r in doc["rows"]] == want.market_id.tolist()
    assert [r["debt_within_10pct_usd"] for r in doc["rows"]] == pytest.approx(want.debt_within_usd[:, 1].tolist())
    table = run("--by-market").stdout
    assert "Positions by market" in table and "aave-core" in table


@pytest.mark.parametrize("args, message", [
    (("--format", "parquet"), "--format parquet: pass --out"),
    (("--market", "nope"), "--market: no market 'nope'"),
    (("--asset", "DOGE"), "--asset: asset 'DOGE' is not in the snapshot"),
    (("--hf-min", 2, "--hf-max", 1), "--hf-min 2 must be below --hf-max 1"),
    (("--limit", -1), "--limit: must be >= 0"),
])
def test_user_errors(run, args, message) -> None:
    result = run(*args, ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"Error: {message}" in result.stderr
