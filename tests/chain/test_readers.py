"""Readers against the devnet's genuine Aave V3 (v3.0.2) and Morpho Blue, and the Comet double.

Every borrower of the seeded population is checked, not a sample: the snapshot's integers,
fed through risk.exact, must reproduce what the contracts themselves compute.
"""

from __future__ import annotations

import pytest
from eth_abi import decode, encode
from eth_utils import keccak

from abis import abi_function
from chain.aave_v3 import AaveV3Reader, Read, ReaderError, run_calls
from chain.blocks import pin_block
from chain.compound_v3 import CometReader
from chain.devnet import Tx, encode_call
from chain.devnet.solc import compile_morpho
from chain.morpho_blue import MorphoBlueReader, snapshot_market_id
from chain.scan import AaveSource, scan_devnet, scan_snapshot
from chain.transport import HttpTransport
from risk.exact import aave_account_data, aave_position_legs, comet_position_is_liquidatable
from risk.snapshot import WAD

pytestmark = pytest.mark.devnet

MAX_UINT = 2**256 - 1
MARKET_PARAMS = "(address,address,address,address,uint256)"


@pytest.fixture
def transport(devnet):
    with HttpTransport(devnet.rpc_url) as http:
        yield http


def _decimals(snapshot) -> dict[str, int]:
    return {a.symbol: a.decimals for a in snapshot.assets}


def _aggregate3(transport, block: int, calls: list[tuple[str, bytes]], sender: str | None = None):
    """One genuine eth_call of aggregate3 (sub-calls run in order, state changes carry over)."""
    fn = abi_function("Multicall3", "aggregate3")
    tx = {"to": "0xcA11bde05977b3631167028862bE2a173976CA11", "data": "0x" + fn.encode([(t, False, d) for t, d in calls]).hex()}
    if sender:
        tx["from"] = sender
    (results,) = fn.decode(bytes.fromhex(transport.request("eth_call", [tx, hex(block)])[2:]))
    return [bytes(data) for _, data in results]


# --- Aave ------------------------------------------------------------------------------------


def _assert_aave_matches_chain(transport, snapshot, deployment) -> int:
    market = snapshot.market("aave-devnet")
    positions = [p for p in snapshot.positions if p.market == market.id]
    onchain = run_calls(
        transport, snapshot.block_number,
        [Read(deployment.aave.pool, abi_function("AavePool", "getUserAccountData"), (p.account,)) for p in positions],
        what="getUserAccountData",
    )
    decimals = _decimals(snapshot)
    liquidatable = 0
    for position, chain_data in zip(positions, onchain, strict=True):
        _, legs = aave_position_legs(market, position, decimals)
        mine = aave_account_data(legs, rule="avg")
        total_collateral, total_debt, _, avg_lt, _, hf = chain_data
        assert (mine.total_collateral_base, mine.total_debt_base, mine.avg_liquidation_threshold_bps,
                mine.health_factor_wad) == (total_collateral, total_debt, avg_lt, hf), position.account
        liquidatable += hf < WAD
    return liquidatable


def test_aave_every_borrower_matches_get_user_account_data(devnet, devnet_deployment, devnet_population, transport):
    snapshot = scan_devnet(devnet_deployment, transport=transport)
    market = snapshot.market("aave-devnet")
    assert market.venue == "aave_v30" and market.protocol_version == "aave-v3.0" and market.price_unit == 10**8
    accounts = {p.account for p in snapshot.positions if p.market == market.id}
    assert accounts == set(devnet_population.venues["aave"])  # every borrower, discovered from events
    assert _assert_aave_matches_chain(transport, snapshot, devnet_deployment) == 0  # healthy at start prices
    # eMode borrowers exist and their category is read
    assert any(p.emode == 1 for p in snapshot.positions if p.market == market.id)
    (category,) = market.emode_categories
    assert category.liquidation_threshold_wad == 9500 * 10**14 and set(category.collateral_assets) == {"WETH", "wstETH"}


