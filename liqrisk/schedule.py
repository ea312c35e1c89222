"""Scheduled reports: run a report job every N minutes (or once, for cron), keep an index.

- Each run pins a fresh block (the job resolves ``latest`` again) and writes its folder
  atomically (:func:`liqrisk.report.write_report`: temp dir + rename).
- ``runs.sqlite`` in the output root (stdlib sqlite3, WAL) records every run: id, times, block,
  status (``running`` / ``ok`` / ``failed`` / ``abandoned``), error, and the biggest band's
  low / high / collateral — the band history over time (:meth:`RunIndex.band_history`).
- A failed run is logged and recorded, and the loop keeps going.
- SIGTERM / SIGINT: the first one lets the current run finish, then the loop stops; a second one
  abandons the run (its temporary folder is removed, the index says ``abandoned``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from liqrisk.report import ReportDoc

log = logging.getLogger(__name__)

INDEX_NAME = "runs.sqlite"
INDEX_RECOVER = ("Move it away (a new, empty index is then created; the run folders stay) or choose "
                 "another --out")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id              TEXT,
    started_at          TEXT NOT NULL,
    finished_at         TEXT,
    status              TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'abandoned')),
    pid                 INTEGER NOT NULL,
    folder              TEXT,
    error               TEXT,
    source              TEXT,
    chain_id            INTEGER,
    block_number        INTEGER,
    block_timestamp     INTEGER,
    driver              TEXT,
    spot_usd            REAL,
    band_side           TEXT,
    band_low_usd        REAL,
    band_high_usd       REAL,
    band_collateral_usd REAL,
    lar_99_usd          REAL,
    alerts              INTEGER
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
"""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class RunRecord:
    id: int
    run_id: str | None
    started_at: str
    finished_at: str | None
    status: str
    folder: str | None
    error: str | None
    block_number: int | None
    driver: str | None
    spot_usd: float | None
    band_side: str | None
    band_low_usd: float | None
    band_high_usd: float | None
    band_collateral_usd: float | None
    lar_99_usd: float | None
    alerts: int | None


_RECORD_COLUMNS = ("id", "run_id", "started_at", "finished_at", "status", "folder", "error", "block_number", "driver",
                   "spot_usd", "band_side", "band_low_usd", "band_high_usd", "band_collateral_usd", "lar_99_usd", "alerts")


class RunIndex:
    """The SQLite index of report runs in an output root."""

    def __init__(self, path: str | Path) -> None:
        from chain.store import open_store

        self.path = Path(path)
        # Shared by every report run into this root, possibly at once: busy timeout + WAL, and a
        # corrupt or foreign file is named (chain.store.StoreFileError), never a sqlite3 traceback.
        self._db = open_store(self.path, what="run index", schema=_SCHEMA, recover=INDEX_RECOVER)
        self._reap()

    def _reap(self) -> None:
        """Runs left 'running' by a process that no longer exists were abandoned."""
        rows = self._db.execute("SELECT id, pid FROM runs WHERE status = 'running'").fetchall()
        with self._db:
            for row_id, pid in rows:
                if not _alive(int(pid)):
                    self._db.execute("UPDATE runs SET status='abandoned', finished_at=?, error=? WHERE id=?",
                                     (_now(), "process ended during the run", row_id))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "RunIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> int:
        with self._db:
            cur = self._db.execute("INSERT INTO runs (started_at, status, pid) VALUES (?, 'running', ?)", (_now(), os.getpid()))
        return int(cur.lastrowid)

    def finish_ok(self, row: int, folder: Path, doc: "ReportDoc") -> None:
        band = doc.summary.biggest_band
        with self._db:
            self._db.execute(
                """UPDATE runs SET status='ok', finished_at=?, run_id=?, folder=?, source=?, chain_id=?, block_number=?,
                   block_timestamp=?, driver=?, spot_usd=?, band_side=?, band_low_usd=?, band_high_usd=?,
                   band_collateral_usd=?, lar_99_usd=?, alerts=? WHERE id=?""",
                (_now(), doc.run_id, str(folder), doc.source.description, doc.source.chain_id, doc.source.block_number,
                 doc.source.block_timestamp, doc.driver, doc.bands.spot_usd, band.side if band else None,
                 band.low_usd if band else None, band.high_usd if band else None, band.collateral_usd if band else None,
                 doc.summary.lar_99_usd, len(doc.alerts), row),
            )

    def finish_failed(self, row: int, error: str, *, status: str = "failed") -> None:
        with self._db:
            self._db.execute("UPDATE runs SET status=?, finished_at=?, error=? WHERE id=?", (status, _now(), error[:4000], row))

    def runs(self, limit: int | None = None) -> list[RunRecord]:
        sql = f"SELECT {', '.join(_RECORD_COLUMNS)} FROM runs ORDER BY id DESC"
        rows = self._db.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ()).fetchall()
        return [RunRecord(*r) for r in rows]

    def band_history(self, driver: str | None = None) -> list[tuple[str, int, float, float, float]]:
        """(started_at, block, band low, band high, band collateral USD) of successful runs, oldest first."""
        sql = ("SELECT started_at, block_number, band_low_usd, band_high_usd, band_collateral_usd FROM runs "
               "WHERE status='ok' AND band_low_usd IS NOT NULL" + (" AND driver=?" if driver else "") + " ORDER BY id")
        return [tuple(r) for r in self._db.execute(sql, (driver,) if driver else ()).fetchall()]


