"""Deterministic, seeded borrower population for the devnet (Aave V3, Morpho Blue, Comet double).

Borrowers are deterministic addresses derived from the seed (no private keys): they are
impersonated (``anvil_impersonateAccount``) and funded with ``anvil_setBalance``; every
transaction is an ``eth_sendTransaction`` with explicit gas and nonce, sent in JSON-RPC
batches with automine off, at most 128 per block, with deterministic block timestamps.

Start prices (USD): WETH 2,000, WBTC 60,000, wstETH 2,400, USDC 1. Every position is healthy
at those prices. Positions whose debt exceeds the LTV borrow limit at the start prices (e.g. a
WETH liquidation price of $1,990) are opened in a second phase while the Aave feeds are
briefly higher (WETH ×1.05, wstETH ×1.10) — as if the price had fallen since they borrowed —
then the feeds are restored to the start prices.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from eth_utils import keccak, to_checksum_address

from chain.devnet.deploy_aave import EMODE_ETH_CORRELATED, RESERVE_PARAMS
from chain.devnet.rpc import DevnetRpc, Tx, encode_call

START_PRICES_USD: dict[str, int] = {"WETH": 2_000, "WBTC": 60_000, "wstETH": 2_400, "USDC": 1}
FEED_DECIMALS = 8
# Aave feed multipliers (percent) while the second phase opens the high-LTV positions.
PHASE_B_PRICE_PCT: dict[str, int] = {"WETH": 105, "wstETH": 110}
BORROWER_ETH_WEI = 10 * 10**18
# Comet double collateral factors (WAD): (borrowCF, liquidateCF, liquidationFactor).
COMET_FACTORS: dict[str, tuple[int, int, int]] = {
    "WETH": (83 * 10**16, 85 * 10**16, 95 * 10**16),
    "WBTC": (80 * 10**16, 85 * 10**16, 95 * 10**16),
}
# Share of the population per group (sums to 1).
GROUP_SHARES: dict[str, float] = {
    "aave_weth_cluster": 0.25,  # WETH coll / USDC debt, ETH liquidation price $1,781-$1,862
    "aave_spread": 0.18,  # WETH (ETH liq $600-$1,750) or WBTC (BTC liq $18k-$54k) / USDC
    "aave_near": 0.03,  # WETH / USDC, ETH liquidation price $1,900-$1,990
    "aave_multi": 0.07,  # WETH + WBTC / USDC
    "aave_emode": 0.08,  # wstETH / WETH in eMode 1, HF 1.01-1.10
    "aave_short": 0.07,  # USDC / WETH, liquidated if ETH rises to $2,100-$2,600
    "morpho_wsteth_weth": 0.08,
    "morpho_weth_usdc": 0.08,
    "morpho_wbtc_usdc": 0.06,
    "comet": 0.10,  # WETH and/or WBTC / USDC on the Comet double
}
CLUSTER_LIQ_PRICE_USD = (1_781.0, 1_862.0)
# The Aave v3.6 market's own borrowers (venue "aave36"): the same kinds as v3.0.2, plus small
# positions (< $2,000 debt, a few $k of collateral) and "dusty" ones (one reserve of ~$1-2.5k
# beside a large one). Drawn from their own random stream, so the v3.0.2 / Morpho / Comet
# population of a (n_borrowers, seed) is the same with or without them. The shocks the tests
# apply (WETH -35%, wstETH -6.25%) put the "near", eMode and many cluster positions under water:
# their liquidation leaves a deficit (getReserveDeficit).
AAVE36_GROUP_SHARES: dict[str, float] = {
    "aave36_weth_cluster": 0.20,
    "aave36_spread": 0.12,
    "aave36_near": 0.08,
    "aave36_multi": 0.12,
    "aave36_emode": 0.12,
    "aave36_short": 0.08,
    "aave36_small": 0.16,
    "aave36_dusty": 0.12,
}
_MORPHO_GROUP_MARKET = {
    "morpho_wsteth_weth": "wstETH/WETH",
    "morpho_weth_usdc": "WETH/USDC",
    "morpho_wbtc_usdc": "WBTC/USDC",
}
_GAS = {"mint": 150_000, "approve": 100_000, "aave": 1_000_000, "morpho": 600_000, "comet": 400_000}


@dataclass(frozen=True, slots=True)
class BorrowerPlan:
    """One generated position: raw token amounts by symbol."""

    address: str
    venue: str  # "aave" (v3.0.2) | "aave36" (v3.6) | "morpho" | "comet"
    group: str
    collateral_raw: Mapping[str, int]
    debt_raw: Mapping[str, int]
    emode: int = 0
    market: str | None = None  # Morpho market name
    phase: str = "A"


@dataclass(frozen=True, slots=True)
class Population:
    """Summary of a populated devnet (addresses checksummed)."""

    seed: int
    n_borrowers: int
    groups: Mapping[str, tuple[str, ...]]  # group -> borrower addresses
    venues: Mapping[str, tuple[str, ...]]  # "aave" | "aave36" | "morpho" | "comet" -> borrower addresses
    morpho_markets: Mapping[str, tuple[str, ...]]  # market name -> borrower addresses
    first_block: int
    last_block: int
    counts: Mapping[str, int] = field(default_factory=dict)  # group -> number of borrowers
    n_aave36: int = 0  # borrowers of the Aave v3.6 market (venue "aave36"), besides n_borrowers

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "n_borrowers": self.n_borrowers, "n_aave36": self.n_aave36,
            "groups": {k: list(v) for k, v in self.groups.items()},
            "venues": {k: list(v) for k, v in self.venues.items()},
            "morpho_markets": {k: list(v) for k, v in self.morpho_markets.items()},
            "first_block": self.first_block, "last_block": self.last_block,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Population":
        groups = {k: tuple(v) for k, v in d["groups"].items()}
        return cls(
            seed=d["seed"], n_borrowers=d["n_borrowers"], groups=groups,
            venues={k: tuple(v) for k, v in d["venues"].items()},
            morpho_markets={k: tuple(v) for k, v in d["morpho_markets"].items()},
            first_block=d["first_block"], last_block=d["last_block"],
            counts={k: len(v) for k, v in groups.items()}, n_aave36=d.get("n_aave36", 0),
        )


def borrower_address(seed: int, index: int) -> str:
    """Deterministic borrower address (keccak of a seed-tagged label; nobody holds its key)."""
    return to_checksum_address(keccak(text=f"liqrisk-devnet-borrower:{seed}:{index}")[12:])


def aave36_borrower_address(seed: int, index: int) -> str:
    """Deterministic address of the v3.6 market's borrower ``index`` (nobody holds its key)."""
    return to_checksum_address(keccak(text=f"liqrisk-devnet-aave36-borrower:{seed}:{index}")[12:])


