"""Mixed-collateral Aave positions defined by the protocol's integers (tests and bench only).

Each position is what ``GenericLogic.calculateUserAccountData`` reads: raw token balances, the
oracle answer per asset in 8-decimal USD base units, the reserves' decimals and whole-bps
liquidation thresholds, and the Pool's version line (which decides the health-factor rule:
``risk.exact.aave_hf_rule``). :func:`float_book` is the float engine's view of the same
positions, built the way :meth:`risk.book.PositionBook.from_snapshot` builds it (tokens =
raw / 10**decimals, USD = base / 1e8, LT = bps / 1e4, ``floored_avg_lt`` from the version), so
``risk.exact`` on :func:`legs` and the float engine on :func:`float_book` answer the same
question.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from risk.book import VENUE_CODE, PositionBook
from risk.exact import AaveReserveLeg, aave_hf_rule, aave_is_liquidatable, aave_liquidation_rule

AAVE_VERSIONS = ("aave-v3.0", "aave-v3.2", "aave-v3.3", "aave-v3.4", "aave-v3.5", "aave-v3.6", "aave-v3.7")
BASE_UNIT = 10**8
"""Aave's USD oracle base unit on Ethereum (8 decimals)."""


@dataclass(frozen=True)
class AavePosition:
    version: str
    collateral_raw: tuple[int, ...]
    debt_raw: tuple[int, ...]
    lt_bps: tuple[int, ...]  # 0 where the asset is not counted collateral


@dataclass(frozen=True)
class AavePopulation:
    symbols: tuple[str, ...]
    decimals: tuple[int, ...]
    price_base: tuple[int, ...]
    positions: tuple[AavePosition, ...]


def random_population(rng: np.random.Generator, n_positions: int, n_assets: int = 5) -> AavePopulation:
    """A population with 2-4 collaterals (mixed LTs) and 1-2 debt assets per position.

    Prices $0.10-$100k, collateral reserves $100-$5M each, HF 1.0001-1.6 (plain estimate),
    every Aave version line. Used by the measurement script (the hypothesis strategy below
    draws the same shapes).
    """
    decimals = tuple(int(d) for d in rng.choice([6, 8, 18], size=n_assets))
    price_base = tuple(int(10 ** rng.uniform(7, 13)) for _ in range(n_assets))
    positions = []
    for _ in range(n_positions):
        n_coll = int(rng.integers(2, min(4, n_assets - 1) + 1))
        order = rng.permutation(n_assets)
        coll_assets = order[:n_coll]
        debt_assets = order[n_coll : n_coll + int(rng.integers(1, 3))]
        values_usd = {int(a): float(10 ** rng.uniform(2, 6.7)) for a in coll_assets}
        lts = {int(a): int(rng.integers(1_000, 9_501)) for a in coll_assets}
        hf = float(1.0 + 10 ** rng.uniform(-4, np.log10(0.6)))
        shares = rng.dirichlet(np.ones(len(debt_assets)))
        positions.append(position_from_values(str(rng.choice(AAVE_VERSIONS)), decimals, price_base, values_usd, lts,
                                   {int(a): float(s) for a, s in zip(debt_assets, shares)}, hf))
    return AavePopulation(tuple(f"T{k}" for k in range(n_assets)), decimals, price_base, tuple(positions))


def position_from_values(version, decimals, price_base, values_usd, lts, debt_shares, hf) -> AavePosition:
    n = len(decimals)
    coll = [0] * n
    debt = [0] * n
    lt = [0] * n
    weighted_usd = 0.0
    for a, value in values_usd.items():
        coll[a] = max(1, int(Fraction(value) * BASE_UNIT * 10 ** decimals[a] / price_base[a]))
        lt[a] = lts[a]
        weighted_usd += value * lts[a] / 1e4
    for a, share in debt_shares.items():
        debt[a] = max(1, int(Fraction(weighted_usd / hf * share) * BASE_UNIT * 10 ** decimals[a] / price_base[a]))
    return AavePosition(version, tuple(coll), tuple(debt), tuple(lt))


def legs(population: AavePopulation, i: int, price_base: tuple[int, ...] | None = None) -> list[AaveReserveLeg]:
    prices = population.price_base if price_base is None else price_base
    p = population.positions[i]
    return [
        AaveReserveLeg(p.collateral_raw[k], p.debt_raw[k], prices[k], population.decimals[k], p.lt_bps[k])
        for k in range(len(population.symbols))
    ]


def float_book(population: AavePopulation, *, floor: bool = True) -> PositionBook:
    """The float engine's book of the population; ``floor=False`` is the engine before the
    floored average (every row under the plain sum rule), for before/after measurements."""
    n, a = len(population.positions), len(population.symbols)
    scale = np.array([10.0**d for d in population.decimals])
    coll = np.array([p.collateral_raw for p in population.positions], dtype=np.float64) / scale
    debt = np.array([p.debt_raw for p in population.positions], dtype=np.float64) / scale
    lt = np.array([p.lt_bps for p in population.positions], dtype=np.float64) / 1e4
    coll = np.where(lt > 0, coll, 0.0)
    venue = np.array([VENUE_CODE["aave_v33" if aave_liquidation_rule(p.version) == "v33" else "aave_v30"]
                      for p in population.positions], dtype=np.int8)
    floored = np.array([floor and aave_hf_rule(p.version) == "avg" for p in population.positions])
    return PositionBook(
        symbols=population.symbols,
        prices_usd=np.array(population.price_base, dtype=np.float64) / BASE_UNIT,
        collateral=coll,
        debt=debt,
        liq_threshold=lt,
        liq_bonus=np.full((n, a), 1.05),
        protocol_fee=np.full((n, a), 0.1),
        venue=venue,
        market=np.zeros(n, dtype=np.int32),
        floored_avg_lt=floored,
    )


def oracle_prices(prices_usd) -> tuple[int, ...]:
    """Float USD prices as the oracle answers the exact path is given (base units, rounded)."""
    return tuple(max(1, int(round(float(p) * BASE_UNIT))) for p in prices_usd)


def exact_liquidatable(population: AavePopulation, i: int, price_base: tuple[int, ...]) -> bool:
    rule = aave_hf_rule(population.positions[i].version)
    return aave_is_liquidatable(legs(population, i, price_base), rule=rule)
