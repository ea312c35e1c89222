"""Aave V4 against the devnet's Aave V4 TEST DOUBLE (chain/contracts/AaveV4Double.sol).

No genuine Aave V4 is installable from a package registry (aave/aave-v4 is not published on npm):
these tests run a test double of its hub/spoke read interface and liquidationCall math (sources
cited in the .sol file: aave/aave-v4 src/spoke/libraries/LiquidationLogic.sol and src/spoke/Spoke.sol
@8e6ea169d76ff0e51ccae3c8a48bf8fe060ba417, src/hub/libraries/SharesMath.sol @41f8018d) on a real
anvil, and check the reader against the double's state and the exact Python math of risk.aave_v4
against liquidations executed on it, to the wei, over several shocks on two spokes (including the
$1,000 dust full close and deficits), and the scanned snapshot through the engine.
"""

from __future__ import annotations

import numpy as np
import pytest

from chain.aave_v3 import ReaderError
from chain.aave_v4 import AaveV4Reader, AaveV4Source, SpokeRef
from chain.blocks import pin_block
from chain.devnet.deploy_aave_v4 import (HUB_STATE, HUB_SIZE_TOKENS, SPOKES, deploy_aave_v4, drawn_shares,
                                         plan_positions, populate_aave_v4, price_raw, set_aave_v4_price, supplied_shares)
from chain.devnet.rpc import Tx, encode_call
from chain.transport import HttpTransport
from risk import aave_v4 as v4
from tests.chain.double_chain import double_chain, reverted

PRICES = {"WETH": 2_000.0, "wstETH": 2_400.0, "WBTC": 60_000.0, "USDC": 1.0}
DECIMALS = {"WETH": 18, "wstETH": 18, "WBTC": 8, "USDC": 6}
N_POSITIONS = 48
SEED = 11
MAX = 2**256 - 1
_GAS = 3_000_000


@pytest.fixture(scope="module")
def v4_chain():
    with double_chain(DECIMALS, block_interval_s=None) as dc:
        rpc, deployer, tokens = dc.rpc, dc.deployer, dc.tokens
        liquidator = rpc.accounts()[5]
        dep = deploy_aave_v4(rpc, deployer, tokens, DECIMALS, PRICES)
        population = populate_aave_v4(rpc, deployer, dep, PRICES, DECIMALS, N_POSITIONS, SEED)
        yield rpc, deployer, liquidator, tokens, dep, population


@pytest.fixture
def chain(v4_chain):
    with reverted(v4_chain[0]):
        yield v4_chain


def _source(dep) -> AaveV4Source:
    return AaveV4Source(dep.hub, tuple(SpokeRef(s.name, s.spoke) for s in dep.spokes), dep.deploy_block,
                        "Aave V4 double", "aave-v4-devnet")


def _hub_totals(rpc, hub, asset_id):
    return rpc.call_decode(hub, "getAddedAssetsAndShares(uint256)", (asset_id,), ("uint256", "uint256"))


def _reserve_states(rpc, dep, spoke_dep, user) -> list[v4.SpokeReserveState]:
    """The user's reserves from the double's getters (supplied shares and the hub totals included)."""
    plan = next(p for p in SPOKES if p.name == spoke_dep.name)
    out = []
    for r in plan.reserves:
        rid = spoke_dep.reserves[r.symbol]
        coll, _ = rpc.call_decode(spoke_dep.spoke, "getUserReserveStatus(uint256,address)", (rid, user), ("bool", "bool"))
        assets = rpc.call_decode(spoke_dep.spoke, "getUserSuppliedAssets(uint256,address)", (rid, user), ("uint256",))[0]
        shares = rpc.call_decode(spoke_dep.spoke, "getUserSuppliedShares(uint256,address)", (rid, user), ("uint256",))[0]
        debt = rpc.call_decode(spoke_dep.spoke, "getUserTotalDebt(uint256,address)", (rid, user), ("uint256",))[0]
        price = rpc.call_decode(spoke_dep.oracle, "getReservePrice(uint256)", (rid,), ("uint256",))[0]
        added_assets, added_shares = _hub_totals(rpc, dep.hub, dep.assets[r.symbol])
        out.append(v4.SpokeReserveState(price, DECIMALS[r.symbol], r.collateral_factor_bps, r.max_liquidation_bonus_bps,
                                        r.liquidation_fee_bps, assets, coll, debt, shares, added_assets, added_shares))
    return out


