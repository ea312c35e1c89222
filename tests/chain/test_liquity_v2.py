"""Liquity v2 (BOLD) against the devnet's Liquity v2 TEST DOUBLE (chain/contracts/LiquityV2Double.sol).

No genuine Liquity v2 is installable from a package registry: these tests run a test double of its
read interface and liquidation / redemption math (sources cited in the .sol file: liquity/bold
TroveManager.sol @00aa9df025c8677e6f9a24695185dacf3483f0d0, Constants.sol @043b7464ed1d) on a real
anvil, and check the reader against the double's own getters and the exact Python math of
``risk.liquity_v2`` against liquidations, redistributions, shutdowns and redemptions executed on it,
to the wei.
"""

from __future__ import annotations

import numpy as np
import pytest

from chain.blocks import pin_block
from chain.devnet.deploy_liquity import deploy_liquity, populate_liquity, set_liquity_price
from chain.devnet.rpc import DevnetRpcError, Tx, encode_call
from chain.aave_v3 import ReaderError
from chain.liquity_v2 import LiquitySource, LiquityV2Reader, read_liquity, redemption_order
from chain.transport import HttpTransport
from risk import liquity_v2 as lq
from tests.chain.double_chain import double_chain, reverted

PRICES = {"WETH": 2_000.0, "wstETH": 2_400.0}
N_TROVES = 60
SEED = 5
E18 = 10**18
_GAS = 12_000_000


@pytest.fixture(scope="module")
def liquity_chain():
    with double_chain({symbol: 18 for symbol in PRICES}, chain_id=8453) as dc:
        rpc, deployer, tokens = dc.rpc, dc.deployer, dc.tokens
        liquity = deploy_liquity(rpc, deployer, tokens, PRICES)
        population = populate_liquity(rpc, deployer, liquity, PRICES, N_TROVES, SEED)
        yield rpc, deployer, liquity, population


@pytest.fixture
def chain(liquity_chain):
    with reverted(liquity_chain[0]):
        yield liquity_chain


def _u(rpc, to, sig, *args, block="latest"):
    return rpc.call_decode(to, sig, args, ("uint256",), block)[0]


def _full_state(rpc, b, ids, block="latest") -> lq.BranchState:
    """The branch state from the double's getters, including its double-only ones (internal on mainnet)."""
    tm = b.trove_manager
    troves = []
    for tid in ids:
        t = rpc.call_decode(tm, "Troves(uint256)", (tid,), ("uint256", "uint256", "uint256", "uint8", "uint64",
                                                            "uint64", "uint64", "uint256", "address", "uint256"), block)
        s = rpc.call_decode(tm, "rewardSnapshots(uint256)", (tid,), ("uint256", "uint256"), block)
        troves.append(lq.Trove(tid, t[0], t[1], t[2], t[3], t[5], t[7], s[0], s[1]))
    g = {n: _u(rpc, tm, f"{n}()", block=block) for n in (
        "L_coll", "L_boldDebt", "lastCollError_Redistribution", "lastBoldDebtError_Redistribution", "totalStakes",
        "totalStakesSnapshot", "totalCollateralSnapshot", "activePoolColl", "defaultPoolColl", "shutdownTime")}
    return lq.BranchState(tuple(troves), g["L_coll"], g["L_boldDebt"], g["lastCollError_Redistribution"],
                          g["lastBoldDebtError_Redistribution"], g["totalStakes"], g["totalStakesSnapshot"],
                          g["totalCollateralSnapshot"], g["activePoolColl"], g["defaultPoolColl"],
                          _u(rpc, b.stability_pool, "getTotalBoldDeposits()", block=block), g["shutdownTime"])


def _latest_on_chain(rpc, tm, tid):
    return rpc.call_decode(tm, "getLatestTroveData(uint256)", (tid,), ("(uint256,uint256,uint256,uint256,uint256,"
                                                                       "uint256,uint256,uint256,uint256,uint256)",))[0]


