"""Devnet tests: genuine Aave V3 / Morpho Blue deployment, Comet double, Multicall3, population,
consistent price moves, determinism and the up/status/down state file."""

from __future__ import annotations

import json
import os
from decimal import Decimal

import pytest
from eth_abi import decode
from eth_utils import to_checksum_address

from chain.devnet import (
    CLUSTER_LIQ_PRICE_USD,
    MULTICALL3_ADDRESS,
    START_PRICES_USD,
    Devnet,
    DevnetDeployment,
    DevnetError,
    devnet_down,
    devnet_status,
    devnet_up,
    encode_call,
    generate_plans,
    load_deployment,
    market_id,
)
from chain.devnet.deploy_aave import AaveDeployError, linked_bytecode
from chain.devnet.rpc import DevnetRpc, contract_address
from chain.devnet.solc import compile_own_contracts

pytestmark = pytest.mark.devnet

WAD = 10**18
ORACLE_PRICE_SCALE = 10**36


def _field(data: int, start: int, width: int) -> int:
    return (data >> start) & ((1 << width) - 1)


def _calls(rpc: DevnetRpc, items: list[tuple[str, str, tuple, tuple[str, ...]]], block: str | int = "latest"):
    """Batched eth_calls: items of (to, signature, args, out_types) -> decoded tuples."""
    tag = hex(block) if isinstance(block, int) else block
    raw = rpc.batch([("eth_call", [{"to": to, "data": encode_call(sig, *args)}, tag]) for to, sig, args, _ in items])
    return [decode(list(out), bytes.fromhex(r[2:])) for r, (_, _, _, out) in zip(raw, items)]


def _account_data(rpc: DevnetRpc, pool: str, users, block: str | int = "latest"):
    return _calls(rpc, [(pool, "getUserAccountData(address)", (u,), ("uint256",) * 6) for u in users], block)


# ------------------------------------------------------------------------------ deployment


def test_aave_reserves_configured_as_specified(devnet_deployment: DevnetDeployment, devnet: Devnet) -> None:
    dep, rpc = devnet_deployment, devnet.rpc
    (reserves,) = rpc.call_decode(dep.aave.pool, "getReservesList()", (), ("address[]",))
    assert [to_checksum_address(a) for a in reserves] == [dep.tokens[s] for s in ("WETH", "WBTC", "USDC", "wstETH")]
    expected = {  # symbol: (ltv, lt, bonus, decimals, eMode category)
        "WETH": (8050, 8300, 10500, 18, 1), "WBTC": (7300, 7800, 10500, 8, 0),
        "USDC": (7700, 8000, 10450, 6, 0), "wstETH": (7850, 8100, 10600, 18, 1),
    }
    for sym, (ltv, lt, bonus, dec, emode) in expected.items():
        (conf,) = rpc.call_decode(dep.aave.pool, "getConfiguration(address)", (dep.tokens[sym],), ("uint256",))
        assert (_field(conf, 0, 16), _field(conf, 16, 16), _field(conf, 32, 16)) == (ltv, lt, bonus), sym
        assert _field(conf, 48, 8) == dec and _field(conf, 56, 1) == 1 and _field(conf, 58, 1) == 1, sym
        assert _field(conf, 152, 16) == 1000 and _field(conf, 168, 8) == emode, sym
    ltv, lt, bonus, source, label = rpc.call_decode(
        dep.aave.pool, "getEModeCategoryData(uint8)", (1,), ("(uint16,uint16,uint16,address,string)",))[0]
    assert (ltv, lt, bonus, int(source, 16), label) == (9300, 9500, 10100, 0, "ETH correlated")
    (unit,) = rpc.call_decode(dep.aave.oracle, "BASE_CURRENCY_UNIT()", (), ("uint256",))
    assert unit == 10**8
    for sym, usd in START_PRICES_USD.items():
        (price,) = rpc.call_decode(dep.aave.oracle, "getAssetPrice(address)", (dep.tokens[sym],), ("uint256",))
        assert price == usd * 10**8, sym
    (provider_pool,) = rpc.call_decode(dep.aave.addresses_provider, "getPool()", (), ("address",))
    assert to_checksum_address(provider_pool) == dep.aave.pool


