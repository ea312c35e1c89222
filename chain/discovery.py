"""Find the accounts of a lending venue from its events, incrementally and resumably.

:class:`LogScanner` walks ``eth_getLogs`` (filtered by contract address and a topic0 list) in
block windows that halve when the provider refuses (too many results, range too large,
timeouts; a range suggested in the error is honoured) and grow after successes. Found accounts
and the scan progress live in an embedded SQLite :class:`AccountIndex`, committed after every
window: a killed run loses nothing and the next run resumes after the last committed block.

A window is either read completely or not at all: its ``eth_getLogs`` answer is validated at the
transport (every log from the filtered contract and topic set, inside the range, well-formed) and
again here (each log must carry the account where its event puts it); an answer that fails is
asked again, a window the node refuses even as one block is retried with backoff, and if that
never succeeds the scan fails with an error naming the block — an account is never dropped.

Reorgs: the hash of every block a log came from and of every window's last block is kept.
Before resuming, the stored hash of the last scanned block is compared with the chain; on a
mismatch the index rolls back to the common ancestor — the newest remembered block whose hash
is still canonical, however deep that is — and rescans from there.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from eth_utils import keccak, to_checksum_address

from chain.blocks import PinnedBlock, ReorgError
from chain.store import open_store, store_error
from chain.transport import RpcError, Transport, is_too_big

log = logging.getLogger(__name__)

INDEX_WHAT = "account index"
INDEX_RECOVER = ("It can be rebuilt from the chain: delete it (with its -wal and -shm files) and the next "
                 "scan rediscovers every account from the venues' start blocks")


# --------------------------------------------------------------------------------------------
# Event sources


@lru_cache(maxsize=None)
def topic0(signature: str) -> str:
    """keccak256 of a canonical event signature, as 0x-hex (the log's topic0). Cached: it is
    asked for on every log."""
    return "0x" + keccak(text=signature).hex()


@lru_cache(maxsize=65536)
def _checksummed(address20: bytes) -> str:
    """Checksummed address of a 20-byte word (cached: a borrower appears in many logs)."""
    return to_checksum_address(address20)


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event and where the account sits in its log.

    ``location`` is ``"topic"`` (``index`` 1..3) or ``"data"`` (``index`` = 32-byte word).
    ``kind`` is ``"address"`` (last 20 bytes, stored checksummed) or ``"bytes32"`` (market ids).
    ``group_topic``: optional topic index stored alongside (e.g. the Morpho market id).
    """

    name: str
    signature: str
    location: Literal["topic", "data"] = "topic"
    index: int = 1
    kind: Literal["address", "bytes32"] = "address"
    group_topic: int | None = None

    def __post_init__(self) -> None:
        if self.location == "topic" and not 1 <= self.index <= 3:
            raise ValueError(f"{self.name}: topic index must be 1..3 (got {self.index})")
        if self.location == "data" and self.index < 0:
            raise ValueError(f"{self.name}: data word index must be >= 0 (got {self.index})")
        if self.group_topic is not None and not 1 <= self.group_topic <= 3:
            raise ValueError(f"{self.name}: group_topic must be 1..3")

    @property
    def topic0(self) -> str:
        return topic0(self.signature)


@dataclass(frozen=True, slots=True)
class EventSource:
    """A contract whose events reveal accounts. ``start_block``: deployment block (scan start)."""

    name: str
    address: str
    events: tuple[EventSpec, ...]
    start_block: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", to_checksum_address(self.address))
        if not self.events:
            raise ValueError(f"{self.name}: an EventSource needs at least one event")
        topics = [e.topic0 for e in self.events]
        if len(set(topics)) != len(topics):
            raise ValueError(f"{self.name}: duplicate event signatures")

    @property
    def topic0s(self) -> list[str]:
        return [e.topic0 for e in self.events]

    @property
    def key(self) -> str:
        """Contract address + a short hash of the sorted event set: a changed event list
        starts a fresh scan instead of silently missing older events."""
        digest = keccak(text=",".join(sorted(self.topic0s))).hex()[:16]
        return f"{self.address.lower()}:{digest}"

    def spec_for(self, topic0_hex: str) -> EventSpec | None:
        return _specs_by_topic0(self.events).get(topic0_hex.lower())


@lru_cache(maxsize=256)
def _specs_by_topic0(events: tuple[EventSpec, ...]) -> dict[str, EventSpec]:
    return {e.topic0: e for e in events}


AAVE_POOL_EVENTS = (
    EventSpec("Borrow", "Borrow(address,address,address,uint256,uint8,uint256,uint16)", index=2),
    EventSpec("Supply", "Supply(address,address,address,uint256,uint16)", index=2),
    EventSpec("ReserveUsedAsCollateralEnabled", "ReserveUsedAsCollateralEnabled(address,address)", index=2),
    EventSpec("LiquidationCall", "LiquidationCall(address,address,address,uint256,uint256,address,bool)",
              index=3),
)
MORPHO_BLUE_EVENTS = (
    EventSpec("Borrow", "Borrow(bytes32,address,address,address,uint256,uint256)", index=2, group_topic=1),
    EventSpec("SupplyCollateral", "SupplyCollateral(bytes32,address,address,uint256)", index=3,
              group_topic=1),
    EventSpec("CreateMarket", "CreateMarket(bytes32,(address,address,address,address,uint256))", index=1,
              kind="bytes32"),
)
COMET_EVENTS = (
    EventSpec("Withdraw", "Withdraw(address,address,uint256)", index=1),
    EventSpec("SupplyCollateral", "SupplyCollateral(address,address,address,uint256)", index=2),
)


def aave_pool_source(address: str, start_block: int = 0, name: str = "aave-v3-pool") -> EventSource:
    """Aave v3 Pool (also SparkLend): Borrow/Supply ``onBehalfOf``, collateral-enabled and
    liquidated ``user``."""
    return EventSource(name, address, AAVE_POOL_EVENTS, start_block)


def morpho_blue_source(address: str, start_block: int = 0, name: str = "morpho-blue") -> EventSource:
    """Morpho Blue: Borrow / SupplyCollateral ``onBehalf`` (group = market id) and CreateMarket
    market ids (stored with ``event == "CreateMarket"``)."""
    return EventSource(name, address, MORPHO_BLUE_EVENTS, start_block)


def comet_source(address: str, start_block: int = 0, name: str = "comet") -> EventSource:
    """Compound V3 Comet: ``Withdraw.src`` (borrowing is a base withdraw) and
    ``SupplyCollateral.dst``."""
    return EventSource(name, address, COMET_EVENTS, start_block)


# --------------------------------------------------------------------------------------------
# SQLite index


@dataclass(frozen=True, slots=True)
class DiscoveredAccount:
    account: str
    group: str
    """Extra key from ``EventSpec.group_topic`` (Morpho market id), ``""`` if none."""
    first_block: int
    event: str


_SCHEMA = """
CREATE TABLE IF NOT EXISTS scan_state (
    chain_id    INTEGER NOT NULL,
    source_key  TEXT    NOT NULL,
    last_block  INTEGER NOT NULL,
    last_hash   TEXT    NOT NULL,
    updated_at  REAL    NOT NULL,
    PRIMARY KEY (chain_id, source_key)
);
CREATE TABLE IF NOT EXISTS accounts (
    chain_id    INTEGER NOT NULL,
    source_key  TEXT    NOT NULL,
    account     TEXT    NOT NULL,
    grp         TEXT    NOT NULL,
    first_block INTEGER NOT NULL,
    event       TEXT    NOT NULL,
    PRIMARY KEY (chain_id, source_key, account, grp)
);
CREATE INDEX IF NOT EXISTS accounts_by_block ON accounts (chain_id, source_key, first_block);
CREATE TABLE IF NOT EXISTS seen_blocks (
    chain_id    INTEGER NOT NULL,
    source_key  TEXT    NOT NULL,
    block       INTEGER NOT NULL,
    hash        TEXT    NOT NULL,
    PRIMARY KEY (chain_id, source_key, block)
) WITHOUT ROWID;
"""


class AccountIndex:
    """Embedded SQLite (WAL) store of scan progress and discovered accounts."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = open_store(self.path, what=INDEX_WHAT, schema=_SCHEMA, recover=INDEX_RECOVER)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AccountIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def last_scanned(self, chain_id: int, source: EventSource) -> tuple[int, str] | None:
        row = self._db.execute(
            "SELECT last_block, last_hash FROM scan_state WHERE chain_id=? AND source_key=?",
            (chain_id, source.key),
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def accounts(
        self, chain_id: int, source: EventSource, *, events: tuple[str, ...] | None = None,
        up_to_block: int | None = None,
    ) -> list[DiscoveredAccount]:
        """Accounts found so far, ordered by first block then account."""
        sql = ("SELECT account, grp, first_block, event FROM accounts "
               "WHERE chain_id=? AND source_key=?")
        args: list[Any] = [chain_id, source.key]
        if up_to_block is not None:
            sql += " AND first_block <= ?"
            args.append(up_to_block)
        if events is not None:
            sql += f" AND event IN ({','.join('?' * len(events))})"
            args.extend(events)
        sql += " ORDER BY first_block, account, grp"
        return [DiscoveredAccount(a, g, int(b), e) for a, g, b, e in self._db.execute(sql, args)]

    def commit_chunk(
        self, chain_id: int, source: EventSource, found: list[DiscoveredAccount], last_block: int,
        last_hash: str, seen: dict[int, str] | None = None,
    ) -> int:
        """Store a scanned window atomically; returns how many accounts were new. ``seen``:
        block number -> hash of the blocks the window's logs came from (for reorg rollback)."""
        seen = dict(seen or {})
        seen[last_block] = last_hash
        try:
            with self._db:
                before = self._db.total_changes
                self._db.executemany(
                    "INSERT OR IGNORE INTO accounts (chain_id, source_key, account, grp, first_block, event) "
                    "VALUES (?,?,?,?,?,?)",
                    [(chain_id, source.key, a.account, a.group, a.first_block, a.event) for a in found],
                )
                new = self._db.total_changes - before
                self._db.executemany(
                    "INSERT OR REPLACE INTO seen_blocks (chain_id, source_key, block, hash) VALUES (?,?,?,?)",
                    [(chain_id, source.key, b, h.lower()) for b, h in seen.items()],
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO scan_state (chain_id, source_key, last_block, last_hash, updated_at) "
                    "VALUES (?,?,?,?,?)",
                    (chain_id, source.key, last_block, last_hash, time.time()),
                )
        except sqlite3.DatabaseError as exc:
            raise store_error(self.path, INDEX_WHAT, INDEX_RECOVER, exc) from None
        return new

    def seen_blocks(self, chain_id: int, source: EventSource, *, below: int, limit: int) -> list[tuple[int, str]]:
        """Remembered (block, hash) pairs with block < ``below``, newest first."""
        return [(int(b), str(h)) for b, h in self._db.execute(
            "SELECT block, hash FROM seen_blocks WHERE chain_id=? AND source_key=? AND block < ? "
            "ORDER BY block DESC LIMIT ?", (chain_id, source.key, below, limit))]

    def rollback(self, chain_id: int, source: EventSource, to_block: int, to_hash: str) -> int:
        """Forget everything after ``to_block``; returns how many accounts were removed."""
        with self._db:
            cur = self._db.execute(
                "DELETE FROM accounts WHERE chain_id=? AND source_key=? AND first_block > ?",
                (chain_id, source.key, to_block),
            )
            removed = cur.rowcount
            self._db.execute("DELETE FROM seen_blocks WHERE chain_id=? AND source_key=? AND block > ?",
                             (chain_id, source.key, to_block))
            if to_block < source.start_block:
                self._db.execute("DELETE FROM scan_state WHERE chain_id=? AND source_key=?",
                                 (chain_id, source.key))
            else:
                self._db.execute(
                    "UPDATE scan_state SET last_block=?, last_hash=?, updated_at=? "
                    "WHERE chain_id=? AND source_key=?",
                    (to_block, to_hash, time.time(), chain_id, source.key),
                )
        return removed


# --------------------------------------------------------------------------------------------
# Scanner


@dataclass
class ScanReport:
    """What one :meth:`LogScanner.scan` did. Blocks are inclusive."""

    from_block: int
    to_block: int
    chunks: int = 0
    splits: int = 0
    logs: int = 0
    new_accounts: int = 0
    reorg_rolled_back_to: int | None = None
    removed_accounts: int = 0
    stopped_early: bool = False
    chunk_sizes: list[int] = field(default_factory=list)


def _account_from_log(spec: EventSpec, entry: dict[str, Any]) -> str:
    if spec.location == "topic":
        topics = entry.get("topics") or []
        if len(topics) <= spec.index:
            raise ValueError(f"{spec.name} log without topic{spec.index}: {entry.get('transactionHash')}")
        word = bytes.fromhex(topics[spec.index][2:])
    else:
        data = bytes.fromhex((entry.get("data") or "0x")[2:])
        word = data[32 * spec.index: 32 * spec.index + 32]
        if len(word) != 32:
            raise ValueError(f"{spec.name} log data has no word {spec.index}: {entry.get('transactionHash')}")
    if spec.kind == "bytes32":
        return "0x" + word.hex()
    if any(word[:12]):  # an ABI-encoded address is zero-padded: this word is not one
        raise ValueError(f"{spec.name} log: word {spec.index} is not an address: {entry.get('transactionHash')}")
    return _checksummed(bytes(word[-20:]))


def _suggested_range(err: RpcError) -> tuple[int, int] | None:
    """Infura-style ``error.data = {"from": "0x..", "to": "0x.."}`` suggestion, if any."""
    data = err.data
    if isinstance(data, dict) and "from" in data and "to" in data:
        try:
            frm, to = int(str(data["from"]), 16), int(str(data["to"]), 16)
        except ValueError:
            return None
        if frm <= to:
            return frm, to
    return None


class LogScanner:
    """Adaptive, resumable ``eth_getLogs`` scanner writing into an :class:`AccountIndex`.

    ``initial_chunk``/``min_chunk``/``max_chunk``: window sizes in blocks; the window halves on
    refusals and doubles after ``grow_after`` consecutive successes. A one-block window the node
    refuses, or a window whose answer does not parse, is asked again up to ``window_retries``
    times (backoff from ``retry_backoff_s``, doubling) before the scan fails.
    """

    def __init__(
        self,
        index: AccountIndex,
        *,
        initial_chunk: int = 2_000,
        min_chunk: int = 1,
        max_chunk: int = 100_000,
        grow_after: int = 2,
        window_retries: int = 5,
        retry_backoff_s: float = 0.25,
        sleep: Any = time.sleep,
    ) -> None:
        if not 1 <= min_chunk <= initial_chunk <= max_chunk:
            raise ValueError("need 1 <= min_chunk <= initial_chunk <= max_chunk")
        if grow_after < 1 or window_retries < 0 or retry_backoff_s < 0:
            raise ValueError("need grow_after >= 1, window_retries >= 0, retry_backoff_s >= 0")
        self.index = index
        self.initial_chunk = initial_chunk
        self.min_chunk = min_chunk
        self.max_chunk = max_chunk
        self.grow_after = grow_after
        self.window_retries = window_retries
        self.retry_backoff_s = retry_backoff_s
        self._sleep = sleep

    def scan(
        self,
        transport: Transport,
        source: EventSource,
        to_block: PinnedBlock,
        from_block: int | None = None,
        *,
        max_chunks: int | None = None,
    ) -> ScanReport:
        """Scan ``source`` from after the last committed block (or ``from_block``, default
        ``source.start_block``) up to ``to_block.number`` inclusive, never beyond.

        ``max_chunks``: stop after that many committed windows (resume later). Raises
        :class:`~chain.blocks.ReorgError` if ``to_block`` is replaced during the scan.
        """
        chain_id = transport.chain_id
        start = source.start_block if from_block is None else from_block
        report = ScanReport(from_block=start, to_block=to_block.number)
        state = self.index.last_scanned(chain_id, source)
        if state is not None:
            start = max(start, self._check_reorg(transport, chain_id, source, state, report) + 1)
        report.from_block = start
        chunk = self.initial_chunk
        successes = 0
        failures = 0  # consecutive failed attempts at the current window
        cursor = start
        while cursor <= to_block.number:
            if max_chunks is not None and report.chunks >= max_chunks:
                report.stopped_early = True
                break
            end = min(to_block.number, cursor + chunk - 1)
            flt = {"address": source.address, "topics": [source.topic0s],
                   "fromBlock": hex(cursor), "toBlock": hex(end)}
            try:
                logs, header = transport.batch([("eth_getLogs", [flt]), ("eth_getBlockByNumber", [hex(end), False])])
            except ReorgError:
                raise
            except RpcError as exc:
                if not is_too_big(exc):
                    raise
                if end == cursor:
                    failures += 1
                    if failures > self.window_retries:
                        raise RpcError(f"eth_getLogs refused even a single block ({cursor}) {failures} times at "
                                       f"{transport.masked_url}: {exc.rpc_message or exc}",
                                       method="eth_getLogs", kind=exc.kind, code=exc.code,
                                       rpc_message=exc.rpc_message, data=exc.data) from None
                    self._backoff(failures)
                    continue
                suggested = _suggested_range(exc)
                new_chunk = max(self.min_chunk, (end - cursor + 1) // 2)
                if suggested is not None and suggested[0] == cursor:
                    new_chunk = max(1, min(new_chunk, suggested[1] - suggested[0] + 1))
                chunk = new_chunk
                successes = 0
                report.splits += 1
                log.debug("getLogs %d..%d refused (%s); window now %d", cursor, end,
                          exc.rpc_message, chunk)
                continue
            try:
                end_hash, found, seen = self._parse_window(source, to_block, end, logs, header)
            except _BadWindow as bad:
                failures += 1
                if failures > self.window_retries:
                    raise RpcError(f"eth_getLogs {cursor}..{end} at {transport.masked_url} kept giving an unusable "
                                   f"answer ({bad}); not scanning past block {cursor - 1}",
                                   method="eth_getLogs", kind="invalid") from None
                log.debug("getLogs %d..%d: %s; asking again", cursor, end, bad)
                self._backoff(failures)
                continue
            failures = 0
            report.new_accounts += self.index.commit_chunk(chain_id, source, found, end, end_hash, seen)
            report.logs += len(logs)
            report.chunks += 1
            report.chunk_sizes.append(end - cursor + 1)
            cursor = end + 1
            successes += 1
            if successes >= self.grow_after and chunk < self.max_chunk:
                chunk = min(self.max_chunk, chunk * 2)
                successes = 0
        return report

    def _backoff(self, failures: int) -> None:
        self._sleep(min(10.0, self.retry_backoff_s * 2 ** (failures - 1)))

    @staticmethod
    def _parse_window(source: EventSource, to_block: PinnedBlock, end: int, logs: Any,
                      header: Any) -> tuple[str, list[DiscoveredAccount], dict[int, str]]:
        """The window's last-block hash, its accounts and the hashes of its log blocks; raises
        :class:`_BadWindow` for an answer that cannot be used as a whole."""
        if header is None:
            raise _BadWindow(f"the node has no block {end} (behind, or reorganising)")
        end_hash = str(header["hash"]).lower()
        if end == to_block.number and end_hash != to_block.hash.lower():
            raise ReorgError(f"block {end} ({to_block.hash[:12]}…) was replaced by a reorg during discovery "
                             f"(the chain now has {end_hash[:12]}… there)", to_block)
        found: list[DiscoveredAccount] = []
        seen: dict[int, str] = {}
        for entry in logs:
            topics = entry["topics"]
            spec = source.spec_for(topics[0]) if topics else None
            if spec is None:  # the transport only lets the filter's topic0s through
                raise _BadWindow("a log outside the filtered events")
            number, block_hash = int(entry["blockNumber"], 16), str(entry["blockHash"]).lower()
            if number == end and block_hash != end_hash:
                raise _BadWindow(f"logs of block {end} come from another block than its header")
            seen[number] = block_hash
            group = ""
            if spec.group_topic is not None:
                if len(topics) <= spec.group_topic:
                    raise _BadWindow(f"{spec.name} log without topic{spec.group_topic}")
                group = topics[spec.group_topic].lower()
            try:
                account = _account_from_log(spec, entry)
            except ValueError as exc:
                raise _BadWindow(str(exc)) from None
            found.append(DiscoveredAccount(account, group, number, spec.name))
        found.sort(key=lambda a: a.first_block)  # stable: log order within a block; first wins
        return end_hash, found, seen

    def _check_reorg(self, transport: Transport, chain_id: int, source: EventSource,
                     state: tuple[int, str], report: ScanReport) -> int:
        """Return the last trustworthy scanned block, rolling back to the common ancestor (the
        newest remembered block whose hash the chain still has) on a hash mismatch."""
        last_block, last_hash = state
        block = transport.request("eth_getBlockByNumber", [hex(last_block), False])
        if block is not None and block["hash"].lower() == last_hash.lower():
            return last_block
        back_to, back_hash = source.start_block - 1, ""
        below = last_block
        while True:
            remembered = self.index.seen_blocks(chain_id, source, below=below, limit=64)
            if not remembered:
                break
            headers = transport.batch([("eth_getBlockByNumber", [hex(b), False]) for b, _ in remembered])
            match = next(((b, h) for (b, h), hd in zip(remembered, headers, strict=True)
                          if hd is not None and hd["hash"].lower() == h.lower()), None)
            if match is not None:
                back_to, back_hash = match
                break
            below = remembered[-1][0]
        removed = self.index.rollback(chain_id, source, back_to, back_hash)
        log.warning("%s: block %d hash changed (reorg); rolled back to the common ancestor %d, removed %d "
                    "account(s)", source.name, last_block, back_to, removed)
        report.reorg_rolled_back_to = back_to
        report.removed_accounts = removed
        return back_to


class _BadWindow(Exception):
    """A getLogs answer that passed the transport's checks but cannot be used as a whole."""