def _symbol(spoke_dep, reserve_id: int) -> str:
    return next(sym for sym, rid in spoke_dep.reserves.items() if rid == reserve_id)


def _config(spoke_name: str) -> v4.SpokeLiquidationConfig:
    plan = next(p for p in SPOKES if p.name == spoke_name)
    return v4.SpokeLiquidationConfig(plan.target_health_factor_wad, plan.health_factor_for_max_bonus_wad,
                                     plan.liquidation_bonus_factor_bps)


# ------------------------------------------------------------------------------------- reader


def test_reader_discovers_every_user_and_equals_the_doubles_state(v4_chain, tmp_path):
    rpc, _, _, tokens, dep, population = v4_chain
    plans = {(p.spoke, p.user): p for p in plan_positions(N_POSITIONS, SEED, PRICES, DECIMALS)}
    with HttpTransport(rpc.url) as transport:
        pinned = pin_block(transport, "latest")
        reader = AaveV4Reader(transport, dep.hub)
        from chain.discovery import AccountIndex
        from chain.venues import ReadContext, venue

        read = venue("aave_v4").read(_source(dep), ReadContext(transport, pinned, {}, AccountIndex(tmp_path / "idx.sqlite")))
    assert [s.name for s, _ in read.spokes] == [s.name for s in dep.spokes]
    for (spoke, positions), spoke_dep in zip(read.spokes, dep.spokes, strict=True):
        plan = next(p for p in SPOKES if p.name == spoke.name)
        assert (spoke.target_health_factor_wad, spoke.health_factor_for_max_bonus_wad,
                spoke.liquidation_bonus_factor_bps) == (plan.target_health_factor_wad, plan.health_factor_for_max_bonus_wad,
                                                        plan.liquidation_bonus_factor_bps)
        assert [(r.underlying, r.collateral_factor_bps, r.max_liquidation_bonus_bps, r.liquidation_fee_bps, r.price)
                for r in spoke.reserves] == [(tokens[r.symbol], r.collateral_factor_bps, r.max_liquidation_bonus_bps,
                                              r.liquidation_fee_bps, price_raw(PRICES[r.symbol])) for r in plan.reserves]
        assert sorted(p.user for p in positions) == sorted(population.users[spoke.name])
        symbol_of = {rid: sym for sym, rid in spoke_dep.reserves.items()}
        for p in positions:
            planned = plans[(spoke.name, p.user)]
            values, factors, total_debt = [], [], 0
            for u in p.reserves:
                sym = symbol_of[u.reserve_id]
                per_share, index = HUB_STATE[sym]
                shares_total = HUB_SIZE_TOKENS * 10 ** DECIMALS[sym]
                shares = supplied_shares(planned.supplied.get(sym, 0), int(shares_total * per_share), shares_total)
                # independent of the double: the hub's share math on the planned amounts
                assert u.supplied_assets == v4.shares_to_assets_down(shares, int(shares_total * per_share), shares_total)
                assert u.total_debt == v4.drawn_debt(drawn_shares(planned.borrowed.get(sym, 0), index), index)
                assert u.using_as_collateral == (sym in planned.supplied)
                r = spoke.reserves[u.reserve_id]
                if u.using_as_collateral and u.supplied_assets > 0:
                    values.append(v4.collateral_value(u.supplied_assets, r.price, r.decimals))
                    factors.append(r.collateral_factor_bps)
                if u.total_debt:
                    total_debt += v4.debt_value(u.total_debt, 0, r.price, r.decimals)
            assert p.health_factor_wad == v4.health_factor_wad(values, factors, total_debt)
            assert (p.total_collateral_value, p.total_debt_value) == (sum(values), total_debt)
        assert reader.hub == dep.hub


def test_reader_refuses_a_contract_that_is_not_a_spoke(v4_chain):
    rpc, _, _, tokens, dep, _ = v4_chain
    with HttpTransport(rpc.url) as transport:
        reader = AaveV4Reader(transport, dep.hub)
        with pytest.raises(ReaderError, match="not an Aave V4 spoke"):
            reader.read_spoke(pin_block(transport, "latest"), SpokeRef("usdc", tokens["USDC"]))


# ------------------------------------------------------------------------ exact liquidations


