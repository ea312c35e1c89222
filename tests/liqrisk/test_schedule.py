"""Scheduled reports: repeated runs with an SQLite index, a failed run survived, fresh blocks
on a devnet, clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from liqrisk.report import ReportConfig, compute_report, write_report
from liqrisk.schedule import INDEX_NAME, RunIndex, clean_stale_temp_dirs, parse_interval, run_every, run_once
from liqrisk.scenario import SourceSpec
from liqrisk.sources import LoadedSnapshot, load_source

QUICK = ReportConfig(monte_carlo=None, charts=False)


def test_parse_interval() -> None:
    assert parse_interval("15m") == 900
    assert parse_interval("30s") == 30 and parse_interval("2") == 2
    assert parse_interval("1.5h") == 5400 and parse_interval("1d") == 86400
    for bad in ("", "15 minutes", "-1m", "0s", "m"):
        with pytest.raises(ValueError):
            parse_interval(bad)


def test_two_iterations_survive_an_injected_failure(tmp_path: Path) -> None:
    loaded = load_source(SourceSpec(kind="sample", sample_positions=200))
    calls = {"n": 0}

    def job():
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("RPC went away")
        return write_report(compute_report(loaded, QUICK), tmp_path)

    events: list[str] = []
    with RunIndex(tmp_path / INDEX_NAME) as index:
        outcomes = run_every(job, index, every_s=0.05, max_runs=3, on_event=events.append)
        records = index.runs()
        history = index.band_history("WETH")
    assert [o.status for o in outcomes] == ["ok", "failed", "ok"]
    assert [r.status for r in reversed(records)] == ["ok", "failed", "ok"]
    failed = next(r for r in records if r.status == "failed")
    assert "RPC went away" in failed.error and failed.folder is None
    ok = [r for r in records if r.status == "ok"]
    assert all(Path(r.folder).is_dir() for r in ok)
    assert len(history) == 2 and all(low < high for _, _, low, high, _ in history)
    band = outcomes[0].doc.summary.biggest_band
    assert history[0][2:] == (band.low_usd, band.high_usd, band.collateral_usd)
    assert any("run failed" in e for e in events)
    assert not list(tmp_path.glob(".tmp-*"))


def test_interrupted_run_is_recorded_as_abandoned(tmp_path: Path) -> None:
    def job():
        raise KeyboardInterrupt

    with RunIndex(tmp_path / INDEX_NAME) as index:
        with pytest.raises(KeyboardInterrupt):
            run_once(job, index)
        assert index.runs()[0].status == "abandoned"


def test_stop_event_ends_the_loop_between_runs(tmp_path: Path) -> None:
    loaded = load_source(SourceSpec(kind="sample", sample_positions=100))
    stop = threading.Event()

    def job():
        stop.set()  # as a signal handler would, during the run: this run still completes
        return write_report(compute_report(loaded, QUICK), tmp_path)

    with RunIndex(tmp_path / INDEX_NAME) as index:
        outcomes = run_every(job, index, every_s=3600, stop=stop)
    assert [o.status for o in outcomes] == ["ok"]


def test_runs_left_running_by_a_dead_process_are_reaped(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with RunIndex(tmp_path / INDEX_NAME) as index:
        index.start()
    db = sqlite3.connect(tmp_path / INDEX_NAME)
    with db:
        db.execute("UPDATE runs SET pid=?", (dead.pid,))
    db.close()
    (tmp_path / f".tmp-x-{dead.pid}").mkdir()
    (tmp_path / f".tmp-y-{os.getpid()}").mkdir()
    with RunIndex(tmp_path / INDEX_NAME) as index:
        assert index.runs()[0].status == "abandoned"
    assert [p.name for p in clean_stale_temp_dirs(tmp_path)] == [f".tmp-x-{dead.pid}"]
    assert (tmp_path / f".tmp-y-{os.getpid()}").exists()


def test_sigterm_stops_the_cli_loop_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    env = {**os.environ, "LIQRISK_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "liqrisk.cli", "report", "--source", "sample", "--out", str(out), "--every", "1s",
         "--paths", "0", "--no-charts"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("*-b0")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert list(out.glob("*-b0")), proc.stderr.read() if proc.poll() is not None else "no run written"
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "SIGTERM" in stderr and "Traceback" not in stderr
    assert not list(out.glob(".tmp-*"))
    with RunIndex(out / INDEX_NAME) as index:
        statuses = [r.status for r in index.runs()]
    assert statuses and set(statuses) == {"ok"}
    for folder in out.glob("*-b0"):
        assert (folder / "report.json").exists() and (folder / "report.html").exists()


@pytest.mark.devnet
def test_each_scheduled_run_pins_a_fresh_devnet_block(tmp_path: Path) -> None:
    from chain.devnet import Devnet
    from chain.scan import scan_devnet

    with Devnet() as net:
        net.deploy()
        net.populate(40, 7)

        def job():
            snap = scan_devnet(net.deployment, "latest")
            result = compute_report(LoadedSnapshot(snap, "devnet", "test devnet"), QUICK)
            net.mine(3)  # the chain moves on between runs
            return write_report(result, tmp_path)

        with RunIndex(tmp_path / INDEX_NAME) as index:
            outcomes = run_every(job, index, every_s=0.01, max_runs=2)
            blocks = [r.block_number for r in reversed(index.runs())]
    assert [o.status for o in outcomes] == ["ok", "ok"]
    assert blocks[1] == blocks[0] + 3
    assert all(o.doc.source.block_number == b for o, b in zip(outcomes, blocks))
