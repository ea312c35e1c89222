"""LogScanner / AccountIndex against a real anvil: events come from a tiny hand-assembled
log emitter, getLogs refusals from the faulty proxy, reorgs from evm_snapshot/evm_revert."""

from __future__ import annotations

import random
import time

import pytest
from eth_utils import to_checksum_address

from chain.anvil import start_anvil
from chain.blocks import pin_block
from chain.cache import CachingTransport
from chain.discovery import (
    AAVE_POOL_EVENTS,
    COMET_EVENTS,
    MORPHO_BLUE_EVENTS,
    AccountIndex,
    EventSource,
    EventSpec,
    LogScanner,
    aave_pool_source,
    morpho_blue_source,
)
from chain.transport import HttpTransport, RpcError

try:
    from tests.chain.faulty_rpc import FaultyRpcProxy, LogRangeLimit, RandomFaults
except ImportError:  # pytest's default rootdir import mode (tests/ is not a package)
    from faulty_rpc import FaultyRpcProxy, LogRangeLimit, RandomFaults

# Runtime code of a log emitter: calldata = topic0 | topic1 | topic2 | topic3 | data...
#   PUSH1 0x60 CALLDATALOAD   PUSH1 0x40 CALLDATALOAD   PUSH1 0x20 CALLDATALOAD   PUSH1 0 CALLDATALOAD
#                                                        stack: t0 t1 t2 t3
#   PUSH1 0x80 CALLDATASIZE SUB                          size = calldatasize - 128
#   DUP1 PUSH1 0x80 PUSH1 0 CALLDATACOPY                 memory[0:size] = calldata[128:]
#   PUSH1 0 LOG4 STOP                                    log4(0, size, t0, t1, t2, t3)
EMITTER_CODE = "0x" + "606035" "604035" "602035" "600035" "60803603" "80" "6080" "6000" "37" "6000" "a4" "00"
POOL = "0x00000000000000000000000000000000000000a1"
OTHER = "0x00000000000000000000000000000000000000b2"

DOCUMENTED_TOPIC0 = {  # /work/shared/protocols.md 1.10, 2.7, 3.5
    ("aave", "Borrow"): "0xb3d084820fb1a9decffb176436bd02558d15fac9b0ddfed8c465bc7359d7dce0",
    ("aave", "Supply"): "0x2b627736bca15cd5381dcf80b0bf11fd197d01a037c52b927a881a10fb73ba61",
    ("aave", "ReserveUsedAsCollateralEnabled"): "0x00058a56ea94653cdf4f152d227ace22d4c00ad99e2a43f58cb7d9e3feb295f2",
    ("aave", "LiquidationCall"): "0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286",
    ("morpho", "Borrow"): "0x570954540bed6b1304a87dfe815a5eda4a648f7097a16240dcd85c9b5fd42a43",
    ("morpho", "SupplyCollateral"): "0xa3b9472a1399e17e123f3c2e6586c23e504184d504de59cdaa2b375e880c6184",
    ("morpho", "CreateMarket"): "0xac4b2400f169220b0c0afdde7a0b32e775ba727ea1cb30b35f935cdaab8683ac",
    ("comet", "Withdraw"): "0x9b1bfa7fa9ee420a16e124f794c35ac9f90472acc99140eb2f6447c714cad8eb",
    ("comet", "SupplyCollateral"): "0xfa56f7b24f17183d81894d3ac2ee654e3c26388d17a28dbd9549b8114304e1f4",
}
AAVE = {e.name: e for e in AAVE_POOL_EVENTS}


def test_topic0_match_documented_values():
    specs = {("aave", e.name): e for e in AAVE_POOL_EVENTS}
    specs |= {("morpho", e.name): e for e in MORPHO_BLUE_EVENTS}
    specs |= {("comet", e.name): e for e in COMET_EVENTS}
    assert set(specs) == set(DOCUMENTED_TOPIC0)
    for key, spec in specs.items():
        assert spec.topic0 == DOCUMENTED_TOPIC0[key], key


def word(value: int | str) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:]).rjust(32, b"\0")
    return value.to_bytes(32, "big")


def addr(i: int) -> str:
    return to_checksum_address(f"0x{0xbeef0000 + i:040x}")


