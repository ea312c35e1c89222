"""Reports: JSON valid against docs/report.schema.json, Markdown/HTML/PNGs written atomically,
charts non-trivial, alerts, and the webhook (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from liqrisk import charts as charts_module
from liqrisk.alerts import AlertConfig, band_alerts, cascade_alerts, post_webhook
from liqrisk.report import (
    SCHEMA_PATH,
    ReportConfig,
    compute_report,
    report_schema,
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
    expected = {"liquidation_map.png", "cascade.png", "monte_carlo.png", "scenario_01_path.png",
                "scenario_02_cascade.png", "scenario_02_liquidation_map.png"}
    assert {p.name for p in pngs} == expected
    for png in pngs:
        assert png.stat().st_size > 20_000, png
        pixels = imread(png)[..., :3]
        assert pixels.shape[0] > 400 and pixels.shape[1] > 800
        assert pixels.std() > 0.05, f"{png.name} looks blank"
        # Not a flat background with a few dots: a meaningful share of pixels is not white.
        assert np.mean(pixels.min(axis=2) < 0.9) > 0.02, png.name


def test_markdown_and_self_contained_html(written) -> None:
    _, folder, doc, _ = written
    md = (folder / "report.md").read_text()
    assert f"block {doc.source.block_number:,}" in md
    for png in folder.glob("*.png"):
        assert f"]({png.name})" in md
    html = (folder / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(list(folder.glob("*.png")))
    assert "src='liquidation_map.png'" not in html and 'src="liquidation_map.png"' not in html


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


def test_webhook_receives_the_alerts(loaded, tmp_path, webhook_server) -> None:
    url, received = webhook_server
    alerts = AlertConfig(band_within=0.10, band_min_usd=1e6, cascade_usd=1e6, webhook_url=url)
    result = compute_report(loaded, _config(monte_carlo=None, scenarios=(), charts=False, alerts=alerts))
    assert result.alerts
    folder, doc = write_report(result, tmp_path)
    assert len(received) == 1
    got = received[0]
    assert got["path"] == "/hooks/SECRET-TOKEN-123" and got["type"] == "application/json"
    assert got["body"]["run_id"] == doc.run_id and got["body"]["block_number"] == 0
    assert {a["kind"] for a in got["body"]["alerts"]} == {"band_proximity", "cascade"}
    assert doc.webhook is not None and doc.webhook.delivered and doc.webhook.status == 204
    # The token in the URL never reaches the report.
    assert "SECRET-TOKEN-123" not in (folder / "report.json").read_text()
    assert "SECRET-TOKEN-123" not in (folder / "report.html").read_text()


def test_webhook_failure_is_logged_not_fatal(loaded, tmp_path, caplog) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook?key=SECRET"
    delivery = post_webhook(url, {"x": 1}, timeout_s=2)
    assert not delivery.ok and delivery.error
    assert "SECRET" not in caplog.text and "alert webhook" in caplog.text
    alerts = AlertConfig(band_within=0.10, band_min_usd=1e6, webhook_url=url, timeout_s=2)
    result = compute_report(loaded, _config(monte_carlo=None, scenarios=(), charts=False, alerts=alerts))
    folder, doc = write_report(result, tmp_path)
    assert (folder / "report.json").exists()
    assert doc.webhook is not None and not doc.webhook.delivered


def test_no_alerts_no_post(loaded, tmp_path, webhook_server) -> None:
    url, received = webhook_server
    alerts = AlertConfig(band_within=0.001, band_min_usd=1e12, cascade_usd=1e15, webhook_url=url)
    result = compute_report(loaded, _config(monte_carlo=None, scenarios=(), charts=False, alerts=alerts))
    _, doc = write_report(result, tmp_path)
    assert result.alerts == () and received == [] and doc.webhook is None
