"""Aave V4 on the devnet: the TEST DOUBLE (``chain/contracts/AaveV4Double.sol``): one hub, two
spokes with their own oracles and liquidation configs, and seeded positions.

Nothing here is Aave's code: the double implements the Aave V4 hub/spoke read interface and the
spoke's liquidation math from the aave/aave-v4 sources cited in the .sol file (no genuine Aave V4
is installable from a package registry).

``deploy_aave_v4`` lists the devnet tokens on a "Core" hub (with a share price above 1 and drawn
indices above 1, as interest accrual would leave them) and two spokes: ``main`` (target HF 1.05,
max bonus at HF <= 0.95, bonus factor 20%, like a general market) and ``lido`` (ETH-correlated,
CF 93%, target HF 1.02). ``populate_aave_v4`` writes seeded positions (one or two collaterals, one
or two debts, HF 1.01-2.5, sizes from $1,500 to $400,000 so the $1,000 dust rule and deficits
happen under shocks) with ``setUserPosition``, which emits Supply/Borrow for discovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping, Sequence

import numpy as np
from eth_utils import keccak, to_checksum_address

from chain.devnet.rpc import DevnetRpc, Tx, encode_args, encode_call
from chain.devnet.solc import compile_own_contracts

RAY = 10**27
WAD = 10**18
VIRTUAL = 10**6  # SharesMath.VIRTUAL_ASSETS / VIRTUAL_SHARES
PRICE_DECIMALS = 8
_GAS = 3_000_000


@dataclass(frozen=True, slots=True)
class ReservePlan:
    symbol: str
    collateral_factor_bps: int
    max_liquidation_bonus_bps: int
    liquidation_fee_bps: int
    borrowable: bool


@dataclass(frozen=True, slots=True)
class SpokePlan:
    name: str
    target_health_factor_wad: int
    health_factor_for_max_bonus_wad: int
    liquidation_bonus_factor_bps: int
    reserves: tuple[ReservePlan, ...]


SPOKES: tuple[SpokePlan, ...] = (
    SpokePlan("main", 105 * 10**16, 95 * 10**16, 2_000, (
        ReservePlan("WETH", 8_000, 10_500, 1_000, True),
        ReservePlan("wstETH", 7_800, 10_600, 1_000, False),
        ReservePlan("WBTC", 7_300, 10_700, 1_500, True),
        ReservePlan("USDC", 7_500, 10_400, 1_000, True),
    )),
    SpokePlan("lido", 102 * 10**16, 97 * 10**16, 5_000, (
        ReservePlan("wstETH", 9_300, 10_100, 500, False),
        ReservePlan("WETH", 9_300, 10_100, 500, True),
    )),
)

HUB_STATE: dict[str, tuple[float, int]] = {
    # symbol: (assets per supplied share, drawn index in RAY) — what accrued interest leaves
    "WETH": (1.0237, 1_031_000_000_000_000_000_000_000_000),
    "wstETH": (1.0041, 1_004_500_000_000_000_000_000_000_000),
    "WBTC": (1.0112, 1_012_700_000_000_000_000_000_000_000),
    "USDC": (1.0583, 1_047_300_000_000_000_000_000_000_000),
}
HUB_SIZE_TOKENS = 10_000_000  # the hub's added assets per asset (tokens): positions are small beside it


@dataclass(frozen=True, slots=True)
class SpokeDeployment:
    name: str
    spoke: str
    oracle: str
    reserves: Mapping[str, int]  # symbol -> reserveId

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "spoke": self.spoke, "oracle": self.oracle, "reserves": dict(self.reserves)}


@dataclass(frozen=True, slots=True)
class AaveV4Deployment:
    """The Aave V4 double's addresses (checksummed)."""

    hub: str
    assets: Mapping[str, int]  # symbol -> hub assetId
    spokes: tuple[SpokeDeployment, ...]
    deploy_block: int

    def to_dict(self) -> dict[str, Any]:
        return {"hub": self.hub, "assets": dict(self.assets), "spokes": [s.to_dict() for s in self.spokes],
                "deploy_block": self.deploy_block}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "AaveV4Deployment":
        return cls(d["hub"], dict(d["assets"]), tuple(SpokeDeployment(s["name"], s["spoke"], s["oracle"], dict(s["reserves"]))
                                                      for s in d["spokes"]), int(d["deploy_block"]))

    def spoke(self, name: str) -> SpokeDeployment:
        for s in self.spokes:
            if s.name == name:
                return s
        raise KeyError(f"no Aave V4 spoke {name!r} on the devnet; have {[s.name for s in self.spokes]}")


def price_raw(price_usd: float | Decimal) -> int:
    """The oracle's 8-decimal answer (exact for an 8-decimal Decimal, as the devnet's price moves are)."""
    if isinstance(price_usd, Decimal):
        return int(price_usd.scaleb(PRICE_DECIMALS).to_integral_value())
    return int(round(price_usd * 10**PRICE_DECIMALS))


