"""Liquidations on the genuine Aave v3.6 Pool against risk.exact (to the wei) and the float kernel.

For every v3.6 borrower of the devnet:

1. **Boundary.** For every collateral and every debt asset the position holds, risk.exact's
   liquidation oracle price P (with every other price fixed) is the Pool's boundary: at P a
   ``liquidationCall`` succeeds, at P + 1 (collateral) / P − 1 (debt) it reverts with
   ``HealthFactorNotBelowThreshold``. Prices are set for one ``eth_call`` by a ``stateDiff``
   override of the feed's answer slot at the pinned snapshot block: nothing is mined, so no
   interest accrues between the snapshot and the check.
2. **Shocks, executed.** After each price shock, the kernel's first pass
   (``liquidate_rows(max_passes=1)``) picks one (collateral, debt) pair per liquidatable row;
   risk.exact sizes that call (``debtToCover = max`` where the Pool accepts it, else the largest
   amount it accepts — and then ``max`` and that amount + 1 must revert with
   ``MustNotLeaveDust``); every call is sent in ONE block mined at the snapshot's timestamp (no
   index moves, the positions are independent). Each ``LiquidationCall`` event and fee transfer
   must equal risk.exact exactly, and the kernel within 1e-9 relative + 2 raw units (the
   protocol works in whole token units: 1 raw USDC unit of a $300 debt is 3e-9). Every position
   risk.exact calls healthy must revert with ``HealthFactorNotBelowThreshold``.
3. **Deficit.** The increase of ``getReserveDeficit`` per reserve equals what risk.exact predicts
   (the repaid reserve's rest plus the whole debt of the others, for calls that consume the
   position's last collateral) exactly, and the kernel's bad debt of the same rows within 1e-9.
4. **Chosen amounts.** A third of the reserve debt, for every (collateral, debt) pair a
   liquidatable position holds: amounts equal risk.exact, or both revert with ``MustNotLeaveDust``.

Each shock test records its counts in ``STATS`` (printed by ``-s``; the numbers of the report).
"""

from __future__ import annotations

import numpy as np
import pytest
from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from abis import abi_function
from chain.aave_v3 import Read, run_calls
from chain.devnet import Tx, encode_call
from chain.devnet.deploy_aave36 import FEED_ANSWER_SLOT, feed_answer_override
from chain.scan import scan_devnet
from chain.transport import HttpTransport, RpcError
from risk.book import PositionBook
from risk.exact import (
    UINT256_MAX,
    ProtocolRevert,
    aave_position_account,
    aave_position_liquidation,
    aave_position_liquidation_oracle_price,
)
from risk.liquidation import liquidate_rows

pytestmark = pytest.mark.devnet

MARKET_ID = "aave36-devnet"
LIQUIDATION_CALL_SIG = "liquidationCall(address,address,address,uint256,bool)"
LIQUIDATION_CALL_TOPIC = "0x" + keccak(
    text="LiquidationCall(address,address,address,uint256,uint256,address,bool)").hex()
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
HF_NOT_BELOW = "0x" + keccak(text="HealthFactorNotBelowThreshold()")[:4].hex()
MUST_NOT_LEAVE_DUST = "0x" + keccak(text="MustNotLeaveDust()")[:4].hex()
GAS = 2_500_000
KERNEL_REL_TOL = 1e-9
KERNEL_ABS_RAW = 2
LIQUIDATOR_INDEX = 7
STATS: dict[str, dict[str, float]] = {}


def _error(exc: RpcError) -> str:
    data = exc.data.get("data") if isinstance(exc.data, dict) else exc.data
    return data[:10] if isinstance(data, str) else exc.rpc_message


def _call_error(transport, call: dict, block: int, overrides: dict | None = None) -> str | None:
    """None if the eth_call succeeds at ``block``, else the revert's 4-byte selector."""
    params = [call, hex(block)] + ([overrides] if overrides else [])
    try:
        transport.request("eth_call", params)
    except RpcError as exc:
        return _error(exc)
    return None


@pytest.fixture
def liquidator(devnet_revert, devnet_deployment) -> str:
    dep = devnet_deployment
    rpc = devnet_revert.rpc
    account = rpc.accounts()[LIQUIDATOR_INDEX]
    for symbol, token in dep.tokens.items():
        devnet_revert.fund(account, symbol, 10**12 * 10 ** dep.decimals[symbol])
    rpc.send_bulk([Tx(account, token, encode_call("approve(address,uint256)", dep.aave36.pool, UINT256_MAX), 100_000)
                   for token in dep.tokens.values()], what="liquidator approvals")
    return account


