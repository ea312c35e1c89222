"""Fluid vaults (vault T1) on the devnet: the TEST DOUBLE (``chain/contracts/FluidVaultDouble.sol``)
and a seeded population of positions over the ticks.

``deploy_fluid`` deploys a vault-factory double, a resolver double and, per vault of ``VAULTS``, a
settable oracle double and a ``FluidVaultT1Double`` — an ETH/USDC-like vault (WETH collateral, USDC
debt) and a wstETH/ETH-like one (wstETH collateral, WETH debt), with illustrative parameters of the
kind Fluid's T1 vaults run (collateral factor < liquidation threshold < liquidation max limit, a
penalty of 1-2%); they are NOT mainnet's current settings, which the reader reads from the chain.

``populate_fluid`` opens seeded positions whose debt / collateral ratio (at the start prices) spreads
from 30% of the liquidation threshold up to the collateral factor, with a cluster just below it: a
5-10% drop puts some past the liquidation threshold, a deeper one some past the liquidation max
limit (the vault absorbs those).

Nothing here is Fluid's code: the double mirrors the vault's storage layout, the resolver's read
functions and the liquidation math from Instadapp/fluid-contracts-public (cited in the .sol file).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from eth_utils import keccak, to_checksum_address

from chain.devnet.rpc import DevnetRpc, Tx, encode_args, encode_call
from chain.devnet.solc import compile_own_contracts

_GAS = 3_000_000


@dataclass(frozen=True, slots=True)
class FluidVaultParams:
    """A T1 vault's risk configuration as vaultVariables2 stores it (thresholds 1e3, penalty 1e4)."""

    name: str
    supply_symbol: str
    borrow_symbol: str
    collateral_factor_1e3: int
    liquidation_threshold_1e3: int
    liquidation_max_limit_1e3: int
    liquidation_penalty_1e4: int


VAULTS: tuple[FluidVaultParams, ...] = (
    FluidVaultParams("ETH/USDC", "WETH", "USDC", 850, 880, 930, 200),
    FluidVaultParams("wstETH/ETH", "wstETH", "WETH", 930, 950, 970, 100),
)


@dataclass(frozen=True, slots=True)
class FluidVaultDeployment:
    name: str
    supply_symbol: str
    borrow_symbol: str
    supply_token: str
    borrow_token: str
    supply_decimals: int
    borrow_decimals: int
    vault: str
    oracle: str
    vault_id: int

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class FluidDeployment:
    """The Fluid doubles' addresses (checksummed)."""

    factory: str
    resolver: str
    vaults: tuple[FluidVaultDeployment, ...]
    deploy_block: int

    def to_dict(self) -> dict[str, Any]:
        return {"factory": self.factory, "resolver": self.resolver, "vaults": [v.to_dict() for v in self.vaults],
                "deploy_block": self.deploy_block}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FluidDeployment":
        return cls(d["factory"], d["resolver"], tuple(FluidVaultDeployment(**v) for v in d["vaults"]),
                   int(d["deploy_block"]))

    def vault(self, name: str) -> FluidVaultDeployment:
        for v in self.vaults:
            if v.name == name:
                return v
        raise KeyError(f"no Fluid vault {name!r} on the devnet; have {[v.name for v in self.vaults]}")


def oracle_rate_1e27(supply_usd: float, borrow_usd: float, supply_decimals: int, borrow_decimals: int) -> int:
    """A Fluid oracle's answer: raw debt-token units per raw collateral unit, times 1e27."""
    ratio = supply_usd / borrow_usd
    return int(round(ratio * 10**12)) * 10**(15 + borrow_decimals - supply_decimals)


def deploy_fluid(rpc: DevnetRpc, deployer: str, tokens: Mapping[str, str], decimals: Mapping[str, int],
                 prices_usd: Mapping[str, float], *, vaults: Sequence[FluidVaultParams] = VAULTS) -> FluidDeployment:
    """Deploy the factory and resolver doubles and one vault double (with its oracle) per ``vaults``."""
    own = compile_own_contracts()

    def deploy(name: str, types: Sequence[str] = (), args: Sequence[Any] = ()) -> str:
        code = own[name].bytecode + (encode_args(types, args) if types else "")
        return rpc.deploy(deployer, code, gas=8_000_000, what=f"deploy {name}")

    factory = deploy("FluidVaultFactoryDouble")
    resolver = deploy("FluidVaultResolverDouble", ("address",), (factory,))
    out = []
    for k, p in enumerate(vaults):
        sd, bd = decimals[p.supply_symbol], decimals[p.borrow_symbol]
        oracle = deploy("FluidOracleDouble", ("uint256",),
                        (oracle_rate_1e27(prices_usd[p.supply_symbol], prices_usd[p.borrow_symbol], sd, bd),))
        vault = deploy("FluidVaultT1Double", ("address", "address", "address", "uint8", "uint8", "address",
                                              "uint256", "uint256", "uint256", "uint256"),
                       (factory, tokens[p.supply_symbol], tokens[p.borrow_symbol], sd, bd, oracle,
                        p.collateral_factor_1e3, p.liquidation_threshold_1e3, p.liquidation_max_limit_1e3,
                        p.liquidation_penalty_1e4))
        out.append(FluidVaultDeployment(p.name, p.supply_symbol, p.borrow_symbol,
                                        to_checksum_address(tokens[p.supply_symbol]),
                                        to_checksum_address(tokens[p.borrow_symbol]), sd, bd, vault, oracle, k + 1))
    return FluidDeployment(factory, resolver, tuple(out), rpc.block_number())


@dataclass(frozen=True, slots=True)
class FluidPositionPlan:
    vault: str  # FluidVaultParams.name
    owner: str
    index: int
    col_raw: int
    debt_raw: int