def clean_stale_temp_dirs(root: Path) -> list[Path]:
    """Remove ``.tmp-<run>-<pid>`` folders left by processes that no longer exist, and the empty
    ``<run>`` folder each had reserved (:func:`liqrisk.report.reserve_run_id`)."""
    removed = []
    for tmp in Path(root).glob(".tmp-*"):
        match = re.search(r"^\.tmp-(.+)-(\d+)$", tmp.name)
        if tmp.is_dir() and match and int(match.group(2)) != os.getpid() and not _alive(int(match.group(2))):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
            try:
                (Path(root) / match.group(1)).rmdir()  # only when still empty
            except OSError:
                pass
    return removed


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """``"15m"`` -> 900.0 seconds. Accepts s / m / h / d suffixes or plain seconds; must be > 0."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text))
    if not match:
        raise ValueError(f"invalid interval {text!r}: expected e.g. 30s, 15m, 1h, 1d")
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"interval {text!r} must be > 0")
    return seconds


@dataclass(frozen=True)
class RunOutcome:
    status: str
    folder: Path | None
    doc: "ReportDoc | None"
    error: str | None
    exception: BaseException | None = None
    """The exception a failed run raised (a single run re-raises it: the CLI tells a user error from a bug)."""


Job = Callable[[], "tuple[Path, ReportDoc]"]
"""One report run: load a fresh snapshot, compute, write; returns (folder, document)."""


def run_once(job: Job, index: RunIndex, *, on_event: Callable[[str], None] | None = None) -> RunOutcome:
    """Run ``job`` once and record it. Exceptions are recorded and returned, except interrupts
    (KeyboardInterrupt / SystemExit), which are recorded as ``abandoned`` and re-raised."""
    say = on_event or (lambda _m: None)
    row = index.start()
    try:
        folder, doc = job()
    except (KeyboardInterrupt, SystemExit):
        index.finish_failed(row, "interrupted", status="abandoned")
        raise
    except Exception as exc:  # noqa: BLE001 - a scheduled loop survives any failed run
        from liqrisk.errors import LiqriskUserError

        message = str(exc) if isinstance(exc, LiqriskUserError) else f"{type(exc).__name__}: {exc}"
        log.error("report run failed: %s", message)
        log.debug("%s", traceback.format_exc())
        index.finish_failed(row, message)
        say(f"run failed: {message}")
        return RunOutcome("failed", None, None, message, exc)
    index.finish_ok(row, folder, doc)
    say(f"wrote {folder} (block {doc.source.block_number:,})")
    return RunOutcome("ok", folder, doc, None)


class _Stopper:
    """First SIGTERM/SIGINT: stop after the current run. Second: abandon it (KeyboardInterrupt)."""

    def __init__(self, stop: threading.Event, say: Callable[[str], None]) -> None:
        self.stop, self.say, self.previous = stop, say, {}

    def __enter__(self) -> "_Stopper":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()
        self.say(f"{signal.Signals(signum).name}: stopping after the current run (again to abandon it)")

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def run_every(
    job: Job,
    index: RunIndex,
    *,
    every_s: float,
    max_runs: int | None = None,
    stop: threading.Event | None = None,
    on_event: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[RunOutcome]:
    """Run ``job`` every ``every_s`` seconds (start to start) until ``max_runs`` or a stop signal.

    A run that takes longer than the interval is followed immediately by the next one (runs never
    overlap). Returns the outcomes.
    """
    if every_s <= 0:
        raise ValueError("every_s must be > 0")
    stop = stop or threading.Event()
    say = on_event or (lambda _m: None)
    outcomes: list[RunOutcome] = []
    with _Stopper(stop, say):
        while not stop.is_set():
            started = clock()
            outcomes.append(run_once(job, index, on_event=say))
            if max_runs is not None and len(outcomes) >= max_runs:
                break
            wait = max(0.0, every_s - (clock() - started))
            if wait > 0:
                say(f"next run in {wait:,.0f}s")
            if stop.wait(wait):
                break
    return outcomes


__all__ = ["INDEX_NAME", "RunIndex", "RunOutcome", "RunRecord", "clean_stale_temp_dirs", "parse_interval", "run_every",
           "run_once"]
