"""A SYNTHETIC, deterministic sample market so the engine runs before any chain is read.

Nothing here is chain data: ``sample_snapshot()`` returns a Snapshot with ``synthetic=True``.
Its shape mirrors the devnet population (and the public picture of early 2026): ETH at $2,000,
a dense WETH collateral cluster liquidating between $1,781 and $1,862, a spread of other levels,
WBTC and multi-collateral borrowers, an eMode wstETH/WETH group, shorts, Morpho markets
(including the pegged wstETH/WETH one) and a Compound V3 market.

``synthetic_book(n)`` builds the same population directly as a PositionBook (vectorized), for
benchmarks with a million positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from risk.book import VENUE_CODE, PositionBook
from risk.snapshot import WAD, Asset, EModeCategory, Market, Position, Reserve, Snapshot, Venue, morpho_lif_wad

SYMBOLS = ("WETH", "WBTC", "wstETH", "USDC", "USDT", "DAI")
DECIMALS = (18, 8, 18, 6, 6, 18)
SPOT_USD = (2_000.0, 60_000.0, 2_400.0, 1.0, 1.0, 1.0)
ADDRESSES = (
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
    "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599",
    "0x7f39C581F595B53c5cb19bD0b3f8dA6c935E2Ca0",
    "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
    "0xdAC17F958D2ee523a2206206994597C13D831ec7",
    "0x6B175474E89094C44Da98b954EedeAC495271d0F",
)
ETH_CLUSTER_USD = (1_781.0, 1_862.0)
"""Liquidation prices of the dense WETH cluster (ETH spot $2,000)."""

_W, _B, _S, _U, _T, _D = range(6)


@dataclass(frozen=True)
class _MarketSpec:
    id: str
    venue: Venue
    name: str
    # symbol index -> (ltv, liquidation threshold, bonus incl. principal, protocol fee)
    params: dict[int, tuple[float, float, float, float]]
    emode: tuple[int, float, float, tuple[int, ...]] | None = None  # id, LT, bonus, members
    lltv: float | None = None


def _morpho(collateral: int, loan: int, lltv: float) -> _MarketSpec:
    lif = morpho_lif_wad(int(round(lltv * 1e4)) * 10**14) / WAD
    return _MarketSpec(
        f"morpho:{SYMBOLS[collateral]}/{SYMBOLS[loan]}-{lltv:.3f}", "morpho_blue",
        f"Morpho Blue {SYMBOLS[collateral]}/{SYMBOLS[loan]} {lltv:.1%}",
        {collateral: (lltv, lltv, lif, 0.0), loan: (0.0, 0.0, 1.0, 0.0)}, lltv=lltv,
    )


MARKETS = (
    _MarketSpec(
        "aave-core", "aave_v33", "Aave V3 Core (synthetic)",
        {_W: (0.805, 0.83, 1.05, 0.1), _B: (0.73, 0.78, 1.05, 0.1), _S: (0.785, 0.81, 1.06, 0.1),
         _U: (0.75, 0.78, 1.045, 0.1), _T: (0.75, 0.78, 1.045, 0.1), _D: (0.63, 0.77, 1.05, 0.1)},
        emode=(1, 0.95, 1.01, (_W, _S)),
    ),
    _MarketSpec(
        "spark", "aave_v30", "Spark (synthetic)",
        {_W: (0.82, 0.83, 1.05, 0.1), _B: (0.74, 0.78, 1.05, 0.1), _S: (0.79, 0.80, 1.07, 0.1),
         _U: (0.0, 0.0, 1.0, 0.0), _D: (0.0, 0.0, 1.0, 0.0)},
    ),
    _morpho(_S, _W, 0.945),
    _morpho(_W, _U, 0.86),
    _morpho(_B, _U, 0.86),
    _MarketSpec(
        "comet-usdc", "compound_v3", "Compound V3 USDC (synthetic)",
        {_W: (0.83, 0.85, 1 / 0.95, 0.0), _B: (0.80, 0.85, 1 / 0.95, 0.0), _U: (0.0, 0.0, 1.0, 0.0)},
    ),
)
_AAVE, _SPARK, _M_PEG, _M_ETH, _M_BTC, _COMET = range(len(MARKETS))


@dataclass(frozen=True)
class _Population:
    collateral: np.ndarray  # (n, 6) tokens
    debt: np.ndarray  # (n, 6) tokens
    market: np.ndarray  # (n,) index into MARKETS
    emode: np.ndarray  # (n,) eMode id


def _population(n: int, rng: np.random.Generator) -> _Population:
    spot = np.array(SPOT_USD)
    groups = rng.choice(9, size=n, p=[0.25, 0.18, 0.07, 0.08, 0.08, 0.06, 0.13, 0.08, 0.07])
    size_usd = np.exp(rng.uniform(np.log(200.0), np.log(5e5), n))  # mean ~$64k
    whales = rng.random(n) < 0.01
    size_usd[whales] *= rng.uniform(5, 25, whales.sum())
    collateral = np.zeros((n, 6))
    debt = np.zeros((n, 6))
    market = np.zeros(n, dtype=np.int32)
    emode = np.zeros(n, dtype=np.int32)
    stable = np.where(rng.random(n) < 0.7, _U, _T)

    def long_eth(rows: np.ndarray, liq_price: np.ndarray, lt: float) -> None:
        eth = size_usd[rows] / spot[_W]
        collateral[rows, _W] = eth
        debt[rows, stable[rows]] = eth * lt * liq_price  # stable at $1: HF = 1 at liq_price

    # 0: the dense WETH cluster on Aave Core.
    rows = np.flatnonzero(groups == 0)
    market[rows] = _AAVE
    long_eth(rows, rng.uniform(*ETH_CLUSTER_USD, rows.size), 0.83)
    # 1: a spread of WETH levels on Aave Core and Spark (a few just under spot).
    rows = np.flatnonzero(groups == 1)
    market[rows] = np.where(rng.random(rows.size) < 0.6, _AAVE, _SPARK)
    near = rng.random(rows.size) < 0.1
    levels = np.where(near, rng.uniform(1_900, 1_990, rows.size), rng.uniform(600, 1_750, rows.size))
    long_eth(rows, levels, 0.83)
    spark = rows[market[rows] == _SPARK]
    debt[spark, _D] = debt[spark, _U] + debt[spark, _T]  # Spark borrowers owe DAI
    debt[spark, _U] = debt[spark, _T] = 0.0
    # 2: WBTC collateral, stablecoin debt.
    rows = np.flatnonzero(groups == 2)
    market[rows] = _AAVE
    btc = size_usd[rows] / spot[_B]
    collateral[rows, _B] = btc
    debt[rows, stable[rows]] = btc * 0.78 * rng.uniform(25_000, 58_000, rows.size)
    # 3: multi-collateral WETH + WBTC.
    rows = np.flatnonzero(groups == 3)
    market[rows] = _AAVE
    share = rng.uniform(0.2, 0.8, rows.size)
    collateral[rows, _W] = size_usd[rows] * share / spot[_W]
    collateral[rows, _B] = size_usd[rows] * (1 - share) / spot[_B]
    weighted = size_usd[rows] * (share * 0.83 + (1 - share) * 0.78)
    debt[rows, stable[rows]] = weighted / rng.uniform(1.05, 2.5, rows.size)
    # 4: eMode ETH-correlated: wstETH collateral, WETH debt.
    rows = np.flatnonzero(groups == 4)
    market[rows] = _AAVE
    emode[rows] = 1
    collateral[rows, _S] = size_usd[rows] / spot[_S]
    debt[rows, _W] = size_usd[rows] * 0.95 / rng.uniform(1.01, 1.10, rows.size) / spot[_W]
    # 5: shorts: USDC collateral, WETH debt, liquidated if ETH rallies to $2,100-$2,600.
    rows = np.flatnonzero(groups == 5)
    market[rows] = _AAVE
    collateral[rows, _U] = size_usd[rows]
    debt[rows, _W] = size_usd[rows] * 0.78 / rng.uniform(2_100, 2_600, rows.size)
    # 6: Morpho Blue markets.
    rows = np.flatnonzero(groups == 6)
    which = rng.choice([_M_PEG, _M_ETH, _M_BTC], size=rows.size, p=[0.4, 0.4, 0.2])
    market[rows] = which
    ltv_over_lltv = rng.uniform(0.55, 0.985, rows.size)
    for m, coll, loan in ((_M_PEG, _S, _W), (_M_ETH, _W, _U), (_M_BTC, _B, _U)):
        sel = rows[which == m]
        lltv = MARKETS[m].lltv
        collateral[sel, coll] = size_usd[sel] / spot[coll]
        debt[sel, loan] = size_usd[sel] * lltv * ltv_over_lltv[which == m] / spot[loan]
    # 7: Compound V3 USDC market.
    rows = np.flatnonzero(groups == 7)
    market[rows] = _COMET
    use_btc = rng.random(rows.size) < 0.3
    collateral[rows[~use_btc], _W] = size_usd[rows[~use_btc]] / spot[_W]
    collateral[rows[use_btc], _B] = size_usd[rows[use_btc]] / spot[_B]
    debt[rows, _U] = size_usd[rows] * 0.85 / rng.uniform(1.05, 2.0, rows.size)
    # 8: suppliers without debt (never liquidatable).
    rows = np.flatnonzero(groups == 8)
    market[rows] = _AAVE
    collateral[rows, _W] = size_usd[rows] / spot[_W]
    return _Population(collateral, debt, market, emode)


def _param_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per market (and eMode 1 on Aave Core): LT, bonus, fee rows, shape (n_markets + 1, 6)."""
    lt = np.zeros((len(MARKETS) + 1, 6))
    bonus = np.ones((len(MARKETS) + 1, 6))
    fee = np.zeros((len(MARKETS) + 1, 6))
    for m, spec in enumerate(MARKETS):
        for j, (_, threshold, b, f) in spec.params.items():
            lt[m, j], bonus[m, j], fee[m, j] = threshold, b, f
    lt[-1], bonus[-1], fee[-1] = lt[_AAVE], bonus[_AAVE], fee[_AAVE]
    aave_emode = MARKETS[_AAVE].emode
    assert aave_emode is not None  # the sample's Aave Core has its ETH eMode
    _, e_lt, e_bonus, members = aave_emode
    for j in members:
        lt[-1, j], bonus[-1, j] = e_lt, e_bonus
    return lt, bonus, fee, np.array([VENUE_CODE[s.venue] for s in MARKETS], dtype=np.int8)


