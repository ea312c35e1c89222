"""Morpho priced by its own oracle (chain.pricing, risk.book.morpho_oracle_basis) — on the devnet.

- A Morpho-only scan works: loan tokens anchored by configured Chainlink feeds, collateral priced
  from the markets' own oracles; without anchors every market is skipped with its reason.
- The float engine's Morpho HF and seized collateral are Morpho's own, also when the oracle is an
  exchange rate that disagrees with the USD prices (basis != 1).
- An exchange-rate oracle (wstETH/WETH) is untouched by an ETH/USD move (both legs move) and moves
  on a depeg (the collateral leg alone), in bands, cascades and the Monte Carlo.
"""

from __future__ import annotations

import numpy as np
import pytest

from chain.blocks import pin_block
from chain.morpho_blue import MorphoBlueReader, snapshot_market_id
from chain.pricing import UsdAnchors
from chain.scan import MorphoSource, devnet_usd_anchors, scan_devnet, scan_snapshot
from chain.transport import HttpTransport
from risk.book import PositionBook, morpho_oracle_basis
from risk.cascade import cascade_grid
from risk.exact import morpho_is_healthy, morpho_liquidation_amounts
from risk.liquidation import liquidate_rows
from risk.liquidation_prices import Side, driver_thresholds, liquidation_prices_for
from risk.montecarlo import simulate_liquidations

pytestmark = pytest.mark.devnet

EXCHANGE_RATE_PREMIUM = 1.03  # the oracle says 1 wstETH = 1.03 × what the USD feeds say


@pytest.fixture
def transport(devnet):
    with HttpTransport(devnet.rpc_url) as http:
        yield http


def _morpho_hf(snapshot, position) -> float:
    """Morpho's own health factor from the snapshot's integers (maxBorrow / borrowed, unrounded)."""
    market = snapshot.market(position.market)
    (coll_raw,) = position.collateral.values()
    (debt_raw,) = position.debt.values()
    return coll_raw * market.oracle_price_1e36 / 1e36 * market.lltv_wad / 1e18 / debt_raw


def test_morpho_only_scan(devnet, devnet_deployment, devnet_population, transport):
    dep = devnet_deployment
    loan_feeds = {dep.tokens[s]: dep.aave.price_feeds[s] for s in ("USDC", "WETH")}
    snap = scan_snapshot(transport, morpho=MorphoSource(dep.morpho.address),
                         usd_anchors=UsdAnchors(chainlink_feeds=loan_feeds))
    assert snap.skipped == ()
    assert {m.id for m in snap.markets} == {snapshot_market_id(m.id) for m in dep.morpho.markets.values()}
    assert {p.account for p in snap.positions} == set(devnet_population.venues["morpho"])
    sources = {a.symbol: a.price_source for a in snap.assets}
    assert sources["USDC"] == f"chainlink:{dep.aave.price_feeds['USDC']}"
    assert sources["WETH"] == f"chainlink:{dep.aave.price_feeds['WETH']}"
    assert sources["wstETH"].startswith("morpho-oracle:") and sources["WBTC"].startswith("morpho-oracle:")
    book = PositionBook.from_snapshot(snap)
    hf = book.health_factor()
    for i, p in enumerate(snap.positions):
        assert hf[i] == pytest.approx(_morpho_hf(snap, p), rel=1e-12), p.account
    # The same positions in a full scan (USD from Aave) have the same health factors.
    full = scan_devnet(dep, snap.block_number, transport=transport)
    full_hf = dict(zip((p.account + p.market for p in full.positions), PositionBook.from_snapshot(full).health_factor()))
    for i, p in enumerate(snap.positions):
        assert full_hf[p.account + p.market] == pytest.approx(hf[i], rel=1e-12)
    print(f"\nMorpho-only scan: {len(snap.positions)} positions in {len(snap.markets)} markets, "
          f"{len(snap.assets)} assets; sources {sources}")


def test_morpho_only_scan_without_anchors_skips_with_reasons(devnet_deployment, transport):
    snap = scan_snapshot(transport, morpho=MorphoSource(devnet_deployment.morpho.address))
    assert snap.markets == () and snap.positions == ()
    assert len(snap.skipped) == len(devnet_deployment.morpho.markets)
    assert all("no USD anchor for loan token" in s.reason for s in snap.skipped)


@pytest.fixture
def exchange_rate_snapshot(devnet_revert, devnet_deployment, transport):
    """Full devnet scan with the wstETH/WETH oracle set to an exchange rate 3% above the USD ratio."""
    net = devnet_revert
    price = net.morpho_oracle_price("wstETH/WETH")
    net.set_morpho_oracle_price("wstETH/WETH", int(price * EXCHANGE_RATE_PREMIUM))
    snap = scan_devnet(devnet_deployment, transport=transport)
    market_id = snapshot_market_id(devnet_deployment.morpho.markets["wstETH/WETH"].id)
    assert morpho_oracle_basis(snap, snap.market(market_id)) == pytest.approx(EXCHANGE_RATE_PREMIUM, rel=1e-9)
    book = PositionBook.from_snapshot(snap)
    rows = np.array([p.market == market_id for p in snap.positions])
    assert rows.sum() >= 5
    return snap, book, rows, market_id


