"""Fault table: devnet scans through the project's fault-injecting proxy, fault x rate x trials.

Run: ``.venv/bin/python -m bench.bench_faults [--trials 5] [--rates 0.1,0.3] [--only truncate,hang]``.

Starts a devnet of its own (genuine Aave V3 and Morpho Blue, Comet and Sky doubles, Multicall3;
the test suite's borrowers and seed), scans it once without faults, then for every fault of
``tests/chain/faulty_rpc.FAULT_MATRIX`` (at the matrix's rate, or at each of ``--rates``) runs
``--trials`` scans through :class:`tests.chain.faulty_rpc.FaultyRpcProxy`, each with its own seed,
and classifies each scan as the fault suite does (:func:`tests.chain.faulty_rpc.classify`):

- ``identical``: the snapshot equals the fault-free one;
- ``clear error``: one :class:`chain.transport.RpcError` (method and masked URL in the message);
- ``other``: anything else — a different snapshot, a raw exception. Must be 0.

Then reorgs: the pinned block replaced mid-scan at several points of the scan (``--trials``
points spread over it, depth 1 and 3), and between two runs sharing a warm cache and account
index (depth 1 and 2, ``--trials`` pairs each). Prints the Markdown table, the totals and the
wall time; exits 1 if any ``other`` was seen. ``tests/chain/test_faults.py`` runs the same matrix
with 2 trials in CI; this is the longer run the issue note quotes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace

from tests.chain.conftest import DEVNET_N_BORROWERS, DEVNET_SEED, started_devnet
from tests.chain.faulty_rpc import (CLEAR_ERROR, FAULT_MATRIX, IDENTICAL, OTHER, FaultyRpcProxy, format_table,
                                    run_fault_case, run_reorg_between_runs, run_reorg_mid_scan, snapshot_facts,
                                    suite_transport)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="scans per fault and rate (default 5)")
    parser.add_argument("--rates", default=None, help="comma list of rates for every fault (default: the matrix's)")
    parser.add_argument("--only", default=None, help="comma list of fault kinds to run (default: all)")
    parser.add_argument("--no-reorg", action="store_true", help="skip the reorg trials")
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error("--trials must be >= 1")
    rates = [float(r) for r in args.rates.split(",")] if args.rates else None
    if rates is not None and not all(0 < r <= 1 for r in rates):
        parser.error("--rates: each rate in (0, 1]")
    kinds = set(args.only.split(",")) if args.only else None
    cases = []
    for case in FAULT_MATRIX:
        if kinds is not None and case.kind not in kinds:
            continue
        if rates is None:
            if case not in cases:
                cases.append(case)
        else:
            cases += [replace(case, rate=r) for r in rates if replace(case, rate=r) not in cases]
    rows: list[tuple[str, str, int, dict[str, int]]] = []
    others: list[str] = []
    started = time.monotonic()
    print(f"devnet: {DEVNET_N_BORROWERS} borrowers, seed {DEVNET_SEED}; {len(cases)} fault cases x "
          f"{args.trials} trials", file=sys.stderr)
    with started_devnet() as devnet:
        with suite_transport(devnet.rpc_url, 0) as transport:
            from chain.scan import scan_devnet

            expected = snapshot_facts(scan_devnet(devnet.deployment, "latest", transport=transport))
        for case in cases:
            t0 = time.monotonic()
            counts, details = run_fault_case(devnet, case, args.trials, expected, seed0=10_000)
            rows.append((case.label, f"{case.rate:.0%}", args.trials, counts))
            others += [f"{case.kind}@{case.rate}: {d}" for d in details]
            print(f"  {case.kind}@{case.rate:.0%}: {counts} ({time.monotonic() - t0:.1f}s)", file=sys.stderr)
        if not args.no_reorg:
            proxy = FaultyRpcProxy(devnet.rpc_url)
            try:
                with suite_transport(proxy.url, 0) as transport:
                    scan_devnet(devnet.deployment, "latest", transport=transport)
                calls = proxy.counters.rpc_calls
            finally:
                proxy.stop()
            for depth in (1, 3):
                counts = {IDENTICAL: 0, CLEAR_ERROR: 0, OTHER: 0}
                fired_all = True
                for k in range(args.trials):
                    after = max(1, int(calls * (k + 0.5) / args.trials) - 1)
                    outcome, detail, fired = run_reorg_mid_scan(devnet, depth=depth, after_calls=after, seed=after)
                    fired_all &= fired
                    counts[outcome] += 1
                    if outcome == OTHER:
                        others.append(f"reorg mid-scan depth {depth} after call {after}: {detail}")
                label = f"reorg mid-scan, depth {depth}, points spread over the scan's {calls} calls"
                rows.append((label + ("" if fired_all else " (some did not fire)"), "1 per scan", args.trials, counts))
                print(f"  reorg mid-scan depth {depth}: {counts}", file=sys.stderr)
            for depth in (1, 2):
                counts = {IDENTICAL: 0, CLEAR_ERROR: 0, OTHER: 0}
                for k in range(args.trials):
                    with tempfile.TemporaryDirectory(prefix="liqrisk-bench-faults-") as tmp:
                        outcome, detail = run_reorg_between_runs(devnet, tmp, depth=depth, seed=100 * depth + k)
                    counts[outcome] += 1
                    if outcome == OTHER:
                        others.append(f"reorg between runs depth {depth}: {detail}")
                rows.append((f"reorg between two runs, warm cache + index, depth {depth}", "1 per pair",
                             args.trials, counts))
                print(f"  reorg between runs depth {depth}: {counts}", file=sys.stderr)
    totals = {key: sum(c[key] for *_, c in rows) for key in (IDENTICAL, CLEAR_ERROR, OTHER)}
    print(format_table(rows))
    print(f"\n{sum(t for *_, t, _ in rows)} scans: {totals[IDENTICAL]} identical, {totals[CLEAR_ERROR]} clear errors, "
          f"{totals[OTHER]} other; {time.monotonic() - started:.0f}s wall")
    for line in others:
        print(f"OTHER: {line}")
    return 1 if totals[OTHER] else 0


if __name__ == "__main__":
    sys.exit(main())
