"""THE boundary test: risk.exact's liquidation oracle price is the genuine contracts' boundary.

For every Aave and Morpho borrower of the devnet: compute, from the snapshot alone, the exact
oracle answer P at which its main collateral makes it liquidatable; then, on the chain, set that
asset's oracle to P + 1 and eth_call a liquidation (it must revert with the protocol's "healthy"
error), and to P (it must succeed). For Aave borrowers whose main debt asset is not also their
collateral, the same for the debt side (P − 1 reverts, P succeeds).

Aave debt accrues every second, so the price-setting transaction is mined with the *same*
timestamp as the snapshot block (``evm_setNextBlockTimestamp``; anvil allows equal timestamps)
and the eth_call runs at that new block, whose timestamp it uses. Each try is wrapped in
``evm_snapshot`` / ``evm_revert``.
"""

from __future__ import annotations

import pytest
from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from abis import abi_function
from chain.aave_v3 import Read, run_calls
from chain.devnet import Tx, encode_call
from chain.morpho_blue import MorphoBlueReader
from chain.scan import scan_devnet
from chain.transport import HttpTransport, RpcError
from risk.exact import (
    aave_account_data,
    aave_effective_liquidation_bonus_bps,
    aave_liquidation_amounts,
    aave_position_legs,
    aave_position_liquidation_oracle_price,
    morpho_liquidation_amounts,
    morpho_liquidation_oracle_price,
    morpho_position_liquidation_oracle_price,
)

pytestmark = pytest.mark.devnet

MAX_UINT = 2**256 - 1
MARKET_PARAMS = "(address,address,address,address,uint256)"
AAVE_HF_NOT_BELOW_THRESHOLD = "45"  # Errors.HEALTH_FACTOR_NOT_BELOW_THRESHOLD (core-v3 1.19.3)
MORPHO_HEALTHY = "position is healthy"  # ErrorsLib.HEALTHY_POSITION


@pytest.fixture
def setup(devnet_revert, devnet_deployment):
    """Funded liquidator with approvals, then a snapshot pinned at the latest block."""
    dep = devnet_deployment
    rpc = devnet_revert.rpc
    liquidator = rpc.accounts()[5]
    for symbol, token in dep.tokens.items():
        devnet_revert.fund(liquidator, symbol, 10**12 * 10 ** dep.decimals[symbol])
        for spender in (dep.aave.pool, dep.morpho.address):
            rpc.transact(Tx(liquidator, token, encode_call("approve(address,uint256)", spender, MAX_UINT), 100_000))
    with HttpTransport(devnet_revert.rpc_url) as transport:
        snapshot = scan_devnet(dep, transport=transport)
        yield devnet_revert, transport, snapshot, liquidator


def _try_at_frozen_time(devnet, transport, timestamp: int, setter: Tx, call: dict) -> str | None:
    """Mine ``setter`` at ``timestamp``, eth_call ``call`` at that block, revert the chain.
    Returns None on success, else the revert reason."""
    rpc = devnet.rpc
    snapshot_id = rpc.request("evm_snapshot", [])
    try:
        rpc.request("evm_setNextBlockTimestamp", [hex(timestamp)])
        receipt = rpc.transact(setter, what="set oracle")
        block = int(receipt["blockNumber"], 16)
        assert int(rpc.request("eth_getBlockByNumber", [hex(block), False])["timestamp"], 16) == timestamp
        try:
            transport.request("eth_call", [call, hex(block)])
        except RpcError as exc:
            return exc.revert_reason
        return None
    finally:
        assert rpc.request("evm_revert", [snapshot_id])


def _main(amounts: dict[str, int], snapshot) -> str:
    def usd(symbol: str) -> float:
        asset = snapshot.asset(symbol)
        return amounts[symbol] / 10**asset.decimals * asset.price_usd

    return max(amounts, key=usd)


