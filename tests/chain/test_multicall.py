"""multicall() against a real anvil with liqrisk's Multicall3 (chain/contracts/Multicall3.sol)
placed at the canonical address, and a small inline test target contract."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from eth_abi import decode, encode

from chain.anvil import PROJECT_ROOT, start_anvil
from chain.devnet.solc import OWN_SETTINGS, compile_standard
from chain.multicall import (
    AGGREGATE3_SELECTOR,
    MULTICALL3,
    Call,
    CallResult,
    MulticallError,
    MulticallStats,
    decode_aggregate3,
    encode_aggregate3,
    multicall,
    selector,
)
from chain.transport import HttpTransport

try:
    from tests.chain.faulty_rpc import CallDataLimit, FaultyRpcProxy
except ImportError:  # pytest's default rootdir import mode (tests/ is not a package)
    from faulty_rpc import CallDataLimit, FaultyRpcProxy

TARGET_SOL = """
// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;
contract Target {
    uint256 public stored;
    function set(uint256 v) external { stored = v; }
    function double(uint256 x) external pure returns (uint256) { return 2 * x; }
    function boom(uint256 x) external pure returns (uint256) { require(x == type(uint256).max, "boom"); return x; }
    // ~rounds * 100 gas of hashing: lets a test hit a gas cap with few calls
    function burn(uint256 rounds) external pure returns (uint256 acc) {
        for (uint256 i = 0; i < rounds; ++i) { acc = uint256(keccak256(abi.encode(acc, i))); }
    }
}
"""
TARGET_ADDRESS = "0x00000000000000000000000000000000000a11CE"
ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)


@pytest.fixture(scope="module")
def compiled():
    sources = {
        "contracts/Multicall3.sol": (PROJECT_ROOT / "chain" / "contracts" / "Multicall3.sol").read_text(),
        "test/Target.sol": TARGET_SOL,
    }
    out = compile_standard(sources, OWN_SETTINGS)
    return {c.name: c for c in out.values()}


def _setup_node(with_multicall: bool, compiled):
    node = start_anvil()
    t = HttpTransport(node.rpc_url, rng=random.Random(1))
    t.request("anvil_setCode", [TARGET_ADDRESS, compiled["Target"].deployed_bytecode])
    if with_multicall:
        t.request("anvil_setCode", [MULTICALL3, compiled["Multicall3"].deployed_bytecode])
    t.request("anvil_mine", ["0x1"])
    return node, t


@pytest.fixture(scope="module")
def node(compiled):
    n, t = _setup_node(True, compiled)
    yield n, t
    n.stop()


def call(sig: str, *args: int) -> Call:
    return Call(TARGET_ADDRESS, selector(sig) + encode(["uint256"] * len(args), list(args)))


def plain(t: HttpTransport, c: Call, block: int) -> CallResult:
    """Reference: one plain eth_call, as the node itself answers it."""
    from chain.transport import RpcError

    try:
        out = t.request("eth_call", [{"to": c.target, "data": "0x" + c.data.hex()}, hex(block)])
    except RpcError as exc:
        return CallResult(False, bytes.fromhex(str(exc.data or "0x")[2:]))
    return CallResult(True, bytes.fromhex(out[2:]))


def mixed_calls(n: int) -> list[Call]:
    return [call("boom(uint256)", i) if i % 7 == 3 else call("double(uint256)", i) for i in range(n)]


def test_selector():
    assert selector("balanceOf(address)").hex() == "70a08231"  # protocols.md Appendix A
    assert selector("aggregate3((address,bool,bytes)[])").hex() == "82ad56cb"
    with pytest.raises(ValueError):
        selector("balanceOf(address")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.binary(min_size=20, max_size=20), st.binary(max_size=100)), max_size=12))
def test_abi_codec_matches_eth_abi(items):
    """The hand-rolled aggregate3 codec equals eth-abi's (sizes cover empty, unaligned and
    multi-word call data, and empty batches)."""
    calls = [Call("0x" + a.hex(), d) for a, d in items]
    assert encode_aggregate3(calls) == AGGREGATE3_SELECTOR + encode(
        ["(address,bool,bytes)[]"], [[("0x" + a.hex(), True, d) for a, d in items]])
    results = [(i % 2 == 0, d) for i, (_, d) in enumerate(items)]
    ret = "0x" + encode(["(bool,bytes)[]"], [results]).hex()
    assert decode_aggregate3(ret, len(items)) == [CallResult(ok, d) for ok, d in results]
    with pytest.raises(ValueError):
        decode_aggregate3(ret, len(items) + 1)
    if items:
        with pytest.raises(ValueError):
            decode_aggregate3(ret[:-64], len(items))


def test_results_equal_plain_eth_call(node):
    _, t = node
    block = int(t.request("eth_blockNumber", []), 16)
    calls = mixed_calls(60)
    stats = MulticallStats()
    got = multicall(t, calls, block, batch_size=16, stats=stats)
    assert got == [plain(t, c, block) for c in calls]
    assert stats.aggregates == 4 and stats.fallback_calls == stats.retried_alone
    for i, r in enumerate(got):
        if i % 7 == 3:
            assert not r.success and r.data[:4] == ERROR_STRING
            assert decode(["string"], r.data[4:]) == ("boom",)
        else:
            assert r.success and decode(["uint256"], r.data) == (2 * i,)


def test_allow_failure_false_raises(node):
    _, t = node
    block = int(t.request("eth_blockNumber", []), 16)
    with pytest.raises(MulticallError) as info:
        multicall(t, mixed_calls(20), block, allow_failure=False)
    assert info.value.failed_indices == [3, 10, 17]
    ok = [call("double(uint256)", i) for i in range(5)]
    assert all(r.success for r in multicall(t, ok, block, allow_failure=False))


def test_failed_subcalls_are_retried_alone(node):
    _, t = node
    proxy = FaultyRpcProxy(t._url)
    try:
        pt = HttpTransport(proxy.url, rng=random.Random(2))
        block = int(pt.request("eth_blockNumber", []), 16)
        proxy.reset()
        multicall(pt, mixed_calls(21), block, batch_size=50)
        # 1 getCode + 1 aggregate3 + 3 failed calls retried alone (one JSON-RPC batch)
        assert proxy.counters.by_method == {"eth_getCode": 1, "eth_call": 4}
    finally:
        proxy.stop()


def test_reads_are_pinned(node):
    _, t = node
    sender = t.request("eth_accounts", [])[0]

    def set_stored(value: int) -> int:
        data = "0x" + (selector("set(uint256)") + encode(["uint256"], [value])).hex()
        tx = t.request("eth_sendTransaction", [{"from": sender, "to": TARGET_ADDRESS, "data": data}])
        for _ in range(200):  # anvil mines asynchronously after eth_sendTransaction returns
            receipt = t.request("eth_getTransactionReceipt", [tx])
            if receipt is not None:
                return int(receipt["blockNumber"], 16)
            time.sleep(0.01)
        raise AssertionError("set() not mined")

    pinned = set_stored(111)
    assert set_stored(222) == pinned + 1
    stored = Call(TARGET_ADDRESS, selector("stored()"))
    at_pinned = multicall(t, [stored] * 3, pinned)
    at_head = multicall(t, [stored], pinned + 1)
    assert {decode(["uint256"], r.data)[0] for r in at_pinned} == {111}
    assert decode(["uint256"], at_head[0].data)[0] == 222


def test_several_aggregates_per_json_rpc_batch(node):
    _, t = node
    proxy = FaultyRpcProxy(t._url)
    try:
        pt = HttpTransport(proxy.url, rng=random.Random(3))
        block = int(pt.request("eth_blockNumber", []), 16)
        calls = [call("double(uint256)", i) for i in range(100)]
        proxy.reset()
        stats = MulticallStats()
        got = multicall(pt, calls, block, batch_size=10, aggregates_per_request=4, stats=stats)
        assert [decode(["uint256"], r.data)[0] for r in got] == [2 * i for i in range(100)]
        assert stats.aggregates == 10
        assert proxy.counters.http_requests == 1 + 3  # getCode + ceil(10 aggregates / 4)
    finally:
        proxy.stop()


def test_adaptive_split_on_size_error(node):
    """The proxy refuses eth_call calldata above ~8 sub-calls ("out of gas", as providers with
    a gas cap answer); multicall must halve down, still return every result in order, and
    grow back after successes."""
    _, t = node
    proxy = FaultyRpcProxy(t._url)
    try:
        pt = HttpTransport(proxy.url, rng=random.Random(4))
        block = int(pt.request("eth_blockNumber", []), 16)
        calls = mixed_calls(150)
        one_call_bytes = len(call("double(uint256)", 1).data) + 32 * 5  # abi overhead per tuple
        proxy.faults.append(CallDataLimit(max_bytes=8 * one_call_bytes))
        stats = MulticallStats()
        got = multicall(pt, calls, block, batch_size=64, aggregates_per_request=2, stats=stats)
        proxy.faults.clear()
        assert got == [plain(t, c, block) for c in calls]
        assert stats.splits >= 3  # 64 -> 32 -> 16 -> 8
        assert stats.retried_alone == sum(1 for i in range(150) if i % 7 == 3)
    finally:
        proxy.stop()


def test_adaptive_split_on_real_gas_cap(node):
    """A real node-side limit: eth_call gas capped so one aggregate of all calls cannot run."""
    _, t = node
    block = int(t.request("eth_blockNumber", []), 16)
    calls = [call("burn(uint256)", 200) for _ in range(40)]
    gas = 400_000
    alone = plain(t, calls[0], block)
    assert alone.success
    stats = MulticallStats()
    got = multicall(t, calls, block, batch_size=40, gas=gas, stats=stats)
    assert got == [alone] * 40
    assert stats.splits + stats.retried_alone > 0


def test_fallback_without_multicall_code(compiled):
    n, t = _setup_node(False, compiled)
    try:
        block = int(t.request("eth_blockNumber", []), 16)
        assert t.request("eth_getCode", [MULTICALL3, hex(block)]) == "0x"
        calls = mixed_calls(30)
        stats = MulticallStats()
        got = multicall(t, calls, block, batch_size=8, stats=stats)
        assert got == [plain(t, c, block) for c in calls]
        assert stats.aggregates == 0 and stats.fallback_calls >= 30
    finally:
        n.stop()


def test_bad_inputs():
    with pytest.raises(ValueError, match="not a 0x-hex address"):
        Call("0x1234", b"")
    with pytest.raises(ValueError, match="block"):
        multicall(None, [], -1)  # type: ignore[arg-type]
