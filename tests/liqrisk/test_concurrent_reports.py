"""Report runs into one root never collide (issue 13): the run folder is reserved atomically
(``os.mkdir``, a new id on a clash) and the run index is opened through
:func:`chain.store.open_store` (busy timeout, WAL), so concurrent ``liqrisk report`` processes all
succeed with distinct run ids and one index row each."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

from liqrisk.report import reserve_run_id

N_REPORTS = 12


def test_reserved_ids_are_distinct_within_one_second(tmp_path) -> None:
    when = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
    ids: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        run_id = reserve_run_id(tmp_path, 83, when)
        with lock:
            ids.append(run_id)

    threads = [threading.Thread(target=take) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 24 and "20261201T120000Z-b83" in ids
    assert all((tmp_path / i).is_dir() for i in ids)  # each one reserved on disk


def test_concurrent_report_processes_into_one_root(tmp_path) -> None:
    root = tmp_path / "reports"
    script = Path(sys.executable).parent / "liqrisk"
    env = {**os.environ, "LIQRISK_CACHE_DIR": str(tmp_path / "cache")}
    for name in ("ETH_RPC_URL", "LIQRISK_WEBHOOK_URL"):
        env.pop(name, None)
    # Same source, same block (the sample is block 0), started together: the ids clash unless reserved.
    go = tmp_path / "go"
    starter = ("import os, sys, time\n"
               f"while not os.path.exists({str(go)!r}): time.sleep(0.01)\n"
               "from liqrisk.cli import main\n"
               "main(sys.argv[1:])\n")
    procs = [subprocess.Popen([sys.executable, "-c", starter, "report", "--source", "sample", "--out", str(root),
                               "--paths", "0", "--no-charts", "-q"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(N_REPORTS)]
    go.write_text("")
    # communicate, not wait: a worker's output can exceed the pipe's buffer
    results = [_finish(p, 600) for p in procs]
    failed = [(rc, err) for rc, _out, err in results if rc != 0]
    assert not failed, failed
    assert not any("database is locked" in err for _rc, _out, err in results)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "latest")
    assert len(folders) == N_REPORTS, [p.name for p in folders]
    run_ids = {json.loads((f / "report.json").read_text())["run_id"] for f in folders}
    assert run_ids == {f.name for f in folders}
    db = sqlite3.connect(root / "runs.sqlite")
    try:
        rows = db.execute("SELECT run_id, status FROM runs").fetchall()
    finally:
        db.close()
    assert sorted(r for r, _ in rows) == sorted(run_ids) and {s for _, s in rows} == {"ok"}
    assert not list(root.glob(".tmp-*"))


def _finish(proc: "subprocess.Popen[str]", timeout_s: float) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout_s)
    return proc.returncode, out, err