def synthetic_book(
    n_positions: int = 10_000,
    *,
    seed: int | np.random.Generator | None = 7,
    total_collateral_usd: float | None = None,
) -> PositionBook:
    """A SYNTHETIC PositionBook of ``n_positions`` (vectorized; fine for millions).

    ``total_collateral_usd`` rescales every position by one factor so the book holds that much
    collateral at spot (a million default-sized positions hold ~$64B, more than any real market).
    """
    rng = np.random.default_rng(seed)
    pop = _population(n_positions, rng)
    if total_collateral_usd is not None:
        factor = total_collateral_usd / float((pop.collateral @ np.array(SPOT_USD)).sum())
        pop = _Population(pop.collateral * factor, pop.debt * factor, pop.market, pop.emode)
    lt, bonus, fee, venue_of_market = _param_tables()
    row = np.where(pop.emode == 1, len(MARKETS), pop.market)
    liq_threshold = np.where(pop.collateral > 0, lt[row], 0.0)
    return PositionBook(
        symbols=SYMBOLS,
        prices_usd=np.array(SPOT_USD),
        collateral=pop.collateral,
        debt=pop.debt,
        liq_threshold=liq_threshold,
        liq_bonus=bonus[row],
        protocol_fee=fee[row],
        venue=venue_of_market[pop.market],
        market=pop.market.astype(np.int32),
        market_ids=tuple(s.id for s in MARKETS),
        # As PositionBook.from_snapshot decides for the synthetic markets (no parsable version):
        # Aave floors the average LT.
        floored_avg_lt=np.isin(venue_of_market[pop.market], [VENUE_CODE["aave_v30"], VENUE_CODE["aave_v33"]]),
    )