def test_aave_matches_after_price_drop(devnet_revert, devnet_deployment, transport):
    devnet_revert.set_price_usd("WETH", 1_820)
    devnet_revert.mine(50)  # interest accrues per second: indices move on
    snapshot = scan_devnet(devnet_deployment, transport=transport)
    assert _assert_aave_matches_chain(transport, snapshot, devnet_deployment) > 0  # some are liquidatable now


def test_aave_reader_accepts_pool_or_provider(devnet_deployment, transport):
    block = pin_block(transport)
    via_pool = AaveV3Reader(transport, devnet_deployment.aave.pool).read_market(block)
    via_provider = AaveV3Reader(transport, devnet_deployment.aave.addresses_provider).read_market(block)
    assert via_pool == via_provider
    assert via_pool.oracle == devnet_deployment.aave.oracle
    # reserve ids from getReserveData, tokens as deployed
    for symbol, asset in devnet_deployment.tokens.items():
        reserve = via_pool.reserve(asset)
        assert reserve.a_token == devnet_deployment.aave.a_tokens[symbol]
        assert reserve.variable_debt_token == devnet_deployment.aave.variable_debt_tokens[symbol]
    assert sorted(r.id for r in via_pool.reserves) == list(range(len(devnet_deployment.tokens)))


# --- Morpho ----------------------------------------------------------------------------------


def _fund_and_approve(devnet, account: str, spenders: list[str]) -> None:
    dep = devnet.deployment
    for symbol, token in dep.tokens.items():
        devnet.fund(account, symbol, 10**12 * 10 ** dep.decimals[symbol])
        for spender in spenders:
            devnet.rpc.transact(Tx(account, token, encode_call("approve(address,uint256)", spender, MAX_UINT), 100_000))


def _repay_quote(transport, block: int, morpho: str, params, borrower: str, shares: int, sender: str) -> int:
    """Assets the genuine Morpho charges to repay ``shares`` (accrues interest first): eth_call."""
    data = encode_call(f"repay({MARKET_PARAMS},uint256,uint256,address,bytes)", params, 0, shares, borrower, b"")
    out = transport.request("eth_call", [{"from": sender, "to": morpho, "data": data, "gas": hex(2_000_000)}, hex(block)])
    assets, repaid_shares = decode(["uint256", "uint256"], bytes.fromhex(out[2:]))
    assert repaid_shares == shares
    return assets


def test_morpho_every_borrower_matches_chain(devnet_revert, devnet_deployment, devnet_population, transport):
    dep = devnet_deployment
    payer = devnet_revert.rpc.accounts()[3]
    _fund_and_approve(devnet_revert, payer, [dep.morpho.address])
    snapshot = scan_devnet(dep, transport=transport)
    block = snapshot.block_number
    by_id = {m.id: m for m in dep.morpho.markets.values()}
    positions = [p for p in snapshot.positions if p.market.startswith("morpho:")]
    assert {p.account for p in positions} == set(devnet_population.venues["morpho"])
    position_fn = abi_function("MorphoBlue", "position")
    for p in positions:
        market = by_id[p.market.removeprefix("morpho:")]
        snap_market = snapshot.market(p.market)
        assert snap_market.lltv_wad == market.lltv_wad
        price = int.from_bytes(_aggregate3(transport, block, [(market.oracle, abi_function("MorphoOracle", "price").selector)])[0], "big")
        assert snap_market.oracle_price_1e36 == price
        # position() after accrueInterest, in one eth_call at the snapshot block
        accrue = encode_call(f"accrueInterest({MARKET_PARAMS})", market.params)
        results = _aggregate3(transport, block, [
            (dep.morpho.address, bytes.fromhex(accrue[2:])),
            (dep.morpho.address, position_fn.encode(bytes.fromhex(market.id[2:]), p.account)),
        ])
        _, borrow_shares, collateral = position_fn.decode(results[1])
        (coll_symbol,) = p.collateral
        (loan_symbol,) = p.debt
        assert p.collateral[coll_symbol] == collateral
        assert p.debt[loan_symbol] == _repay_quote(transport, block, dep.morpho.address, market.params, p.account,
                                                    borrow_shares, payer)