class Chain:
    """Anvil with two emitters; tracks what the test itself emitted (the expected answer)."""

    def __init__(self, rpc_url: str) -> None:
        self.t = HttpTransport(rpc_url, rng=random.Random(5))
        for a in (POOL, OTHER):
            self.t.request("anvil_setCode", [a, EMITTER_CODE])
        self.sender = self.t.request("eth_accounts", [])[0]

    def emit_many(self, logs: list[tuple[str, list[str | int], bytes]]) -> list[int]:
        """Emit each (contract, [t0..t3], data) in its own block; returns the block numbers."""
        txs = []
        for contract, topics, data in logs:
            payload = b"".join(word(x) for x in topics) + data
            txs.append(("eth_sendTransaction", [{"from": self.sender, "to": contract,
                                                 "data": "0x" + payload.hex(), "gas": hex(100_000)}]))
        hashes = [self.t.request(*tx) for tx in txs]  # automine: one block per transaction
        receipts = [self.receipt(h) for h in hashes]
        assert all(r["status"] == "0x1" and len(r["logs"]) == 1 for r in receipts)
        return [int(r["blockNumber"], 16) for r in receipts]

    def receipt(self, tx_hash: str) -> dict:
        for _ in range(200):  # anvil mines asynchronously after eth_sendTransaction returns
            r = self.t.request("eth_getTransactionReceipt", [tx_hash])
            if r is not None:
                return r
            time.sleep(0.01)
        raise AssertionError(f"transaction {tx_hash} not mined")

    def mine(self, n: int) -> None:
        self.t.request("anvil_mine", [hex(n)])


def aave_log(event: str, account: str, contract: str = POOL) -> tuple[str, list, bytes]:
    spec = AAVE[event]
    topics: list[str | int] = [spec.topic0, 0, 0, 0]
    topics[spec.index] = account
    topics[1 if spec.index != 1 else 2] = addr(9999)  # a reserve address in another slot
    return contract, topics, b""


@pytest.fixture(scope="module")
def chain():
    """One chain for the read-only tests: 90 Aave-style events over ~700 blocks + noise."""
    node = start_anvil()
    c = Chain(node.rpc_url)
    rng = random.Random(11)
    expected: dict[str, tuple[int, str]] = {}
    events = ["Borrow", "Supply", "ReserveUsedAsCollateralEnabled", "LiquidationCall"]
    for round_ in range(6):
        batch = []
        for _ in range(15):
            account = addr(rng.randrange(60))  # repeats: first-seen must win
            batch.append(aave_log(rng.choice(events), account))
        batch.append(aave_log("Borrow", addr(500 + round_), contract=OTHER))  # other contract
        batch.append((POOL, ["0x" + "ab" * 32, addr(600 + round_), addr(601), addr(602)], b""))  # other event
        blocks = c.emit_many(batch)
        for (contract, topics, _), block in zip(batch, blocks, strict=True):
            if contract != POOL or topics[0] == "0x" + "ab" * 32:
                continue
            spec = next(s for s in AAVE_POOL_EVENTS if s.topic0 == topics[0])
            account = topics[spec.index]
            expected.setdefault(account, (block, spec.name))
        c.mine(100)
    c.head = pin_block(c.t)
    c.expected = expected
    yield c
    node.stop()


def found(index: AccountIndex, chain_id: int, source: EventSource, **kw) -> dict[str, tuple[int, str]]:
    return {a.account: (a.first_block, a.event) for a in index.accounts(chain_id, source, **kw)}


def test_full_scan_finds_exactly_the_emitted_accounts(chain, tmp_path):
    source = aave_pool_source(POOL)
    with AccountIndex(tmp_path / "idx.sqlite") as index:
        report = LogScanner(index, initial_chunk=128).scan(chain.t, source, chain.head)
        assert found(index, 31337, source) == chain.expected
        assert index.last_scanned(31337, source) == (chain.head.number, chain.head.hash)
        assert report.to_block == chain.head.number and report.logs == 90
        # a second run has nothing to do
        again = LogScanner(index).scan(chain.t, source, chain.head)
        assert again.chunks == 0 and again.new_accounts == 0


def test_refusals_split_the_range(chain, tmp_path):
    """-32005 'more than 10000 results' with a suggested range, and an Alchemy-style
    message without a suggestion: the scanner must split and still find every account."""
    source = aave_pool_source(POOL)
    for fault in (LogRangeLimit(max_blocks=37),
                  LogRangeLimit(max_blocks=50, code=-32602, suggest=False,
                                message="Log response size exceeded. You can make eth_getLogs "
                                        "requests with up to a 2K block range")):
        proxy = FaultyRpcProxy(chain.t._url)
        try:
            proxy.faults.append(fault)
            t = HttpTransport(proxy.url, rng=random.Random(6), backoff_base_s=0.001)
            with AccountIndex(tmp_path / f"idx-{fault.max_blocks}.sqlite") as index:
                report = LogScanner(index, initial_chunk=1000).scan(t, source, chain.head)
                assert found(index, 31337, source) == chain.expected
            assert report.splits >= 1
            assert max(report.chunk_sizes) <= fault.max_blocks
            if fault.suggest:  # the suggested range is taken as is
                assert report.chunk_sizes[0] == 37
            else:  # plain halving lands within a factor 2 of the limit
                assert fault.max_blocks // 2 < report.chunk_sizes[0] <= fault.max_blocks
            assert t.stats.retries == 0  # refusals are split, not retried
        finally:
            proxy.stop()