def _write_position(rpc, deployer, dep, spoke_name, user, supplied, borrowed):
    s = dep.spoke(spoke_name)
    txs = []
    for sym in sorted(set(supplied) | set(borrowed)):
        per_share, index = HUB_STATE[sym]
        added_assets, added_shares = _hub_totals(rpc, dep.hub, dep.assets[sym])
        txs.append(Tx(deployer, s.spoke, encode_call("setUserPosition(address,uint256,uint120,uint120,bool)", user,
                                                     s.reserves[sym], supplied_shares(supplied.get(sym, 0), added_assets,
                                                                                      added_shares),
                                                     drawn_shares(borrowed.get(sym, 0), index), sym in supplied), _GAS))
    rpc.send_bulk(txs, what="Aave V4 test position")


DUST_USER = "0x00000000000000000000000000000000000d0057"
DEFICIT_USER = "0x00000000000000000000000000000000000def1c"
TWO_COLL_USER = "0x0000000000000000000000000000000000002c01"
LIDO_USER = "0x000000000000000000000000000000000000011d"


def _extra_positions(rpc, deployer, dep):
    """Positions that a 30% ETH drop puts into the special cases: 1,500 USDC on 1.1 WETH (the debt to
    target would leave < $1,000: the whole debt goes); 11,500 USDC on 8 WETH (HF 0.83 after a 25% drop:
    all the collateral, the rest deficit); WETH + WBTC collateral (the first seizure empties WETH but
    WBTC is left: no deficit); on the lido spoke 10.63 WETH on 10 wstETH (HF 1.05: a 15% wstETH depeg
    liquidates it)."""
    _write_position(rpc, deployer, dep, "main", DUST_USER, {"WETH": 11 * 10**17}, {"USDC": 1_500 * 10**6})
    _write_position(rpc, deployer, dep, "main", DEFICIT_USER, {"WETH": 8 * 10**18}, {"USDC": 11_500 * 10**6})
    _write_position(rpc, deployer, dep, "main", TWO_COLL_USER, {"WETH": 5 * 10**18, "WBTC": 2 * 10**6},
                    {"USDC": 8_300 * 10**6})
    _write_position(rpc, deployer, dep, "lido", LIDO_USER, {"wstETH": 10 * 10**18}, {"WETH": 10_630 * 10**15})


def _liquidate_and_compare(rpc, liquidator, dep, spoke_dep, user) -> v4.SpokeLiquidation | None:
    """Liquidate ``user`` once (largest debt, largest collateral by value, unbounded debtToCover) and
    compare the double's amounts and state to risk.aave_v4's prediction; None if not liquidatable."""
    states = _reserve_states(rpc, dep, spoke_dep, user)
    cvalues = [v4.collateral_value(s.supplied_assets, s.price, s.decimals)
               if s.using_as_collateral and s.collateral_factor_bps > 0 and s.supplied_shares > 0 else -1 for s in states]
    dvalues = [v4.debt_value(s.debt, 0, s.price, s.decimals) if s.debt else -1 for s in states]
    c, d = int(np.argmax(cvalues)), int(np.argmax(dvalues))
    if cvalues[c] < 0 or dvalues[d] < 0:
        return None
    drawn_before = rpc.call_decode(spoke_dep.spoke, "getUserPosition(uint256,address)", (d, user),
                                   ("(uint120,uint120,int200,uint120,uint24)",))[0][0]
    try:
        expected = v4.spoke_liquidation_call(_config(spoke_dep.name), states, c, d, MAX)
    except v4.SpokeRevert as exc:
        assert exc.reason == "HealthFactorNotBelowThreshold"
        hf = rpc.call_decode(spoke_dep.spoke, "getUserAccountData(address)", (user,),
                             ("(uint256,uint256,uint256,uint256,uint256,uint256,uint256)",))[0][2]
        assert hf >= 10**18
        return None
    rpc.transact(Tx(liquidator, spoke_dep.spoke, encode_call("liquidationCall(uint256,uint256,address,uint256,bool)",
                                                             c, d, user, MAX, False), _GAS), what="liquidationCall")
    got = rpc.call_decode(spoke_dep.spoke, "lastLiquidation()", (),
                          ("uint256", "uint256", "uint256", "uint256", "uint256", "bool"))
    a = expected.amounts
    index = HUB_STATE[_symbol(spoke_dep, d)][1]
    assert got == (a.debt_to_liquidate, a.collateral_to_liquidate, a.collateral_to_liquidator,
                   expected.collateral_shares_burned, v4.drawn_shares_down(a.debt_to_liquidate, index), expected.deficit)
    after = _reserve_states(rpc, dep, spoke_dep, user)
    assert after[c].supplied_shares == states[c].supplied_shares - expected.collateral_shares_burned
    if expected.deficit:
        assert all(s.debt == 0 for s in after)
    else:
        left = drawn_before - v4.drawn_shares_down(a.debt_to_liquidate, index)
        assert after[d].debt == v4.drawn_debt(left, index) and (left == 0) == expected.debt_emptied
    return expected


