"""Reports: JSON valid against docs/report.schema.json, Markdown/HTML/PNGs written atomically,
charts non-trivial, the interactive figures' data equal to the library's, markets and at-risk
positions, band history from the run index, alerts, and the webhook (a real HTTP server on
127.0.0.1) posted by the caller in the plain and the Slack shape. The page in a real browser:
test_report_browser.py."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from liqrisk import charts as charts_module
from liqrisk.alerts import AlertConfig, alert_payload, band_alerts, cascade_alerts, post_webhook, resolve_format
from liqrisk.report import (
    SCHEMA_PATH,
    ReportConfig,
    band_history,
    compute_report,
    free_run_id,
    render_figures,
    report_schema,
    send_alerts,
    write_report,
)
from liqrisk.scenario import MonteCarloShock, SourceSpec, load_scenario
from liqrisk.sources import load_source

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture(scope="module")
def loaded():
    return load_source(SourceSpec(kind="sample"))


def _config(**kw) -> ReportConfig:
    base = dict(monte_carlo=MonteCarloShock(kind="monte_carlo", model="gbm", paths=120, seed=3),
                scenarios=(load_scenario(SCENARIOS / "2026-early_eth_band_sweep.toml"),
                           load_scenario(SCENARIOS / "wsteth_depeg.toml")))
    base.update(kw)
    return ReportConfig(**base)


@pytest.fixture(scope="module")
def written(loaded, tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    result = compute_report(loaded, _config())
    folder, doc = write_report(result, root)
    return root, folder, doc, result


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_schema_file_is_in_sync_with_the_model() -> None:
    assert json.loads(SCHEMA_PATH.read_text()) == report_schema(), "run `python -m liqrisk.report --schema`"


def test_report_json_validates_against_the_schema(written) -> None:
    _, folder, _, _ = written
    document = json.loads((folder / "report.json").read_text())
    _validator().validate(document)
    assert document["source"]["block_number"] == 0 and document["source"]["synthetic"] is True
    assert [s["kind"] for s in document["scenarios"]] == ["path", "grid"]


def test_schema_rejects_a_broken_report(written) -> None:
    _, folder, _, _ = written
    document = json.loads((folder / "report.json").read_text())
    document["bands"]["bands"][0]["side"] = "sideways"
    with pytest.raises(jsonschema.ValidationError):
        _validator().validate(document)
    del document["bands"]
    with pytest.raises(jsonschema.ValidationError):
        _validator().validate(document)


def test_summary_matches_the_detail(written) -> None:
    _, _, doc, result = written
    biggest = max(doc.bands.bands, key=lambda b: b.collateral_usd)
    assert doc.summary.biggest_band == biggest
    rows = {round(r.initial_drawdown, 6): r for r in doc.cascade.rows}
    for key, row in doc.summary.cascade.items():
        assert rows[round(float(key.rstrip("%")) / 100, 6)] == row
    assert doc.summary.lar_99_usd == doc.monte_carlo.endogenous.lar_99_usd


def test_files_and_non_trivial_charts(written) -> None:
    from matplotlib.image import imread

    _, folder, doc, _ = written
    for name in ("report.json", "report.md", "report.html"):
        assert (folder / name).stat().st_size > 1000
    pngs = sorted(folder.glob("*.png"))
    expected = {"liquidation_map.png", "cascade.png", "cascade_markets.png", "monte_carlo.png",
                "monte_carlo_markets.png", "scenario_01_path.png", "scenario_02_cascade.png",
                "scenario_02_liquidation_map.png"}
    assert {p.name for p in pngs} == expected
    for png in pngs:
        assert png.stat().st_size > 20_000, png
        pixels = imread(png)[..., :3]
        assert pixels.shape[0] > 400 and pixels.shape[1] > 800
        assert pixels.std() > 0.05, f"{png.name} looks blank"
        # Not a flat background with a few dots: a meaningful share of pixels is not white.
        assert np.mean(pixels.min(axis=2) < 0.9) > 0.02, png.name


def test_markdown_has_the_pngs_and_html_is_self_contained(written) -> None:
    import re

    from plotly.offline import get_plotlyjs

    _, folder, doc, result = written
    md = (folder / "report.md").read_text()
    assert f"block {doc.source.block_number:,}" in md
    for png in folder.glob("*.png"):
        assert f"]({png.name})" in md
    html = (folder / "report.html").read_text()
    assert html.count(get_plotlyjs()) == 1, "plotly.js must be inlined exactly once"
    # Offline: no script, stylesheet or image is fetched from anywhere.
    assert not re.search(r"<(script|img|link)[^>]+(src|href)=['\"]?(https?:)?//", html)
    divs = re.findall(r"<div class='chart' id='chart-([^']+)'", html)
    figures = json.loads(re.search(r"<script type='application/json' id='liqrisk-figures'>(.*?)</script>", html,
                                   re.S).group(1))
    assert sorted(divs) == sorted(figures) == sorted(render_figures(result))
    assert {"liquidation_map", "cumulative", "market_split", "band_history", "cascade", "monte_carlo",
            "scenario_01_path", "scenario_02_cascade", "scenario_02_liquidation_map"} <= set(divs)
    for key, fig in figures.items():
        assert fig["data"], key
    # Every top at-risk account is in the positions table of the page.
    for p in doc.at_risk.top:
        assert f">{p.account}<" in html


def test_figure_data_is_the_library_data(written) -> None:
    _, _, _, result = written
    figs = render_figures(result)
    lm = figs["liquidation_map"]
    view = charts_module.map_bins(result.bands, max_bars=160)
    drawn = sum(np.asarray(t.y, dtype=float).sum() for t in lm.data)
    assert drawn == pytest.approx(view.collateral_usd.sum(), rel=1e-12)
    assert view.collateral_usd.sum() == pytest.approx(result.bands.map.collateral_usd.sum(), rel=0.02)
    split = figs["market_split"]
    per_market = np.sum([np.asarray(t.x, dtype=float) for t in split.data], axis=0)
    np.testing.assert_allclose(per_market, result.markets.debt_usd, rtol=1e-12)
    mc = figs["monte_carlo"]
    np.testing.assert_array_equal(mc.data[0].x, result.monte_carlo.monte_carlo.result.endogenous.liquidated_debt_usd)


def test_every_market_is_its_own_series_and_the_parts_add_up(written) -> None:
    """Issues 8/12: markets, not rules, are the series (Aave Core and Spark apart, each Morpho
    market apart), in the liquidation map, the cascade and the Monte Carlo, and in the page."""
    _, folder, doc, result = written
    snapshot = result.loaded.snapshot
    with_positions = {p.market for p in snapshot.positions}
    names = {m.id: m.name for m in snapshot.markets}
    figs = render_figures(result)
    map_series = {t.name for t in figs["liquidation_map"].data}
    lmap = result.bands.map
    for k, market in enumerate(lmap.market_ids):
        if lmap.collateral_by_market_usd[:, k].any():
            assert any(name.startswith(names[market] + " · ") for name in map_series), market
    assert len(map_series) > len({t.split(" · ")[1] for t in map_series}), "two markets of one rule must be two series"
    # cascade: the stacked parts are the totals
    table = result.core.cascade
    liq = [t for t in figs["cascade_markets"].data if t.xaxis == "x"]
    np.testing.assert_allclose(np.sum([np.asarray(t.y, dtype=float) for t in liq], axis=0), table.liquidated_debt_usd,
                               rtol=1e-12, atol=1e-6)
    assert {m.market_id for m in doc.cascade.by_market} == with_positions
    for i, row in enumerate(doc.cascade.rows):
        assert sum(m.liquidated_debt_usd[i] for m in doc.cascade.by_market) == pytest.approx(row.liquidated_debt_usd,
                                                                                               rel=1e-12, abs=1e-6)
        assert sum(m.positions_hit[i] for m in doc.cascade.by_market) == row.positions_hit
    # Monte Carlo: one summary per market with positions
    assert {m.market_id for m in doc.monte_carlo.by_market} == with_positions
    mean = sum(m.mean_liquidated_usd for m in doc.monte_carlo.by_market)
    assert mean == pytest.approx(doc.monte_carlo.endogenous.mean_liquidated_usd, rel=1e-9)
    html = (folder / "report.html").read_text()
    md = (folder / "report.md").read_text()
    for market in with_positions:  # by the name a desk knows it by
        assert names[market] in html and names[market] in md


def test_cumulative_curve_equals_a_sum_over_positions(loaded) -> None:
    from risk.bands import liquidation_bands
    from risk.book import PositionBook
    from risk.liquidation_prices import Side, liquidation_prices_for

    book = PositionBook.from_snapshot(loaded.snapshot).with_prices({"WETH": 1_850.0})  # some liquidatable now
    bands = liquidation_bands(book, "WETH")
    long_c, short_c = charts_module.cumulative_liquidatable(bands)
    price, side = liquidation_prices_for(book, "WETH")
    coll = book.collateral_usd()
    now = float(coll[side == Side.NOW].sum())
    assert now > 0 and long_c.collateral_usd[0] == short_c.collateral_usd[0] == pytest.approx(now)
    for c, sign, code in ((long_c, -1, Side.BELOW), (short_c, 1, Side.ABOVE)):
        assert np.all(sign * np.diff(c.price_usd) > 0) and np.all(np.diff(c.collateral_usd) >= 0)
        for k in range(1, c.price_usd.size, 37):
            x = c.price_usd[k]
            reached = (side == code) & ((price >= x) if code == Side.BELOW else (price <= x))
            assert c.collateral_usd[k] == pytest.approx(now + coll[reached].sum(), rel=1e-9, abs=1e-6), (c.side, x)


def test_markets_and_at_risk_positions_match_the_positions_view(written) -> None:
    from risk.book import PositionBook
    from risk.positions import position_table

    _, _, doc, result = written
    book = PositionBook.from_snapshot(result.loaded.snapshot)
    table = position_table(book, doc.driver, doc.betas)
    assert [m.market_id for m in doc.markets] == [m for m in book.market_ids if m in set(table.market_id)]
    assert sum(m.debt_usd for m in doc.markets) == pytest.approx(table.debt_usd.sum(), rel=1e-12)
    within = doc.alert_thresholds.drawdown
    near = table.distance <= within
    assert doc.at_risk.within == within and doc.at_risk.positions == int(near.sum()) > 20
    assert doc.at_risk.debt_usd == pytest.approx(table.debt_usd[near].sum(), rel=1e-12)
    assert sum(m.debt_within_usd["20%"] for m in doc.markets) == pytest.approx(doc.at_risk.debt_usd, rel=1e-12)
    top = sorted(table.debt_usd[near], reverse=True)[:20]
    assert [p.debt_usd for p in doc.at_risk.top] == pytest.approx(top, rel=1e-15)
    for p in doc.at_risk.top:
        assert p.side in ("now", "long", "short") and abs(p.move_to_liquidation or 0.0) <= within + 1e-12


def test_monte_carlo_without_bad_debt_has_one_panel(loaded) -> None:
    result = compute_report(loaded, _config(monte_carlo=MonteCarloShock(kind="monte_carlo", model="gbm", paths=40, seed=3,
                                                                        vol={"WETH": 0.05}), scenarios=()))
    run = result.monte_carlo.monte_carlo
    assert run.result.endogenous.bad_debt_usd.max() == 0
    assert len(charts_module.monte_carlo_matplotlib(run).axes) == 1
    assert "xaxis2" not in charts_module.monte_carlo_figure(run).to_plotly_json()["layout"]
    deep = compute_report(loaded, _config(monte_carlo=MonteCarloShock(kind="monte_carlo", model="gbm", paths=60, seed=3,
                                                                      vol={"WETH": 3.0}, horizon_days=5), scenarios=()))
    bad_run = deep.monte_carlo.monte_carlo
    assert bad_run.result.endogenous.bad_debt_usd.max() > 0
    assert len(charts_module.monte_carlo_matplotlib(bad_run).axes) == 2
    assert "xaxis2" in charts_module.monte_carlo_figure(bad_run).to_plotly_json()["layout"]


def test_band_history_comes_from_the_run_index(loaded, tmp_path) -> None:
    from liqrisk.schedule import RunIndex, run_once

    cheap = _config(monte_carlo=None, scenarios=(), charts=False)
    spots = (2_000.0, 1_950.0, 2_050.0)

    def job_at(spot):
        def job():
            snap = loaded.snapshot.model_copy(update={"assets": tuple(
                a.model_copy(update={"price_usd": spot}) if a.symbol == "WETH" else a for a in loaded.snapshot.assets)})
            res = compute_report(type(loaded)(snap, loaded.kind, loaded.description), cheap)
            return write_report(res, tmp_path, history=band_history(index, "WETH"))
        return job

    with RunIndex(tmp_path / "runs.sqlite") as index:
        outcomes = [run_once(job_at(s), index) for s in spots]
        assert [o.status for o in outcomes] == ["ok"] * 3
        history = band_history(index, "WETH")
    assert [h.spot_usd for h in history] == list(spots)  # oldest first
    for h, o in zip(history, outcomes):
        assert h.bands == tuple((b.low_usd, b.high_usd, b.collateral_usd) for b in o.doc.bands.bands)
    edges, z = charts_module.band_history_grid(history)
    assert z.shape[1] == 3
    np.testing.assert_allclose(z.sum(axis=0), [sum(b[2] for b in h.bands) for h in history], rtol=1e-9)
    # The last report's heatmap drew the two earlier runs plus itself.
    html = (outcomes[-1].folder / "report.html").read_text()
    assert "bands across scheduled runs (3 runs)" in html


def test_latest_link_and_unique_folders(loaded, tmp_path) -> None:
    result = compute_report(loaded, _config(monte_carlo=None, scenarios=(), charts=False))
    first, _ = write_report(result, tmp_path, run_id="run")
    second, _ = write_report(result, tmp_path, run_id="run")
    assert first.name == "run" and second.name == "run-2"
    assert (tmp_path / "latest").resolve() == second.resolve()


def test_failed_write_leaves_no_half_folder(loaded, tmp_path, monkeypatch) -> None:
    result = compute_report(loaded, _config(monte_carlo=None, scenarios=()))

    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(charts_module, "cascade_png", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(result, tmp_path, run_id="r1")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------- alerts


def test_band_alert_thresholds(written) -> None:
    _, _, _, result = written
    band = result.bands.largest("long")
    spot = result.bands.map.spot_usd
    gap = (spot - band.high_usd) / spot  # the band's upper edge is this far below spot
    assert 0 < gap < 0.5
    near = band_alerts(result.bands, AlertConfig(band_within=gap * 1.01, band_min_usd=band.collateral_usd * 0.999))
    assert [(a.details["band_low_usd"], a.details["band_high_usd"]) for a in near] == [(band.low_usd, band.high_usd)]
    assert near[0].kind == "band_proximity" and near[0].details["distance"] == pytest.approx(gap)
    # Just outside the distance, or just above the band's collateral: no alert.
    assert band_alerts(result.bands, AlertConfig(band_within=gap * 0.99, band_min_usd=band.collateral_usd * 0.999)) == []
    assert band_alerts(result.bands, AlertConfig(band_within=gap * 1.01, band_min_usd=band.collateral_usd * 1.001)) == []


def test_cascade_alert_thresholds(written) -> None:
    _, _, _, result = written
    table = result.core.cascade
    row = table.at(0.2)
    hit = cascade_alerts(table, AlertConfig(drawdown=0.2, cascade_usd=row["liquidated_debt_usd"] * 0.99))
    assert len(hit) == 1 and hit[0].details["liquidated_debt_usd"] == row["liquidated_debt_usd"]
    assert cascade_alerts(table, AlertConfig(drawdown=0.2, cascade_usd=row["liquidated_debt_usd"] * 1.01)) == []


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def webhook_server():
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/SECRET-TOKEN-123", _Hook.received
    finally:
        server.shutdown()
        server.server_close()


def _with_alerts(loaded, url, **kw):
    alerts = AlertConfig(band_within=0.10, band_min_usd=1e6, cascade_usd=1e6, webhook_url=url, **kw)
    return compute_report(loaded, _config(monte_carlo=None, scenarios=(), charts=False, alerts=alerts))


def test_webhook_receives_the_alerts(loaded, tmp_path, webhook_server) -> None:
    url, received = webhook_server
    result = _with_alerts(loaded, url)
    assert result.alerts
    # write_report sends nothing; the caller posts, then the report records the delivery.
    write_report(result, tmp_path / "quiet")
    assert received == []
    run_id = free_run_id(tmp_path, result.loaded.snapshot.block_number)
    webhook = send_alerts(result, run_id)
    folder, doc = write_report(result, tmp_path, run_id=run_id, webhook=webhook)
    assert len(received) == 1 and folder.name == run_id == doc.run_id
    got = received[0]
    assert got["path"] == "/hooks/SECRET-TOKEN-123" and got["type"] == "application/json"
    assert got["body"]["run_id"] == doc.run_id and got["body"]["block_number"] == 0
    assert {a["kind"] for a in got["body"]["alerts"]} == {"band_proximity", "cascade"}
    assert doc.webhook is not None and doc.webhook.delivered and doc.webhook.status == 204
    assert doc.webhook.format == "plain"
    # The token in the URL never reaches the report.
    assert "SECRET-TOKEN-123" not in (folder / "report.json").read_text()
    assert "SECRET-TOKEN-123" not in (folder / "report.html").read_text()


def test_slack_shape(loaded, tmp_path, webhook_server) -> None:
    url, received = webhook_server
    result = _with_alerts(loaded, url, webhook_format="slack")
    webhook = send_alerts(result, "run-1")
    assert webhook is not None and webhook.delivered and webhook.format == "slack"
    body = received[0]["body"]
    assert set(body) == {"text", "blocks"}
    assert body["text"].startswith(f"liqrisk: {len(result.alerts)} ") and "block 0" in body["text"]
    blocks = body["blocks"]
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["type"] == "plain_text"
    assert len(blocks[0]["text"]["text"]) <= 150 and len(blocks) <= 50
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) == len(result.alerts)
    for block, alert in zip(sections, result.alerts):
        assert block["text"]["type"] == "mrkdwn" and len(block["text"]["text"]) <= 3000
        assert alert.kind in block["text"]["text"] and alert.severity.upper() in block["text"]["text"]
    assert blocks[-1]["type"] == "context" and "run-1" in blocks[-1]["elements"][0]["text"]
    # Many alerts: capped at Slack's 50 blocks, the rest counted.
    many = alert_payload(result.alerts * 40, run_id="r", chain_id=1, block_number=5, driver="WETH", fmt="slack")
    assert len(many["blocks"]) == 50 and "more in the report" in many["blocks"][-2]["text"]["text"]


def test_webhook_format_auto() -> None:
    assert resolve_format("https://hooks.slack.com/services/T/B/X") == "slack"
    assert resolve_format("https://example.invalid/hook") == "plain"
    assert resolve_format("https://hooks.slack.com/services/T/B/X", "plain") == "plain"
    assert resolve_format("http://127.0.0.1:9/x", "slack") == "slack"


def test_webhook_failure_is_logged_not_fatal(loaded, tmp_path, caplog) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook?key=SECRET"
    delivery = post_webhook(url, {"x": 1}, timeout_s=2)
    assert not delivery.ok and delivery.error
    assert "SECRET" not in caplog.text and "alert webhook" in caplog.text
    result = _with_alerts(loaded, url, timeout_s=2)
    webhook = send_alerts(result, "r")
    folder, doc = write_report(result, tmp_path, webhook=webhook)
    assert (folder / "report.json").exists()
    assert doc.webhook is not None and not doc.webhook.delivered


def test_no_alerts_no_post(loaded, tmp_path, webhook_server) -> None:
    url, received = webhook_server
    alerts = AlertConfig(band_within=0.001, band_min_usd=1e12, cascade_usd=1e15, webhook_url=url)
    result = compute_report(loaded, _config(monte_carlo=None, scenarios=(), charts=False, alerts=alerts))
    assert send_alerts(result, "r") is None
    _, doc = write_report(result, tmp_path)
    assert result.alerts == () and received == [] and doc.webhook is None


def test_few_bad_debt_paths_are_shown_per_path_not_as_a_histogram(loaded, monkeypatch) -> None:
    """Below FEW_BAD_DEBT_PATHS the bad-debt panel is one bar per path, largest first, on a USD
    axis (a histogram of a handful of values was unit bars against an unlabeled 0–1 count axis)."""
    deep = compute_report(loaded, _config(monte_carlo=MonteCarloShock(kind="monte_carlo", model="gbm", paths=60, seed=3,
                                                                      vol={"WETH": 3.0}, horizon_days=5), scenarios=()))
    run = deep.monte_carlo.monte_carlo
    bad = run.result.endogenous.bad_debt_usd
    k = int((bad > 0).sum())
    assert k >= 2
    monkeypatch.setattr(charts_module, "FEW_BAD_DEBT_PATHS", k)
    fig = charts_module.monte_carlo_figure(run)
    panel = [t for t in fig.data if t.xaxis == "x2"]
    assert [t.type for t in panel] == ["bar"]
    np.testing.assert_array_equal(np.asarray(panel[0].y), np.sort(bad[bad > 0])[::-1])
    assert fig.layout.yaxis2.title.text == "Bad debt (USD)"
    assert f"the {k:,} paths that leave any" in fig.layout.xaxis2.title.text.lower()
    ax2 = charts_module.monte_carlo_matplotlib(run).axes[1]
    assert len(ax2.patches) == k and ax2.get_ylabel() == "Bad debt (USD)"
    monkeypatch.setattr(charts_module, "FEW_BAD_DEBT_PATHS", k - 1)
    fig = charts_module.monte_carlo_figure(run)
    panel = [t for t in fig.data if t.xaxis == "x2"]
    assert [t.type for t in panel] == ["histogram"] and fig.layout.yaxis2.title.text == "Paths"
    assert charts_module.monte_carlo_matplotlib(run).axes[1].get_ylabel() == "Paths"


def test_one_bad_debt_path_is_singular() -> None:
    assert charts_module._bad_debt_paths(1) == "the path that leaves any"
    assert charts_module._bad_debt_paths(1_200) == "the 1,200 paths that leave any"


def test_mc_by_market_axis_goes_log_when_markets_differ_by_orders_of_magnitude(loaded) -> None:
    result = compute_report(loaded, _config(scenarios=()))
    run = result.monte_carlo.monte_carlo
    rows = charts_module._mc_market_rows(run, None)
    values = [getattr(r, f) for _, r in rows for f, _n, _c in charts_module._MC_MARKET_FIELDS]
    positive = [v for v in values if v > 0]
    wide = max(positive) > charts_module.LOG_AXIS_SPREAD * min(positive)
    assert charts_module.monte_carlo_markets_figure(run).layout.xaxis.type == ("log" if wide else "linear")
    assert charts_module._wide_spread([1.0, 0.0, 100.0]) is False
    assert charts_module._wide_spread([1.0, 0.0, 100.5]) is True
    assert charts_module._wide_spread([0.0]) is False


def test_cascade_liquidity_is_a_table_with_short_addresses(loaded) -> None:
    from liqrisk.report import _liquidity_rows

    address = "0x" + "ab" * 20
    rows = _liquidity_rows({
        "WETH": f"on-chain Uniswap v3 at the block, CEX depth x3: WETH/USDC 0.05% {address}; WETH/USDC 0.3% {address}",
        "USDC": "numeraire of the on-chain model (USDC = the price unit): no impact",
        "WBTC": "constant depth: $40M moves the price 1%",
    })
    assert rows[0] == ["WETH", "on-chain Uniswap v3 at the block, CEX depth x3",
                       "WETH/USDC 0.05% 0xabab…abab; WETH/USDC 0.3% 0xabab…abab"]
    assert rows[1] == ["USDC", "numeraire of the on-chain model (USDC = the price unit): no impact", "—"]
    assert rows[2] == ["WBTC", "constant depth: $40M moves the price 1%", "—"]