def test_hf_and_seized_collateral_are_morphos(exchange_rate_snapshot, devnet_deployment, transport):
    snap, book, rows, market_id = exchange_rate_snapshot
    hf = book.health_factor()
    positions = [p for p in snap.positions if p.market == market_id]
    for i, p in zip(np.flatnonzero(rows), positions):
        assert hf[i] == pytest.approx(_morpho_hf(snap, p), rel=1e-12)
    # Depeg wstETH 25%: liquidate in the float engine, then ask Morpho's own arithmetic what it
    # charges for the collateral the engine seized at the shocked oracle answer.
    sub = book.select(rows)
    w = sub.asset_index("wstETH")
    shocked = sub.prices_usd.copy()
    shocked[w] *= 0.75
    market = snap.market(market_id)
    oracle_after = int(market.oracle_price_1e36 * 0.75)
    data = MorphoBlueReader(transport, devnet_deployment.morpho.address,
                            market_ids=[market_id.removeprefix("morpho:")]).read_markets(snap.block_number)[0]
    collateral, debt = sub.collateral.copy(), sub.debt.copy()
    outcome = liquidate_rows(collateral, debt, sub.liq_threshold, sub.liq_bonus, sub.protocol_fee, sub.venue, shocked)
    checked = 0
    for k, p in enumerate(positions):
        (coll_raw,) = p.collateral.values()
        (debt_raw,) = p.debt.values()
        healthy = morpho_is_healthy(collateral_raw=coll_raw, borrowed_raw=debt_raw, oracle_price_1e36=oracle_after,
                                    lltv_wad=market.lltv_wad)
        assert bool(outcome.hit[k]) == (not healthy), p.account
        if not outcome.hit[k]:
            continue
        seized_raw = int(outcome.seized_tokens[k, w] * 1e18)
        if seized_raw >= coll_raw:  # all collateral gone: bad debt, checked by the amount repaid below
            seized_raw = coll_raw
        quote = morpho_liquidation_amounts(oracle_price_1e36=oracle_after, lltv_wad=market.lltv_wad,
                                           total_borrow_assets=data.state.total_borrow_assets,
                                           total_borrow_shares=data.state.total_borrow_shares, seized_assets=seized_raw)
        repaid_raw = outcome.repaid_tokens[k, sub.asset_index("WETH")] * 1e18
        assert quote.repaid_assets == pytest.approx(repaid_raw, rel=1e-9), p.account
        checked += 1
    assert checked >= 1
    print(f"\nexchange-rate oracle: {len(positions)} HFs equal Morpho's; {checked} liquidations priced as Morpho charges")


def test_eth_usd_move_leaves_exchange_rate_market_alone(exchange_rate_snapshot):
    snap, book, rows, _ = exchange_rate_snapshot
    sub = book.select(rows)
    # Bands / thresholds: a WETH move with wstETH at beta 1 never liquidates these positions.
    thresholds = driver_thresholds(sub, "WETH", {"wstETH": 1.0})
    assert np.all(thresholds.side == Side.NEVER)
    # Cascade: ETH down up to 90%, both legs together: nothing liquidated.
    table = cascade_grid(sub, driver="WETH", betas={"wstETH": 1.0}, drawdowns=[0.1, 0.3, 0.5, 0.7, 0.9])
    assert np.all(table.liquidated_debt_usd == 0) and np.all(table.positions_hit == 0)
    # Monte Carlo: paths where ETH/USD falls 80% and both legs follow.
    paths = np.tile(sub.prices_usd, (4, 3, 1))
    both = [sub.asset_index("WETH"), sub.asset_index("wstETH")]
    paths[:, 1:, both] *= np.array([0.9, 0.5, 0.3, 0.2])[:, None, None]
    result = simulate_liquidations(sub, paths)
    assert np.all(result.endogenous.positions_hit == 0)


def test_depeg_moves_exchange_rate_market(exchange_rate_snapshot):
    snap, book, rows, market_id = exchange_rate_snapshot
    sub = book.select(rows)
    positions = [p for p in snap.positions if p.market == market_id]
    morpho_hf = np.array([_morpho_hf(snap, p) for p in positions])
    expected_drawdown = 1.0 - 1.0 / morpho_hf  # collateral leg alone: HF scales with the wstETH price
    # Bands: the wstETH liquidation price is spot / Morpho HF.
    price, side = liquidation_prices_for(sub, "wstETH")
    assert np.all(side == Side.BELOW)
    np.testing.assert_allclose(price, sub.prices_usd[sub.asset_index("wstETH")] / morpho_hf, rtol=1e-9)
    # Thresholds for a wstETH-only move (WETH beta 0).
    thresholds = driver_thresholds(sub, "wstETH", {"WETH": 0.0})
    np.testing.assert_allclose(thresholds.drawdown_at_liquidation, expected_drawdown, rtol=1e-9)
    # Cascade and Monte Carlo: at each depeg, exactly the positions whose threshold it passes.
    ordered = np.sort(expected_drawdown)
    grid = [(a + b) / 2 for a, b in zip(ordered[:-1], ordered[1:]) if b - a > 1e-6][:5]
    assert grid
    table = cascade_grid(sub, driver="wstETH", betas={"WETH": 0.0}, drawdowns=grid)
    for k, d in enumerate(grid):
        assert table.positions_hit[k] == int((expected_drawdown < d).sum())
    paths = np.tile(sub.prices_usd, (len(grid), 2, 1))
    paths[:, 1, sub.asset_index("wstETH")] *= 1.0 - np.array(grid)
    result = simulate_liquidations(sub, paths)
    np.testing.assert_array_equal(result.endogenous.positions_hit, [(expected_drawdown < d).sum() for d in grid])
