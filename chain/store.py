"""Opening liqrisk's own SQLite files (RPC cache, discovery index, run index) safely.

Each is a shared file: several scans or report runs may use it at once, so connections wait for
a lock (busy timeout) instead of failing with ``database is locked``, and the journal is WAL
(readers never block the writer). Each is also a file a user can point anywhere: a corrupt file,
a file of another program or another liqrisk store is recognised when it is opened and raised as
one :class:`StoreFileError` naming the file and how to recover, never a raw ``sqlite3`` traceback.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

APPLICATION_ID = 0x6C717273  # "lqrs", in the SQLite header: marks a file as liqrisk's own
BUSY_TIMEOUT_S = 60.0


class StoreFileError(RuntimeError):
    """A liqrisk SQLite file that cannot be used as it is. ``path``, ``what`` (e.g. "RPC
    cache"), ``problem`` and ``recover`` (what the user can do) are in the message."""

    def __init__(self, path: Path, what: str, problem: str, recover: str) -> None:
        super().__init__(f"{what} {path}: {problem}. {recover}")
        self.path = path
        self.what = what
        self.problem = problem
        self.recover = recover


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def _expected_columns(schema: str) -> dict[str, list[str]]:
    mem = sqlite3.connect(":memory:")
    try:
        mem.executescript(schema)
        tables = [r[0] for r in mem.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: _columns(mem, t) for t in tables if t != "sqlite_sequence"}
    finally:
        mem.close()


def open_store(path: str | Path, *, what: str, schema: str, recover: str,
               busy_timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open (creating if needed) the SQLite file ``path`` holding ``schema``.

    Raises :class:`StoreFileError` if the path is not a regular file, not an SQLite database
    (or corrupt), belongs to another application, or has tables other than ``schema``'s (an
    older file missing a table ``schema`` adds is upgraded in place).
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise StoreFileError(path, what, "is not a regular file", recover)
    path.parent.mkdir(parents=True, exist_ok=True)
    expected = _expected_columns(schema)
    try:
        db = sqlite3.connect(str(path), timeout=busy_timeout_s)
    except sqlite3.Error as exc:
        raise StoreFileError(path, what, f"cannot be opened ({exc})", recover) from None
    try:
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")} - {"sqlite_sequence"}
        if app_id not in (0, APPLICATION_ID):
            raise StoreFileError(path, what, f"belongs to another program (SQLite application id {app_id:#x})",
                                 recover)
        foreign = sorted(tables - set(expected))
        if foreign:
            raise StoreFileError(path, what, f"is not a liqrisk {what} (it has table(s) {', '.join(foreign)})",
                                 recover)
        for table in tables:
            if _columns(db, table) != expected[table]:
                raise StoreFileError(path, what, f"table {table} has other columns than this version of "
                                     "liqrisk writes", recover)
        _set_wal(db, busy_timeout_s)
        db.executescript(schema)
        if app_id == 0:
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.commit()
    except StoreFileError:
        db.close()
        raise
    except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
        db.close()
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            raise StoreFileError(path, what, f"stayed locked for {busy_timeout_s:g}s by another process",
                                 "Wait for the other run to finish, or give this run its own file") from None
        raise StoreFileError(path, what, f"is not a readable SQLite database ({exc})", recover) from None
    return db


def _set_wal(db: sqlite3.Connection, busy_timeout_s: float) -> None:
    """Switch to WAL; the switch itself can meet a lock that the busy handler does not cover."""
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def store_error(path: Path, what: str, recover: str, exc: sqlite3.DatabaseError) -> StoreFileError:
    """A :class:`StoreFileError` for a database error met after opening (a corrupt page)."""
    return StoreFileError(path, what, f"is damaged ({exc})", recover)


__all__ = ["APPLICATION_ID", "BUSY_TIMEOUT_S", "StoreFileError", "open_store", "store_error"]