@pytest.fixture
def transport(devnet):
    with HttpTransport(devnet.rpc_url) as http:
        yield http


def _positions(snapshot):
    return [p for p in snapshot.positions if p.market == MARKET_ID]


def _usd(snapshot, symbol: str, raw: int) -> float:
    asset = snapshot.asset(symbol)
    return raw / 10**asset.decimals * asset.price_usd


def _main(snapshot, amounts: dict[str, int]) -> str:
    return max(amounts, key=lambda s: _usd(snapshot, s, amounts[s]))


def _with_price(market, symbol: str, price: int):
    reserves = tuple(r.model_copy(update={"oracle_price": price}) if r.asset == symbol else r for r in market.reserves)
    return market.model_copy(update={"reserves": reserves})


def _liquidation_call(dep, liquidator, collateral, debt, user, amount) -> dict:
    return {"from": liquidator, "to": dep.aave36.pool, "gas": hex(GAS),
            "data": encode_call(LIQUIDATION_CALL_SIG, dep.tokens[collateral], dep.tokens[debt], user, amount, False)}


def _scaled_and_index(transport, dep, block: int, user: str, collateral: str) -> tuple[int, int]:
    (scaled,), (index,) = run_calls(transport, block, [
        Read(dep.aave36.a_tokens[collateral], abi_function("AaveScaledToken", "scaledBalanceOf"), (user,)),
        Read(dep.aave36.pool, abi_function("AavePool", "getReserveNormalizedIncome"), (dep.tokens[collateral],)),
    ], what="scaled balance and index")
    return int(scaled), int(index)


# ------------------------------------------------------------------------------------ boundary


def test_v36_boundary_for_every_asset_held(devnet_revert, devnet_deployment, liquidator, transport):
    dep = devnet_deployment
    snapshot = scan_devnet(dep, transport=transport)
    market = snapshot.market(MARKET_ID)
    decimals = {a.symbol: a.decimals for a in snapshot.assets}
    block = snapshot.block_number
    # the override slot is the feed's answer: latestAnswer() follows it
    feed = dep.aave36.price_feeds["WETH"]
    assert int(transport.request("eth_getStorageAt", [feed, hex(FEED_ANSWER_SLOT), hex(block)]), 16) == \
        market.reserve("WETH").oracle_price
    positions = _positions(snapshot)
    checked = {"collateral": 0, "debt": 0, "dust_sized": 0, "never_liquidatable": 0}
    for position in positions:
        for symbol in (*position.collateral, *position.debt):
            is_debt = symbol in position.debt
            p = aave_position_liquidation_oracle_price(market, position, decimals, symbol)
            collateral = _main(snapshot, position.collateral) if is_debt else symbol
            debt = symbol if is_debt else _main(snapshot, position.debt)
            if p is None:  # a small collateral: even at a price of 1 unit the others carry the debt
                assert not is_debt, (position.account, symbol)
                call = _liquidation_call(dep, liquidator, collateral, debt, position.account, UINT256_MAX)
                feed = dep.aave36.price_feeds[symbol]
                assert _call_error(transport, call, block, feed_answer_override(feed, 1)) == HF_NOT_BELOW
                checked["never_liquidatable"] += 1
                continue
            assert p >= 2, (position.account, symbol)
            at_p = _with_price(market, symbol, p)
            scaled, index = _scaled_and_index(transport, dep, block, position.account, collateral)
            amount, _ = aave_position_liquidation(at_p, position, decimals, collateral, debt,
                                                  collateral_scaled_raw=scaled, collateral_liquidity_index_ray=index)
            checked["dust_sized"] += amount != UINT256_MAX
            feed = dep.aave36.price_feeds[symbol]
            call = _liquidation_call(dep, liquidator, collateral, debt, position.account, amount)
            safe = p - 1 if is_debt else p + 1
            assert _call_error(transport, call, block, feed_answer_override(feed, p)) is None, (position.account, symbol, p)
            assert _call_error(transport, call, block, feed_answer_override(feed, safe)) == HF_NOT_BELOW, \
                (position.account, symbol, p)
            checked["debt" if is_debt else "collateral"] += 1
    assert checked["collateral"] + checked["never_liquidatable"] >= len(positions)
    assert checked["debt"] >= len(positions)
    STATS["boundary"] = {"positions": len(positions), **checked}


# ------------------------------------------------------------------------- shocks, executed