def group_counts(n_borrowers: int, shares: Mapping[str, float] = GROUP_SHARES) -> dict[str, int]:
    """Largest-remainder split of ``n_borrowers`` over ``shares`` (default :data:`GROUP_SHARES`)."""
    if n_borrowers < 0:
        raise ValueError(f"n_borrowers must be >= 0, got {n_borrowers}")
    exact = {g: s * n_borrowers for g, s in shares.items()}
    counts = {g: int(math.floor(v)) for g, v in exact.items()}
    rest = n_borrowers - sum(counts.values())
    for g in sorted(exact, key=lambda g: (-(exact[g] - counts[g]), list(shares).index(g)))[:rest]:
        counts[g] += 1
    return counts


def _raw(amount: float, decimals: int) -> int:
    return int(amount * 10**decimals)


def _size_usd(rng: random.Random, whale: bool) -> float:
    lo, hi = (5e6, 2e7) if whale else (1e3, 2e6)
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


_AAVE_KINDS = ("aave_weth_cluster", "aave_spread", "aave_near", "aave_multi", "aave_emode", "aave_short")


def _aave_amounts(rng: random.Random, kind: str, decimals: Mapping[str, int],
                  whale: bool) -> tuple[dict[str, int], dict[str, int], int]:
    """(collateral, debt, eMode) of one Aave position of ``kind`` (a group name without its
    ``aave_`` / ``aave36_`` prefix), amounts at the start prices. Shared by both Aave lines."""
    px = START_PRICES_USD
    lt = {s: p.liquidation_threshold_bps / 1e4 for s, p in RESERVE_PARAMS.items()}
    coll: dict[str, int] = {}
    debt: dict[str, int] = {}
    emode = 0
    if kind == "weth_cluster":
        weth = _size_usd(rng, whale) / px["WETH"]
        liq = rng.uniform(CLUSTER_LIQ_PRICE_USD[0] + 0.5, CLUSTER_LIQ_PRICE_USD[1] - 0.5)
        coll["WETH"] = _raw(weth, decimals["WETH"])
        debt["USDC"] = _raw(lt["WETH"] * weth * liq, decimals["USDC"])
    elif kind in ("spread", "near"):
        use_wbtc = kind == "spread" and rng.random() < 0.25
        sym = "WBTC" if use_wbtc else "WETH"
        amount = _size_usd(rng, rng.random() < 0.01) / px[sym]
        if use_wbtc:
            liq = rng.uniform(18_000, 54_000)
        elif kind == "spread":
            liq = rng.uniform(600, 1_750)
        else:
            liq = rng.uniform(1_900, 1_990)
        coll[sym] = _raw(amount, decimals[sym])
        debt["USDC"] = _raw(lt[sym] * amount * liq, decimals["USDC"])
    elif kind == "multi":
        total = _size_usd(rng, False)
        w_share = rng.uniform(0.2, 0.8)
        weth, wbtc = total * w_share / px["WETH"], total * (1 - w_share) / px["WBTC"]
        hf = rng.uniform(1.08, 1.8)
        coll["WETH"], coll["WBTC"] = _raw(weth, decimals["WETH"]), _raw(wbtc, decimals["WBTC"])
        debt["USDC"] = _raw((weth * px["WETH"] * lt["WETH"] + wbtc * px["WBTC"] * lt["WBTC"]) / hf,
                            decimals["USDC"])
    elif kind == "emode":
        emode = EMODE_ETH_CORRELATED["id"]
        wst = _size_usd(rng, False) / px["wstETH"]
        hf = rng.uniform(1.01, 1.10)
        coll["wstETH"] = _raw(wst, decimals["wstETH"])
        debt["WETH"] = _raw(wst * px["wstETH"] * EMODE_ETH_CORRELATED["lt_bps"] / 1e4 / hf / px["WETH"],
                            decimals["WETH"])
    elif kind == "short":
        usdc = _size_usd(rng, False)
        liq = rng.uniform(2_100, 2_600)
        coll["USDC"] = _raw(usdc, decimals["USDC"])
        debt["WETH"] = _raw(lt["USDC"] * usdc / liq, decimals["WETH"])
    elif kind == "small":
        # < $2,000 of debt against a few $k of collateral: the v3.3+ 100% close factor applies.
        total = rng.uniform(2_000, 6_000)
        hf = rng.uniform(1.08, 1.6)
        if rng.random() < 0.6:
            coll["WETH"] = _raw(total / px["WETH"], decimals["WETH"])
            weighted = total * lt["WETH"]
        else:
            w_share = rng.uniform(0.3, 0.7)
            coll["WETH"] = _raw(total * w_share / px["WETH"], decimals["WETH"])
            coll["WBTC"] = _raw(total * (1 - w_share) / px["WBTC"], decimals["WBTC"])
            weighted = total * w_share * lt["WETH"] + total * (1 - w_share) * lt["WBTC"]
        debt["USDC"] = _raw(min(weighted / hf, 1_950.0), decimals["USDC"])
    elif kind == "dusty":
        # A large and a small reserve (~$1-2.5k) on one side: max liquidations may hit the
        # v3.3+ $1,000 leftover rule on the collateral or on the debt side.
        hf = rng.uniform(1.08, 1.25)
        main = _size_usd(rng, False) / 50 + 5_000  # $5k .. $45k
        small = rng.uniform(1_000, 2_500)
        if rng.random() < 0.5:
            coll["WETH"] = _raw(main / px["WETH"], decimals["WETH"])
            coll["WBTC"] = _raw(small / px["WBTC"], decimals["WBTC"])
            debt["USDC"] = _raw((main * lt["WETH"] + small * lt["WBTC"]) / hf, decimals["USDC"])
        else:
            coll["WBTC"] = _raw(main / px["WBTC"], decimals["WBTC"])
            debt["WETH"] = _raw(small / px["WETH"], decimals["WETH"])
            debt["USDC"] = _raw(max(main * lt["WBTC"] / hf - small, 100.0), decimals["USDC"])
    else:  # pragma: no cover - the group tables and this function must agree
        raise AssertionError(kind)
    return coll, debt, emode