def test_morpho_markets_created(devnet_deployment: DevnetDeployment, devnet: Devnet) -> None:
    dep, rpc = devnet_deployment, devnet.rpc
    (owner,) = rpc.call_decode(dep.morpho.address, "owner()", (), ("address",))
    assert to_checksum_address(owner) == dep.deployer
    assert set(dep.morpho.markets) == {"wstETH/WETH", "WETH/USDC", "WBTC/USDC"}
    for name, m in dep.morpho.markets.items():
        coll, loan = name.split("/")
        assert (m.collateral_token, m.loan_token) == (dep.tokens[coll], dep.tokens[loan])
        assert m.id == market_id(m.loan_token, m.collateral_token, m.oracle, m.irm, m.lltv_wad)
        params = rpc.call_decode(dep.morpho.address, "idToMarketParams(bytes32)", (bytes.fromhex(m.id[2:]),),
                                 ("address", "address", "address", "address", "uint256"))
        assert [to_checksum_address(p) for p in params[:4]] + [params[4]] == list(m.params)
    assert dep.morpho.markets["wstETH/WETH"].lltv_wad == 945 * 10**15
    # start prices: 1 wstETH = 1.2 WETH; 1 WETH = 2000 USDC; 1 WBTC = 60000 USDC (1e36 x 10^(loanDec-collDec))
    assert devnet.morpho_oracle_price("wstETH/WETH") == 12 * 10**35
    assert devnet.morpho_oracle_price("WETH/USDC") == 2000 * 10**24
    assert devnet.morpho_oracle_price("WBTC/USDC") == 60000 * 10**34


def test_multicall3_at_canonical_address(devnet_deployment: DevnetDeployment, devnet: Devnet) -> None:
    rpc = devnet.rpc
    assert devnet_deployment.multicall3 == MULTICALL3_ADDRESS
    calls = [
        (MULTICALL3_ADDRESS, False, encode_call("getBlockNumber()")),
        (devnet_deployment.aave.oracle, False, encode_call("BASE_CURRENCY_UNIT()")),
        (devnet_deployment.aave.oracle, True, encode_call("getAssetPrice(address)", "0x" + "11" * 20)),
    ]
    block = rpc.block_number()
    calldata = encode_call("aggregate3((address,bool,bytes)[])", [(t, f, bytes.fromhex(d[2:])) for t, f, d in calls])
    (results,) = decode(["(bool,bytes)[]"], rpc.call(MULTICALL3_ADDRESS, calldata, block))
    assert decode(["uint256"], results[0][1])[0] == block
    assert decode(["uint256"], results[1][1])[0] == 10**8
    assert results[2][0] is False  # unknown asset: AaveOracle reverts, allowed to fail
    failing = encode_call("aggregate3((address,bool,bytes)[])", [(calls[2][0], False, bytes.fromhex(calls[2][2][2:]))])
    with pytest.raises(Exception, match="Multicall3: call failed|revert"):
        rpc.call(MULTICALL3_ADDRESS, failing, block)


def test_comet_double_read_interface(devnet_deployment: DevnetDeployment, devnet: Devnet) -> None:
    dep, rpc = devnet_deployment, devnet.rpc
    comet = dep.comet_double
    assert to_checksum_address(rpc.call_decode(comet, "baseToken()", (), ("address",))[0]) == dep.tokens["USDC"]
    assert rpc.call_decode(comet, "baseScale()", (), ("uint256",))[0] == 10**6
    assert rpc.call_decode(comet, "numAssets()", (), ("uint8",))[0] == 2
    info = rpc.call_decode(comet, "getAssetInfo(uint8)", (0,),
                           ("(uint8,address,address,uint64,uint64,uint64,uint64,uint128)",))[0]
    assert info[:4] == (0, dep.tokens["WETH"].lower(), dep.aave.price_feeds["WETH"].lower(), 10**18)
    assert info[4:7] == (83 * 10**16, 85 * 10**16, 95 * 10**16)
    info = rpc.call_decode(comet, "getAssetInfo(uint8)", (1,),
                           ("(uint8,address,address,uint64,uint64,uint64,uint64,uint128)",))[0]
    assert info[1] == dep.tokens["WBTC"].lower() and info[4:7] == (80 * 10**16, 85 * 10**16, 95 * 10**16)
    assert rpc.call_decode(comet, "getPrice(address)", (dep.aave.price_feeds["WBTC"],), ("uint256",))[0] == 60000e8


