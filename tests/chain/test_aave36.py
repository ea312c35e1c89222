"""The reader and risk.exact against the genuine Aave v3.6 (npm @aave-dao/aave-v3-origin 3.6.0) on the devnet.

Every v3.6 borrower of the seeded population is checked, not a sample: collateral, debt, average
LT and health factor computed by risk.exact from the snapshot's integers must equal the Pool's own
``getUserAccountData`` at the same block, to the unit — at the start prices, after price moves and
after interest has accrued.
"""

from __future__ import annotations

import pytest

from abis import abi_function
from chain.aave_v3 import Read, run_calls
from chain.scan import scan_devnet
from chain.transport import HttpTransport
from risk.exact import aave_account_data, aave_hf_rule, aave_position_legs
from risk.snapshot import WAD

pytestmark = pytest.mark.devnet

MARKET_ID = "aave36-devnet"


@pytest.fixture
def transport(devnet):
    with HttpTransport(devnet.rpc_url) as http:
        yield http


def _check_every_borrower(transport, snapshot, deployment) -> dict[str, int]:
    """Assert risk.exact == getUserAccountData for every v3.6 position; return counts."""
    market = snapshot.market(MARKET_ID)
    positions = [p for p in snapshot.positions if p.market == market.id]
    onchain = run_calls(
        transport, snapshot.block_number,
        [Read(deployment.aave36.pool, abi_function("AavePool", "getUserAccountData"), (p.account,)) for p in positions],
        what="getUserAccountData",
    )
    decimals = {a.symbol: a.decimals for a in snapshot.assets}
    rule = aave_hf_rule(market.protocol_version)
    counts = {"positions": 0, "liquidatable": 0, "avg_rule_differs": 0}
    for position, chain_data in zip(positions, onchain, strict=True):
        _, legs = aave_position_legs(market, position, decimals)
        mine = aave_account_data(legs, rule=rule)
        total_collateral, total_debt, _, avg_lt, _, hf = chain_data
        assert (mine.total_collateral_base, mine.total_debt_base, mine.avg_liquidation_threshold_bps,
                mine.health_factor_wad) == (total_collateral, total_debt, avg_lt, hf), position.account
        counts["positions"] += 1
        counts["liquidatable"] += hf < WAD
        counts["avg_rule_differs"] += aave_account_data(legs, rule="avg").health_factor_wad != hf
    return counts


def test_v36_market_is_read_as_v36(devnet_deployment, transport):
    snapshot = scan_devnet(devnet_deployment, transport=transport)
    market = snapshot.market(MARKET_ID)
    assert (market.venue, market.protocol_version, market.price_unit) == ("aave_v33", "aave-v3.6", 10**8)
    assert aave_hf_rule(market.protocol_version) == "sum"
    (revision,) = run_calls(transport, snapshot.block_number,
                            [Read(devnet_deployment.aave36.pool, abi_function("AavePool", "POOL_REVISION"))],
                            what="POOL_REVISION")[0]
    assert revision == 10
    # the v3.0.2 line beside it is still read as v3.0
    assert snapshot.market("aave-devnet").protocol_version == "aave-v3.0"
    (category,) = market.emode_categories
    assert category.liquidation_threshold_wad == 9500 * 10**14 and set(category.collateral_assets) == {"WETH", "wstETH"}


def test_v36_every_borrower_matches_get_user_account_data(devnet_deployment, devnet_population, transport):
    snapshot = scan_devnet(devnet_deployment, transport=transport)
    accounts = {p.account for p in snapshot.positions if p.market == MARKET_ID}
    assert accounts == set(devnet_population.venues["aave36"])  # every v3.6 borrower, discovered from events
    counts = _check_every_borrower(transport, snapshot, devnet_deployment)
    assert counts["positions"] == len(devnet_population.venues["aave36"]) >= 40
    assert counts["liquidatable"] == 0  # healthy at the start prices
    # The v3.5+ un-averaged HF is not the v3.0 one on some positions: the check can tell them apart.
    assert counts["avg_rule_differs"] > 0
    groups = devnet_population.groups
    assert groups["aave36_small"] and groups["aave36_dusty"] and groups["aave36_emode"]
    small = [p for p in snapshot.positions if p.account in set(groups["aave36_small"])]
    assert all(p.debt["USDC"] < 2_000 * 10**6 for p in small)


@pytest.mark.parametrize(("moves", "blocks"), [
    ((("WETH", 1_820),), 50),
    ((("WETH", 1_500), ("WBTC", 41_000)), 3),
    ((("wstETH", 2_250),), 400),
    ((("WETH", 2_300),), 10),  # shorts (WETH debt) go under
], ids=["weth-1820", "weth-wbtc-down", "wsteth-depeg", "weth-up"])
def test_v36_matches_after_price_moves_and_accrual(devnet_revert, devnet_deployment, transport, moves, blocks):
    for symbol, price in moves:
        devnet_revert.set_price_usd(symbol, price)
    devnet_revert.mine(blocks)  # interest accrues per second: indices move on
    snapshot = scan_devnet(devnet_deployment, transport=transport)
    counts = _check_every_borrower(transport, snapshot, devnet_deployment)
    assert counts["liquidatable"] > 0