def test_morpho_interest_accrual_matches_accrue_interest(devnet_revert, devnet_deployment, transport):
    """A market with Morpho's IrmMock and a 10% fee: the reader's off-chain accrual to the block
    timestamp equals market() after the genuine accrueInterest, and debts equal repay quotes."""
    dep = devnet_deployment
    rpc = devnet_revert.rpc
    owner, lender, borrower, payer = dep.deployer, dep.lender, rpc.accounts()[4], rpc.accounts()[3]
    irm = rpc.deploy(owner, compile_morpho()["src/mocks/IrmMock.sol:IrmMock"].bytecode, gas=2_000_000)
    weth_usdc = dep.morpho.markets["WETH/USDC"]
    params = (weth_usdc.loan_token, weth_usdc.collateral_token, weth_usdc.oracle, irm, weth_usdc.lltv_wad)
    morpho = dep.morpho.address

    def tx(sender, signature, *args):
        rpc.transact(Tx(sender, morpho, encode_call(signature, *args), 1_000_000))

    tx(owner, "enableIrm(address)", irm)
    tx(owner, f"createMarket({MARKET_PARAMS})", params)
    tx(owner, "setFeeRecipient(address)", owner)
    tx(owner, f"setFee({MARKET_PARAMS},uint256)", params, 10**17)
    for account in (lender, borrower, payer):
        _fund_and_approve(devnet_revert, account, [morpho])
    tx(lender, f"supply({MARKET_PARAMS},uint256,uint256,address,bytes)", params, 1_000_000 * 10**6, 0, lender, b"")
    tx(borrower, f"supplyCollateral({MARKET_PARAMS},uint256,address,bytes)", params, 500 * 10**18, borrower, b"")
    tx(borrower, f"borrow({MARKET_PARAMS},uint256,uint256,address,address)", params, 700_000 * 10**6, 0, borrower, borrower)
    rpc.request("evm_increaseTime", [90 * 86_400])
    rpc.request("evm_mine", [])
    block = pin_block(transport)
    market_id = "0x" + keccak(encode(["address", "address", "address", "address", "uint256"], list(params))).hex()

    reader = MorphoBlueReader(transport, morpho, market_ids=[market_id])
    (data,) = reader.read_markets(block)
    assert data.borrow_rate_wad > 0 and data.state.total_borrow_assets > data.stored_state.total_borrow_assets
    accrue = encode_call(f"accrueInterest({MARKET_PARAMS})", params)
    market_fn = abi_function("MorphoBlue", "market")
    results = _aggregate3(transport, block.number, [(morpho, bytes.fromhex(accrue[2:])),
                                                    (morpho, market_fn.encode(bytes.fromhex(market_id[2:])))])
    onchain = market_fn.decode(results[1])
    mine = data.state
    assert (mine.total_supply_assets, mine.total_supply_shares, mine.total_borrow_assets, mine.total_borrow_shares,
            mine.last_update, mine.fee) == tuple(onchain)
    (position,) = reader.read_positions(block, [data], [borrower])
    assert position.borrow_assets_raw == _repay_quote(transport, block.number, morpho, params, borrower,
                                                      position.borrow_shares, payer)
    assert snapshot_market_id(market_id) == f"morpho:{market_id}"


# --- Comet double -----------------------------------------------------------------------------