def test_linking_refuses_missing_library() -> None:
    with pytest.raises(AaveDeployError, match="BorrowLogic"):
        linked_bytecode("Pool", {})


def test_contract_address_matches_chain(devnet_revert: Devnet) -> None:
    rpc = devnet_revert.rpc
    sender = devnet_revert.deployment.lender
    expected = contract_address(sender, rpc.nonce(sender))
    code = compile_own_contracts()["Multicall3"].bytecode
    assert rpc.deploy(sender, code, gas=2_000_000) == expected


# ------------------------------------------------------------------------------ population


def test_population_groups_and_accounts(devnet_population) -> None:
    pop = devnet_population
    # n_borrowers on v3.0.2 / Morpho / Comet, plus the Aave v3.6 market's own n_aave36
    assert pop.n_aave36 == pop.n_borrowers // 2 == len(pop.venues["aave36"])
    assert sum(pop.counts.values()) == pop.n_borrowers + pop.n_aave36
    all_accounts = [a for v in pop.venues.values() for a in v]
    assert len(all_accounts) == len(set(all_accounts)) == pop.n_borrowers + pop.n_aave36
    assert pop.counts["aave_weth_cluster"] == round(0.25 * pop.n_borrowers)
    assert all(pop.counts[g] > 0 for g in pop.counts)


def test_every_aave_borrower_healthy_and_cluster_in_band(devnet_deployment, devnet_population, devnet) -> None:
    dep, pop = devnet_deployment, devnet_population
    block = pop.last_block
    borrowers = pop.venues["aave"]
    data = dict(zip(borrowers, _account_data(devnet.rpc, dep.aave.pool, borrowers, block)))
    for user, (coll, debt, _avail, _lt, _ltv, hf) in data.items():
        assert debt > 0 and coll > 0, user
        assert WAD < hf < 2**255, user
    # ETH liquidation price of a WETH-only / USDC-debt position, from the on-chain base values:
    # HF scales with the WETH price, so the price where HF = 1 is P x debt / (coll x LT).
    eth_usd = Decimal(START_PRICES_USD["WETH"])
    liq_prices = []
    for user in pop.groups["aave_weth_cluster"]:
        coll, debt, _, lt_bps, _, _ = data[user]
        assert lt_bps == 8300
        liq_prices.append(eth_usd * debt * 10_000 / (coll * lt_bps))
    lo, hi = 1_781, 1_862  # the specified band
    assert (lo, hi) == CLUSTER_LIQ_PRICE_USD
    assert all(Decimal(lo) <= p <= Decimal(hi) for p in liq_prices), (min(liq_prices), max(liq_prices))
    assert max(liq_prices) - min(liq_prices) > 40  # spread over the band, not one point
    whales = [u for u in pop.groups["aave_weth_cluster"] if data[u][0] >= 5_000_000 * 10**8]
    assert len(whales) >= 2
    for user in pop.groups["aave_emode"]:
        assert devnet.rpc.call_decode(dep.aave.pool, "getUserEMode(address)", (user,), ("uint256",), block)[0] == 1
        assert 1.0 < data[user][5] / WAD <= 1.11


