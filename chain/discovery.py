"""Find the accounts of a lending venue from its events, incrementally and resumably.

:class:`LogScanner` walks ``eth_getLogs`` (filtered by contract address and a topic0 list) in
block windows that halve when the provider refuses (too many results, range too large,
timeouts; a range suggested in the error is honoured) and grow after successes. Found accounts
and the scan progress live in an embedded SQLite :class:`AccountIndex`, committed after every
window: a killed run loses nothing and the next run resumes after the last committed block.
Before resuming, the stored hash of the last scanned block is compared with the chain; on a
mismatch (reorg) the last ``reorg_depth`` blocks are rolled back and rescanned.
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

from chain.blocks import PinnedBlock
from chain.transport import RpcError, Transport, is_too_big

log = logging.getLogger(__name__)

DEFAULT_REORG_DEPTH = 64


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
"""


class AccountIndex:
    """Embedded SQLite (WAL) store of scan progress and discovered accounts."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

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
        last_hash: str,
    ) -> int:
        """Store a scanned window atomically; returns how many accounts were new."""
        with self._db:
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO accounts (chain_id, source_key, account, grp, first_block, event) "
                "VALUES (?,?,?,?,?,?)",
                [(chain_id, source.key, a.account, a.group, a.first_block, a.event) for a in found],
            )
            new = self._db.total_changes - before
            self._db.execute(
                "INSERT OR REPLACE INTO scan_state (chain_id, source_key, last_block, last_hash, updated_at) "
                "VALUES (?,?,?,?,?)",
                (chain_id, source.key, last_block, last_hash, time.time()),
            )
        return new

    def rollback(self, chain_id: int, source: EventSource, to_block: int, to_hash: str) -> int:
        """Forget everything after ``to_block``; returns how many accounts were removed."""
        with self._db:
            cur = self._db.execute(
                "DELETE FROM accounts WHERE chain_id=? AND source_key=? AND first_block > ?",
                (chain_id, source.key, to_block),
            )
            removed = cur.rowcount
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
    refusals and doubles after ``grow_after`` consecutive successes. ``reorg_depth``: blocks
    rolled back when the stored last-block hash no longer matches the chain.
    """

    def __init__(
        self,
        index: AccountIndex,
        *,
        initial_chunk: int = 2_000,
        min_chunk: int = 1,
        max_chunk: int = 100_000,
        grow_after: int = 2,
        reorg_depth: int = DEFAULT_REORG_DEPTH,
    ) -> None:
        if not 1 <= min_chunk <= initial_chunk <= max_chunk:
            raise ValueError("need 1 <= min_chunk <= initial_chunk <= max_chunk")
        if reorg_depth < 1 or grow_after < 1:
            raise ValueError("reorg_depth and grow_after must be >= 1")
        self.index = index
        self.initial_chunk = initial_chunk
        self.min_chunk = min_chunk
        self.max_chunk = max_chunk
        self.grow_after = grow_after
        self.reorg_depth = reorg_depth

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

        ``max_chunks``: stop after that many committed windows (resume later).
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
        cursor = start
        while cursor <= to_block.number:
            if max_chunks is not None and report.chunks >= max_chunks:
                report.stopped_early = True
                break
            end = min(to_block.number, cursor + chunk - 1)
            flt = {"address": source.address, "topics": [source.topic0s],
                   "fromBlock": hex(cursor), "toBlock": hex(end)}
            calls: list[tuple[str, list[Any]]] = [("eth_getLogs", [flt])]
            if end != to_block.number:
                calls.append(("eth_getBlockByNumber", [hex(end), False]))
            try:
                replies = transport.batch(calls)
            except RpcError as exc:
                if not is_too_big(exc):
                    raise
                if end == cursor:
                    raise RpcError(f"eth_getLogs refused even a single block ({cursor}) at "
                                   f"{transport.masked_url}: {exc.rpc_message or exc}",
                                   method="eth_getLogs", kind=exc.kind, code=exc.code,
                                   rpc_message=exc.rpc_message, data=exc.data) from None
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
            logs = replies[0] or []
            end_hash = to_block.hash if end == to_block.number else replies[1]["hash"]
            found: list[DiscoveredAccount] = []
            for entry in logs:
                if entry.get("removed"):
                    continue
                topics = entry.get("topics") or []
                spec = source.spec_for(topics[0]) if topics else None
                if spec is None:
                    continue
                group = ""
                if spec.group_topic is not None and len(topics) > spec.group_topic:
                    group = topics[spec.group_topic].lower()
                found.append(DiscoveredAccount(_account_from_log(spec, entry), group,
                                               int(entry["blockNumber"], 16), spec.name))
            found.sort(key=lambda a: a.first_block)  # stable: log order within a block; first wins
            report.new_accounts += self.index.commit_chunk(chain_id, source, found, end, end_hash)
            report.logs += len(logs)
            report.chunks += 1
            report.chunk_sizes.append(end - cursor + 1)
            cursor = end + 1
            successes += 1
            if successes >= self.grow_after and chunk < self.max_chunk:
                chunk = min(self.max_chunk, chunk * 2)
                successes = 0
        return report

    def _check_reorg(self, transport: Transport, chain_id: int, source: EventSource,
                     state: tuple[int, str], report: ScanReport) -> int:
        """Return the last trustworthy scanned block, rolling back on a hash mismatch."""
        last_block, last_hash = state
        block = transport.request("eth_getBlockByNumber", [hex(last_block), False])
        if block is not None and block["hash"].lower() == last_hash.lower():
            return last_block
        back_to = max(source.start_block - 1, last_block - self.reorg_depth)
        back_hash = ""
        if back_to >= 0:
            anchor = transport.request("eth_getBlockByNumber", [hex(back_to), False])
            back_hash = anchor["hash"] if anchor else ""
        removed = self.index.rollback(chain_id, source, back_to, back_hash)
        log.warning("%s: block %d hash changed (reorg); rolled back to %d, removed %d account(s)",
                    source.name, last_block, back_to, removed)
        report.reorg_rolled_back_to = back_to
        report.removed_accounts = removed
        return back_to