def generate_plans(n_borrowers: int, seed: int, decimals: Mapping[str, int]) -> list[BorrowerPlan]:
    """The population, deterministic in (n_borrowers, seed). Amounts use the start prices."""
    rng = random.Random(seed)
    counts = group_counts(n_borrowers)
    labels = [g for g, c in counts.items() for _ in range(c)]
    rng.shuffle(labels)
    px = START_PRICES_USD
    lt = {s: p.liquidation_threshold_bps / 1e4 for s, p in RESERVE_PARAMS.items()}
    plans: list[BorrowerPlan] = []
    seen_cluster = 0
    for i, group in enumerate(labels):
        addr = borrower_address(seed, i)
        coll: dict[str, int] = {}
        debt: dict[str, int] = {}
        emode, market, venue = 0, None, "aave"
        if group in _AAVE_KINDS:
            whale = False
            if group == "aave_weth_cluster":
                whale = seen_cluster < 2 or rng.random() < 0.02  # a few $5M+ whales in the cluster
                seen_cluster += 1
            coll, debt, emode = _aave_amounts(rng, group.removeprefix("aave_"), decimals, whale)
        elif group in _MORPHO_GROUP_MARKET:
            venue, market = "morpho", _MORPHO_GROUP_MARKET[group]
            c_sym, l_sym = market.split("/")
            lltv = 0.945 if c_sym == "wstETH" else 0.86
            amount = _size_usd(rng, rng.random() < 0.02) / px[c_sym]
            hf = rng.uniform(1.005, 1.15) if c_sym == "wstETH" else rng.uniform(1.02, 2.0)
            coll[c_sym] = _raw(amount, decimals[c_sym])
            debt[l_sym] = _raw(amount * px[c_sym] * lltv / hf / px[l_sym], decimals[l_sym])
        elif group == "comet":
            venue = "comet"
            r = rng.random()
            syms = ["WETH"] if r < 0.6 else (["WBTC"] if r < 0.8 else ["WETH", "WBTC"])
            total = _size_usd(rng, False)
            hf = rng.uniform(1.08, 2.0)
            weighted = 0.0
            for s in syms:
                amount = total / len(syms) / px[s]
                coll[s] = _raw(amount, decimals[s])
                weighted += amount * px[s] * COMET_FACTORS[s][1] / 1e18
            debt["USDC"] = _raw(weighted / hf, decimals["USDC"])
        else:  # pragma: no cover - GROUP_SHARES and this function must agree
            raise AssertionError(group)
        phase = "A"
        if venue == "aave" and not _passes_ltv(coll, debt, emode, decimals, px):
            phase = "B"
            boosted = {s: px[s] * PHASE_B_PRICE_PCT.get(s, 100) / 100 for s in px}
            if not _passes_ltv(coll, debt, emode, decimals, boosted):
                raise AssertionError(f"generated position {i} ({group}) cannot be opened")
        plans.append(BorrowerPlan(addr, venue, group, coll, debt, emode, market, phase))
    return plans


