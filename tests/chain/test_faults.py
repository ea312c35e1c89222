"""The project's own fault-injection suite: devnet scans through a misbehaving loopback proxy.

For every fault of :data:`faulty_rpc.FAULT_MATRIX` (transport faults, hostile answers) and for
reorgs (mid-scan, and between two runs sharing a warm cache and account index), each trial ends
in exactly one of: the snapshot identical to the fault-free one, or one clear error
(:class:`chain.transport.RpcError`, the typed error with method and masked URL that the CLI
prints). Anything else — a different snapshot, a raw exception — is ``other`` and fails.
The table is printed at the end (``-s`` or the terminal summary shows it); ``bench/bench_faults.py``
runs the same matrix with more trials. Every fault is bounded in count (``max_faults``) and time
(hangs end after 5 s or when the proxy stops); the whole module takes well under a minute.
"""

from __future__ import annotations

import pytest

try:
    from tests.chain.faulty_rpc import (
        CLEAR_ERROR, FAULT_MATRIX, IDENTICAL, OTHER, FaultyRpcProxy, GarbleFault, classify, format_table,
        run_fault_case, run_reorg_between_runs, run_reorg_mid_scan, snapshot_facts, suite_transport,
    )
except ImportError:  # pytest's default rootdir import mode (tests/ is not a package)
    from faulty_rpc import (  # type: ignore[no-redef]
        CLEAR_ERROR, FAULT_MATRIX, IDENTICAL, OTHER, FaultyRpcProxy, GarbleFault, classify, format_table,
        run_fault_case, run_reorg_between_runs, run_reorg_mid_scan, snapshot_facts, suite_transport,
    )

from chain.scan import scan_devnet

TRIALS = 2
TABLE: list[tuple[str, str, int, dict[str, int]]] = []


@pytest.fixture(scope="module")
def devnet():
    """The fault suite's own devnet, not the session's: ``anvil_reorg`` on a chain whose history
    earlier tests rewound with ``evm_revert`` rebuilt state from the wrong base (seen in the
    integrated suite: the Aave provider had no code after a depth-2/3 reorg), so the reorg trials
    get a chain no other test has touched."""
    from tests.chain.conftest import started_devnet

    with started_devnet() as net:
        yield net


@pytest.fixture(scope="module")
def expected(devnet):
    with suite_transport(devnet.rpc_url, 0) as transport:
        return snapshot_facts(scan_devnet(devnet.deployment, "latest", transport=transport))


@pytest.mark.parametrize("case", FAULT_MATRIX, ids=[f"{c.kind}@{c.rate}" for c in FAULT_MATRIX])
def test_fault_gives_identical_snapshot_or_clear_error(devnet, expected, case):
    counts, others = run_fault_case(devnet, case, TRIALS, expected)
    TABLE.append((case.label, f"{case.rate:.0%}", TRIALS, counts))
    assert counts[OTHER] == 0, others


@pytest.fixture(scope="module")
def calls_per_scan(devnet):
    """JSON-RPC calls of one fault-free scan (the reorg points are placed relative to it), measured
    without hedged duplicates and counted by distinct request id (the trigger counts the same way):
    hedged copies and retries, whose number depends on the machine's load, would otherwise move
    "after the last read" past the end of a trial's scan, and the reorg would never fire."""
    proxy = FaultyRpcProxy(devnet.rpc_url)
    try:
        with suite_transport(proxy.url, 0, hedge_after_s=None) as transport:
            scan_devnet(devnet.deployment, "latest", transport=transport)
        return proxy.counters.logical_calls
    finally:
        proxy.stop()


# Where the pinned block is replaced: right after pinning, a third in, after the last discovery
# header check (only by-hash reads can notice), and after the last read (only the final
# canonical check can notice); and a 3-block reorg half-way.
REORG_POINTS = [(1, "start", 2), (1, "a third in", 1 / 3), (1, "near the end", -6), (1, "after the last read", -2),
                (3, "half-way", 1 / 2)]


@pytest.mark.parametrize(("depth", "where", "point"), REORG_POINTS, ids=[f"depth{d}-{w}" for d, w, _ in REORG_POINTS])
def test_reorg_mid_scan_is_read_again_never_mixed(devnet, calls_per_scan, depth, where, point):
    after_calls = point if isinstance(point, int) and point > 0 else (
        calls_per_scan + point if isinstance(point, int) else int(calls_per_scan * point))
    outcome, detail, fired = run_reorg_mid_scan(devnet, depth=depth, after_calls=after_calls, seed=after_calls)
    assert fired, "the reorg trigger never fired: the scan made fewer calls than the trial assumes"
    counts = {IDENTICAL: int(outcome == IDENTICAL), CLEAR_ERROR: int(outcome == CLEAR_ERROR),
              OTHER: int(outcome == OTHER)}
    TABLE.append((f"reorg mid-scan, depth {depth}, {where} (after call {after_calls} of {calls_per_scan})",
                  "1 per scan", 1, counts))
    assert outcome != OTHER, detail


@pytest.mark.parametrize("depth", [1, 2])
def test_reorg_between_runs_is_not_served_from_the_cache(devnet, tmp_path, depth):
    outcome, detail = run_reorg_between_runs(devnet, tmp_path, depth=depth, seed=depth)
    counts = {IDENTICAL: int(outcome == IDENTICAL), CLEAR_ERROR: int(outcome == CLEAR_ERROR),
              OTHER: int(outcome == OTHER)}
    TABLE.append((f"reorg between two runs, warm cache + index, depth {depth}", "1 per pair", 1, counts))
    assert outcome == IDENTICAL, detail


def test_chain_id_garbled_without_an_expected_id_is_a_clear_error(devnet, expected):
    """Without an expected chain id, a garbled first answer cannot be refused on sight; the
    final check asks again and the disagreement fails the scan (never a snapshot of 'chain 1958')."""
    proxy = FaultyRpcProxy(devnet.rpc_url)
    try:
        proxy.faults.append(GarbleFault("chain-id", count=1))
        with suite_transport(proxy.url, 1, expected_chain_id=None) as transport:
            outcome, detail = classify(lambda: scan_devnet(devnet.deployment, "latest", transport=transport), expected)
    finally:
        proxy.stop()
    assert outcome == CLEAR_ERROR and "eth_chainId answers disagree" in detail
    TABLE.append(("garbled eth_chainId, no expected chain id", "first answer", 1,
                  {IDENTICAL: 0, CLEAR_ERROR: 1, OTHER: 0}))


def test_zz_print_fault_table(capsys):
    """Print the table of everything this module ran (the last test of the module)."""
    if not TABLE:
        pytest.skip("no fault trial ran")
    with capsys.disabled():
        print("\n\nFault suite: fault x rate x trials -> outcome\n" + format_table(TABLE) + "\n")
    assert sum(c[OTHER] for *_, c in TABLE) == 0