# (moves, name): WETH -10% and -35% (the deep one leaves collateral short: deficits), wstETH
# -6.25% (eMode, bonus 1%: under water), WETH +30% (shorts), WETH and WBTC down together
# (two-collateral and "dusty" positions).
SHOCKS = [
    ((("WETH", 1_800),), "weth-1800"),
    ((("WETH", 1_300),), "weth-1300"),
    ((("wstETH", 2_250),), "wsteth-2250"),
    ((("WETH", 2_600),), "weth-2600"),
    ((("WETH", 1_620), ("WBTC", 45_000)), "weth-wbtc-down"),
]


def _kernel_first_pass(book: PositionBook, rows: np.ndarray):
    sub = book.select(rows)
    collateral, debt = sub.collateral.copy(), sub.debt.copy()
    outcome = liquidate_rows(collateral, debt, sub.liq_threshold, sub.liq_bonus, sub.protocol_fee, sub.venue,
                             sub.prices_usd, max_passes=1)
    return sub, outcome


def _mine_at(rpc, txs: list[Tx], timestamp: int) -> tuple[int, list[dict]]:
    senders = sorted({t.sender for t in txs})
    nonce = {s: rpc.nonce(s) for s in senders}
    rpc.request("evm_setAutomine", [False])
    try:
        calls = []
        for t in txs:
            calls.append(("eth_sendTransaction", [{"from": t.sender, "to": t.to, "data": t.data, "gas": hex(t.gas),
                                                    "nonce": hex(nonce[t.sender])}]))
            nonce[t.sender] += 1
        hashes = rpc.batch(calls)
        rpc.request("evm_setNextBlockTimestamp", [hex(timestamp)])
        rpc.request("evm_mine", [])
    finally:
        rpc.request("evm_setAutomine", [True])
    block = rpc.block_number()
    by_hash = {r["transactionHash"]: r for r in rpc.request("eth_getBlockReceipts", [hex(block)])}
    return block, [by_hash[h] for h in hashes]


def _deficits(transport, dep, block: int) -> dict[str, int]:
    fn = abi_function("AavePool", "getReserveDeficit")
    values = run_calls(transport, block, [Read(dep.aave36.pool, fn, (dep.tokens[s],)) for s in dep.tokens],
                       what="getReserveDeficit")
    return {s: int(v[0]) for s, v in zip(dep.tokens, values)}


def _rel(chain_raw: int, engine_raw: float) -> float:
    return abs(chain_raw - engine_raw) / max(abs(chain_raw), 1)


def _excess_raw(chain_raw: int, engine_raw: float) -> float:
    """Raw units of |chain - kernel| beyond the 1e-9 relative part."""
    return max(0.0, abs(chain_raw - engine_raw) - KERNEL_REL_TOL * max(abs(chain_raw), abs(engine_raw)))


def _kernel_close(chain_raw: int, engine_raw: float, extra_raw: float = 0.0) -> bool:
    return abs(chain_raw - engine_raw) <= KERNEL_REL_TOL * max(abs(chain_raw), abs(engine_raw)) + KERNEL_ABS_RAW + extra_raw