def deploy_aave_v4(rpc: DevnetRpc, deployer: str, tokens: Mapping[str, str], decimals: Mapping[str, int],
                   prices_usd: Mapping[str, float], *, spokes: Sequence[SpokePlan] = SPOKES) -> AaveV4Deployment:
    own = compile_own_contracts()

    def deploy(name: str, types: Sequence[str] = (), args: Sequence[Any] = ()) -> str:
        code = own[name].bytecode + (encode_args(types, args) if types else "")
        return rpc.deploy(deployer, code, gas=8_000_000, what=f"deploy {name}")

    hub = deploy("AaveV4HubDouble")
    symbols = sorted({r.symbol for s in spokes for r in s.reserves})
    assets = {sym: i for i, sym in enumerate(symbols)}
    txs = []
    for sym in symbols:
        txs.append(Tx(deployer, hub, encode_call("addAsset(address,uint8)", tokens[sym], decimals[sym]), _GAS))
    rpc.send_bulk(txs, what="Aave V4 hub assets")
    txs = []
    for sym in symbols:
        per_share, index = HUB_STATE[sym]
        shares = HUB_SIZE_TOKENS * 10 ** decimals[sym]
        txs.append(Tx(deployer, hub, encode_call("setAssetState(uint256,uint256,uint256,uint256)", assets[sym],
                                                 int(shares * per_share), shares, index), _GAS))
    rpc.send_bulk(txs, what="Aave V4 hub state")
    out = []
    for plan in spokes:
        oracle = deploy("AaveV4OracleDouble")
        spoke = deploy("AaveV4SpokeDouble", ("address",), (oracle,))
        txs = [Tx(deployer, hub, encode_call("addSpoke(address)", spoke), _GAS),
               Tx(deployer, spoke, encode_call("updateLiquidationConfig(uint128,uint64,uint16)",
                                               plan.target_health_factor_wad, plan.health_factor_for_max_bonus_wad,
                                               plan.liquidation_bonus_factor_bps), _GAS)]
        reserves = {}
        for reserve_id, r in enumerate(plan.reserves):
            reserves[r.symbol] = reserve_id
            txs.append(Tx(deployer, spoke, encode_call("addReserve(address,uint256,bool,uint16,uint32,uint16)", hub,
                                                       assets[r.symbol], r.borrowable, r.collateral_factor_bps,
                                                       r.max_liquidation_bonus_bps, r.liquidation_fee_bps), _GAS))
            txs.append(Tx(deployer, oracle, encode_call("setReservePrice(uint256,uint256)", reserve_id,
                                                        price_raw(prices_usd[r.symbol])), _GAS))
        rpc.send_bulk(txs, what=f"Aave V4 spoke {plan.name}")
        out.append(SpokeDeployment(plan.name, to_checksum_address(spoke), to_checksum_address(oracle), reserves))
    return AaveV4Deployment(to_checksum_address(hub), assets, tuple(out), rpc.block_number())


def set_aave_v4_price(rpc: DevnetRpc, deployer: str, dep: AaveV4Deployment, symbol: str,
                      price_usd: float | Decimal) -> None:
    """Set ``symbol``'s price on every spoke oracle that lists it (one block)."""
    txs = [Tx(deployer, s.oracle, encode_call("setReservePrice(uint256,uint256)", s.reserves[symbol], price_raw(price_usd)),
              _GAS) for s in dep.spokes if symbol in s.reserves]
    if txs:
        rpc.send_bulk(txs, what=f"Aave V4 price {symbol}")


# ------------------------------------------------------------------------------- population


@dataclass(frozen=True, slots=True)
class PositionPlan:
    spoke: str
    user: str
    supplied: Mapping[str, int]  # symbol -> raw assets (collateral)
    borrowed: Mapping[str, int]  # symbol -> raw assets (debt)


def position_user(seed: int, spoke: str, index: int) -> str:
    return to_checksum_address(keccak(text=f"liqrisk-aave-v4:{seed}:{spoke}:{index}")[-20:])


