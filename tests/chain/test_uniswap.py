"""Uniswap v3 on the devnet (genuine v3-core 1.0.1 / v3-periphery 1.4.4): the pool reader and the
exact swap math against the genuine contracts.

- the scan reads every devnet pool at the pinned block into ``Snapshot.pools`` and the saved
  snapshot carries them (JSON round trip);
- :func:`risk.uniswap_v3.swap_exact_input` on the pools as read equals ``QuoterV2.
  quoteExactInputSingle`` at that block *to the wei* (``amountOut`` and ``sqrtPriceX96After``)
  over hypothesis-drawn sizes from 1 raw unit to beyond the pool's liquidity, both directions,
  every pool; the drawn cases must include swaps crossing many initialized ticks and swaps that
  run out of liquidity (stop at the price limit). QuoterV2's third output,
  ``initializedTicksCrossed``, is a gas-estimate count (periphery ``PoolTicksCounter``) that also
  counts an initialized tick at the start of the compressed range: it is not compared;
- a swap executed through the genuine SwapRouter pays exactly the math's ``amount_out`` and
  leaves the pool (re-read) at the math's price, tick and liquidity.
"""

from __future__ import annotations

import pytest
from eth_abi import decode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.devnet import Tx, encode_call
from chain.scan import scan_devnet
from chain.transport import HttpTransport
from chain.uniswap_v3 import read_pools
from risk.snapshot import Snapshot
from risk.uniswap_v3 import swap_exact_input, swap_path

pytestmark = pytest.mark.devnet

QUOTE_SINGLE = "quoteExactInputSingle((address,address,uint256,uint24,uint160))"
EXACT_INPUT_SINGLE = "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"
TRADER_INDEX = 4
SEEN: dict[str, int] = {"cases": 0, "exact": 0, "many_ticks": 0, "ran_out": 0}


@pytest.fixture(scope="module")
def pools_at_block(devnet, devnet_deployment):
    with HttpTransport(devnet.rpc_url) as transport:
        snapshot = scan_devnet(devnet_deployment, transport=transport)
    return snapshot


def test_scan_reads_every_devnet_pool_and_the_snapshot_carries_them(pools_at_block, devnet_deployment):
    snapshot = pools_at_block
    assert {p.address for p in snapshot.pools} == {p.address for p in devnet_deployment.uniswap.pools.values()}
    for pool in snapshot.pools:
        assert len(pool.ticks) >= 10 and pool.liquidity > 0
        assert {pool.token0, pool.token1} <= {a.symbol for a in snapshot.assets}
    assert Snapshot.from_json(snapshot.to_json()) == snapshot
    old = snapshot.model_dump(mode="json")
    old.pop("pools")  # a snapshot saved before pools existed still loads
    assert Snapshot.model_validate(old).pools == ()


def _quote(rpc, quoter, pool, zero_for_one, amount, block):
    token_in, token_out = ((pool.token0_address, pool.token1_address) if zero_for_one
                           else (pool.token1_address, pool.token0_address))
    data = encode_call(QUOTE_SINGLE, (token_in, token_out, amount, pool.fee_pips, 0))
    amount_out, sqrt_after, _crossed, _gas = decode(["uint256", "uint160", "uint32", "uint256"],
                                                    rpc.call(quoter, data, block))
    return amount_out, sqrt_after


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_swap_math_equals_quoter_v2_to_the_wei(devnet, devnet_deployment, pools_at_block, data):
    snapshot = pools_at_block
    pool = data.draw(st.sampled_from(snapshot.pools), label="pool")
    zero_for_one = data.draw(st.booleans(), label="zero_for_one")
    state = pool.state()
    exhausted = swap_path(state, zero_for_one).exhausted_in
    decimals = pool.decimals0 if zero_for_one else pool.decimals1
    kind = data.draw(st.sampled_from(["tokens", "deep", "beyond"]), label="kind")
    if kind == "tokens":  # 1 raw unit .. 10^7 tokens (the devnet pools hold ~10^4 WETH)
        amount = data.draw(st.integers(1, 10 ** (decimals + 7)), label="amount")
    elif kind == "deep":  # deep into the tails, where it crosses many ticks
        amount = data.draw(st.integers(10 ** (decimals + 3), min(exhausted, 10 ** (decimals + 12))), label="amount")
    else:  # beyond every position: the pool runs out of liquidity at the price limit
        amount = data.draw(st.integers(exhausted, exhausted * 4), label="amount")
    mine = swap_exact_input(state, amount, zero_for_one)
    assert (mine.amount_out, mine.sqrt_price_x96) == _quote(devnet.rpc, devnet_deployment.uniswap.quoter_v2, pool,
                                                            zero_for_one, amount, snapshot.block_number)
    SEEN["cases"] += 1
    SEEN["exact"] += 1
    SEEN["many_ticks"] += mine.ticks_crossed >= 10
    SEEN["ran_out"] += mine.amount_in < amount


def test_the_quoter_cases_covered_many_ticks_and_running_out():
    """Runs after the property test (file order): the drawn cases must have included both."""
    if SEEN["cases"] == 0:
        pytest.skip("the QuoterV2 property test did not run in this session")
    assert SEEN["many_ticks"] >= 5 and SEEN["ran_out"] >= 5, SEEN


def test_router_swap_executes_as_the_math_says(devnet_revert, devnet_deployment):
    devnet, dep = devnet_revert, devnet_deployment
    rpc = devnet.rpc
    trader = rpc.accounts()[TRADER_INDEX]
    pool_info = dep.uniswap.pool("WETH", "USDC", 500)
    with HttpTransport(devnet.rpc_url) as transport:
        (before,) = read_pools(transport, rpc.block_number(), [pool_info.address])
        weth_is_0 = before.token0 == "WETH"
        amount = 20_000 * 10**18  # ~$40M of WETH: crosses several initialized ticks
        expected = swap_exact_input(before.state(), amount, zero_for_one=weth_is_0)
        assert expected.ticks_crossed >= 2
        devnet.fund(trader, "WETH", amount)
        usdc = dep.tokens["USDC"]
        rpc.transact(Tx(trader, dep.tokens["WETH"], encode_call("approve(address,uint256)", dep.uniswap.swap_router,
                                                                amount), 100_000))
        (usdc_before,) = rpc.call_decode(usdc, "balanceOf(address)", (trader,), ("uint256",))
        rpc.transact(Tx(trader, dep.uniswap.swap_router, encode_call(EXACT_INPUT_SINGLE, (
            dep.tokens["WETH"], usdc, 500, trader, 2**255, amount, 0, 0)), 3_000_000), what="exactInputSingle")
        (usdc_after,) = rpc.call_decode(usdc, "balanceOf(address)", (trader,), ("uint256",))
        assert usdc_after - usdc_before == expected.amount_out
        (after,) = read_pools(transport, rpc.block_number(), [pool_info.address])
    assert (after.sqrt_price_x96, after.tick, after.liquidity) == (expected.sqrt_price_x96, expected.tick,
                                                                   expected.liquidity)
    assert (after.ticks, after.liquidity_net) == (before.ticks, before.liquidity_net)