def generate_aave36_plans(n_borrowers: int, seed: int, decimals: Mapping[str, int]) -> list[BorrowerPlan]:
    """The Aave v3.6 market's borrowers, deterministic in (n_borrowers, seed), from a random
    stream of their own (see :data:`AAVE36_GROUP_SHARES`)."""
    rng = random.Random(seed * 1_000_003 + 36)
    counts = group_counts(n_borrowers, AAVE36_GROUP_SHARES)
    labels = [g for g, c in counts.items() for _ in range(c)]
    rng.shuffle(labels)
    plans: list[BorrowerPlan] = []
    seen_cluster = 0
    boosted = {s: p * PHASE_B_PRICE_PCT.get(s, 100) / 100 for s, p in START_PRICES_USD.items()}
    for i, group in enumerate(labels):
        whale = False
        if group == "aave36_weth_cluster":
            whale = seen_cluster < 1
            seen_cluster += 1
        coll, debt, emode = _aave_amounts(rng, group.removeprefix("aave36_"), decimals, whale)
        phase = "A"
        if not _passes_ltv(coll, debt, emode, decimals, START_PRICES_USD):
            phase = "B"
            if not _passes_ltv(coll, debt, emode, decimals, boosted):
                raise AssertionError(f"generated v3.6 position {i} ({group}) cannot be opened")
        plans.append(BorrowerPlan(aave36_borrower_address(seed, i), "aave36", group, coll, debt, emode, None, phase))
    return plans