@pytest.mark.parametrize(("moves", "name"), SHOCKS, ids=[n for _, n in SHOCKS])
def test_v36_shock_liquidations_execute_as_exact_and_kernel_predict(devnet_revert, devnet_deployment, liquidator,
                                                                    transport, moves, name):
    devnet, dep, rpc = devnet_revert, devnet_deployment, devnet_revert.rpc
    for symbol, price in moves:
        devnet.set_price_usd(symbol, price)
    after = scan_devnet(dep, transport=transport)
    block = after.block_number
    market = after.market(MARKET_ID)
    decimals = {a.symbol: a.decimals for a in after.assets}
    positions = {p.account: p for p in _positions(after)}
    book = PositionBook.from_snapshot(after)
    rows = np.array([i for i, m in enumerate(book.market) if book.market_ids[m] == MARKET_ID])
    sub, outcome = _kernel_first_pass(book, rows)
    scale = np.array([10.0 ** decimals[s] for s in sub.symbols])

    accounts = {position.account: aave_position_account(market, position, decimals) for position in positions.values()}
    exact_liquidatable = {a for a, acc in accounts.items() if acc.health_factor_wad < 10**18}
    kernel_hit = {sub.accounts[i] for i in np.flatnonzero(outcome.hit)}
    assert kernel_hit == exact_liquidatable, "the kernel and risk.exact disagree on who is liquidatable"
    assert exact_liquidatable, f"shock {name} liquidates nobody on v3.6"

    # Healthy positions: the Pool refuses.
    for account in set(positions) - exact_liquidatable:
        position = positions[account]
        call = _liquidation_call(dep, liquidator, _main(after, position.collateral), _main(after, position.debt),
                                 account, UINT256_MAX)
        assert _call_error(transport, call, block) == HF_NOT_BELOW, account

    planned = []
    dust_sized = 0
    for i in np.flatnonzero(outcome.hit):
        account = sub.accounts[i]
        position = positions[account]
        (c,) = np.flatnonzero(outcome.seized_tokens[i])
        (j,) = np.flatnonzero(outcome.repaid_tokens[i])
        collateral, debt = sub.symbols[c], sub.symbols[j]
        scaled, index = _scaled_and_index(transport, dep, block, account, collateral)
        amount, expected = aave_position_liquidation(market, position, decimals, collateral, debt,
                                                     collateral_scaled_raw=scaled, collateral_liquidity_index_ray=index)
        if amount != UINT256_MAX:  # max reverts on the Pool too, and so does one unit more
            dust_sized += 1
            for too_much in (UINT256_MAX, amount + 1):
                call = _liquidation_call(dep, liquidator, collateral, debt, account, too_much)
                assert _call_error(transport, call, block) == MUST_NOT_LEAVE_DUST, (account, too_much)
        call = _liquidation_call(dep, liquidator, collateral, debt, account, amount)
        planned.append((i, account, collateral, debt, expected, Tx(liquidator, dep.aave36.pool, call["data"], GAS)))

    treasury = to_checksum_address(rpc.call_decode(dep.aave36.a_tokens["WETH"], "RESERVE_TREASURY_ADDRESS()", (),
                                                   ("address",))[0])
    deficits_before = _deficits(transport, dep, block)
    mined, receipts = _mine_at(rpc, [p[-1] for p in planned], after.block_timestamp)
    assert int(rpc.request("eth_getBlockByNumber", [hex(mined), False])["timestamp"], 16) == after.block_timestamp
    failed = [(p[1], p[2], p[3]) for p, r in zip(planned, receipts) if int(r["status"], 16) != 1]
    assert not failed, f"liquidations risk.exact sized reverted on-chain: {failed}"

    expected_deficit = {s: 0 for s in dep.tokens}
    kernel_bad_debt_usd = chain_bad_debt_usd = 0.0
    max_rel = {"repaid": 0.0, "collateral": 0.0, "fee": 0.0}
    max_excess_raw = 0.0
    for (i, account, collateral, debt, expected, _), receipt in zip(planned, receipts):
        (event,) = [e for e in receipt["logs"] if e["topics"][0] == LIQUIDATION_CALL_TOPIC]
        repaid, to_liquidator, _, _ = decode(["uint256", "uint256", "address", "bool"], bytes.fromhex(event["data"][2:]))
        a_token = dep.aave36.a_tokens[collateral].lower()
        fee = sum(int(e["data"], 16) for e in receipt["logs"]
                  if e["address"].lower() == a_token and e["topics"][0] == TRANSFER_TOPIC
                  and to_checksum_address("0x" + e["topics"][2][-40:]) == treasury)
        label = (account, collateral, debt, name)
        assert (repaid, to_liquidator, fee) == (expected.debt_repaid_raw, expected.collateral_to_liquidator_raw,
                                                expected.protocol_fee_raw), label
        # the kernel, in float tokens
        c, j = sub.asset_index(collateral), sub.asset_index(debt)
        k_repaid = outcome.repaid_tokens[i, j] * scale[j]
        k_fee = outcome.protocol_fee_tokens[i, c] * scale[c]
        k_liquidator = outcome.seized_tokens[i, c] * scale[c] - k_fee
        debt_unit_in_collateral = (sub.prices_usd[j] / scale[j]) / (sub.prices_usd[c] / scale[c]) * sub.liq_bonus[i, c]
        assert _kernel_close(repaid, k_repaid), ("kernel repaid", label, repaid, k_repaid)
        assert _kernel_close(to_liquidator, k_liquidator, debt_unit_in_collateral), ("kernel seized", label)
        assert _kernel_close(fee, k_fee, debt_unit_in_collateral), ("kernel fee", label)
        max_rel["repaid"] = max(max_rel["repaid"], _rel(repaid, k_repaid))
        max_rel["collateral"] = max(max_rel["collateral"], _rel(to_liquidator, k_liquidator))
        max_rel["fee"] = max(max_rel["fee"], _rel(fee, k_fee))
        max_excess_raw = max(max_excess_raw, _excess_raw(repaid, k_repaid), _excess_raw(to_liquidator, k_liquidator),
                             _excess_raw(fee, k_fee))
        # deficit: the rest of this reserve, and every other debt reserve in full
        assert expected.has_no_collateral_left == (outcome.bad_debt_usd[i] > 0), ("bad debt flag", label)
        if expected.has_no_collateral_left:
            position = positions[account]
            expected_deficit[debt] += expected.deficit_raw
            for other, raw in position.debt.items():
                if other != debt:
                    expected_deficit[other] += raw
            kernel_bad_debt_usd += outcome.bad_debt_usd[i]
            chain_bad_debt_usd += _usd(after, debt, expected.deficit_raw) + sum(
                _usd(after, s, raw) for s, raw in position.debt.items() if s != debt)
    deficits_after = _deficits(transport, dep, mined)
    assert {s: deficits_after[s] - deficits_before[s] for s in dep.tokens} == expected_deficit
    assert abs(kernel_bad_debt_usd - chain_bad_debt_usd) <= KERNEL_REL_TOL * max(chain_bad_debt_usd, 1.0)
    STATS[name] = {"positions": len(positions), "liquidated": len(planned), "dust_sized": dust_sized,
                   "deficit_positions": sum(p[4].has_no_collateral_left for p in planned),
                   "deficit_usd": chain_bad_debt_usd, "max_excess_raw": max_excess_raw,
                   **{f"max_rel_{k}": float(v) for k, v in max_rel.items()}}


