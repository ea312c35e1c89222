"""A SQLite cache of JSON-RPC results that cannot change: calls pinned to one immutable block.

:class:`CachingTransport` wraps any :class:`~chain.transport.Transport`. It caches only:

- ``eth_chainId`` (kept in memory; it is part of every key);
- ``eth_call`` / ``eth_getCode`` / ``eth_getBalance`` / ``eth_getStorageAt`` /
  ``eth_getTransactionCount`` at an EIP-1898 ``blockHash`` — the state of a block hash never
  changes, so the key is the hash (this is how :class:`chain.blocks.PinnedTransport` reads);
- the same at a hex block number (or EIP-1898 ``blockNumber``), ``eth_getBlockByNumber`` at a hex
  number and ``eth_getLogs`` with numeric ``fromBlock`` and ``toBlock``, only at or below
  ``safe_block``: above it a reorg can still replace the block behind a number (a cache keyed by
  number would then serve the replaced block's state to every later run), and a node answers
  ``[]`` for logs of blocks it has not seen yet, which must never be stored.
  ``safe_block=None`` (default) = never cache by number;
- ``eth_getBlockByHash`` (non-null results only).

Calls at ``latest``/``pending``/``safe``/``finalized``/``earliest`` or without a block are
always forwarded. Errors are never cached; results are cached only after the inner transport
validated them. Keys are (chain id, method, canonical params JSON). The file is shared safely
by concurrent runs (WAL, busy timeout) and a corrupt or foreign file is a
:class:`chain.store.StoreFileError` naming it (:func:`chain.store.open_store`).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from chain.store import StoreFileError, open_store, store_error
from chain.transport import RpcError, Transport, batch_settled

CACHE_WHAT = "RPC cache"
CACHE_RECOVER = ("It only holds copies of chain data: delete it (with its -wal and -shm files) and the "
                 "next run rebuilds it")

_STATE_METHODS_BLOCK_INDEX = {
    "eth_call": 1,
    "eth_getCode": 1,
    "eth_getBalance": 1,
    "eth_getTransactionCount": 1,
    "eth_getStorageAt": 2,
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rpc_cache (
    chain_id INTEGER NOT NULL,
    method   TEXT    NOT NULL,
    params   TEXT    NOT NULL,
    result   TEXT    NOT NULL,
    PRIMARY KEY (chain_id, method, params)
) WITHOUT ROWID;
"""


def _is_hex_number(value: Any) -> bool:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")) or len(value) < 3:
        return False
    try:
        int(value, 16)
    except ValueError:
        return False
    return True


def _immutable_block_param(value: Any, safe_block: int | None) -> bool:
    """A block parameter naming one block whose state cannot change any more: a block hash, or
    a number at or below the safe bound (never a tag, never an unsafe number)."""
    if isinstance(value, dict):  # EIP-1898
        if "blockHash" in value:
            return isinstance(value["blockHash"], str) and len(value["blockHash"]) == 66
        value = value.get("blockNumber")
    return safe_block is not None and _is_hex_number(value) and int(value, 16) <= safe_block


def _canonical(value: Any) -> Any:
    """Hex strings are case-insensitive, and quantities may carry leading zeros."""
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        return value.lower()
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return value


def _canonical_block(value: str) -> str:
    return hex(int(value, 16))


def cacheable(method: str, params: list[Any], safe_block: int | None) -> bool:
    """True if ``method(params)`` is pinned to an immutable block and may be cached."""
    if method == "eth_getBlockByHash":
        return True
    if method == "eth_getBlockByNumber":
        # The block at a number changes on a reorg (and discovery's reorg check reads it).
        return (safe_block is not None and bool(params) and _is_hex_number(params[0])
                and int(params[0], 16) <= safe_block)
    if method in _STATE_METHODS_BLOCK_INDEX:
        i = _STATE_METHODS_BLOCK_INDEX[method]
        return len(params) > i and _immutable_block_param(params[i], safe_block)
    if method == "eth_getLogs":
        if safe_block is None or len(params) != 1 or not isinstance(params[0], dict):
            return False
        flt = params[0]
        if "blockHash" in flt:
            return False  # cannot tell whether that block is below the safe bound
        frm, to = flt.get("fromBlock"), flt.get("toBlock")
        return (_is_hex_number(frm) and _is_hex_number(to)
                and int(frm, 16) <= int(to, 16) <= safe_block)
    return False


