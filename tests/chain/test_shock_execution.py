"""After a shock on the devnet, executing the liquidations on-chain gives the seized and repaid
amounts the engine predicted for its first round.

Per shock (WETH to $1,800, a deeper one to $1,300, wstETH to $2,250):

1. a liquidator (anvil account 6) is funded and approves the Aave Pool and Morpho;
2. a snapshot before the shock shows nothing liquidatable (the population is healthy at the start
   prices), so the liquidations below are the shock's doing;
3. ``set_price_usd`` moves the Aave feed and the Morpho oracles; a snapshot AFTER the shock (debt
   accrued to that block) becomes a PositionBook, and the engine runs one pass
   (``liquidate_rows(..., max_passes=1)``) on copies of the arrays at the book's prices;
4. every Aave and Morpho position the engine liquidates is liquidated on-chain in ONE block mined
   with the post-shock block's timestamp (``evm_setNextBlockTimestamp``; anvil allows an equal
   timestamp). With no time elapsed no index moves, so each position is liquidated from exactly
   the state the engine saw, and the liquidations are independent of each other;
5. per position the LiquidationCall / Liquidate event (and, for Aave's protocol fee, the aToken
   Transfer to the treasury) must match the engine; every position the engine leaves alone must
   revert with the protocol's "healthy" error (eth_call at the post-shock block).

Compound V3: the devnet's Comet is a test double without ``absorb``, so its positions are not
executed here (they are counted, not checked). The Aave v3.6 market's positions (venue
``aave_v33``) are executed, against risk.exact and the kernel, in tests/chain/test_aave36_liquidation.py.

Tolerance: the engine works in float64 tokens (one rounding of ~1.1e-16 relative per operation,
a dozen operations per amount: < 1e-14 relative), the protocols in integers with a few floor /
half-up roundings of at most 1 raw unit each. Prices and LIF reach the engine exactly (8-decimal
feeds, WAD parameters, the Morpho oracles floor at 1e-36). The one rounding that is not small in
the collateral's units is the repaid amount itself: the protocol repays a whole number of debt
units (Aave's 50% close factor rounds half up; Morpho's toAssetsDown floors), the engine a real
number, and up to 1 raw debt unit, times price ratio x bonus, shows in the seized collateral
(1 USDC unit = 5.8e8 wei of WETH at $1,800). So per amount: |chain - engine| <= 1e-12 x amount
+ 4 raw units (+ 1 raw debt unit converted, for collateral amounts; + 1e-12 x the whole debt for
Morpho's bad debt, a difference of two large amounts). Any rule difference (close
factor, bonus, fee, cap at the collateral) is many orders of magnitude larger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from chain.devnet import Tx, encode_call
from chain.scan import scan_devnet
from chain.transport import HttpTransport, RpcError
from risk.book import VENUE_CODE, PositionBook
from risk.liquidation import liquidatable, liquidate_rows
from risk.snapshot import Snapshot

pytestmark = pytest.mark.devnet

MAX_UINT = 2**256 - 1
MARKET_PARAMS = "(address,address,address,address,uint256)"
LIQUIDATION_CALL_SIG = "liquidationCall(address,address,address,uint256,bool)"
MORPHO_LIQUIDATE_SIG = f"liquidate({MARKET_PARAMS},address,uint256,uint256,bytes)"
AAVE_HF_NOT_BELOW_THRESHOLD = "45"  # Errors.HEALTH_FACTOR_NOT_BELOW_THRESHOLD (core-v3 1.19.3)
MORPHO_HEALTHY = "position is healthy"  # ErrorsLib.HEALTHY_POSITION
LIQUIDATION_CALL_TOPIC = "0x" + keccak(
    text="LiquidationCall(address,address,address,uint256,uint256,address,bool)").hex()
MORPHO_LIQUIDATE_TOPIC = "0x" + keccak(
    text="Liquidate(bytes32,address,address,uint256,uint256,uint256,uint256,uint256)").hex()
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
LIQUIDATION_GAS = 1_500_000
REL_TOL = 1e-12
ABS_TOL_RAW = 4
LIQUIDATOR_INDEX = 6  # anvil accounts 2-8 are free
AAVE = VENUE_CODE["aave_v30"]
MORPHO = VENUE_CODE["morpho_blue"]
COMET = VENUE_CODE["compound_v3"]
AAVE_V33 = VENUE_CODE["aave_v33"]
SKY = VENUE_CODE["sky_vault"]
LIQUITY = VENUE_CODE["liquity_v2"]
EULER = VENUE_CODE["euler_v2"]
NOT_EXECUTED_HERE = (COMET, AAVE_V33, SKY, LIQUITY, EULER)  # Sky, Liquity, Euler: their doubles are checked in
# test_sky_vaults.py, test_liquity_v2.py, test_euler_v2.py


def _close(chain_raw: int, engine_raw: float, extra_raw: float = 0.0) -> bool:
    """Within the tolerance of the module docstring; ``extra_raw``: 1 raw debt unit in collateral units."""
    return abs(chain_raw - engine_raw) <= REL_TOL * max(abs(chain_raw), abs(engine_raw)) + ABS_TOL_RAW + extra_raw


def _address(topic: str) -> str:
    return to_checksum_address("0x" + topic[-40:])


@dataclass(frozen=True)
class Planned:
    """One liquidation the engine predicted, in raw token units (floats from the engine)."""

    row: int
    account: str
    venue: int
    collateral: str  # symbol seized
    debt: str  # symbol repaid
    seized_raw: float  # to the liquidator and the protocol together
    fee_raw: float
    repaid_raw: float
    bad_debt_raw: float  # in the debt asset
    debt_raw: float  # the whole debt in that asset before the liquidation
    debt_unit_in_collateral_raw: float  # 1 raw unit of the debt asset x bonus, in raw collateral units
    tx: Tx


@pytest.fixture
def liquidator(devnet_revert, devnet_deployment) -> str:
    """A funded liquidator that approved the Aave Pool and Morpho for every token."""
    dep = devnet_deployment
    rpc = devnet_revert.rpc
    account = rpc.accounts()[LIQUIDATOR_INDEX]
    txs = []
    for symbol, token in dep.tokens.items():
        devnet_revert.fund(account, symbol, 10**12 * 10 ** dep.decimals[symbol])
        txs += [Tx(account, token, encode_call("approve(address,uint256)", spender, MAX_UINT), 100_000)
                for spender in (dep.aave.pool, dep.morpho.address)]
    rpc.send_bulk(txs, what="liquidator approvals")
    return account


def _engine_first_pass(book: PositionBook):
    collateral, debt = book.collateral.copy(), book.debt.copy()
    outcome = liquidate_rows(collateral, debt, book.liq_threshold, book.liq_bonus, book.protocol_fee, book.venue,
                             book.prices_usd, max_passes=1, floored_avg_lt=book.floored_avg_lt)
    return outcome, collateral


def _plan(snapshot: Snapshot, book: PositionBook, outcome, collateral_left, dep, rpc, liquidator: str) -> list[Planned]:
    scale = np.array([10.0 ** snapshot.asset(s).decimals for s in book.symbols])
    token = {a.symbol: a.address for a in snapshot.assets}
    morpho_by_id = {m.id.lower(): m for m in dep.morpho.markets.values()}
    planned = []
    for row in np.flatnonzero(outcome.hit):
        venue = int(book.venue[row])
        if venue in NOT_EXECUTED_HERE:
            continue
        (c,) = np.flatnonzero(outcome.seized_tokens[row])  # one collateral and one debt reserve per pass
        (j,) = np.flatnonzero(outcome.repaid_tokens[row])
        user = book.accounts[row]
        if venue == AAVE:
            data = encode_call(LIQUIDATION_CALL_SIG, token[book.symbols[c]], token[book.symbols[j]], user, MAX_UINT,
                               False)
            tx = Tx(liquidator, dep.aave.pool, data, LIQUIDATION_GAS)
        else:
            assert venue == MORPHO, f"unexpected venue code {venue}"
            market = morpho_by_id[book.market_ids[book.market[row]].removeprefix("morpho:").lower()]
            _, borrow_shares, collateral_raw = rpc.call_decode(
                dep.morpho.address, "position(bytes32,address)", (bytes.fromhex(market.id[2:]), user),
                ("uint256", "uint128", "uint128"), snapshot.block_number)
            if collateral_left[row, c] == 0.0:  # the engine seized the whole collateral (bonus > collateral)
                seized_arg, shares_arg = int(collateral_raw), 0
            else:  # the collateral covers the whole debt plus bonus: repay every share
                seized_arg, shares_arg = 0, int(borrow_shares)
            data = encode_call(MORPHO_LIQUIDATE_SIG, market.params, user, seized_arg, shares_arg, b"")
            tx = Tx(liquidator, dep.morpho.address, data, LIQUIDATION_GAS)
        planned.append(Planned(
            row=int(row), account=user, venue=venue, collateral=book.symbols[c], debt=book.symbols[j],
            seized_raw=outcome.seized_tokens[row, c] * scale[c], fee_raw=outcome.protocol_fee_tokens[row, c] * scale[c],
            repaid_raw=outcome.repaid_tokens[row, j] * scale[j],
            bad_debt_raw=outcome.bad_debt_usd[row] / book.prices_usd[j] * scale[j],
            debt_raw=book.debt[row, j] * scale[j],
            debt_unit_in_collateral_raw=(book.prices_usd[j] / scale[j]) / (book.prices_usd[c] / scale[c])
            * book.liq_bonus[row, c],
            tx=tx,
        ))
    return planned


def _mine_at(rpc, txs: list[Tx], timestamp: int) -> tuple[int, list[dict]]:
    """Send ``txs`` (automine off, explicit nonces) and mine them in one block at ``timestamp``.
    Returns the block number and the receipts in ``txs`` order."""
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


def _healthy_reason(transport, block: int, call: dict) -> str | None:
    try:
        transport.request("eth_call", [call, hex(block)])
    except RpcError as exc:
        return exc.revert_reason
    return None


def _main_symbol(amounts: np.ndarray, prices: np.ndarray, symbols: tuple[str, ...]) -> str:
    return symbols[int(np.argmax(amounts * prices))]


# (asset, shocked USD price, venues that must have liquidations: a shock that liquidates nothing
# on a venue would check nothing there). The seed-7, 96-borrower population: at $1,800 no Morpho
# WETH/USDC borrower is under water (their HF at $2,000 is >= 1.34), at $1,300 two are, one of
# them beyond its collateral (bad debt), and most Aave WETH borrowers are liquidated in full
# (HF <= 0.95) or capped at their collateral. wstETH at $2,250 (-6.25% against WETH) hits the Aave
# eMode borrowers (eMode bonus 1%) and the Morpho wstETH/WETH market.
SHOCKS = [("WETH", 1_800, (AAVE,)), ("WETH", 1_300, (AAVE, MORPHO)), ("wstETH", 2_250, (AAVE, MORPHO))]


@pytest.mark.parametrize(("symbol", "price_usd", "venues"), SHOCKS, ids=[f"{s}-{p}" for s, p, _ in SHOCKS])
def test_first_round_liquidations_execute_as_the_engine_predicted(devnet_revert, devnet_deployment, liquidator,
                                                                  symbol, price_usd, venues):
    devnet, dep, rpc = devnet_revert, devnet_deployment, devnet_revert.rpc
    with HttpTransport(devnet.rpc_url) as transport:
        before = scan_devnet(dep, transport=transport)
        book_before = PositionBook.from_snapshot(before)
        assert not liquidatable(book_before.collateral, book_before.debt, book_before.liq_threshold,
                                book_before.prices_usd, book_before.floored_avg_lt).any(), \
            "population must be healthy before the shock"

        devnet.set_price_usd(symbol, price_usd)
        after = scan_devnet(dep, transport=transport)
        assert after.block_number > before.block_number
        assert after.asset(symbol).price_usd == price_usd
        book = PositionBook.from_snapshot(after)
        outcome, collateral_left = _engine_first_pass(book)
        assert outcome.passes == 1
        planned = _plan(after, book, outcome, collateral_left, dep, rpc, liquidator)
        for venue in venues:
            assert any(p.venue == venue for p in planned), f"no liquidation on venue code {venue}"

        # Positions the engine leaves alone: the protocols must refuse to liquidate them.
        morpho_by_id = {m.id.lower(): m for m in dep.morpho.markets.values()}
        token = {a.symbol: a.address for a in after.assets}
        healthy = 0
        for row in np.flatnonzero(~outcome.hit & (book.debt.sum(axis=1) > 0)):
            user = book.accounts[row]
            if book.venue[row] in NOT_EXECUTED_HERE:
                continue  # CometDouble has no absorb (test double); v3.6 rows: test_aave36_liquidation.py
            coll = _main_symbol(book.collateral[row] * (book.liq_threshold[row] > 0), book.prices_usd, book.symbols)
            if book.venue[row] == AAVE:
                debt = _main_symbol(book.debt[row], book.prices_usd, book.symbols)
                call = {"from": liquidator, "to": dep.aave.pool, "gas": hex(LIQUIDATION_GAS),
                        "data": encode_call(LIQUIDATION_CALL_SIG, token[coll], token[debt], user, MAX_UINT, False)}
                expected = AAVE_HF_NOT_BELOW_THRESHOLD
            else:
                market = morpho_by_id[book.market_ids[book.market[row]].removeprefix("morpho:").lower()]
                coll_raw = round(book.collateral[row, book.asset_index(coll)] * 10 ** after.asset(coll).decimals)
                call = {"from": liquidator, "to": dep.morpho.address, "gas": hex(LIQUIDATION_GAS),
                        "data": encode_call(MORPHO_LIQUIDATE_SIG, market.params, user, max(1, coll_raw // 100), 0,
                                            b"")}
                expected = MORPHO_HEALTHY
            assert _healthy_reason(transport, after.block_number, call) == expected, (user, price_usd)
            healthy += 1
        assert healthy > 0

    # Execute every predicted liquidation, in one block at the post-shock block's timestamp.
    treasury = {}
    for p in planned:
        if p.venue == AAVE and p.collateral not in treasury:
            (addr,) = rpc.call_decode(dep.aave.a_tokens[p.collateral], "RESERVE_TREASURY_ADDRESS()", (), ("address",))
            treasury[p.collateral] = to_checksum_address(addr)
    block, receipts = _mine_at(rpc, [p.tx for p in planned], after.block_timestamp)
    stamp = int(rpc.request("eth_getBlockByNumber", [hex(block), False])["timestamp"], 16)
    assert stamp == after.block_timestamp
    failed = [(p.account, p.collateral, p.debt) for p, r in zip(planned, receipts) if int(r["status"], 16) != 1]
    assert not failed, f"liquidations the engine predicted reverted on-chain: {failed}"

    received: dict[str, int] = {}  # liquidator's token flows implied by the events, raw
    for p, receipt in zip(planned, receipts):
        logs = receipt["logs"]
        if p.venue == AAVE:
            (event,) = [e for e in logs if e["topics"][0] == LIQUIDATION_CALL_TOPIC]
            assert _address(event["topics"][1]) == dep.tokens[p.collateral]
            assert _address(event["topics"][2]) == dep.tokens[p.debt]
            assert _address(event["topics"][3]) == p.account
            repaid, to_liquidator, who, receive_a = decode(["uint256", "uint256", "address", "bool"],
                                                           bytes.fromhex(event["data"][2:]))
            assert to_checksum_address(who) == liquidator and not receive_a
            a_token = dep.aave.a_tokens[p.collateral].lower()
            fees = [int(e["data"], 16) for e in logs
                    if e["address"].lower() == a_token and e["topics"][0] == TRANSFER_TOPIC
                    and _address(e["topics"][1]) == p.account and _address(e["topics"][2]) == treasury[p.collateral]]
            fee = sum(fees)
            assert len(fees) == 1, (p.account, fees)
            label = (p.account, p.collateral, p.debt, price_usd)
            assert _close(repaid, p.repaid_raw), ("repaid", label, repaid, p.repaid_raw)
            extra = p.debt_unit_in_collateral_raw
            assert _close(to_liquidator, p.seized_raw - p.fee_raw, extra), ("seized", label, to_liquidator,
                                                                             p.seized_raw - p.fee_raw)
            assert _close(fee, p.fee_raw, extra), ("protocol fee", label, fee, p.fee_raw)
        else:
            (event,) = [e for e in logs if e["topics"][0] == MORPHO_LIQUIDATE_TOPIC]
            assert _address(event["topics"][2]) == liquidator and _address(event["topics"][3]) == p.account
            repaid, _, seized, bad_debt, _ = decode(["uint256"] * 5, bytes.fromhex(event["data"][2:]))
            to_liquidator = seized
            label = (p.account, p.collateral, p.debt, price_usd)
            assert _close(repaid, p.repaid_raw), ("repaid", label, repaid, p.repaid_raw)
            assert _close(seized, p.seized_raw, p.debt_unit_in_collateral_raw), ("seized", label, seized, p.seized_raw)
            assert p.fee_raw == 0.0
            # bad debt = debt - repaid: a difference of two large numbers, so its float error scales with the debt
            assert _close(bad_debt, p.bad_debt_raw, REL_TOL * p.debt_raw), ("bad debt", label, bad_debt,
                                                                             p.bad_debt_raw)
        received[p.collateral] = received.get(p.collateral, 0) + to_liquidator
        received[p.debt] = received.get(p.debt, 0) - repaid

    # The events are what moved: the liquidator's token balances changed by exactly their sum.
    for symbol, delta in received.items():
        balances = [rpc.call_decode(dep.tokens[symbol], "balanceOf(address)", (liquidator,), ("uint256",), b)[0]
                    for b in (after.block_number, block)]
        assert balances[1] - balances[0] == delta, symbol