def _passes_ltv(coll: Mapping[str, int], debt: Mapping[str, int], emode: int, decimals: Mapping[str, int],
                prices: Mapping[str, float]) -> bool:
    """Aave borrow check with a 0.3% margin (float; the contract decides for real)."""
    limit = 0.0
    for s, raw in coll.items():
        ltv = EMODE_ETH_CORRELATED["ltv_bps"] if emode and RESERVE_PARAMS[s].emode_category == emode \
            else RESERVE_PARAMS[s].ltv_bps
        limit += raw / 10 ** decimals[s] * prices[s] * ltv / 1e4
    owed = sum(raw / 10 ** decimals[s] * prices[s] for s, raw in debt.items())
    return owed * 1.003 <= limit


def _borrower_txs(plan: BorrowerPlan, dep: Any) -> list[Tx]:
    """Transactions of one borrower, in order (dep: chain.devnet.core.DevnetDeployment)."""
    a = plan.address
    txs: list[Tx] = []
    tokens = dep.tokens
    if plan.venue in ("aave", "aave36"):
        pool = dep.aave.pool if plan.venue == "aave" else dep.aave36.pool
        for s, raw in plan.collateral_raw.items():
            txs.append(Tx(a, tokens[s], encode_call("mint(address,uint256)", a, raw), _GAS["mint"]))
            txs.append(Tx(a, tokens[s], encode_call("approve(address,uint256)", pool, raw), _GAS["approve"]))
            txs.append(Tx(a, pool, encode_call("supply(address,uint256,address,uint16)", tokens[s], raw, a, 0),
                          _GAS["aave"]))
        if plan.emode:
            txs.append(Tx(a, pool, encode_call("setUserEMode(uint8)", plan.emode), _GAS["aave"]))
        for s, raw in plan.debt_raw.items():
            txs.append(Tx(a, pool, encode_call("borrow(address,uint256,uint256,uint16,address)",
                                               tokens[s], raw, 2, 0, a), _GAS["aave"]))
    elif plan.venue == "morpho":
        morpho = dep.morpho.address
        m = dep.morpho.markets[plan.market]
        ((c_sym, c_raw),) = plan.collateral_raw.items()
        ((_, d_raw),) = plan.debt_raw.items()
        mp = "(address,address,address,address,uint256)"
        txs.append(Tx(a, tokens[c_sym], encode_call("mint(address,uint256)", a, c_raw), _GAS["mint"]))
        txs.append(Tx(a, tokens[c_sym], encode_call("approve(address,uint256)", morpho, c_raw), _GAS["approve"]))
        txs.append(Tx(a, morpho, encode_call(f"supplyCollateral({mp},uint256,address,bytes)", m.params, c_raw, a,
                                             b""), _GAS["morpho"]))
        txs.append(Tx(a, morpho, encode_call(f"borrow({mp},uint256,uint256,address,address)", m.params, d_raw, 0,
                                             a, a), _GAS["morpho"]))
    else:
        comet = dep.comet_double
        for s, raw in plan.collateral_raw.items():
            txs.append(Tx(a, comet, encode_call("supply(address,uint256)", tokens[s], raw), _GAS["comet"]))
        ((_, d_raw),) = plan.debt_raw.items()
        txs.append(Tx(a, comet, encode_call("withdraw(address,uint256)", tokens["USDC"], d_raw), _GAS["comet"]))
    return txs