def _address(rng_bytes: bytes) -> str:
    return "0x" + rng_bytes.hex()


def sample_snapshot(n_positions: int = 600, *, seed: int | np.random.Generator | None = 7) -> Snapshot:
    """A SYNTHETIC Snapshot (``synthetic=True``) with the sample population; deterministic per seed."""
    rng = np.random.default_rng(seed)
    pop = _population(n_positions, rng)
    scale = np.array([10**d for d in DECIMALS], dtype=object)
    assets = tuple(
        Asset(symbol=s, address=a, decimals=d, price_usd=p)
        for s, a, d, p in zip(SYMBOLS, ADDRESSES, DECIMALS, SPOT_USD)
    )
    markets = []
    for k, spec in enumerate(MARKETS):
        reserves = tuple(
            Reserve(
                asset=SYMBOLS[j],
                ltv_wad=_wad(ltv),
                liquidation_threshold_wad=_wad(threshold),
                liquidation_bonus_wad=_wad(b),
                protocol_fee_wad=_wad(f),
                oracle_price=int(round(SPOT_USD[j] * 1e8)) if spec.venue != "morpho_blue" else None,
                can_be_collateral=threshold > 0,
            )
            for j, (ltv, threshold, b, f) in spec.params.items()
        )
        categories: tuple[EModeCategory, ...] = ()
        if spec.emode:
            e_id, e_lt, e_bonus, members = spec.emode
            categories = (
                EModeCategory(
                    id=e_id, label="ETH correlated", ltv_wad=_wad(0.93), liquidation_threshold_wad=_wad(e_lt),
                    liquidation_bonus_wad=_wad(e_bonus), collateral_assets=tuple(SYMBOLS[j] for j in members),
                ),
            )
        morpho_fields: dict[str, int] = {}
        if spec.venue == "morpho_blue" and spec.lltv is not None:
            coll, loan = (j for j, p in spec.params.items() if p[1] > 0), (j for j, p in spec.params.items() if p[1] == 0)
            c, l_ = next(coll), next(loan)
            ratio = SPOT_USD[c] / SPOT_USD[l_]
            morpho_fields = {
                "oracle_price_1e36": int(round(ratio * 10**6)) * 10 ** (30 + DECIMALS[l_] - DECIMALS[c]),
                "lltv_wad": _wad(spec.lltv),
            }
        markets.append(
            Market(
                id=spec.id, venue=spec.venue, name=spec.name,
                address="0x" + f"{k + 1:040x}", protocol_version="synthetic",
                price_unit=10**8 if spec.venue != "morpho_blue" else None,
                reserves=reserves, emode_categories=categories,
                oracle_price_1e36=morpho_fields.get("oracle_price_1e36"), lltv_wad=morpho_fields.get("lltv_wad"),
            )
        )
    accounts = rng.bytes(20 * n_positions)
    positions = []
    for i in range(n_positions):
        def raw(row: np.ndarray) -> dict[str, int]:
            return {SYMBOLS[j]: int(round(row[j] * scale[j])) for j in np.flatnonzero(row > 0)}

        positions.append(
            Position(
                market=MARKETS[pop.market[i]].id,
                account=_address(accounts[20 * i: 20 * i + 20]),
                emode=int(pop.emode[i]),
                collateral=raw(pop.collateral[i]),
                debt=raw(pop.debt[i]),
            )
        )
    return Snapshot(
        chain_id=1, block_number=0, block_timestamp=1_767_225_600, source="synthetic sample (not chain data)",
        synthetic=True, assets=assets, markets=tuple(markets), positions=tuple(positions),
    )


def _wad(fraction: float) -> int:
    return int(round(fraction * 1e6)) * 10**12