def test_resume_equals_one_full_scan(chain, tmp_path):
    source = aave_pool_source(POOL)
    half = pin_block(chain.t, chain.head.number // 2)
    with AccountIndex(tmp_path / "resume.sqlite") as index:
        scanner = LogScanner(index, initial_chunk=50)
        first = scanner.scan(chain.t, source, half)
        assert first.to_block == half.number
        partial = found(index, 31337, source)
        assert partial == {a: v for a, v in chain.expected.items() if v[0] <= half.number}
        # "killed" mid-way: stop after two committed windows, then resume
        stopped = scanner.scan(chain.t, source, chain.head, max_chunks=2)
        assert stopped.stopped_early and stopped.from_block == half.number + 1
        rest = scanner.scan(chain.t, source, chain.head)
        assert rest.from_block == half.number + sum(stopped.chunk_sizes) + 1
        assert found(index, 31337, source) == chain.expected


def test_never_scans_past_the_pinned_block(chain, tmp_path):
    source = aave_pool_source(POOL)
    with AccountIndex(tmp_path / "pin.sqlite") as index:
        early = pin_block(chain.t, chain.head.number - 150)
        LogScanner(index, initial_chunk=64).scan(chain.t, source, early)
        assert index.last_scanned(31337, source) == (early.number, early.hash)
        assert max(a.first_block for a in index.accounts(31337, source)) <= early.number
        assert found(index, 31337, source) == {a: v for a, v in chain.expected.items() if v[0] <= early.number}


def test_reorg_rolls_back_and_rescans(tmp_path):
    node = start_anvil()
    try:
        c = Chain(node.rpc_url)
        source = aave_pool_source(POOL)
        old_blocks = c.emit_many([aave_log("Borrow", addr(1)), aave_log("Supply", addr(2))])
        c.mine(100)
        snap = c.t.request("evm_snapshot", [])
        doomed = c.emit_many([aave_log("Borrow", addr(3)), aave_log("LiquidationCall", addr(4))])
        c.mine(3)
        c.emit_many([aave_log("Supply", addr(2))])  # the last block carries a tx on both forks
        tip = pin_block(c.t)
        # through the SQLite cache, final up to block 10: the cache must not hide the reorg
        ct = CachingTransport(c.t, tmp_path / "rpc.sqlite", safe_block=10)
        with AccountIndex(tmp_path / "reorg.sqlite") as index:
            scanner = LogScanner(index, initial_chunk=500)
            scanner.scan(ct, source, tip)
            assert set(found(index, 31337, source)) == {addr(1), addr(2), addr(3), addr(4)}
            # the fork: the doomed blocks are replaced by a history with another borrower
            assert c.t.request("evm_revert", [snap]) is True
            replaced = c.emit_many([aave_log("Borrow", addr(5)), aave_log("Supply", addr(6))])
            c.mine(3)
            c.emit_many([aave_log("Supply", addr(7))])
            new_tip = pin_block(c.t)
            assert new_tip.number >= tip.number
            assert pin_block(c.t, tip.number).hash != tip.hash
            report = scanner.scan(ct, source, new_tip)
            # the common ancestor as remembered: the newest block with a log that is still canonical
            assert report.reorg_rolled_back_to == old_blocks[1]
            assert report.removed_accounts == 2
            now = found(index, 31337, source)
            assert set(now) == {addr(1), addr(2), addr(5), addr(6), addr(7)}
            assert now[addr(1)] == (old_blocks[0], "Borrow") and now[addr(5)][0] == replaced[0]
            assert doomed[0] <= tip.number
    finally:
        node.stop()


def test_morpho_groups_and_data_word_accounts(tmp_path):
    node = start_anvil()
    try:
        c = Chain(node.rpc_url)
        morpho = morpho_blue_source(POOL)
        spec = {e.name: e for e in MORPHO_BLUE_EVENTS}
        market = "0x" + "c5" * 32
        c.emit_many([
            (POOL, [spec["CreateMarket"].topic0, market, 0, 0], b"\0" * 160),
            (POOL, [spec["Borrow"].topic0, market, addr(1), addr(2)], b""),  # id, onBehalf, receiver
            (POOL, [spec["SupplyCollateral"].topic0, market, addr(3), addr(4)], b""),  # id, caller, onBehalf
        ])
        # an account held in a data word (Aave's non-indexed `user` of Borrow, for example)
        data_source = EventSource("data-word", OTHER, (EventSpec("Ping", "Ping(uint256,address)",
                                                                 location="data", index=1),))
        c.emit_many([(OTHER, [data_source.events[0].topic0, 0, 0, 0], word(7) + word(addr(8)))])
        tip = pin_block(c.t)
        with AccountIndex(tmp_path / "m.sqlite") as index:
            scanner = LogScanner(index)
            scanner.scan(c.t, morpho, tip)
            scanner.scan(c.t, data_source, tip)
            rows = {(a.event, a.account, a.group) for a in index.accounts(31337, morpho)}
            assert rows == {("CreateMarket", market, ""), ("Borrow", addr(1), market),
                            ("SupplyCollateral", addr(4), market)}
            assert [a.account for a in index.accounts(31337, morpho, events=("Borrow",))] == [addr(1)]
            assert [a.account for a in index.accounts(31337, data_source)] == [addr(8)]
    finally:
        node.stop()


def test_single_block_refusal_is_retried_then_an_error(chain, tmp_path):
    proxy = FaultyRpcProxy(chain.t._url)
    try:
        proxy.faults.append(LogRangeLimit(max_blocks=0, suggest=False))
        t = HttpTransport(proxy.url, rng=random.Random(8))
        slept: list[float] = []
        with AccountIndex(tmp_path / "x.sqlite") as index, pytest.raises(RpcError, match="single block"):
            LogScanner(index, initial_chunk=4, window_retries=3, sleep=slept.append).scan(
                t, aave_pool_source(POOL), chain.head)
        assert len(slept) == 3 and slept == sorted(slept)  # retried with growing backoff
    finally:
        proxy.stop()


def test_transient_single_block_refusals_lose_nothing(chain, tmp_path):
    """A node that refuses some getLogs calls as too big — one-block windows included — and
    garbles log entries: every account is still found, exactly."""
    proxy = FaultyRpcProxy(chain.t._url)
    try:
        proxy.faults.append(RandomFaults("getlogs-refusal", rate=0.3, seed=3, max_faults=40))
        proxy.faults.append(RandomFaults("log-entry", rate=0.3, seed=4, max_faults=40))
        t = HttpTransport(proxy.url, rng=random.Random(8), backoff_base_s=0.001, backoff_max_s=0.01,
                          max_retries=8)
        with AccountIndex(tmp_path / "y.sqlite") as index:
            LogScanner(index, initial_chunk=8, min_chunk=1, window_retries=8, sleep=lambda _s: None).scan(
                t, aave_pool_source(POOL), chain.head)
            assert found(index, 31337, aave_pool_source(POOL)) == chain.expected
        assert t.stats.invalid_answers >= 1
    finally:
        proxy.stop()


def test_reorg_deeper_than_any_fixed_depth_rolls_back_to_the_common_ancestor(tmp_path):
    """The fork point is 150 blocks below the tip (a fixed 64-block rollback would keep accounts
    of replaced blocks): the index returns to the newest remembered block still canonical."""
    node = start_anvil()
    try:
        c = Chain(node.rpc_url)
        source = aave_pool_source(POOL)
        (kept,) = c.emit_many([aave_log("Borrow", addr(1))])
        snap = c.t.request("evm_snapshot", [])
        c.emit_many([aave_log("Borrow", addr(2))])  # replaced, 150 blocks below the tip
        c.mine(150)
        tip = pin_block(c.t)
        with AccountIndex(tmp_path / "deep.sqlite") as index:
            scanner = LogScanner(index, initial_chunk=40)
            scanner.scan(c.t, source, tip)
            assert set(found(index, 31337, source)) == {addr(1), addr(2)}
            assert c.t.request("evm_revert", [snap]) is True
            c.emit_many([aave_log("Supply", addr(3))])
            c.mine(160)
            report = scanner.scan(c.t, source, pin_block(c.t))
            assert report.reorg_rolled_back_to is not None and report.reorg_rolled_back_to <= kept + 40
            assert report.reorg_rolled_back_to >= kept
            assert set(found(index, 31337, source)) == {addr(1), addr(3)}
    finally:
        node.stop()


def test_index_file_that_is_not_an_index_is_named(tmp_path):
    from chain.store import StoreFileError

    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreFileError, match="junk.sqlite.*not a readable SQLite database.*delete it"):
        AccountIndex(junk)
    cache = tmp_path / "rpc.sqlite"
    CachingTransport(HttpTransport("http://127.0.0.1:9"), cache).close()
    with pytest.raises(StoreFileError, match="not a liqrisk account index .*rpc_cache"):
        AccountIndex(cache)
    with pytest.raises(StoreFileError, match="not a regular file"):
        AccountIndex(tmp_path)


def test_source_validation():
    with pytest.raises(ValueError, match="topic index"):
        EventSpec("X", "X(address)", index=4)
    with pytest.raises(ValueError, match="duplicate"):
        EventSource("s", POOL, (AAVE["Borrow"], AAVE["Borrow"]))
    a, b = aave_pool_source(POOL), EventSource("s", POOL, (AAVE["Borrow"],))
    assert a.key != b.key and a.key.startswith(POOL.lower())