@pytest.mark.parametrize("shocks", [
    {"WETH": 0.90, "wstETH": 0.90},
    {"WETH": 0.75, "wstETH": 0.78, "WBTC": 0.85},
    {"WETH": 0.62, "wstETH": 0.60, "WBTC": 0.70},
    {"wstETH": 0.85},  # a wstETH depeg: the ETH-correlated lido spoke liquidates
])
def test_exact_liquidations_equal_the_double_to_the_wei_on_both_spokes(chain, shocks):
    """Every position the shock puts below HF 1, on both spokes, liquidated until healthy (bounded):
    risk.aave_v4 predicts each call's debt repaid, collateral seized (with and without the fee), the
    shares burned and the deficit exactly."""
    rpc, deployer, liquidator, _, dep, population = chain
    _extra_positions(rpc, deployer, dep)
    for sym, factor in shocks.items():
        set_aave_v4_price(rpc, deployer, dep, sym, PRICES[sym] * factor)
    calls, kinds = 0, set()
    for spoke_dep in dep.spokes:
        users = list(population.users[spoke_dep.name]) + ([DUST_USER, DEFICIT_USER, TWO_COLL_USER]
                                                          if spoke_dep.name == "main" else [LIDO_USER])
        for user in users:
            for _ in range(6):
                out = _liquidate_and_compare(rpc, liquidator, dep, spoke_dep, user)
                if out is None:
                    break
                calls += 1
                kinds.add(spoke_dep.name)
                if out.deficit:
                    kinds.add("deficit")
                if out.collateral_emptied and not out.deficit:
                    kinds.add("emptied, no deficit")
                if out.debt_emptied and not out.collateral_emptied:
                    kinds.add("debt closed")
    assert calls >= 3
    if "WETH" not in shocks:
        assert "lido" in kinds, kinds
    elif shocks["WETH"] <= 0.75:
        assert {"main", "deficit", "debt closed", "emptied, no deficit"} <= kinds, kinds


def test_dust_rule_closes_the_whole_debt_on_chain(chain):
    """1,500 USDC on 1.1 WETH at $1,650 (HF 0.968): the debt to target (about 555 USDC) would leave
    less than $1,000, so the double repays all 1,500 USDC, as risk.aave_v4 says."""
    rpc, deployer, liquidator, _, dep, _ = chain
    _extra_positions(rpc, deployer, dep)
    set_aave_v4_price(rpc, deployer, dep, "WETH", 1_650.0)
    out = _liquidate_and_compare(rpc, liquidator, dep, dep.spoke("main"), DUST_USER)
    assert out is not None and out.debt_emptied and out.amounts.debt_to_liquidate == 1_500 * 10**6
    states = _reserve_states(rpc, dep, dep.spoke("main"), DUST_USER)
    to_target = v4.debt_to_target(total_debt_value=v4.debt_value(1_500 * 10**6, 0, 10**8, 6), health_factor=out.health_factor,
                                  target_health_factor=105 * 10**16,
                                  liquidation_bonus_bps_=v4.liquidation_bonus_bps(
                                      health_factor=out.health_factor, health_factor_for_max_bonus=95 * 10**16,
                                      liquidation_bonus_factor_bps=2_000, max_liquidation_bonus_bps=10_500),
                                  collateral_factor_bps=8_000, debt_price=10**8, debt_decimals=6)
    assert 0 < to_target < 1_500 * 10**6 and 1_500 * 10**6 - to_target < 1_000 * 10**6  # the rule, not the target, closed it
    assert states[0].supplied_assets > 0  # collateral left over: allowed, the debt is closed