def _lender_txs(lender: str, plans: Sequence[BorrowerPlan], dep: Any) -> list[Tx]:
    """Loan liquidity: 1.25× the planned borrows (+ a floor) per Aave reserve and Morpho market."""
    txs: list[Tx] = []
    aave_need: dict[str, dict[str, int]] = {"aave": {}, "aave36": {}}
    morpho_need: dict[str, int] = {}
    for p in plans:
        for s, raw in p.debt_raw.items():
            if p.venue in aave_need:
                aave_need[p.venue][s] = aave_need[p.venue].get(s, 0) + raw
            elif p.venue == "morpho":
                morpho_need[p.market] = morpho_need.get(p.market, 0) + raw
    morpho = dep.morpho.address
    for venue, need in aave_need.items():
        if not need:
            continue
        pool = dep.aave.pool if venue == "aave" else dep.aave36.pool
        for s in sorted(need):
            amount = need[s] * 5 // 4 + 1000 * 10 ** dep.decimals[s]
            txs.append(Tx(lender, dep.tokens[s], encode_call("mint(address,uint256)", lender, amount), _GAS["mint"]))
            txs.append(Tx(lender, dep.tokens[s], encode_call("approve(address,uint256)", pool, amount),
                          _GAS["approve"]))
            txs.append(Tx(lender, pool, encode_call("supply(address,uint256,address,uint16)", dep.tokens[s], amount,
                                                    lender, 0), _GAS["aave"]))
    mp = "(address,address,address,address,uint256)"
    for name in sorted(morpho_need):
        m = dep.morpho.markets[name]
        amount = morpho_need[name] * 5 // 4 + 1000 * 10 ** dep.decimals[name.split("/")[1]]
        txs.append(Tx(lender, m.loan_token, encode_call("mint(address,uint256)", lender, amount), _GAS["mint"]))
        txs.append(Tx(lender, m.loan_token, encode_call("approve(address,uint256)", morpho, amount),
                      _GAS["approve"]))
        txs.append(Tx(lender, morpho, encode_call(f"supply({mp},uint256,uint256,address,bytes)", m.params, amount, 0,
                                                  lender, b""), _GAS["morpho"]))
    return txs


def _set_prices(rpc: DevnetRpc, dep: Any, answers: Mapping[str, int], what: str) -> None:
    """The USD feeds (read by both Aave lines) to ``answers``, in one block."""
    rpc.send_bulk([Tx(dep.deployer, dep.aave.price_feeds[s], encode_call("setAnswer(int256)", v), 200_000)
                   for s, v in answers.items()], what=what)


def populate(rpc: DevnetRpc, dep: Any, n_borrowers: int, seed: int, n_aave36: int | None = None) -> Population:
    """Generate and open the population on the devnet described by ``dep`` (a DevnetDeployment).

    ``n_aave36`` borrowers (default ``n_borrowers // 2``) go to the Aave v3.6 market when the
    deployment has one."""
    plans = generate_plans(n_borrowers, seed, dep.decimals)
    if getattr(dep, "aave36", None) is not None:
        n_aave36 = n_borrowers // 2 if n_aave36 is None else n_aave36
        plans += generate_aave36_plans(n_aave36, seed, dep.decimals)
    else:
        n_aave36 = 0
    first_block = rpc.block_number() + 1
    setup = []
    for p in plans:
        setup.append(("anvil_impersonateAccount", [p.address]))
        setup.append(("anvil_setBalance", [p.address, hex(BORROWER_ETH_WEI)]))
    rpc.batch(setup)
    rpc.send_bulk(_lender_txs(dep.lender, plans, dep), what="lender liquidity")
    phase_a = [tx for p in plans if p.phase == "A" for tx in _borrower_txs(p, dep)]
    rpc.send_bulk(phase_a, what="population phase A")
    phase_b_plans = [p for p in plans if p.phase == "B"]
    if phase_b_plans:
        start = {s: START_PRICES_USD[s] * 10**FEED_DECIMALS for s in PHASE_B_PRICE_PCT}
        boosted = {s: v * PHASE_B_PRICE_PCT[s] // 100 for s, v in start.items()}
        _set_prices(rpc, dep, boosted, "phase B prices")
        rpc.send_bulk([tx for p in phase_b_plans for tx in _borrower_txs(p, dep)], what="population phase B")
        _set_prices(rpc, dep, start, "restore start prices")
    rpc.batch([("anvil_stopImpersonatingAccount", [p.address]) for p in plans])
    groups: dict[str, list[str]] = {g: [] for g in (*GROUP_SHARES, *(AAVE36_GROUP_SHARES if n_aave36 else ()))}
    venues: dict[str, list[str]] = {"aave": [], "morpho": [], "comet": [], **({"aave36": []} if n_aave36 else {})}
    markets: dict[str, list[str]] = {m: [] for m in dep.morpho.markets}
    for p in plans:
        groups[p.group].append(p.address)
        venues[p.venue].append(p.address)
        if p.market:
            markets[p.market].append(p.address)
    return Population(
        seed=seed, n_borrowers=n_borrowers, n_aave36=n_aave36,
        groups={k: tuple(v) for k, v in groups.items()},
        venues={k: tuple(v) for k, v in venues.items()},
        morpho_markets={k: tuple(v) for k, v in markets.items()},
        first_block=first_block, last_block=rpc.block_number(),
        counts={k: len(v) for k, v in groups.items()},
    )
