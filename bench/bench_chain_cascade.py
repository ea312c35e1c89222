"""Chain-run cascade vs the engine, QuoterV2 agreement and pool read time, on a fresh devnet.

Run: ``.venv/bin/python -m bench.bench_chain_cascade [--borrowers 96] [--quotes 300]``.
Starts an anvil devnet (genuine Aave v3.0.2 and v3.6, Morpho Blue, Uniswap v3; Comet, Sky and
Liquity v2 doubles, which the chain-run cascade leaves out on both sides), populates N seeded borrowers (and
N/2 on the v3.6 market), then:

(a) pool read: :func:`chain.uniswap_v3.read_pools` of the 8 devnet pools at one block (slot0,
    liquidity, every tickBitmap word, every initialized tick, through Multicall3), best of 5;
(b) QuoterV2 agreement: seeded random sizes (log-uniform, 1 raw unit to 4x the pool's liquidity)
    through every pool, both directions: ``risk.uniswap_v3.swap_exact_input`` vs
    ``quoteExactInputSingle`` at that block, counting exact (to the wei) matches of amountOut and
    sqrtPriceX96After, and cases crossing >= 10 initialized ticks / running out of liquidity;
(c) per ETH drawdown 5%..30%: :func:`chain.devnet.chain_cascade.run_chain_cascade` (state
    reverted after each) against the engine's cascade on the pre-shock snapshot with the on-chain
    model (CEX multiplier 0): rounds, liquidated debt, seized collateral, bad debt, final price
    and the relative gaps; the chain's bad debt split into the v3.6 Pool's ``getReserveDeficit``
    increase, Morpho's bad debt and the debt left on Aave positions without collateral (v3.0.2),
    and the number of v3.6 calls below ``max`` (``max`` would have left dust).
"""

from __future__ import annotations

import argparse
import random
import time

from eth_abi import decode

from chain.devnet import Devnet, encode_call
from chain.devnet.chain_cascade import compare, engine_cascade, run_chain_cascade
from chain.transport import HttpTransport
from chain.uniswap_v3 import read_pools, word_range
from risk.uniswap_v3 import swap_exact_input, swap_path

QUOTE = "quoteExactInputSingle((address,address,uint256,uint24,uint160))"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--borrowers", type=int, default=96)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quotes", type=int, default=300)
    args = parser.parse_args()
    net = Devnet().start()
    try:
        dep = net.deploy()
        net.populate(args.borrowers, args.seed)
        addresses = [p.address for p in dep.uniswap.pools.values()]
        with HttpTransport(net.rpc_url) as transport:
            block = net.rpc.block_number()
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                pools = read_pools(transport, block, addresses)
                times.append(time.perf_counter() - t0)
        words = sum(len(word_range(p.tick_spacing)) for p in pools)
        print(f"(a) pool read: {len(pools)} pools, {sum(len(p.ticks) for p in pools)} initialized ticks, "
              f"{words} bitmap words: best {min(times) * 1e3:.0f} ms, median {sorted(times)[2] * 1e3:.0f} ms")

        rng = random.Random(args.seed)
        exact = many = ran_out = 0
        paths = {}
        for i in range(args.quotes):
            pool = pools[i % len(pools)]
            zfo = bool((i // len(pools)) % 2)
            key = (pool.address, zfo)
            if key not in paths:
                paths[key] = swap_path(pool.state(), zfo).exhausted_in
            top = paths[key] * 4
            amount = max(1, int(10 ** rng.uniform(0, len(str(top)) - 1)))
            mine = swap_exact_input(pool.state(), amount, zfo)
            t_in, t_out = ((pool.token0_address, pool.token1_address) if zfo else (pool.token1_address,
                                                                                   pool.token0_address))
            out = decode(["uint256", "uint160", "uint32", "uint256"], net.rpc.call(
                dep.uniswap.quoter_v2, encode_call(QUOTE, (t_in, t_out, amount, pool.fee_pips, 0)), block))
            exact += (mine.amount_out, mine.sqrt_price_x96) == (out[0], out[1])
            many += mine.ticks_crossed >= 10
            ran_out += mine.amount_in < amount
        print(f"(b) QuoterV2: {exact}/{args.quotes} exact to the wei ({many} crossing >= 10 initialized ticks, "
              f"{ran_out} running out of liquidity)")

        print("(c) drawdown | rounds chain/engine | liquidated debt chain / engine (gap) | seized gap | "
              "bad debt chain / engine (gap) = v3.6 deficit + Morpho + v3.0 stranded | final ETH chain / engine (gap) | "
              "v3.6 reduced calls | chain run s")
        for x in (0.05, 0.10, 0.15, 0.20, 0.25, 0.30):
            snap_id = net.rpc.request("evm_snapshot", [])
            chain, before = run_chain_cascade(net, x)
            t0 = time.perf_counter()
            table, _ = engine_cascade(before, [x])
            engine_s = time.perf_counter() - t0
            net.rpc.request("evm_revert", [snap_id])
            r = compare(chain, table)
            c, e, g = r["chain"], r["engine"], r["gap"]
            print(f"    {x:4.0%} | {c['rounds']}/{e['rounds']} | ${c['liquidated_debt_usd'] / 1e6:.4f}M / "
                  f"${e['liquidated_debt_usd'] / 1e6:.4f}M ({g['liquidated_debt_usd']:.1e}) | "
                  f"{g['seized_collateral_usd']:.1e} | ${c['bad_debt_usd'] / 1e6:.4f}M / ${e['bad_debt_usd'] / 1e6:.4f}M "
                  f"({g['bad_debt_usd']:.1e}) = ${chain.deficit_usd / 1e6:.4f}M + ${chain.morpho_bad_debt_usd / 1e6:.4f}M + "
                  f"${chain.stranded_debt_usd / 1e6:.4f}M | "
                  f"${c['final_price_usd']:.2f} / ${e['final_price_usd']:.2f} ({g['final_price_usd']:.2%}) | "
                  f"{chain.reduced_liquidations} | {chain.seconds:.1f} (engine incl. model build {engine_s:.2f})")
    finally:
        net.stop()


if __name__ == "__main__":
    main()
