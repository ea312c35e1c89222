"""The Aave V4 spoke rule's float kernel (risk.aave_v4.liquidate_spoke_rows, registered as
``aave_v4``) against its plain-loop reference (tests/risk/reference_aave_v4.py) with random spoke
parameters, against the exact integer math of risk.aave_v4 (from aave/aave-v4 LiquidationLogic.sol
@8e6ea169), and the per-market rule parameters from a Snapshot through the book to the kernel."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risk import aave_v4 as v4
from risk.book import VENUE_CODE, PositionBook
from risk.liquidation import liquidate_rows
from risk.rules import rule
from risk.snapshot import Asset, Market, Position, Reserve, Snapshot
from tests.risk.reference_aave_v4 import liquidate_position

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
PRICES = [2_000.0, 60_000.0, 1.0]
CODE = VENUE_CODE["aave_v4"]

amount = st.one_of(st.just(0.0), st.floats(1e-3, 1e3))
row = st.tuples(
    st.lists(amount, min_size=3, max_size=3),
    st.lists(st.one_of(st.just(0.0), st.floats(1.0, 5e6)), min_size=3, max_size=3),  # debt USD
    st.lists(st.floats(0.3, 0.9), min_size=3, max_size=3),   # collateral factor
    st.lists(st.floats(1.0, 1.1), min_size=3, max_size=3),   # max bonus
    st.lists(st.floats(0.0, 0.5), min_size=3, max_size=3),   # fee
    st.tuples(st.floats(1.0, 1.3), st.floats(0.5, 0.99), st.floats(0.0, 1.0)),  # target, hf max, factor
)


def test_the_registered_parameters_are_the_modules():
    assert rule("aave_v4").market_params == v4.SPOKE_PARAMS
    assert rule("aave_v4").reference == "tests.risk.reference_aave_v4:liquidate_position"


@SETTINGS
@given(rows=st.lists(row, min_size=1, max_size=10))
def test_kernel_equals_the_plain_loop_with_random_spoke_parameters(rows):
    coll = np.array([r[0] for r in rows])
    debt = np.array([[usd / p for usd, p in zip(r[1], PRICES)] for r in rows])
    lt = np.array([r[2] for r in rows])
    lt[coll == 0] = 0.0
    bonus, fee = np.array([r[3] for r in rows]), np.array([r[4] for r in rows])
    params = np.array([r[5] for r in rows])
    c, d = coll.copy(), debt.copy()
    out = liquidate_rows(c, d, lt, bonus, fee, np.full(len(rows), CODE, dtype=np.int8), np.array(PRICES),
                         rule_params=params)
    for i in range(len(rows)):
        rc, rd = coll[i].tolist(), debt[i].tolist()
        seized, fees, repaid, bad, hit = liquidate_position(rc, rd, lt[i].tolist(), bonus[i].tolist(), fee[i].tolist(),
                                                            PRICES, tuple(params[i]))
        assert bool(out.hit[i]) == hit
        assert out.bad_debt_usd[i] == pytest.approx(bad, rel=1e-9, abs=1e-6)
        for k in range(3):
            assert out.seized_tokens[i, k] == pytest.approx(seized[k], rel=1e-9, abs=1e-9)
            assert out.protocol_fee_tokens[i, k] == pytest.approx(fees[k], rel=1e-9, abs=1e-9)
            assert out.repaid_tokens[i, k] == pytest.approx(repaid[k], rel=1e-9, abs=1e-9)
            assert c[i, k] == pytest.approx(rc[k], rel=1e-9, abs=1e-9)
            assert d[i, k] == pytest.approx(rd[k], rel=1e-9, abs=1e-9)


def test_dynamic_bonus_equals_the_exact_bonus():
    hfs = np.linspace(0.5, 0.9999, 301)
    got = v4.dynamic_bonus(hfs, np.full(hfs.size, 1.1), np.full(hfs.size, 0.95), np.full(hfs.size, 0.2))
    for hf, bonus in zip(hfs, got):
        exact = v4.liquidation_bonus_bps(health_factor=int(hf * 1e18), health_factor_for_max_bonus=95 * 10**16,
                                         liquidation_bonus_factor_bps=2_000, max_liquidation_bonus_bps=11_000)
        assert bonus == pytest.approx(exact / 1e4, abs=2e-4)  # the exact bonus is whole bps


CONFIG = v4.SpokeLiquidationConfig(target_health_factor=105 * 10**16, health_factor_for_max_bonus=95 * 10**16,
                                   liquidation_bonus_factor_bps=2_000)


@pytest.mark.parametrize("coll_eth, debt_usdc, eth_usd", [
    (10.0, 16_500.0, 2_000.0),    # HF 0.970: partial, to the target HF
    (1.8, 1_500.0, 1_000.0),      # less than $1,000 of debt would be left: the whole debt
    (10.0, 12_000.0, 1_000.0),    # HF 0.667: all the collateral, the rest is deficit
])
def test_one_pass_of_the_kernel_equals_the_exact_liquidation(coll_eth, debt_usdc, eth_usd):
    """One collateral (18 decimals), one debt (6 decimals at $1), CF 80%, max bonus 5%, fee 10%:
    the float kernel's first liquidation equals the integer one within 3e-4 relative: the exact bonus
    is floored to whole bps (calculateLiquidationBonus' mulDivDown), the float one is continuous."""
    coll_raw, debt_raw = int(coll_eth * 10**18), int(debt_usdc * 10**6)
    price = int(eth_usd * 10**8)
    cv = v4.collateral_value(coll_raw, price, 18)
    dv = v4.debt_value(debt_raw, 0, 10**8, 6)
    hf = v4.health_factor_wad([cv], [8_000], dv)
    exact = v4.liquidation_amounts(CONFIG, debt_reserve_balance=debt_raw, collateral_reserve_balance=coll_raw,
                                   debt_to_cover=2**255, total_debt_value=dv, health_factor=hf,
                                   max_liquidation_bonus_bps=10_500, collateral_factor_bps=8_000, liquidation_fee_bps=1_000,
                                   debt_price=10**8, debt_decimals=6, collateral_price=price, collateral_decimals=18)
    coll, debt = np.array([[coll_eth, 0.0]]), np.array([[0.0, debt_usdc]])
    seized, fees, repaid, bad, hit = v4.liquidate_spoke_rows(
        coll, debt, np.array([[0.8, 0.0]]), np.array([[1.05, 1.0]]), np.array([[0.1, 0.0]]), np.array([eth_usd, 1.0]),
        np.array([[1.05, 0.95, 0.2]]), max_passes=1)
    assert hit[0]
    assert seized[0, 0] == pytest.approx(exact.collateral_to_liquidate / 1e18, rel=3e-4)
    assert seized[0, 0] - fees[0, 0] == pytest.approx(exact.collateral_to_liquidator / 1e18, rel=3e-4)
    assert repaid[0, 1] == pytest.approx(exact.debt_to_liquidate / 1e6, rel=3e-4)
    emptied = exact.collateral_to_liquidate == coll_raw
    deficit = v4.evaluate_deficit(collateral_position_empty=emptied, debt_position_empty=exact.debt_to_liquidate == debt_raw,
                                  active_collateral_count=1, borrowed_count=1)
    assert (bad[0] > 0) == deficit
    if deficit:
        assert bad[0] == pytest.approx((debt_raw - exact.debt_to_liquidate) / 1e6, rel=3e-4)


def _spoke_snapshot(targets_wad: list[int]) -> Snapshot:
    reserves = (Reserve(asset="WETH", ltv_wad=8 * 10**17, liquidation_threshold_wad=8 * 10**17,
                        liquidation_bonus_wad=105 * 10**16, protocol_fee_wad=10**17, can_be_borrowed=False),
                Reserve(asset="USDC", ltv_wad=0, liquidation_threshold_wad=0, liquidation_bonus_wad=10**18,
                        can_be_collateral=False))
    markets = tuple(Market(id=f"spoke-{i}", venue="aave_v4", name=f"spoke {i}", address="0x" + f"{i + 1:02x}" * 20,
                           reserves=reserves, rule_params={"target_health_factor_wad": t,
                                                           "health_factor_for_max_bonus_wad": 95 * 10**16,
                                                           "liquidation_bonus_factor_bps": 2_000})
                    for i, t in enumerate(targets_wad))
    positions = tuple(Position(market=m.id, account="0x" + "44" * 20, collateral={"WETH": 10 * 10**18},
                               debt={"USDC": 16_500 * 10**6}) for m in markets)
    return Snapshot(chain_id=1, block_number=1, block_timestamp=1, assets=(
        Asset(symbol="WETH", address="0x" + "22" * 20, decimals=18, price_usd=2_000.0),
        Asset(symbol="USDC", address="0x" + "33" * 20, decimals=6, price_usd=1.0)), markets=markets, positions=positions)


def test_each_spoke_liquidates_to_its_own_target_health_factor():
    """Two spokes, the same position: the one with the higher target HF repays more, and each ends at
    its target (the book carries Market.rule_params to the kernel through liquidate_rows)."""
    book = PositionBook.from_snapshot(_spoke_snapshot([103 * 10**16, 110 * 10**16]))
    assert book.rule_params[:, 0].tolist() == [1.03, 1.10]
    c, d = book.collateral.copy(), book.debt.copy()
    out = liquidate_rows(c, d, book.liq_threshold, book.liq_bonus, book.protocol_fee, book.venue, book.prices_usd,
                         rule_params=book.rule_params)
    assert out.hit.all() and out.repaid_tokens[0, 1] < out.repaid_tokens[1, 1]
    hf_after = (c[:, 0] * 0.8 * 2_000.0) / d[:, 1]
    assert hf_after == pytest.approx([1.03, 1.10], rel=1e-9)
    # without the parameters every row gets the defaults (target 1.05)
    c2, d2 = book.collateral.copy(), book.debt.copy()
    liquidate_rows(c2, d2, book.liq_threshold, book.liq_bonus, book.protocol_fee, book.venue, book.prices_usd)
    assert (c2[:, 0] * 0.8 * 2_000.0) / d2[:, 1] == pytest.approx([1.05, 1.05], rel=1e-9)


@pytest.mark.parametrize("engine", ["compiled", "numpy"])
def test_cascade_hands_each_spoke_its_own_parameters(engine):
    """Both cascade engines (the compiled pooled rounds and the numpy rounds) pass every row's
    spoke parameters to the kernel: the spoke with the higher target HF has more debt repaid at
    the same drawdown, and the two engines agree."""
    from risk.cascade import cascade_grid

    book = PositionBook.from_snapshot(_spoke_snapshot([103 * 10**16, 110 * 10**16]))
    table = cascade_grid(book, driver="WETH", betas={}, drawdowns=[0.0, 0.1], engine=engine)
    by_spoke = table.liquidated_debt_by_market_usd[1]
    assert table.positions_hit[1] == 2 and 0 < by_spoke[0] < by_spoke[1]
    # what each spoke repays is what the kernel repays with that spoke's own parameters
    c, d = book.collateral.copy(), book.debt.copy()
    prices = book.prices_usd * np.array([0.9, 1.0])
    out = liquidate_rows(c, d, book.liq_threshold, book.liq_bonus, book.protocol_fee, book.venue, prices,
                         rule_params=book.rule_params)
    np.testing.assert_allclose(by_spoke, out.repaid_tokens @ prices, rtol=1e-12)
    other = cascade_grid(book, driver="WETH", betas={}, drawdowns=[0.0, 0.1],
                         engine="numpy" if engine == "compiled" else "compiled")
    np.testing.assert_allclose(table.liquidated_debt_by_market_usd, other.liquidated_debt_by_market_usd, rtol=1e-12)