def test_morpho_and_comet_borrowers_healthy(devnet_deployment, devnet_population, devnet) -> None:
    dep, pop, rpc = devnet_deployment, devnet_population, devnet.rpc
    block = pop.last_block
    for name, users in pop.morpho_markets.items():
        m = dep.morpho.markets[name]
        mid = bytes.fromhex(m.id[2:])
        (mkt,) = _calls(rpc, [(dep.morpho.address, "market(bytes32)", (mid,), ("uint128",) * 6)], block)
        total_borrow_assets, total_borrow_shares = mkt[2], mkt[3]
        price = devnet.morpho_oracle_price(name)
        positions = _calls(rpc, [(dep.morpho.address, "position(bytes32,address)", (mid, u),
                                  ("uint256", "uint128", "uint128")) for u in users], block)
        assert users
        for user, (_s, borrow_shares, collateral) in zip(users, positions):
            assert borrow_shares > 0 and collateral > 0, user
            # Morpho's own accounting, not ours: assets owed vs max borrow at LLTV.
            borrowed = -(-borrow_shares * (total_borrow_assets + 1) // (total_borrow_shares + 10**6))
            assert collateral * price // ORACLE_PRICE_SCALE * m.lltv_wad // WAD >= borrowed, user
    comet_users = pop.venues["comet"]
    liq = _calls(rpc, [(dep.comet_double, "isLiquidatable(address)", (u,), ("bool",)) for u in comet_users], block)
    debt = _calls(rpc, [(dep.comet_double, "borrowBalanceOf(address)", (u,), ("uint256",)) for u in comet_users],
                  block)
    assert comet_users and not any(x[0] for x in liq) and all(d[0] > 0 for d in debt)


# ---------------------------------------------------------------------------------- prices


def test_set_price_usd_moves_aave_morpho_and_comet_together(devnet_revert: Devnet, devnet_population) -> None:
    net = devnet_revert
    dep, rpc = net.deployment, net.rpc
    net.set_price_usd("WETH", "1850.5")
    (aave_price,) = rpc.call_decode(dep.aave.oracle, "getAssetPrice(address)", (dep.tokens["WETH"],), ("uint256",))
    assert aave_price == 185_050_000_000
    assert rpc.call_decode(dep.comet_double, "getPrice(address)", (dep.aave.price_feeds["WETH"],),
                           ("uint256",))[0] == 185_050_000_000
    assert net.morpho_oracle_price("WETH/USDC") == 18505 * 10**23  # 1850.5 USDC per WETH, 1e24 scale
    assert net.morpho_oracle_price("wstETH/WETH") == 2400 * 10**36 * 10**8 // 185_050_000_000
    assert net.morpho_oracle_price("WBTC/USDC") == 60000 * 10**34  # untouched
    # Aave now sees the move: cluster positions with a liquidation price above $1,850.5 are liquidatable.
    cluster = devnet_population.groups["aave_weth_cluster"]
    before = _account_data(rpc, dep.aave.pool, cluster, devnet_population.last_block)
    after = _account_data(rpc, dep.aave.pool, cluster)
    n_under = 0
    for (coll, debt, _, lt, _, _), (*_, hf_after) in zip(before, after):
        liq = Decimal(2000) * debt * 10_000 / (coll * lt)
        if liq > Decimal("1851"):
            assert hf_after < WAD
            n_under += 1
        elif liq < Decimal("1850"):
            assert hf_after > WAD
    assert 0 < n_under < len(cluster)


def test_set_feed_answer_and_morpho_oracle_exact(devnet_revert: Devnet) -> None:
    net = devnet_revert
    dep, rpc = net.deployment, net.rpc
    net.set_feed_answer("WBTC", 5_999_999_999_999)
    assert rpc.call_decode(dep.aave.oracle, "getAssetPrice(address)", (dep.tokens["WBTC"],),
                           ("uint256",))[0] == 5_999_999_999_999
    assert net.morpho_oracle_price("WBTC/USDC") == 60000 * 10**34  # set_feed_answer leaves Morpho alone
    net.set_morpho_oracle_price("WBTC/USDC", 123)
    assert net.morpho_oracle_price("WBTC/USDC") == 123
    with pytest.raises(DevnetError, match="DOGE"):
        net.set_price_usd("DOGE", 1)
    with pytest.raises(DevnetError, match="8 decimals"):
        net.set_price_usd("WETH", "2000.000000001")
    with pytest.raises(DevnetError, match="market"):
        net.set_morpho_oracle_price("WETH/DAI", 1)


def test_comet_double_liquidation_boundary(devnet_revert: Devnet, devnet_population) -> None:
    """Find the WETH feed answer where a WETH-only Comet borrower flips, by Comet's integer formula,
    and check the double flips exactly there (one raw unit either side)."""
    net = devnet_revert
    dep, rpc = net.deployment, net.rpc
    comet = dep.comet_double
    weth = dep.tokens["WETH"]
    for user in devnet_population.venues["comet"]:
        basic = rpc.call_decode(comet, "userBasic(address)", (user,), ("int104", "uint64", "uint64", "uint16", "uint8"))
        if basic[3] == 1:  # only WETH (offset 0)
            break
    else:
        pytest.skip("no WETH-only Comet borrower in this population")
    (balance, _) = rpc.call_decode(comet, "userCollateral(address,address)", (user, weth), ("uint128", "uint128"))
    (debt,) = rpc.call_decode(comet, "borrowBalanceOf(address)", (user,), ("uint256",))
    debt_usd8 = debt * 10**8 // 10**6  # USDC at exactly $1 (feed 1e8)

    def liquidity(p: int) -> int:
        return balance * p // 10**18 * (85 * 10**16) // WAD - debt_usd8

    lo, hi = 1, 2000 * 10**8
    while hi - lo > 1:  # smallest p with liquidity >= 0
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if liquidity(mid) >= 0 else (mid, hi)
    net.set_feed_answer("WETH", hi)
    assert rpc.call_decode(comet, "isLiquidatable(address)", (user,), ("bool",))[0] is False
    net.set_feed_answer("WETH", hi - 1)
    assert rpc.call_decode(comet, "isLiquidatable(address)", (user,), ("bool",))[0] is True


# ----------------------------------------------------------------------------- determinism


def _chain_fingerprint(net: Devnet) -> tuple:
    dep, pop, rpc = net.deployment, net.population, net.rpc
    block = rpc.request("eth_getBlockByNumber", ["latest", False])
    aave = _account_data(rpc, dep.aave.pool, pop.venues["aave"])
    morpho = []
    for name, users in pop.morpho_markets.items():
        mid = bytes.fromhex(dep.morpho.markets[name].id[2:])
        morpho += _calls(rpc, [(dep.morpho.address, "position(bytes32,address)", (mid, u),
                                ("uint256", "uint128", "uint128")) for u in users])
    comet = _calls(rpc, [(dep.comet_double, "borrowBalanceOf(address)", (u,), ("uint256",)) for u in pop.venues["comet"]])
    return (block["number"], block["timestamp"], block["stateRoot"], dep.to_json().replace(net.rpc_url, ""),
            pop.to_dict(), aave, morpho, comet)


@pytest.mark.slow
def test_same_seed_same_chain_state() -> None:
    prints = []
    for _ in range(2):
        with Devnet() as net:
            net.deploy()
            net.populate(24, seed=3)
            prints.append(_chain_fingerprint(net))
    assert prints[0] == prints[1]
    assert len(prints[0][5]) > 0


def test_different_seed_different_population() -> None:
    dec = {"WETH": 18, "WBTC": 8, "USDC": 6, "wstETH": 18}
    a, b = generate_plans(50, 1, dec), generate_plans(50, 2, dec)
    assert [p.address for p in a] != [p.address for p in b]
    assert generate_plans(50, 1, dec) == a


# ------------------------------------------------------------------------------ state file


def test_deployment_json_round_trip(devnet_deployment: DevnetDeployment) -> None:
    text = devnet_deployment.to_json()
    assert DevnetDeployment.from_json(text) == devnet_deployment
    assert json.loads(text)["morpho"]["markets"]["WETH/USDC"][5] == 86 * 10**16


@pytest.mark.slow
def test_up_status_down_round_trip(tmp_path) -> None:
    state_path = tmp_path / "devnet" / "state.json"
    assert devnet_status(state_path=state_path)["running"] is False
    state = devnet_up(n_borrowers=12, seed=5, state_path=state_path)
    try:
        status = devnet_status(state_path=state_path)
        assert status["running"] is True and status["pid"] == state["pid"]
        dep = load_deployment(state_path=state_path)
        assert dep.rpc_url == status["rpc_url"]
        with pytest.raises(DevnetError, match="already running"):
            devnet_up(n_borrowers=1, state_path=state_path)
        attached = Devnet.from_state(state_path=state_path)
        assert attached.deployment == dep and attached.population.n_borrowers == 12
        users = attached.population.venues["aave"]
        assert users and all(hf > WAD for *_, hf in _account_data(attached.rpc, dep.aave.pool, users))
        attached.set_price_usd("WBTC", 59_000)  # drives the detached node
        assert attached.feed_answer("WBTC") == 59_000 * 10**8
        attached.stop()  # closes the connection only
        assert devnet_status(state_path=state_path)["running"] is True
    finally:
        stopped = devnet_down(state_path=state_path)
    assert stopped is True
    assert not state_path.exists()
    assert devnet_status(state_path=state_path)["running"] is False
    with pytest.raises(ProcessLookupError):
        os.kill(state["pid"], 0)