def test_a_paused_reserve_reverts_as_the_exact_model_says(chain):
    rpc, deployer, liquidator, _, dep, _ = chain
    _extra_positions(rpc, deployer, dep)
    set_aave_v4_price(rpc, deployer, dep, "WETH", 1_000.0)
    s = dep.spoke("main")
    rpc.transact(Tx(deployer, s.spoke, encode_call("setReservePaused(uint256,bool)", s.reserves["WETH"], True), _GAS))
    from chain.devnet.rpc import DevnetRpcError

    with pytest.raises(DevnetRpcError, match="reverted"):
        rpc.transact(Tx(liquidator, s.spoke, encode_call("liquidationCall(uint256,uint256,address,uint256,bool)",
                                                         s.reserves["WETH"], s.reserves["USDC"], DEFICIT_USER, MAX, False),
                        _GAS), what="liquidationCall on a paused reserve")


# --------------------------------------------------------------------------------- scan + engine


def test_scanned_spokes_go_through_the_engines_bands_cascade_and_monte_carlo(v4_chain):
    """The scan reads both spokes as markets of rule aave_v4 with their liquidation configs as rule
    parameters; the float kernel on the book liquidates exactly the positions the exact math puts
    below HF 1 at a 25% drop; bands, the cascade and Monte Carlo run on it."""
    from chain.scan import scan_snapshot
    from risk.bands import liquidation_bands, liquidation_map
    from risk.book import PositionBook
    from risk.cascade import cascade_grid
    from risk.montecarlo import simulate_liquidations

    rpc, _, _, _, dep, population = v4_chain
    with HttpTransport(rpc.url) as transport:
        snap = scan_snapshot(transport, sources=[_source(dep)])
    assert [m.id for m in snap.markets] == ["aave-v4-devnet:main", "aave-v4-devnet:lido"]
    assert {m.venue for m in snap.markets} == {"aave_v4"}
    assert snap.markets[1].rule_params == {"target_health_factor_wad": 102 * 10**16,
                                           "health_factor_for_max_bonus_wad": 97 * 10**16,
                                           "liquidation_bonus_factor_bps": 5_000}
    assert len(snap.positions) == sum(len(u) for u in population.users.values())
    book = PositionBook.from_snapshot(snap)
    drawdown = 0.25
    eth_like = np.isin(book.symbols, ["WETH", "wstETH"])
    shocked = book.prices_usd * np.where(eth_like, 1 - drawdown, 1.0)
    expected = int(np.sum(book.health_factor(shocked) < 1.0))
    assert expected > 0
    table = cascade_grid(book, driver="WETH", betas={"wstETH": 1.0}, drawdowns=[drawdown])
    assert int(table.positions_hit[0]) == expected
    mc = simulate_liquidations(book, np.stack([book.prices_usd, shocked])[None, :, :], compare_exogenous=False)
    assert int(mc.endogenous.positions_hit[0]) == expected
    assert float(mc.endogenous.liquidated_debt_usd[0]) == pytest.approx(float(table.liquidated_debt_usd[0]), rel=1e-9)
    lmap = liquidation_map(book, "WETH")[0]
    column = lmap.venues.index("aave_v4")
    assert lmap.positions[:, column].sum() > 0 and lmap.positions.sum() == lmap.positions[:, column].sum()
    liquidation_bands(book, "WETH")  # runs on the V4 book (the devnet's 50 positions form no dense band)


def test_both_getreserve_layouts_decode_and_cannot_be_confused():
    """getReserve of Spoke.sol @8e6ea169 (9 words, the double's) and of later aave-v4 (ISpoke.sol
    @00564eab: 7 words, booleans packed in flags) decode by name with their own ABI; the later layout
    does not decode as the earlier one (so the reader's first attempt fails and it falls back)."""
    from eth_abi import encode

    from abis import abi_function
    from chain.abi_reads import named

    a, h = "0x" + "11" * 20, "0x" + "22" * 20
    later = encode(["(address,address,uint16,uint8,uint24,uint24,uint8)"], [(a, h, 3, 18, 2, 500, 5)])
    with pytest.raises(Exception):
        abi_function("AaveV4Spoke", "getReserve").decode(later)
    got = named("AaveV4SpokeFlags", "getReserve", abi_function("AaveV4SpokeFlags", "getReserve").decode(later))
    assert (got["assetId"], got["decimals"], got["dynamicConfigKey"], got["collateralRisk"]) == (3, 18, 2, 500)
    earlier = encode(["(address,address,uint16,uint8,uint24,bool,bool,bool,uint24)"],
                     [(a, h, 3, 18, 2, False, True, True, 500)])
    old = named("AaveV4Spoke", "getReserve", abi_function("AaveV4Spoke", "getReserve").decode(earlier))
    assert (old["frozen"], old["borrowable"], old["collateralRisk"]) == (True, True, 500)