def _assert_comet_matches(transport, snapshot, deployment) -> list[bool]:
    market = snapshot.market("compound-devnet")
    positions = [p for p in snapshot.positions if p.market == market.id]
    onchain = run_calls(transport, snapshot.block_number,
                        [Read(deployment.comet_double, abi_function("Comet", "isLiquidatable"), (p.account,)) for p in positions],
                        what="isLiquidatable")
    decimals = _decimals(snapshot)
    flags = []
    for position, (flag,) in zip(positions, onchain, strict=True):
        assert comet_position_is_liquidatable(market, position, decimals) == flag, position.account
        flags.append(flag)
    return flags


def test_comet_every_borrower_is_liquidatable_matches(devnet_revert, devnet_deployment, devnet_population, transport):
    snapshot = scan_devnet(devnet_deployment, transport=transport)
    assert {p.account for p in snapshot.positions if p.market == "compound-devnet"} == set(devnet_population.venues["comet"])
    _assert_comet_matches(transport, snapshot, devnet_deployment)
    # Move prices so that some, not all, borrowers become liquidatable: both answers are exercised.
    devnet_revert.set_price_usd("WETH", 1_500)
    devnet_revert.set_price_usd("WBTC", 45_000)
    flags = _assert_comet_matches(transport, scan_devnet(devnet_deployment, transport=transport), devnet_deployment)
    assert any(flags) and not all(flags)


def test_comet_market_mapping(devnet_deployment, transport):
    market = CometReader(transport, devnet_deployment.comet_double).read_market(pin_block(transport))
    assert market.base_token == devnet_deployment.tokens["USDC"] and market.base_scale == 10**6
    weth = next(a for a in market.assets if a.asset == devnet_deployment.tokens["WETH"])
    assert weth.liquidate_collateral_factor_wad == 85 * 10**16 and weth.price == 2_000 * 10**8


# --- Block pinning ------------------------------------------------------------------------------


def test_snapshot_is_pinned_to_its_block(devnet_revert, devnet_deployment, transport):
    block = pin_block(transport)
    first = scan_devnet(devnet_deployment, block.number, transport=transport)
    devnet_revert.set_price_usd("WETH", 1_700)
    devnet_revert.mine(20)
    again = scan_devnet(devnet_deployment, block.number, transport=transport)
    assert again.to_json() == first.to_json()
    assert scan_devnet(devnet_deployment, transport=transport).to_json() != first.to_json()  # later block differs


# --- Faults ---------------------------------------------------------------------------------------


def test_non_contract_address_is_named(devnet, transport):
    eoa = devnet.rpc.accounts()[7]
    block = pin_block(transport)
    with pytest.raises(ReaderError, match=f"{eoa}.*no contract code.*Aave V3 Pool or PoolAddressesProvider"):
        AaveV3Reader(transport, eoa).read_market(block)
    with pytest.raises(ReaderError, match=f"{eoa}.*no contract code.*Morpho Blue"):
        MorphoBlueReader(transport, eoa, market_ids=[]).read_markets(block)
    with pytest.raises(ReaderError, match=f"{eoa}.*no contract code.*Comet"):
        CometReader(transport, eoa).read_market(block)
    with pytest.raises(ReaderError, match=eoa):
        scan_snapshot(transport, block=block, aave_pools=[AaveSource(eoa)])


def test_wrong_contract_is_named(devnet_deployment, transport):
    token = devnet_deployment.tokens["USDC"]
    block = pin_block(transport)
    with pytest.raises(ReaderError, match=f"{token} is a contract but neither"):
        AaveV3Reader(transport, token).read_market(block)
    with pytest.raises(ReaderError, match=f"{token} is a contract but not a Compound V3 Comet"):
        CometReader(transport, token).read_market(block)
    some_id = next(iter(devnet_deployment.morpho.markets.values())).id
    with pytest.raises(ReaderError, match=f"{token} is a contract but not Morpho Blue"):
        MorphoBlueReader(transport, token, market_ids=[some_id]).read_markets(block)
    with pytest.raises(ReaderError, match="not an address"):
        AaveV3Reader(transport, "0x1234")