def cache_key_params(method: str, params: list[Any]) -> str:
    canon = _canonical(params)
    if method == "eth_getBlockByNumber":
        canon[0] = _canonical_block(canon[0])
    elif method in _STATE_METHODS_BLOCK_INDEX:
        i = _STATE_METHODS_BLOCK_INDEX[method]
        if isinstance(canon[i], str):
            canon[i] = _canonical_block(canon[i])
    elif method == "eth_getLogs":
        flt = dict(canon[0])
        flt["fromBlock"] = _canonical_block(flt["fromBlock"])
        flt["toBlock"] = _canonical_block(flt["toBlock"])
        canon = [flt]
    return json.dumps(canon, sort_keys=True, separators=(",", ":"))


class CachingTransport:
    """Transport wrapper with a SQLite (WAL) cache of pinned-block results.

    ``safe_block``: highest block treated as final: logs and blocks-by-number up to it are
    cached (None = never cache them; e.g. pass ``pin_block(t, "finalized").number``);
    raise it with :meth:`set_safe_block` as the chain finalizes. ``hits``/``misses``
    count cache lookups of cacheable calls.
    """

    def __init__(self, inner: Transport, path: str | Path, *, safe_block: int | None = None) -> None:
        self.inner = inner
        self.path = Path(path)
        self.safe_block = safe_block
        self._db = open_store(self.path, what=CACHE_WHAT, schema=_SCHEMA, recover=CACHE_RECOVER)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._chain_id: int | None = None
        self.hits = 0
        self.misses = 0

    @property
    def masked_url(self) -> str:  # type: ignore[override]
        return self.inner.masked_url

    def __repr__(self) -> str:
        return f"CachingTransport({self.inner!r}, {str(self.path)!r})"

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.inner.chain_id
        return self._chain_id

    def set_safe_block(self, number: int | None) -> None:
        self.safe_block = number

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CachingTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cache primitives -------------------------------------------------------------------

    def _get(self, method: str, key: str) -> tuple[bool, Any]:
        try:
            row = self._db.execute(
                "SELECT result FROM rpc_cache WHERE chain_id=? AND method=? AND params=?",
                (self.chain_id, method, key),
            ).fetchone()
            return (True, json.loads(row[0])) if row else (False, None)
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:
            raise self._damaged(exc) from None

    def _put_many(self, rows: list[tuple[str, str, Any]]) -> None:
        rows = [(m, k, r) for m, k, r in rows if r is not None]  # null = not found (yet)
        if not rows:
            return
        try:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO rpc_cache (chain_id, method, params, result) VALUES (?,?,?,?)",
                    [(self.chain_id, m, k, json.dumps(r, separators=(",", ":"))) for m, k, r in rows],
                )
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def _damaged(self, exc: Exception) -> StoreFileError:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return StoreFileError(self.path, CACHE_WHAT, "stayed locked by another process",
                                  "Wait for the other run to finish, or give this run its own cache file")
        return store_error(self.path, CACHE_WHAT, CACHE_RECOVER, exc)  # type: ignore[arg-type]

    # -- Transport --------------------------------------------------------------------------

    def request(self, method: str, params: list[Any]) -> Any:
        if method == "eth_chainId":
            return hex(self.chain_id)
        if not cacheable(method, params, self.safe_block):
            return self.inner.request(method, params)
        key = cache_key_params(method, params)
        found, value = self._get(method, key)
        if found:
            self.hits += 1
            return value
        self.misses += 1
        result = self.inner.request(method, params)
        self._put_many([(method, key, result)])
        return result

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Serve cached elements from SQLite, send only the misses (one inner batch)."""
        return self._batch(calls, settle=False)

    def batch_settled(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """:meth:`batch` returning an ``RpcError`` in place of each element that failed."""
        return self._batch(calls, settle=True)

    def _batch(self, calls: list[tuple[str, list[Any]]], *, settle: bool) -> list[Any]:
        results: list[Any] = [None] * len(calls)
        keys: dict[int, str] = {}
        to_send: list[int] = []
        for i, (method, params) in enumerate(calls):
            if method == "eth_chainId":
                results[i] = hex(self.chain_id)
                continue
            if cacheable(method, params, self.safe_block):
                key = cache_key_params(method, params)
                found, value = self._get(method, key)
                if found:
                    self.hits += 1
                    results[i] = value
                    continue
                self.misses += 1
                keys[i] = key
            to_send.append(i)
        if to_send:
            misses = [calls[i] for i in to_send]
            fetched = batch_settled(self.inner, misses) if settle else self.inner.batch(misses)
            for i, value in zip(to_send, fetched, strict=True):
                results[i] = value
            self._put_many([(calls[i][0], keys[i], results[i]) for i in to_send
                            if i in keys and not isinstance(results[i], RpcError)])
        return results