def position_owner(seed: int, index: int) -> str:
    return to_checksum_address(keccak(text=f"liqrisk-fluid-position:{seed}:{index}")[-20:])


def plan_positions(n_positions: int, seed: int, prices_usd: Mapping[str, float], decimals: Mapping[str, int],
                   vaults: Sequence[FluidVaultParams] = VAULTS) -> list[FluidPositionPlan]:
    """Seeded positions: 60% in the first vault; collateral log-uniform $5k-$3M; debt / collateral
    value ``U(0.3 LT, CF)`` for 70%, ``U(0.96 CF, CF)`` for the rest (just below the collateral
    factor, so a 5-10% drop liquidates them and a deeper one puts them past the max limit)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xF1D]))
    weights = np.array([0.6] + [0.4 / max(len(vaults) - 1, 1)] * (len(vaults) - 1))
    weights = weights / weights.sum()
    out = []
    for i in range(n_positions):
        p = vaults[int(rng.choice(len(vaults), p=weights))]
        cf, lt = p.collateral_factor_1e3 / 1e3, p.liquidation_threshold_1e3 / 1e3
        coll_usd = float(np.exp(rng.uniform(np.log(5_000), np.log(3_000_000))))
        ratio = rng.uniform(0.96 * cf, cf) if rng.random() < 0.3 else rng.uniform(0.3 * lt, cf)
        col = int(coll_usd / prices_usd[p.supply_symbol] * 10**decimals[p.supply_symbol])
        debt = int(coll_usd * ratio / prices_usd[p.borrow_symbol] * 10**decimals[p.borrow_symbol])
        out.append(FluidPositionPlan(p.name, position_owner(seed, i), i, col, max(debt, 10_001)))
    return out


def populate_fluid(rpc: DevnetRpc, deployer: str, deployment: FluidDeployment, prices_usd: Mapping[str, float],
                   n_positions: int, seed: int, *, vaults: Sequence[FluidVaultParams] = VAULTS,
                   ) -> list[FluidPositionPlan]:
    """Open the planned positions (``FluidVaultT1Double.openPosition``, the double's stand-in for
    ``operate``) in one bulk send; NFT ids follow the plan's order (1, 2, ...)."""
    decimals = {v.supply_symbol: v.supply_decimals for v in deployment.vaults}
    decimals |= {v.borrow_symbol: v.borrow_decimals for v in deployment.vaults}
    plans = plan_positions(n_positions, seed, prices_usd, decimals, vaults)
    txs = [Tx(deployer, deployment.vault(pl.vault).vault,
              encode_call("openPosition(address,uint256,uint256)", pl.owner, pl.col_raw, pl.debt_raw), _GAS)
           for pl in plans]
    if txs:
        rpc.send_bulk(txs, what="open Fluid positions")
    return plans


def set_fluid_price(rpc: DevnetRpc, deployer: str, deployment: FluidDeployment, prices_usd: Mapping[str, float]) -> None:
    """Set every vault oracle double to the rate the given USD prices imply."""
    txs = []
    for v in deployment.vaults:
        rate = oracle_rate_1e27(prices_usd[v.supply_symbol], prices_usd[v.borrow_symbol], v.supply_decimals,
                                v.borrow_decimals)
        txs.append(Tx(deployer, v.oracle, encode_call("setRate(uint256)", rate), _GAS))
    rpc.send_bulk(txs, what="set Fluid oracle rates")


# ------------------------------------------------------------------------------ devnet plugin


def _feed_usd(ctx: Any, symbol: str) -> float:
    (answer,) = ctx.rpc.call_decode(ctx.feeds[symbol], "latestAnswer()", (), ("int256",))
    (decimals,) = ctx.rpc.call_decode(ctx.feeds[symbol], "decimals()", (), ("uint8",))
    return int(answer) / 10 ** int(decimals)


def _devnet_price(ctx: Any, fluid: FluidDeployment, symbol: str, price_usd: Any) -> None:
    """A vault's oracle moves when either leg does; the other leg's price is its devnet USD feed's
    (already set: ``Devnet.set_price_usd`` moves the feeds before the plugin oracles)."""
    txs = []
    for v in fluid.vaults:
        if symbol not in (v.supply_symbol, v.borrow_symbol):
            continue
        usd = {s: float(price_usd) if s == symbol else _feed_usd(ctx, s) for s in (v.supply_symbol, v.borrow_symbol)}
        rate = oracle_rate_1e27(usd[v.supply_symbol], usd[v.borrow_symbol], v.supply_decimals, v.borrow_decimals)
        txs.append(Tx(ctx.deployer, v.oracle, encode_call("setRate(uint256)", rate), _GAS))
    if txs:
        ctx.rpc.send_bulk(txs, what=f"Fluid oracles after {symbol}")


def _register_devnet() -> None:
    from chain.devnet.plugins import DevnetVenue, register_devnet_venue

    register_devnet_venue(DevnetVenue(
        "fluid", order=80, module=__name__,  # after the other plugin venues: their addresses stay the same
        deploy=lambda ctx: deploy_fluid(ctx.rpc, ctx.deployer, ctx.tokens, ctx.decimals, ctx.start_prices_usd),
        from_dict=FluidDeployment.from_dict,
        # one position per five borrowers (at least 20), over the two vaults
        populate=lambda ctx, fluid, n, seed: populate_fluid(ctx.rpc, ctx.deployer, fluid, ctx.start_prices_usd,
                                                            max(20, n // 5), seed),
        set_price=_devnet_price,
    ))


_register_devnet()


__all__ = ["FluidDeployment", "FluidPositionPlan", "FluidVaultDeployment", "FluidVaultParams", "VAULTS", "deploy_fluid",
           "oracle_rate_1e27", "plan_positions", "populate_fluid", "position_owner", "set_fluid_price"]
