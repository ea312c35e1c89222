"""THE boundary test: risk.exact's liquidation oracle price is the genuine contracts' boundary.

For every Aave and Morpho borrower of the devnet, compute from the snapshot alone the exact oracle
answer P at which its main collateral makes it liquidatable. Then check it on the chain with an
``eth_call`` of a liquidation at the snapshot's own block:
- with that asset's oracle at P + 1 it must revert with the protocol's "healthy" error;
- at P it must succeed.

For Aave borrowers whose main debt asset is not also their collateral, the same for the debt side
(P − 1 reverts, P succeeds).

The price is set for the one call by a ``stateDiff`` override of the feed's (or OracleMock's)
storage at the pinned block. Nothing is mined, so no interest accrues and the call runs at the
snapshot's timestamp.

The liquidation-amount tests must execute transactions. They send them with automine off and
explicit nonces, fix the timestamp (``evm_setNextBlockTimestamp``: anvil allows an equal one) and
mine with ``evm_mine``. Then they check that the mined block holds every transaction.

Why not automine: the old version mined every try with automine right after ``evm_revert``. In
two of the 685 anvil logs kept on this machine (from two full-suite runs under load), anvil's
background miner mined an *empty* block at the fixed timestamp and never mined the transaction.
The test then waited 30 s for a receipt and failed. That was this module's flake. Its cause was
not the wall clock: the devnet's block times are fixed.
"""

from __future__ import annotations

import pytest
from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from abis import abi_function
from chain.aave_v3 import Read, run_calls
from chain.devnet import Tx, encode_call
from chain.devnet.deploy_aave36 import feed_answer_override
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
ORACLE_MOCK_PRICE_SLOT = 0  # morpho-blue 1.0.0 src/mocks/OracleMock.sol: `uint256 public price` is slot 0


@pytest.fixture
def setup(devnet_revert, devnet_deployment):
    """Funded liquidator with approvals (mined by send_bulk: automine off, evm_mine), then a
    snapshot pinned at the latest block."""
    dep = devnet_deployment
    rpc = devnet_revert.rpc
    liquidator = rpc.accounts()[5]
    txs = []
    for symbol, token in dep.tokens.items():
        txs.append(Tx(dep.deployer, token, encode_call("mint(address,uint256)", liquidator,
                                                       10**12 * 10 ** dep.decimals[symbol]), 200_000))
        for spender in (dep.aave.pool, dep.morpho.address):
            txs.append(Tx(liquidator, token, encode_call("approve(address,uint256)", spender, MAX_UINT), 100_000))
    rpc.send_bulk(txs, what="liquidator funding")
    with HttpTransport(devnet_revert.rpc_url) as transport:
        snapshot = scan_devnet(dep, transport=transport)
        yield devnet_revert, transport, snapshot, liquidator


def _try_with_price(transport, block: int, call: dict, overrides: dict) -> str | None:
    """eth_call ``call`` at the pinned ``block`` with one oracle's storage overridden (nothing
    is mined). Returns None on success, else the revert reason."""
    try:
        transport.request("eth_call", [call, hex(block), overrides])
    except RpcError as exc:
        return exc.revert_reason
    return None


def _oracle_mock_override(oracle: str, price: int) -> dict:
    return {oracle: {"stateDiff": {"0x%064x" % ORACLE_MOCK_PRICE_SLOT: "0x%064x" % price}}}


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
            overrides = feed_answer_override(dep.aave.price_feeds[symbol], price)
            return _try_with_price(transport, snapshot.block_number, call, overrides)

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
            return _try_with_price(transport, snapshot.block_number, call, _oracle_mock_override(market.oracle, price))

        assert attempt(p + 1) == MORPHO_HEALTHY, (position.account, p)
        assert attempt(p) is None, (position.account, p)


# --- liquidation amounts: risk.exact vs one genuine liquidation transaction ------------------

AAVE_LIQUIDATION_CALL = "0x" + keccak(text="LiquidationCall(address,address,address,uint256,uint256,address,bool)").hex()
ERC20_TRANSFER = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
MORPHO_LIQUIDATE = "0x" + keccak(text="Liquidate(bytes32,address,address,uint256,uint256,uint256,uint256,uint256)").hex()


def _send_at_frozen_time(devnet, timestamp: int, txs: list[Tx]) -> dict:
    """Mine ``txs`` in order, one block each, every block at ``timestamp``, and return the last
    receipt. The caller reverts the chain.

    Automine is off. Each transaction goes into the pool with an explicit nonce, and ``evm_mine``
    mines it synchronously. The block must hold exactly that transaction, and it must succeed.
    anvil's background automine, right after an ``evm_revert``, once mined an empty block at the
    fixed timestamp and lost the transaction (see the module docstring)."""
    rpc = devnet.rpc
    receipt: dict = {}
    rpc.request("evm_setAutomine", [False])
    try:
        for tx in txs:
            params = {"from": tx.sender, "to": tx.to, "data": tx.data, "gas": hex(tx.gas), "nonce": hex(rpc.nonce(tx.sender))}
            tx_hash = rpc.request("eth_sendTransaction", [params])
            rpc.request("evm_setNextBlockTimestamp", [hex(timestamp)])
            rpc.request("evm_mine", [])
            block = rpc.request("eth_getBlockByNumber", ["latest", False])
            receipts = rpc.request("eth_getBlockReceipts", [block["number"]])
            assert [r["transactionHash"] for r in receipts] == [tx_hash], (block["number"], tx_hash, receipts)
            assert int(block["timestamp"], 16) == timestamp
            receipt = receipts[0]
            assert int(receipt["status"], 16) == 1, (tx, receipt)
    finally:
        rpc.request("evm_setAutomine", [True])
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
