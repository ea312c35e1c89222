"""The Sky Dog's liquidation limits as consumable budgets (risk.budgets) through the cascade (numpy
reference and compiled/pooled engines) and the Monte Carlo, against the plain loops of
``tests/risk/sky_budget_reference.py`` (written from makerdao/dss src/dog.sol @3f30552a ``bark``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from risk.book import PositionBook
from risk.budgets import BudgetLayout, budget_layout
from risk.cascade import cascade_grid
from risk.liquidity import ConstantDepth, NoImpact
from risk.montecarlo import simulate_liquidations
from risk.rules import rule
from risk.sky_vaults import RAD, SKY_PARAMS, WAD, encode_bonus_fee
from risk.snapshot import Asset, Market, Position, Reserve, Snapshot
from tests.risk import sky_budget_reference as ref

UNLIMITED = 2**256 - 1
SPOT = [2_000.0, 1.0]
ILKS = {  # name: (mat, chop, clearing ratio, dust DAI)
    "ETH-A": (1.45, 1.13, 0.96, 7_500.0),
    "ETH-B": (1.30, 1.15, 0.93, 25_000.0),
}


def _urns(seed: int, n: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    urns = []
    names = list(ILKS)
    for i in range(n):
        g = int(rng.integers(0, len(names)))
        mat, chop, ratio, dust = ILKS[names[g]]
        dai = float(np.round(np.exp(rng.uniform(np.log(40_000), np.log(3_000_000))), 6))
        cr = mat * float(rng.uniform(1.02, 1.9))
        ink = float(np.round(dai * cr / SPOT[0], 9))
        urns.append({"ink": ink, "dai": dai, "mat": mat, "chop": chop, "ratio": ratio, "ilk": g, "dust": dust})
    return urns


def _snapshot(urns: list[dict], hole_dai: list[int | None], dirt_dai: list[int], Hole_dai: int | None,  # noqa: N803
              Dirt_dai: int = 0) -> Snapshot:  # noqa: N803
    assets = (Asset(symbol="WETH", address="0x" + "11" * 20, decimals=18, price_usd=SPOT[0]),
              Asset(symbol="DAI", address="0x" + "22" * 20, decimals=18, price_usd=SPOT[1]))
    markets = []
    for g, (name, (mat, chop, ratio, dust)) in enumerate(ILKS.items()):
        bonus, fee = encode_bonus_fee(chop, ratio)
        markets.append(Market(
            id=f"sky:{name}", venue="sky_vault", name=name, address="0x" + "33" * 20, protocol_version="dss",
            reserves=(Reserve(asset="WETH", ltv_wad=int(WAD / mat), liquidation_threshold_wad=int(WAD / mat),
                              liquidation_bonus_wad=int(round(bonus * WAD)), protocol_fee_wad=int(round(fee * WAD)),
                              can_be_borrowed=False),
                      Reserve(asset="DAI", ltv_wad=0, liquidation_threshold_wad=0, liquidation_bonus_wad=WAD,
                              can_be_collateral=False)),
            rule_params={"dust_rad": int(dust) * RAD,
                         "hole_rad": UNLIMITED if hole_dai[g] is None else hole_dai[g] * RAD,
                         "dirt_rad": dirt_dai[g] * RAD,
                         "Hole_rad": UNLIMITED if Hole_dai is None else Hole_dai * RAD, "Dirt_rad": Dirt_dai * RAD}))
    positions = [Position(market=f"sky:{list(ILKS)[u['ilk']]}", account="0x" + f"{i + 1:040x}",
                          collateral={"WETH": int(round(u["ink"] * 1e9)) * 10**9},
                          debt={"DAI": int(round(u["dai"] * 1e6)) * 10**12}) for i, u in enumerate(urns)]
    return Snapshot(chain_id=1, block_number=1, block_timestamp=0, assets=assets, markets=tuple(markets),
                    positions=tuple(positions))


def _book_urns(book: PositionBook, urns: list[dict]) -> list[dict]:
    """The reference's urns with the book's exact floats (amounts, LT as 1/mat, decoded chop/ratio)."""
    out = []
    c, d = book.symbols.index("WETH"), book.symbols.index("DAI")
    for i, u in enumerate(urns):
        lt = book.liq_threshold[i, c]
        bonus, fee = book.liq_bonus[i, c], book.protocol_fee[i, c]
        chop = 1.0 + fee * (bonus - 1.0)
        out.append({**u, "ink": float(book.collateral[i, c]), "dai": float(book.debt[i, d]), "mat": 1.0 / lt,
                    "chop": chop, "ratio": chop / bonus})
    return out


def _rooms(hole_dai, dirt_dai, Hole_dai, Dirt_dai=0):  # noqa: N803
    ilk = [math.inf if h is None else max(h - d, 0.0) for h, d in zip(hole_dai, dirt_dai)]
    return {"ilk": ilk, "dog": math.inf if Hole_dai is None else max(Hole_dai - Dirt_dai, 0.0)}


def _reference_cascade(urns, x0, impact_fn, rooms):
    # ref.cascade takes each urn's "ink" in WETH tokens and prices the collateral as the driver
    return ref.cascade(urns, SPOT, x0, impact_fn, rooms)


def test_sky_params_are_the_registered_market_params():
    assert tuple(name for name, _, _ in rule("sky_vault").market_params) == SKY_PARAMS
    budgets = rule("sky_vault").budgets
    assert [(b.limit, b.used, b.shared) for b in budgets] == [("hole_rad", "dirt_rad", False),
                                                             ("Hole_rad", "Dirt_rad", True)]


def test_layout_cells_per_ilk_and_one_shared_dog_cell():
    urns = _urns(1, 12)
    book = PositionBook.from_snapshot(_snapshot(urns, [2_000_000, None], [500_000, 0], 3_000_000, 1_000_000))
    layout = BudgetLayout.of(book)
    assert layout.n_cells == 3  # hole per ilk (2) + the Dog's Hole (1)
    by_name = dict(zip(layout.names, layout.initial.tolist()))
    assert by_name["sky_vault:ilk_room@sky:ETH-A"] == pytest.approx(1_500_000.0)
    assert by_name["sky_vault:ilk_room@sky:ETH-B"] > 1e30  # uint256 max: no limit
    assert by_name["sky_vault:dog_room"] == pytest.approx(2_000_000.0)
    dog_cell = layout.names.index("sky_vault:dog_room")
    assert (layout.cells[:, 1] == dog_cell).all()
    for i, u in enumerate(urns):
        assert layout.names[layout.cells[i, 0]] == f"sky_vault:ilk_room@sky:{list(ILKS)[u['ilk']]}"


def test_a_shared_budget_with_differing_values_is_an_error():
    urns = _urns(2, 6)
    snap = _snapshot(urns, [None, None], [0, 0], 3_000_000)
    data = snap.model_dump()
    data["markets"][1]["rule_params"]["Hole_rad"] = 4_000_000 * RAD
    book = PositionBook.from_snapshot(Snapshot.model_validate(data))
    with pytest.raises(ValueError, match="dog_room.*differ"):
        budget_layout(book)


LIMITS = [  # (hole per ilk, dirt per ilk, Hole, Dirt) in DAI
    ([4_000_000, None], [1_000_000, 0], None, 0),  # the ETH-A hole binds
    ([None, None], [0, 0], 5_000_000, 1_500_000),  # the Dog's Hole binds, shared by both ilks
    ([6_000_000, 2_500_000], [0, 0], 7_000_000, 0),  # both
    ([10**9, 10**9], [0, 0], 10**9, 0),  # never binds
]


@pytest.mark.parametrize("limits", LIMITS)
@pytest.mark.parametrize("liquidity", ["none", "depth"])
def test_cascade_with_the_dog_room_equals_the_plain_loop_in_both_engines(limits, liquidity):
    urns = _urns(7, 60)
    hole, dirt, Hole, Dirt = limits  # noqa: N806
    book = PositionBook.from_snapshot(_snapshot(urns, hole, dirt, Hole, Dirt))
    unlimited = PositionBook.from_snapshot(_snapshot(urns, [None, None], [0, 0], None))
    depth = np.array([2_000_000.0, 1e12])
    model = NoImpact() if liquidity == "none" else ConstantDepth(depth)

    def impact_fn(net):
        return [0.0, 0.0] if liquidity == "none" else [max(min(v / (d * 100.0), 0.99), -0.99)
                                                        for v, d in zip(net, depth)]

    grid = np.array([0.0, 0.15, 0.3, 0.45])
    tables = {engine: cascade_grid(book, driver="WETH", betas={}, drawdowns=grid, liquidity=model, engine=engine)
              for engine in ("numpy", "compiled")}
    free = cascade_grid(unlimited, driver="WETH", betas={}, drawdowns=grid, liquidity=model)
    rooms = _rooms(hole, dirt, Hole, Dirt)
    exact_urns = _book_urns(book, urns)
    binds = False
    for k, x0 in enumerate(grid):
        want = _reference_cascade(exact_urns, float(x0), impact_fn, rooms)
        want_free = _reference_cascade(exact_urns, float(x0), impact_fn, _rooms([None, None], [0, 0], None))
        for engine, table in tables.items():
            assert table.liquidated_debt_usd[k] == pytest.approx(want["liquidated_usd"], rel=1e-9, abs=1e-6), engine
            assert table.bad_debt_usd[k] == pytest.approx(want["bad_debt_usd"], rel=1e-9, abs=1e-6), engine
            assert table.positions_hit[k] == want["positions_hit"], engine
            assert table.rounds[k] == want["rounds"], engine
        assert free.liquidated_debt_usd[k] == pytest.approx(want_free["liquidated_usd"], rel=1e-9, abs=1e-6)
        # numpy reference and compiled/pooled engines agree to the last bits of a sum
        np.testing.assert_allclose(tables["numpy"].liquidated_debt_by_market_usd[k],
                                   tables["compiled"].liquidated_debt_by_market_usd[k], rtol=1e-12, atol=1e-6)
        assert tables["numpy"].liquidated_debt_usd[k] <= free.liquidated_debt_usd[k] * (1 + 1e-12) + 1e-6
        if want["liquidated_usd"] < want_free["liquidated_usd"] - 1.0:
            binds = True
            assert tables["numpy"].liquidated_debt_usd[k] < free.liquidated_debt_usd[k]
    if limits[2] != 10**9:
        assert binds, "the limits were meant to bind at some drawdown"
    else:
        np.testing.assert_allclose(tables["compiled"].liquidated_debt_usd, free.liquidated_debt_usd, rtol=1e-12)


def test_a_budget_rule_next_to_other_rules_leaves_them_alone():
    """Sky ilks in a book with Aave, Morpho and Comet markets (pair classes, the compiled kernel):
    without impact those markets liquidate exactly as without the Sky ilks, the Sky ilks as the
    plain loop says under their room, and the two engines agree on the mixed book."""
    from risk.sample import sample_snapshot

    base = sample_snapshot(500, seed=5)
    urns = _urns(3, 30)
    hole, dirt, Hole = [1_000_000, 1_500_000], [0, 0], 2_000_000  # noqa: N806
    sky = _snapshot(urns, hole, dirt, Hole).model_dump()
    data = base.model_dump()
    symbols = {a["symbol"]: a for a in data["assets"]}
    for m in sky["markets"]:
        m["address"] = data["markets"][0]["address"]
    data["markets"] += sky["markets"]
    data["positions"] += sky["positions"]
    mixed = PositionBook.from_snapshot(Snapshot.model_validate(data))
    alone = PositionBook.from_snapshot(base)
    spot = [symbols["WETH"]["price_usd"], symbols["DAI"]["price_usd"]]
    grid = np.array([0.1, 0.3, 0.5])
    a = cascade_grid(mixed, driver="WETH", betas={}, drawdowns=grid, engine="numpy")
    b = cascade_grid(mixed, driver="WETH", betas={}, drawdowns=grid, engine="compiled")
    c = cascade_grid(alone, driver="WETH", betas={}, drawdowns=grid)
    np.testing.assert_allclose(a.liquidated_debt_by_market_usd, b.liquidated_debt_by_market_usd, rtol=1e-12, atol=1e-6)
    n_base = len(base.markets)
    np.testing.assert_allclose(b.liquidated_debt_by_market_usd[:, :n_base], c.liquidated_debt_by_market_usd,
                               rtol=1e-12, atol=1e-6)
    sky_rows = np.flatnonzero(np.isin(mixed.market, [mixed.market_ids.index(m["id"]) for m in sky["markets"]]))
    exact = _book_urns(mixed.select(sky_rows), urns)
    for k, x0 in enumerate(grid):
        want = ref.cascade(exact, spot, float(x0), lambda net: [0.0, 0.0], _rooms(hole, dirt, Hole))
        assert b.liquidated_debt_by_market_usd[k, n_base:].sum() == pytest.approx(want["liquidated_usd"], rel=1e-9)
    assert budget_layout(alone) is None  # no rule with budgets in the sample book


def _paths(n_paths: int, n_steps: int, seed: int) -> np.ndarray:
    """WETH falling from 2,000 to ~900 with noise, DAI at 1: a path where the room runs out."""
    rng = np.random.default_rng(seed)
    drift = np.linspace(0.0, np.log(0.45), n_steps)
    noise = np.cumsum(rng.normal(0.0, 0.01, (n_paths, n_steps)), axis=1)
    weth = SPOT[0] * np.exp(drift[None, :] + noise)
    return np.stack([weth, np.ones((n_paths, n_steps))], axis=2)


@pytest.mark.parametrize("liquidity", ["none", "depth"])
def test_monte_carlo_room_carries_over_steps_and_runs_out(liquidity):
    urns = _urns(11, 40)
    hole, dirt, Hole, Dirt = [3_000_000, 2_000_000], [0, 500_000], 4_000_000, 0  # noqa: N806
    book = PositionBook.from_snapshot(_snapshot(urns, hole, dirt, Hole, Dirt))
    unlimited = PositionBook.from_snapshot(_snapshot(urns, [None, None], [0, 0], None))
    paths = _paths(6, 30, 4)
    depth = np.array([3_000_000.0, 1e12])
    model = None if liquidity == "none" else ConstantDepth(depth)
    impact_fn = None if model is None else (lambda net: [max(min(v / (d * 100.0), 0.99), -0.99)
                                                         for v, d in zip(net, depth)])
    res = simulate_liquidations(book, paths, liquidity=model, compare_exogenous=False)
    free = simulate_liquidations(unlimited, paths, liquidity=model, compare_exogenous=False)
    exact_urns = _book_urns(book, urns)
    rooms = _rooms(hole, dirt, Hole, Dirt)
    ran_out = 0
    for p in range(paths.shape[0]):
        want = ref.monte_carlo_path(exact_urns, paths[p].tolist(), impact_fn, rooms)
        assert res.endogenous.liquidated_debt_usd[p] == pytest.approx(want["liquidated_usd"], rel=1e-9, abs=1e-6)
        assert res.endogenous.bad_debt_usd[p] == pytest.approx(want["bad_debt_usd"], rel=1e-9, abs=1e-6)
        assert res.endogenous.positions_hit[p] == want["positions_hit"]
        assert res.endogenous.unconverged_steps[p] == 0
        if min(min(want["rooms"]["ilk"]), want["rooms"]["dog"]) < 100_000:  # (nearly) exhausted on this path
            ran_out += 1
            assert res.endogenous.liquidated_debt_usd[p] < free.endogenous.liquidated_debt_usd[p]
    assert ran_out > 0
