"""Chain benchmark: discovery + full snapshot throughput on a fresh local devnet.

Run: ``.venv/bin/python -m bench.bench_scan [--borrowers 5000]``. Starts an anvil devnet
(genuine Aave V3 + Morpho Blue, Comet double, Multicall3), deploys, populates N seeded borrowers,
then times in the same run:

(a) liqrisk's path: ``scan_devnet`` = event discovery into a fresh SQLite index + Multicall3
    batched reads at one pinned block -> Snapshot;
(b) a naive reader over the accounts (a) discovered (its discovery is not timed, in its favour):
    one unbatched ``eth_call`` per read, one HTTP request each, at the same block — Aave:
    ``getUserAccountData`` + ``balanceOf`` of every reserve's aToken and variable-debt token;
    Morpho: ``position()``; Comet double: ``borrowBalanceOf`` + ``userCollateral`` per asset.
    With more positions than ``--naive-sample`` it times a seeded random sample and extrapolates
    per position (said in the output).

Prints wall times, positions/s, the ratio (goal >= 20x the naive reader, >= 2,000 positions/s
on loopback), HTTP request counts and peak memory (this process's ru_maxrss; anvil's VmHWM).
The devnet is stopped at the end, also on errors.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from collections import Counter
from pathlib import Path

from chain.devnet import Devnet, encode_call
from chain.scan import scan_devnet
from chain.transport import HttpTransport
from risk.snapshot import Snapshot

GOAL_RATIO = 20.0
GOAL_POSITIONS_PER_S = 2_000.0


def _vm_hwm_mb(pid: int) -> float | None:
    """Peak resident memory of process ``pid`` in MB (Linux /proc), None if unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _naive_calls(snapshot: Snapshot, devnet: Devnet) -> list[tuple[str, list[tuple[str, str]]]]:
    """Per position (market id, [(to, calldata), ...]): the reads a naive reader makes for it."""
    dep = devnet.deployment
    assert dep is not None
    morpho_ids = {f"morpho:{m.id.lower()}": m for m in dep.morpho.markets.values()}
    comet_assets = [dep.tokens["WETH"], dep.tokens["WBTC"]]  # the Comet double's collateral assets
    out = []
    for p in snapshot.positions:
        market = snapshot.market(p.market)
        if market.venue.startswith("aave"):
            calls = [(dep.aave.pool, encode_call("getUserAccountData(address)", p.account))]
            for symbol in dep.tokens:
                for token in (dep.aave.a_tokens[symbol], dep.aave.variable_debt_tokens[symbol]):
                    calls.append((token, encode_call("balanceOf(address)", p.account)))
        elif market.venue == "morpho_blue":
            m = morpho_ids[p.market.lower()]
            calls = [(dep.morpho.address,
                      encode_call("position(bytes32,address)", bytes.fromhex(m.id[2:]), p.account))]
        elif market.venue == "compound_v3":
            calls = [(dep.comet_double, encode_call("borrowBalanceOf(address)", p.account))]
            calls += [(dep.comet_double, encode_call("userCollateral(address,address)", p.account, a))
                      for a in comet_assets]
        else:  # pragma: no cover - the devnet has only these venues
            raise ValueError(f"unknown venue {market.venue!r} of market {p.market}")
        out.append((p.market, calls))
    return out


def _run_naive(transport: HttpTransport, block: int, work: list[tuple[str, list[tuple[str, str]]]]) -> int:
    """One HTTP request per eth_call, results decoded to ints; returns the number of calls."""
    tag = hex(block)
    n = 0
    for _, calls in work:
        for to, data in calls:
            result = transport.request("eth_call", [{"to": to, "data": data}, tag])
            raw = bytes.fromhex(result[2:])
            _ = [int.from_bytes(raw[i : i + 32], "big") for i in range(0, len(raw), 32)]
            n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--borrowers", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7, help="population seed (and naive sample seed)")
    parser.add_argument("--naive-sample", type=int, default=500,
                        help="time the naive reader on this many random positions when there are more (0 = all)")
    args = parser.parse_args()

    devnet = Devnet()
    try:
        t0 = time.perf_counter()
        devnet.start()
        dep = devnet.deploy()
        t_deploy = time.perf_counter() - t0
        print(f"devnet: anvil started and contracts deployed in {t_deploy:.1f} s")
        t0 = time.perf_counter()
        population = devnet.populate(args.borrowers, args.seed)
        t_pop = time.perf_counter() - t0
        n_blocks = population.last_block - population.first_block + 1
        print(f"population: {args.borrowers:,} borrowers (seed {args.seed}) in {t_pop:.1f} s, {n_blocks} blocks, "
              f"{ {k: len(v) for k, v in population.venues.items()} }")

        with HttpTransport(devnet.rpc_url) as transport:
            block = int(transport.request("eth_blockNumber", []), 16)
            before = transport.stats.copy()
            t0 = time.perf_counter()
            snapshot = scan_devnet(dep, block, transport=transport)
            t_scan = time.perf_counter() - t0
            http = transport.stats.http_requests - before.http_requests
            calls = transport.stats.rpc_calls - before.rpc_calls
            n_pos = len(snapshot.positions)
            by_venue = Counter(snapshot.market(p.market).venue for p in snapshot.positions)
            scan_rate = n_pos / t_scan
            print(f"(a) liqrisk scan_devnet (log discovery + Multicall3) at block {block}: {n_pos:,} positions "
                  f"{dict(by_venue)} in {t_scan:.2f} s = {scan_rate:,.0f} positions/s "
                  f"({http} HTTP requests, {calls} JSON-RPC calls)")

            work = _naive_calls(snapshot, devnet)
            sampled = 0 < args.naive_sample < len(work)
            if sampled:
                work = random.Random(args.seed).sample(work, args.naive_sample)
            t0 = time.perf_counter()
            n_calls = _run_naive(transport, block, work)
            t_naive = time.perf_counter() - t0
            naive_rate = len(work) / t_naive
            what = (f"random sample of {len(work):,} of {n_pos:,} positions (seed {args.seed}), extrapolated per "
                    f"position to {n_pos / naive_rate:.1f} s for all" if sampled else f"all {len(work):,} positions")
            print(f"(b) naive reader, one HTTP request per eth_call ({n_calls:,} calls, "
                  f"{t_naive / n_calls * 1e3:.2f} ms/call): {what}; {t_naive:.2f} s = {naive_rate:,.0f} positions/s")

        ratio = scan_rate / naive_rate
        ratio_ok = "met" if ratio >= GOAL_RATIO else "NOT met"
        print(f"ratio (a)/(b): {ratio:.1f}x (goal >= {GOAL_RATIO:.0f}x: {ratio_ok}); "
              f"(a) {scan_rate:,.0f} positions/s (goal >= {GOAL_POSITIONS_PER_S:,.0f}: "
              f"{'met' if scan_rate >= GOAL_POSITIONS_PER_S else 'NOT met'})")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        anvil_mb = _vm_hwm_mb(devnet.process.pid) if devnet.process is not None else None
        print(f"peak memory: python {peak_mb:,.0f} MB" + (f", anvil {anvil_mb:,.0f} MB" if anvil_mb else ""))
    finally:
        devnet.stop()


if __name__ == "__main__":
    main()