def plan_positions(n_positions: int, seed: int, prices_usd: Mapping[str, float], decimals: Mapping[str, int],
                   spokes: Sequence[SpokePlan] = SPOKES) -> list[PositionPlan]:
    """Seeded positions: 70% on the first spoke, one or two collaterals (a fifth with two), one debt
    (a tenth with two), HF ``U(1.01, 1.15)`` for a third and ``U(1.15, 2.5)`` for the rest, collateral
    log-uniform $1,500-$400,000."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xAA4]))
    plans = []
    for i in range(n_positions):
        plan = spokes[0] if rng.random() < 0.7 or len(spokes) == 1 else spokes[1 + int(rng.integers(len(spokes) - 1))]
        coll_choices = [r for r in plan.reserves if r.collateral_factor_bps > 0]
        n_coll = 2 if rng.random() < 0.2 and len(coll_choices) > 1 else 1
        colls = [coll_choices[k] for k in rng.choice(len(coll_choices), size=n_coll, replace=False)]
        debt_choices = [r for r in plan.reserves if r.borrowable and r.symbol not in {c.symbol for c in colls}]
        if not debt_choices:
            debt_choices = [r for r in plan.reserves if r.borrowable]
        n_debt = 2 if rng.random() < 0.1 and len(debt_choices) > 1 else 1
        debts = [debt_choices[k] for k in rng.choice(len(debt_choices), size=n_debt, replace=False)]
        coll_usd_total = float(np.exp(rng.uniform(np.log(1_500), np.log(400_000))))
        hf = rng.uniform(1.01, 1.15) if rng.random() < 0.34 else rng.uniform(1.15, 2.5)
        split = rng.dirichlet(np.ones(n_coll)) if n_coll > 1 else np.array([1.0])
        supplied = {c.symbol: int(coll_usd_total * s / prices_usd[c.symbol] * 10 ** decimals[c.symbol])
                    for c, s in zip(colls, split)}
        weighted_usd = sum(coll_usd_total * s * c.collateral_factor_bps / 10_000 for c, s in zip(colls, split))
        debt_usd = weighted_usd / hf
        dsplit = rng.dirichlet(np.ones(n_debt)) if n_debt > 1 else np.array([1.0])
        borrowed = {d.symbol: int(debt_usd * s / prices_usd[d.symbol] * 10 ** decimals[d.symbol]) for d, s in zip(debts, dsplit)}
        plans.append(PositionPlan(plan.name, position_user(seed, plan.name, i), supplied, borrowed))
    return plans


def supplied_shares(assets_raw: int, added_assets: int, added_shares: int) -> int:
    """SharesMath.toSharesDown (what Hub.add mints for ``assets_raw``)."""
    return assets_raw * (added_shares + VIRTUAL) // (added_assets + VIRTUAL)


def drawn_shares(assets_raw: int, drawn_index_ray: int) -> int:
    """AssetLogic.toDrawnSharesDown (rayDivDown)."""
    return assets_raw * RAY // drawn_index_ray


@dataclass(frozen=True, slots=True)
class AaveV4Population:
    seed: int
    users: Mapping[str, tuple[str, ...]]  # spoke name -> users
    first_block: int
    last_block: int


def populate_aave_v4(rpc: DevnetRpc, deployer: str, dep: AaveV4Deployment, prices_usd: Mapping[str, float],
                     decimals: Mapping[str, int], n_positions: int, seed: int,
                     spokes: Sequence[SpokePlan] = SPOKES) -> AaveV4Population:
    plans = plan_positions(n_positions, seed, prices_usd, decimals, spokes)
    first = rpc.block_number() + 1
    state = {}
    for sym in dep.assets:
        per_share, index = HUB_STATE[sym]
        shares = HUB_SIZE_TOKENS * 10 ** decimals[sym]
        state[sym] = (int(shares * per_share), shares, index)
    txs = []
    for p in plans:
        s = dep.spoke(p.spoke)
        for sym in sorted(set(p.supplied) | set(p.borrowed)):
            added_assets, added_shares, index = state[sym]
            supply = supplied_shares(p.supplied.get(sym, 0), added_assets, added_shares)
            drawn = drawn_shares(p.borrowed.get(sym, 0), index)
            txs.append(Tx(deployer, s.spoke, encode_call("setUserPosition(address,uint256,uint120,uint120,bool)", p.user,
                                                         s.reserves[sym], supply, drawn, sym in p.supplied), _GAS))
    rpc.send_bulk(txs, per_block=64, what="Aave V4 positions")
    users = {s.name: tuple(dict.fromkeys(p.user for p in plans if p.spoke == s.name)) for s in dep.spokes}
    return AaveV4Population(seed, users, first, rpc.block_number())


# ------------------------------------------------------------------ the devnet plugin (chain.devnet.plugins)


def _devnet_price(ctx: Any, dep: AaveV4Deployment, symbol: str, price_usd: Decimal) -> None:
    if any(symbol in s.reserves for s in dep.spokes):
        set_aave_v4_price(ctx.rpc, ctx.deployer, dep, symbol, price_usd)


def _register_devnet() -> None:
    from chain.devnet.plugins import DevnetVenue, register_devnet_venue

    register_devnet_venue(DevnetVenue(
        "aave_v4", order=200, module=__name__,  # after every other venue: their addresses per seed stay the same
        deploy=lambda ctx: deploy_aave_v4(ctx.rpc, ctx.deployer, ctx.tokens, ctx.decimals, ctx.start_prices_usd),
        from_dict=AaveV4Deployment.from_dict,
        # one position per six borrowers (at least 16), 70% on the main spoke
        populate=lambda ctx, dep, n, seed: populate_aave_v4(ctx.rpc, ctx.deployer, dep, ctx.start_prices_usd,
                                                            ctx.decimals, max(16, n // 6), seed),
        set_price=_devnet_price,
    ))


_register_devnet()

__all__ = [
    "AaveV4Deployment", "AaveV4Population", "HUB_STATE", "PositionPlan", "ReservePlan", "SPOKES", "SpokeDeployment",
    "SpokePlan", "deploy_aave_v4", "drawn_shares", "plan_positions", "populate_aave_v4", "position_user", "price_raw",
    "set_aave_v4_price", "supplied_shares",
]
