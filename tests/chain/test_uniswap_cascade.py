"""A cascade the devnet's genuine contracts run, compared with the engine's cascade on the scanned
snapshot with the on-chain liquidity model (CEX multiplier 0): :mod:`chain.devnet.chain_cascade`.

The chain side runs genuine Aave v3.0.2 (the Spark line), genuine Aave v3.6
(``@aave-dao/aave-v3-origin`` 3.6.0), genuine Morpho Blue and genuine Uniswap v3. Compound V3,
the Sky vaults and Liquity v2 stay out of the chain-run cascade, on both sides. The devnet has no
genuine code for them: its Comet is a test double without ``absorb``, the Sky vaults are a dss
test double whose Clipper sales do not go through the Uniswap pools, and Liquity v2 is a test
double whose Stability Pool sells nothing.

Bad debt on the chain side is what the protocols book:
- Morpho's ``badDebtAssets``;
- the v3.6 Pool's ``getReserveDeficit``, per reserve, read before and after every liquidation block;
- the debt left on Aave positions that end without collateral (v3.0.2 has no deficit accounting).

Per ETH drawdown (5%, 15%, 30%; the bench runs 5–30% in 5% steps), these must match:
- the number of rounds, exactly;
- liquidated debt, seized collateral, bad debt and the final ETH price, within 1%.

What the engine gets right is then the protocols' liquidation rules (its integers within float
rounding) and the pools' price path (exact swap math, read at the block). What is left is the
split of each sale across the pools: the chain splits each round's sale, the engine's curve its
cumulative size, and the curve has a size grid.
"""

from __future__ import annotations

import pytest

from chain.devnet.chain_cascade import compare, engine_cascade, run_chain_cascade, without_comet

pytestmark = [pytest.mark.devnet, pytest.mark.slow]

DRAWDOWNS = (0.05, 0.15, 0.30)
REL_TOL = 0.01
ROUNDS_SEEN: list[int] = []
DEFICIT_SEEN: list[float] = []


@pytest.mark.parametrize("drawdown", DRAWDOWNS, ids=[f"{x:.0%}" for x in DRAWDOWNS])
def test_chain_run_cascade_matches_the_engine(devnet_revert, drawdown):
    chain, before = run_chain_cascade(devnet_revert, drawdown)
    assert before.pools, "the scan must carry the pools the engine's model reads"
    compared = without_comet(before)
    assert {m.venue for m in compared.markets} == {"aave_v30", "aave_v33", "morpho_blue"}, "both Aave lines and Morpho"
    table, model = engine_cascade(before, [drawdown])
    assert model.cex_multiplier == 0.0 and len(model.pools) == 8
    row = compare(chain, table)
    assert chain.liquidations > 0 and chain.swaps > 0, row
    assert row["chain"]["rounds"] == row["engine"]["rounds"], row
    for key in ("liquidated_debt_usd", "seized_collateral_usd", "bad_debt_usd", "final_price_usd"):
        assert row["gap"][key] <= REL_TOL, (key, row)
    # The price fell further than the shock: the sales moved the pools, and the oracles followed.
    assert row["chain"]["final_price_usd"] < 2_000 * (1 - drawdown)
    ROUNDS_SEEN.append(chain.rounds)
    DEFICIT_SEEN.append(chain.deficit_usd)


def test_some_drawdown_cascaded_over_several_rounds_and_booked_v36_deficit():
    if len(ROUNDS_SEEN) < len(DRAWDOWNS):
        pytest.skip("the chain-run cascades did not all run in this session")
    assert max(ROUNDS_SEEN) >= 2, ROUNDS_SEEN
    # The genuine v3.6 Pool booked a deficit in some drawdown: the chain side's bad debt read it.
    assert max(DEFICIT_SEEN) > 0, DEFICIT_SEEN