@pytest.mark.parametrize(("moves", "name"), [SHOCKS[1], SHOCKS[4]], ids=[SHOCKS[1][1], SHOCKS[4][1]])
def test_v36_chosen_debt_to_cover_matches_exact(devnet_revert, devnet_deployment, liquidator, transport, moves, name):
    devnet, dep, rpc = devnet_revert, devnet_deployment, devnet_revert.rpc
    for symbol, price in moves:
        devnet.set_price_usd(symbol, price)
    after = scan_devnet(dep, transport=transport)
    market = after.market(MARKET_ID)
    decimals = {a.symbol: a.decimals for a in after.assets}
    checked = {"executed": 0, "dust_reverts": 0}
    for position in _positions(after):
        if aave_position_account(market, position, decimals).health_factor_wad >= 10**18:
            continue
        for collateral in position.collateral:
            for debt in position.debt:
                amount = max(1, position.debt[debt] // 3)
                scaled, index = _scaled_and_index(transport, dep, after.block_number, position.account, collateral)
                try:
                    _, expected = aave_position_liquidation(market, position, decimals, collateral, debt, amount,
                                                            collateral_scaled_raw=scaled,
                                                            collateral_liquidity_index_ray=index)
                except ProtocolRevert as exc:
                    assert exc.reason == "MUST_NOT_LEAVE_DUST"
                    call = _liquidation_call(dep, liquidator, collateral, debt, position.account, amount)
                    assert _call_error(transport, call, after.block_number) == MUST_NOT_LEAVE_DUST
                    checked["dust_reverts"] += 1
                    continue
                call = _liquidation_call(dep, liquidator, collateral, debt, position.account, amount)
                snapshot_id = rpc.request("evm_snapshot", [])
                try:
                    _, (receipt,) = _mine_at(rpc, [Tx(liquidator, dep.aave36.pool, call["data"], GAS)],
                                             after.block_timestamp)
                finally:
                    assert rpc.request("evm_revert", [snapshot_id])
                assert int(receipt["status"], 16) == 1, (position.account, collateral, debt)
                (event,) = [e for e in receipt["logs"] if e["topics"][0] == LIQUIDATION_CALL_TOPIC]
                repaid, to_liquidator, _, _ = decode(["uint256", "uint256", "address", "bool"],
                                                     bytes.fromhex(event["data"][2:]))
                assert (repaid, to_liquidator) == (expected.debt_repaid_raw, expected.collateral_to_liquidator_raw), \
                    (position.account, collateral, debt)
                checked["executed"] += 1
    assert checked["executed"] > 0
    STATS[f"chosen-{name}"] = checked


def test_zz_print_stats():
    """Not a check: prints what the tests above counted (run with -s)."""
    for name, stats in STATS.items():
        print(name, stats)