def _block_ts(rpc) -> int:
    return int(rpc.request("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)


def _ids(rpc, b):
    return [_u(rpc, b.trove_manager, "getTroveFromTroveIdsArray(uint256)", i)
            for i in range(_u(rpc, b.trove_manager, "getTroveIdsCount()"))]


def test_reader_discovers_every_trove_and_equals_the_doubles_getters(liquity_chain):
    rpc, _, liquity, population = liquity_chain
    with HttpTransport(rpc.url) as transport:
        pinned = pin_block(transport, "latest")
        read = read_liquity(transport, pinned, LiquitySource(liquity.bold, tuple(b.addresses_registry
                                                                                  for b in liquity.branches)))
    assert [b.coll_symbol for b in liquity.branches] == ["WETH", "wstETH", "rETH"]
    for (branch, troves), dep in zip(read.branches, liquity.branches, strict=True):
        assert branch.trove_manager == dep.trove_manager and branch.coll_token == dep.coll_token
        assert branch.params == lq.BRANCH_PARAMS_BY_SYMBOL[dep.coll_symbol]
        assert {t.trove_id for t in troves} == set(population.troves[dep.coll_symbol]) and troves
        assert branch.sp_deposits_wei == population.sp_deposits[dep.coll_symbol]
        assert branch.price_wad == _u(rpc, dep.price_feed, "lastGoodPrice()", block=pinned.number)
        assert branch.branch_debt_wei == _u(rpc, dep.trove_manager, "getEntireBranchDebt()", block=pinned.number)
        for t in troves:
            on_chain = rpc.call_decode(dep.trove_manager, "getLatestTroveData(uint256)", (t.trove_id,),
                                       ("(uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,"
                                        "uint256)",), pinned.number)[0]
            assert (t.entire_debt_wei, t.entire_coll_wei, t.accrued_interest) == (on_chain[0], on_chain[1], on_chain[4])
            assert t.accrued_interest > 0  # 30 days passed since the troves opened
            stored = rpc.call_decode(dep.trove_manager, "Troves(uint256)", (t.trove_id,), (
                "uint256", "uint256", "uint256", "uint8", "uint64", "uint64", "uint64", "uint256", "address",
                "uint256"), pinned.number)
            assert (t.debt_wei, t.coll_wei, t.stake, t.status, t.annual_interest_rate_wad) == (
                stored[0], stored[1], stored[2], stored[3], stored[7])
        # Redemption order rebuilt from the nodes == walking the list on chain from its tail.
        walk, cur = [], _u(rpc, dep.sorted_troves, "getLast()", block=pinned.number)
        while cur:
            walk.append(cur)
            cur = _u(rpc, dep.sorted_troves, "getPrev(uint256)", cur, block=pinned.number)
        assert redemption_order(troves) == walk
        rates = {t.trove_id: t.annual_interest_rate_wad for t in troves}
        assert [rates[i] for i in walk] == sorted(rates[i] for i in walk)  # lowest rate first


def test_reader_refuses_a_contract_that_is_not_a_registry(liquity_chain):
    rpc, _, liquity, _ = liquity_chain
    with HttpTransport(rpc.url) as transport:
        pinned = pin_block(transport, "latest")
        with pytest.raises(ReaderError, match="not a Liquity v2 AddressesRegistry"):
            LiquityV2Reader(transport, [liquity.branches[0].stability_pool]).read_branches(pinned)
        with pytest.raises(ReaderError, match="no contract code"):
            LiquityV2Reader(transport, ["0x" + "12" * 20]).read_branches(pinned)


def _liquidate_on_chain(rpc, deployer, b, ids, ts):
    rpc.request("evm_setNextBlockTimestamp", [hex(ts)])
    rpc.transact(Tx(deployer, b.trove_manager, encode_call("batchLiquidateTroves(uint256[])", list(ids)), _GAS),
                 what="batchLiquidateTroves")


@pytest.mark.parametrize("symbol,shock", [("WETH", 0.80), ("WETH", 0.70), ("wstETH", 0.75)])
def test_exact_liquidation_equals_the_double_to_the_wei_sp_first_then_redistribution(chain, symbol, shock):
    rpc, deployer, liquity, _ = chain
    b = liquity.branch(symbol)
    params = lq.BRANCH_PARAMS_BY_SYMBOL[symbol]
    price_usd = PRICES[symbol] * shock
    set_liquity_price(rpc, deployer, liquity, symbol, price_usd)
    price = _u(rpc, b.price_feed, "lastGoodPrice()")
    total_redistributed = 0
    for round_ in range(6):  # redistribution may push more troves under MCR: liquidate again
        ids = _ids(rpc, b)
        state = _full_state(rpc, b, ids)
        ts = _block_ts(rpc) + 60
        under = sorted((lq.current_icr(state, t, price, ts), t.trove_id) for t in state.troves)
        under = [tid for icr, tid in under if icr < params.mcr_wad]
        if not under:
            break
        expected = lq.batch_liquidate(state, under, price, ts, params)
        _liquidate_on_chain(rpc, deployer, b, under, ts)
        after = _full_state(rpc, b, _ids(rpc, b))
        for field in ("l_coll", "l_bold_debt", "last_coll_error", "last_debt_error", "total_stakes",
                      "total_stakes_snapshot", "total_collateral_snapshot", "active_coll", "default_coll",
                      "sp_deposits"):
            assert getattr(after, field) == getattr(expected.state, field), (round_, field)
        assert {t.trove_id for t in after.troves} == {t.trove_id for t in expected.state.troves}
        assert _u(rpc, b.trove_manager, "collSurplusBalance()") >= expected.coll_surplus
        for t in after.troves:  # every survivor's latest debt/coll, with its redistribution gains
            mine = lq.latest_trove(expected.state, expected.state.trove(t.trove_id), ts)
            theirs = _latest_on_chain(rpc, b.trove_manager, t.trove_id)
            assert (mine.entire_debt, mine.entire_coll) == (theirs[0], theirs[1])
        total_redistributed += expected.debt_to_redistribute
        if round_ == 0:
            assert expected.debt_to_offset > 0  # the SP offsets first
    assert round_ > 0
    if shock <= 0.75:
        assert total_redistributed > 0 and _u(rpc, b.stability_pool, "getTotalBoldDeposits()") <= E18


def test_float_branch_model_matches_the_chain_within_1e9(chain):
    rpc, deployer, liquity, _ = chain
    b = liquity.branch("WETH")
    params = lq.WETH_BRANCH
    ids = _ids(rpc, b)
    state = _full_state(rpc, b, ids)
    set_liquity_price(rpc, deployer, liquity, "WETH", 1_400.0)
    price = _u(rpc, b.price_feed, "lastGoodPrice()")
    ts = _block_ts(rpc) + 60
    lts = [lq.latest_trove(state, t, ts) for t in state.troves]
    out = lq.liquidate_branch(np.array([x.entire_coll / E18 for x in lts]), np.array([x.entire_debt / E18 for x in lts]),
                              np.array([t.stake / E18 for t in state.troves]), price / E18, state.sp_deposits / E18,
                              lq.BranchFloatParams.from_wad(params))
    offset = 0
    for _ in range(8):
        cur = _full_state(rpc, b, _ids(rpc, b))
        under = sorted((lq.current_icr(cur, t, price, ts), t.trove_id) for t in cur.troves)
        under = [tid for icr, tid in under if icr < params.mcr_wad]
        if not under:
            break
        sp_before = cur.sp_deposits
        _liquidate_on_chain(rpc, deployer, b, under, ts)  # same timestamp: no interest in between
        sp_after = _u(rpc, b.stability_pool, "getTotalBoldDeposits()")
        offset += sp_before - sp_after
    assert out.rounds >= 1 and out.debt_redistributed > 0
    assert out.debt_offset == pytest.approx(offset / E18, rel=1e-9)
    assert out.sp_left == pytest.approx(_u(rpc, b.stability_pool, "getTotalBoldDeposits()") / E18, rel=1e-9)
    left = _ids(rpc, b)
    assert {state.troves[i].trove_id for i in np.flatnonzero(~out.liquidated)} == set(left)
    for i, t in enumerate(state.troves):
        if t.trove_id in left:
            on_chain = _latest_on_chain(rpc, b.trove_manager, t.trove_id)
            assert out.debt[i] == pytest.approx(on_chain[0] / E18, rel=1e-9)
            assert out.coll[i] == pytest.approx(on_chain[1] / E18, rel=1e-9)


@pytest.mark.parametrize("shock,shuts", [(0.9, False), (0.55, True)])
def test_shutdown_exactly_when_tcr_is_below_scr(chain, shock, shuts):
    rpc, deployer, liquity, _ = chain
    b = liquity.branch("wstETH")
    set_liquity_price(rpc, deployer, liquity, "wstETH", PRICES["wstETH"] * shock)
    price = _u(rpc, b.price_feed, "lastGoodPrice()")
    ts = _block_ts(rpc) + 12
    rpc.request("evm_setNextBlockTimestamp", [hex(ts)])
    rpc.request("evm_mine", [])
    coll = _u(rpc, b.trove_manager, "getEntireBranchColl()")
    debt = _u(rpc, b.trove_manager, "getEntireBranchDebt()")
    expect = lq.can_shut_down(coll, debt, price, lq.SETH_BRANCH)
    assert expect is shuts
    rpc.request("evm_setNextBlockTimestamp", [hex(ts)])  # the same second: the branch debt does not move
    if expect:
        rpc.transact(Tx(deployer, b.trove_manager, encode_call("shutdown()"), _GAS), what="shutdown")
        assert _u(rpc, b.trove_manager, "shutdownTime()") == ts
    else:
        with pytest.raises(DevnetRpcError, match="reverted"):
            rpc.transact(Tx(deployer, b.trove_manager, encode_call("shutdown()"), _GAS), what="shutdown")


def test_exact_redemption_equals_the_double_lowest_rate_first(chain):
    rpc, deployer, liquity, _ = chain
    b = liquity.branch("WETH")
    with HttpTransport(rpc.url) as transport:
        pinned = pin_block(transport, "latest")
        reader = LiquityV2Reader(transport, [b.addresses_registry])
        (branch,) = reader.read_branches(pinned)
        troves = reader.read_troves(pinned, branch, reader.discover(pinned, branch))
    order = redemption_order(troves)
    state = _full_state(rpc, b, _ids(rpc, b))
    ts = _block_ts(rpc) + 60
    lts = {t.trove_id: lq.latest_trove(state, t, ts) for t in state.troves}
    amount = lts[order[0]].entire_debt + lts[order[1]].entire_debt + 1_234 * E18  # two troves and part of a third
    price, rate = 2_000 * E18, 5 * 10**15
    steps = lq.redeem(state, order, amount, price, rate, ts)
    rpc.request("evm_setNextBlockTimestamp", [hex(ts)])
    rpc.transact(Tx(deployer, b.trove_manager, encode_call("redeemCollateral(uint256,uint256,uint256,uint256)",
                                                           amount, price, rate, 0), _GAS), what="redeem")
    assert [s.trove_id for s in steps] == order[:3]
    assert [s.zombie for s in steps] == [True, True, False]
    for s in steps:
        stored = rpc.call_decode(b.trove_manager, "Troves(uint256)", (s.trove_id,), (
            "uint256", "uint256", "uint256", "uint8"))
        assert stored[0] == s.new_debt
        assert stored[1] == lts[s.trove_id].entire_coll - s.coll_lot
        assert stored[3] == (lq.STATUS_ZOMBIE if s.zombie else lq.STATUS_ACTIVE)
    assert sum(s.bold_lot for s in steps) == amount


@pytest.mark.parametrize("drawdown", [0.1, 0.25])
def test_scanned_branches_go_through_the_engines_bands_cascade_and_monte_carlo(liquity_chain, drawdown):
    """The scan's Liquity markets in the engine: the cascade (no impact) and a Monte Carlo path that drops
    by ``drawdown`` liquidate exactly the troves the exact math puts under MCR at that price, for their
    entire debt (the SP-offset kernel), and the report's branch model runs on the snapshot's branch state."""
    from chain.scan import scan_snapshot
    from liqrisk.venues.liquity_v2 import liquity_docs
    from risk.bands import liquidation_bands
    from risk.book import PositionBook
    from risk.cascade import cascade_grid
    from risk.montecarlo import simulate_liquidations

    rpc, _, liquity, _ = liquity_chain
    source = LiquitySource(liquity.bold, tuple(b.addresses_registry for b in liquity.branches), name="Liquity double")
    with HttpTransport(rpc.url) as transport:
        snap = scan_snapshot(transport, sources=[source])
    assert {m.venue for m in snap.markets} == {"liquity_v2"} and len(snap.venue_state["liquity_v2"].branches) == 3
    book = PositionBook.from_snapshot(snap)
    betas = {"wstETH": 1.0, "rETH": 1.0}
    ts = snap.block_timestamp
    expected_hit, expected_debt = 0, 0
    for b, dep in zip(snap.venue_state["liquity_v2"].branches, liquity.branches, strict=True):
        state = _full_state(rpc, dep, _ids(rpc, dep), block=snap.block_number)
        shocked = b.price_wad * int(round((1 - drawdown) * 1e6)) // 10**6
        for t in state.troves:
            if lq.current_icr(state, t, shocked, ts) < b.mcr_wad:
                expected_hit += 1
                expected_debt += lq.latest_trove(state, t, ts).entire_debt
    assert expected_hit > 0
    table = cascade_grid(book, driver="WETH", betas=betas, drawdowns=[drawdown])
    assert int(table.positions_hit[0]) == expected_hit
    # The whole debt of each: repaid by the SP, or (below 100% ICR) the SP depositors' loss, counted as bad debt.
    assert float(table.liquidated_debt_usd[0] + table.bad_debt_usd[0]) == pytest.approx(expected_debt / E18, rel=1e-9)
    spot = book.prices_usd
    shocked_prices = spot * np.where(np.isin(book.symbols, ["WETH", "wstETH", "rETH"]), 1 - drawdown, 1.0)
    paths = np.stack([spot, shocked_prices])[None, :, :]
    mc = simulate_liquidations(book, paths, compare_exogenous=False)
    assert int(mc.endogenous.positions_hit[0]) == expected_hit
    assert float(mc.endogenous.liquidated_debt_usd[0] + mc.endogenous.bad_debt_usd[0]) == pytest.approx(
        expected_debt / E18, rel=1e-9)
    assert float(mc.endogenous.bad_debt_usd[0]) == pytest.approx(float(table.bad_debt_usd[0]), rel=1e-9, abs=1e-6)
    assert "liquity_v2" in {v for band in liquidation_bands(book, "WETH").bands for v, _ in band.by_venue}
    docs = liquity_docs(snap, "WETH", betas, [drawdown])
    assert [d.collateral for d in docs] == ["WETH", "wstETH", "rETH"]
    assert sum(d.stress[0].troves_liquidated for d in docs) >= expected_hit  # redistribution can add rounds
    assert sum(d.redemption_share for d in docs) == pytest.approx(1.0)
