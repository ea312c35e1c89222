"""A cascade the devnet's genuine contracts run (Aave v3.0.2, Morpho Blue, Uniswap v3), compared
with the engine's cascade on the scanned snapshot with the on-chain liquidity model (CEX
multiplier 0): :mod:`chain.devnet.chain_cascade`.

Per ETH drawdown (5%, 15%, 30%; the bench runs 5–30% in 5% steps): the same number of rounds,
liquidated debt, seized collateral and the final ETH price within 1%, bad debt within 1% of the
liquidated debt. What the engine gets right is then the protocols' liquidation rules (its
integers within float rounding) and the pools' price path (exact swap math, read at the block);
what is left is the split of each sale across the pools (the chain splits each round's sale, the
engine's curve its cumulative size) and the size grid of the curve.
"""

from __future__ import annotations

import pytest

from chain.devnet.chain_cascade import compare, engine_cascade, run_chain_cascade

pytestmark = [pytest.mark.devnet, pytest.mark.slow]

DRAWDOWNS = (0.05, 0.15, 0.30)
REL_TOL = 0.01
ROUNDS_SEEN: list[int] = []


@pytest.mark.parametrize("drawdown", DRAWDOWNS, ids=[f"{x:.0%}" for x in DRAWDOWNS])
def test_chain_run_cascade_matches_the_engine(devnet_revert, drawdown):
    chain, before = run_chain_cascade(devnet_revert, drawdown)
    assert before.pools, "the scan must carry the pools the engine's model reads"
    table, model = engine_cascade(before, [drawdown])
    assert model.cex_multiplier == 0.0 and len(model.pools) == 8
    row = compare(chain, table)
    assert chain.liquidations > 0 and chain.swaps > 0, row
    assert row["chain"]["rounds"] == row["engine"]["rounds"], row
    for key in ("liquidated_debt_usd", "seized_collateral_usd", "final_price_usd"):
        assert row["gap"][key] <= REL_TOL, (key, row)
    assert abs(row["chain"]["bad_debt_usd"] - row["engine"]["bad_debt_usd"]) <= REL_TOL * row["chain"][
        "liquidated_debt_usd"], row
    # The price fell further than the shock: the sales moved the pools, and the oracles followed.
    assert row["chain"]["final_price_usd"] < 2_000 * (1 - drawdown)
    ROUNDS_SEEN.append(chain.rounds)


def test_some_drawdown_cascaded_over_several_rounds():
    if len(ROUNDS_SEEN) < len(DRAWDOWNS):
        pytest.skip("the chain-run cascades did not all run in this session")
    assert max(ROUNDS_SEEN) >= 2, ROUNDS_SEEN