def test_aave_liquidation_price_is_the_contract_boundary(setup, devnet_deployment):
    devnet, transport, snapshot, liquidator = setup
    dep = devnet_deployment
    market = snapshot.market("aave-devnet")
    decimals = {a.symbol: a.decimals for a in snapshot.assets}
    positions = [p for p in snapshot.positions if p.market == market.id]
    assert len(positions) == len(devnet.population.venues["aave"])
    checked_long = checked_short = 0
    for position in positions:
        collateral, debt = _main(position.collateral, snapshot), _main(position.debt, snapshot)
        call = {
            "from": liquidator, "to": dep.aave.pool, "gas": hex(3_000_000),
            "data": encode_call("liquidationCall(address,address,address,uint256,bool)", dep.tokens[collateral],
                                dep.tokens[debt], position.account, max(1, position.debt[debt] // 100), True),
        }

        def attempt(symbol: str, price: int) -> str | None:
            setter = Tx(dep.deployer, dep.aave.price_feeds[symbol], encode_call("setAnswer(int256)", price), 200_000)
            return _try_at_frozen_time(devnet, transport, snapshot.block_timestamp, setter, call)

        p = aave_position_liquidation_oracle_price(market, position, decimals, collateral)
        assert p is not None and p >= 1, position.account
        assert attempt(collateral, p + 1) == AAVE_HF_NOT_BELOW_THRESHOLD, (position.account, collateral, p)
        assert attempt(collateral, p) is None, (position.account, collateral, p)
        checked_long += 1
        if debt not in position.collateral:
            q = aave_position_liquidation_oracle_price(market, position, decimals, debt)
            assert q is not None and q >= 2, position.account
            assert attempt(debt, q - 1) == AAVE_HF_NOT_BELOW_THRESHOLD, (position.account, debt, q)
            assert attempt(debt, q) is None, (position.account, debt, q)
            checked_short += 1
    assert checked_long == len(positions) and checked_short > 0


def test_morpho_liquidation_price_is_the_contract_boundary(setup, devnet_deployment):
    devnet, transport, snapshot, liquidator = setup
    dep = devnet_deployment
    by_id = {m.id: m for m in dep.morpho.markets.values()}
    positions = [p for p in snapshot.positions if p.market.startswith("morpho:")]
    assert len(positions) == len(devnet.population.venues["morpho"])
    for position in positions:
        market = by_id[position.market.removeprefix("morpho:")]
        ((_, collateral),) = position.collateral.items()
        p = morpho_position_liquidation_oracle_price(snapshot.market(position.market), position)
        assert p is not None
        call = {
            "from": liquidator, "to": dep.morpho.address, "gas": hex(3_000_000),
            "data": encode_call(f"liquidate({MARKET_PARAMS},address,uint256,uint256,bytes)", market.params,
                                position.account, max(1, collateral // 100), 0, b""),
        }

        def attempt(price: int) -> str | None:
            setter = Tx(dep.deployer, market.oracle, encode_call("setPrice(uint256)", price), 200_000)
            return _try_at_frozen_time(devnet, transport, snapshot.block_timestamp, setter, call)

        assert attempt(p + 1) == MORPHO_HEALTHY, (position.account, p)
        assert attempt(p) is None, (position.account, p)


# --- liquidation amounts: risk.exact vs one genuine liquidation transaction ------------------

AAVE_LIQUIDATION_CALL = "0x" + keccak(text="LiquidationCall(address,address,address,uint256,uint256,address,bool)").hex()
ERC20_TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
MORPHO_LIQUIDATE = "0x" + keccak(text="Liquidate(bytes32,address,address,uint256,uint256,uint256,uint256,uint256)").hex()


def _send_at_frozen_time(devnet, timestamp: int, txs: list[Tx]) -> dict:
    """Mine ``txs`` (in order, one block each) at ``timestamp``; return the last receipt. The
    caller reverts the chain."""
    receipt: dict = {}
    for tx in txs:
        devnet.rpc.request("evm_setNextBlockTimestamp", [hex(timestamp)])
        receipt = devnet.rpc.transact(tx, what="frozen-time tx")
    return receipt


def _address_topic(topic: str) -> str:
    return to_checksum_address("0x" + topic[-40:])


def test_aave_liquidation_amounts_match_liquidation_call(setup, devnet_deployment):
    """Move WETH/WBTC down (mined at the snapshot's timestamp), snapshot, then for every liquidatable
    borrower send liquidationCall (whole debt, and a small amount) and compare the event and the
    treasury's fee transfer with risk.exact.aave_liquidation_amounts."""
    devnet, transport, _, liquidator = setup
    dep = devnet_deployment
    base = int(devnet.rpc.request("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    _send_at_frozen_time(devnet, base, [
        Tx(dep.deployer, dep.aave.price_feeds["WETH"], encode_call("setAnswer(int256)", 1_700 * 10**8), 200_000),
        Tx(dep.deployer, dep.aave.price_feeds["WBTC"], encode_call("setAnswer(int256)", 45_000 * 10**8), 200_000),
        Tx(dep.deployer, dep.aave.price_feeds["wstETH"], encode_call("setAnswer(int256)", 2_000 * 10**8), 200_000),
    ])
    snapshot = scan_devnet(dep, transport=transport)
    market = snapshot.market("aave-devnet")
    decimals = {a.symbol: a.decimals for a in snapshot.assets}
    checked = 0
    for position in (p for p in snapshot.positions if p.market == market.id):
        _, legs = aave_position_legs(market, position, decimals)
        account = aave_account_data(legs)
        if account.health_factor_wad >= 10**18:
            continue
        collateral, debt = _main(position.collateral, snapshot), _main(position.debt, snapshot)
        coll_reserve, debt_reserve = market.reserve(collateral), market.reserve(debt)
        a_token = dep.aave.a_tokens[collateral]
        (treasury,) = decode(["address"], devnet.rpc.call(a_token, encode_call("RESERVE_TREASURY_ADDRESS()"), "latest"))
        treasury = to_checksum_address(treasury)
        # for the fee's final clamp (whole-collateral liquidations): scaled balance and index
        (scaled,), (index,) = run_calls(transport, snapshot.block_number, [
            Read(a_token, abi_function("AaveScaledToken", "scaledBalanceOf"), (position.account,)),
            Read(dep.aave.pool, abi_function("AavePool", "getReserveNormalizedIncome"), (dep.tokens[collateral],)),
        ], what="clamp inputs")
        for debt_to_cover in (MAX_UINT, max(1, position.debt[debt] // 50)):
            expected = aave_liquidation_amounts(
                rule="v30", debt_to_cover_raw=debt_to_cover, health_factor_wad=account.health_factor_wad,
                user_reserve_debt_raw=position.debt[debt], user_collateral_raw=position.collateral[collateral],
                collateral_price_base=coll_reserve.oracle_price, debt_price_base=debt_reserve.oracle_price,
                collateral_decimals=decimals[collateral], debt_decimals=decimals[debt],
                liquidation_bonus_bps=aave_effective_liquidation_bonus_bps(market, position.emode, collateral),
                protocol_fee_bps=coll_reserve.protocol_fee_wad // 10**14,
                collateral_scaled_raw=scaled, collateral_liquidity_index_ray=index,
            )
            call = encode_call("liquidationCall(address,address,address,uint256,bool)", dep.tokens[collateral],
                               dep.tokens[debt], position.account, debt_to_cover, False)
            snapshot_id = devnet.rpc.request("evm_snapshot", [])
            try:
                receipt = _send_at_frozen_time(devnet, snapshot.block_timestamp,
                                               [Tx(liquidator, dep.aave.pool, call, 3_000_000)])
            finally:
                assert devnet.rpc.request("evm_revert", [snapshot_id])
            (event,) = [log for log in receipt["logs"] if log["topics"][0] == AAVE_LIQUIDATION_CALL]
            repaid, to_liquidator, _, _ = decode(["uint256", "uint256", "address", "bool"], bytes.fromhex(event["data"][2:]))
            fees = [int(log["data"], 16) for log in receipt["logs"]
                    if log["address"].lower() == a_token.lower() and log["topics"][0] == ERC20_TRANSFER
                    and _address_topic(log["topics"][2]) == treasury]
            assert (repaid, to_liquidator, sum(fees)) == (
                expected.debt_repaid_raw, expected.collateral_to_liquidator_raw, expected.protocol_fee_raw
            ), (position.account, debt_to_cover)
            checked += 1
    assert checked >= 20


def test_morpho_liquidation_amounts_match_liquidate(setup, devnet_deployment):
    """At a price below each borrower's boundary: liquidate by seized assets, by repaid shares, and
    by seizing all collateral at a deep price (bad debt); compare the Liquidate event."""
    devnet, transport, snapshot, liquidator = setup
    dep = devnet_deployment
    reader = MorphoBlueReader(transport, dep.morpho.address)
    markets = {m.id: m for m in reader.read_markets(snapshot.block_number)}
    positions = reader.read_positions(snapshot.block_number, markets.values(), devnet.population.venues["morpho"])
    specs = {m.id: m for m in dep.morpho.markets.values()}
    checked = 0
    for position in positions:
        data = markets[position.market_id]
        spec = specs[position.market_id]
        boundary = morpho_liquidation_oracle_price(collateral_raw=position.collateral_raw,
                                                   borrowed_raw=position.borrow_assets_raw, lltv_wad=data.lltv_wad)
        state = data.state
        for price, seized, shares in (
            (boundary, position.collateral_raw // 3, 0),
            (boundary * 99 // 100, 0, position.borrow_shares // 4),
            (boundary // 3, position.collateral_raw, 0),  # underwater: all collateral, bad debt socialised
        ):
            expected = morpho_liquidation_amounts(
                oracle_price_1e36=price, lltv_wad=data.lltv_wad, total_borrow_assets=state.total_borrow_assets,
                total_borrow_shares=state.total_borrow_shares, seized_assets=seized, repaid_shares=shares,
                borrower_collateral_raw=position.collateral_raw, borrower_borrow_shares=position.borrow_shares,
            )
            call = encode_call(f"liquidate({MARKET_PARAMS},address,uint256,uint256,bytes)", spec.params,
                               position.account, seized, shares, b"")
            snapshot_id = devnet.rpc.request("evm_snapshot", [])
            try:
                receipt = _send_at_frozen_time(devnet, snapshot.block_timestamp, [
                    Tx(dep.deployer, spec.oracle, encode_call("setPrice(uint256)", price), 200_000),
                    Tx(liquidator, dep.morpho.address, call, 3_000_000),
                ])
            finally:
                assert devnet.rpc.request("evm_revert", [snapshot_id])
            (event,) = [log for log in receipt["logs"] if log["topics"][0] == MORPHO_LIQUIDATE]
            got = decode(["uint256"] * 5, bytes.fromhex(event["data"][2:]))
            assert tuple(got) == (expected.repaid_assets, expected.repaid_shares, expected.seized_assets,
                                  expected.bad_debt_assets, expected.bad_debt_shares), (position.account, price)
            checked += 1
    assert checked == 3 * len(devnet.population.venues["morpho"])
