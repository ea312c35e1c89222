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

from chain.devnet import Tx, encode_call
from chain.scan import scan_devnet
from chain.transport import HttpTransport, RpcError
from risk.exact import aave_position_liquidation_oracle_price, morpho_position_liquidation_oracle_price

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


def _revert_reason(exc: RpcError) -> str:
    data = exc.data
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x08c379a0"):
        (reason,) = decode(["string"], bytes.fromhex(data[10:]))
        return reason
    return exc.rpc_message or str(exc)


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
            return _revert_reason(exc)
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
