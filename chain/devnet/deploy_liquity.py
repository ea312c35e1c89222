"""Liquity v2 (BOLD) on the devnet: the TEST DOUBLE (``chain/contracts/LiquityV2Double.sol``) and
seeded troves per branch.

``deploy_liquity`` deploys, per collateral branch (WETH, wstETH, rETH with the mainnet constants of
liquity/bold contracts/src/Dependencies/Constants.sol @043b7464ed1d), an AddressesRegistry double,
a settable price feed, SortedTroves, a Stability Pool and the TroveManager double, plus a BOLD token
and an rETH token (only as addresses). ``populate_liquity`` opens seeded troves with varied annual
interest rates (0.5%-25%, a cluster of low-rate troves at the front of the redemption queue) and
ICRs (a third just above MCR, liquidated by a 5-15% drop), deposits BOLD in each branch's SP (a
fraction of the branch debt, so a deep shock exhausts it and redistribution happens), then lets 30
days pass so interest accrues.

Nothing here is Liquity's code: the double implements Liquity v2's read interface and liquidation
math from the liquity/bold sources (cited in the .sol file).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from eth_utils import keccak, to_checksum_address

from chain.devnet.rpc import DevnetRpc, Tx, encode_args, encode_call
from chain.devnet.solc import compile_own_contracts
from risk.liquity_v2 import SETH_BRANCH, WETH_BRANCH, BranchParams

WAD = 10**18
BRANCHES: dict[str, BranchParams] = {"WETH": WETH_BRANCH, "wstETH": SETH_BRANCH, "rETH": SETH_BRANCH}
RETH_START_PRICE_USD = 2_260.0  # rETH is not one of the devnet's other tokens: its own start price
SP_SHARE_OF_DEBT = 0.25  # BOLD in each branch's Stability Pool, as a share of the branch's debt
ACCRUAL_S = 30 * 86_400
_GAS = 2_000_000


def _wad(x: float) -> int:
    return int(round(x * 10**9)) * 10**9


@dataclass(frozen=True, slots=True)
class LiquityBranchDeployment:
    coll_symbol: str
    coll_token: str
    addresses_registry: str
    trove_manager: str
    sorted_troves: str
    stability_pool: str
    price_feed: str

    def to_dict(self) -> dict[str, str]:
        return {"coll_symbol": self.coll_symbol, "coll_token": self.coll_token,
                "addresses_registry": self.addresses_registry, "trove_manager": self.trove_manager,
                "sorted_troves": self.sorted_troves, "stability_pool": self.stability_pool,
                "price_feed": self.price_feed}


@dataclass(frozen=True, slots=True)
class LiquityDeployment:
    """The Liquity v2 double's addresses (checksummed)."""

    bold: str
    branches: tuple[LiquityBranchDeployment, ...]
    deploy_block: int

    def to_dict(self) -> dict[str, Any]:
        return {"bold": self.bold, "branches": [b.to_dict() for b in self.branches], "deploy_block": self.deploy_block}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "LiquityDeployment":
        return cls(d["bold"], tuple(LiquityBranchDeployment(**b) for b in d["branches"]), int(d["deploy_block"]))

    def branch(self, coll_symbol: str) -> LiquityBranchDeployment:
        for b in self.branches:
            if b.coll_symbol == coll_symbol:
                return b
        raise KeyError(f"no Liquity branch {coll_symbol!r} on the devnet; have {[b.coll_symbol for b in self.branches]}")


def deploy_liquity(rpc: DevnetRpc, deployer: str, tokens: Mapping[str, str], prices_usd: Mapping[str, float],
                   *, branches: Mapping[str, BranchParams] = BRANCHES) -> LiquityDeployment:
    """Deploy one branch double per entry of ``branches`` (collateral from ``tokens``; tokens missing
    there, e.g. rETH, and BOLD are deployed as TestERC20)."""
    own = compile_own_contracts()

    def deploy(name: str, types: Sequence[str] = (), args: Sequence[Any] = ()) -> str:
        code = own[name].bytecode + (encode_args(types, args) if types else "")
        return rpc.deploy(deployer, code, gas=8_000_000, what=f"deploy {name}")

    token = dict(tokens)
    bold = deploy("TestERC20", ("string", "string", "uint8"), ("devnet BOLD", "BOLD", 18))
    out = []
    for symbol, p in branches.items():
        if symbol not in token:
            token[symbol] = deploy("TestERC20", ("string", "string", "uint8"), (f"devnet {symbol}", symbol, 18))
        price = prices_usd[symbol] if symbol in prices_usd else RETH_START_PRICE_USD
        registry = deploy("LiquityAddressesRegistryDouble", ("address",) + ("uint256",) * 5,
                          (token[symbol], p.ccr_wad, p.scr_wad, p.mcr_wad, p.penalty_sp_wad, p.penalty_redistribution_wad))
        feed = deploy("LiquityPriceFeedDouble", ("uint256",), (_wad(price),))
        sorted_troves = deploy("LiquitySortedTrovesDouble")
        sp = deploy("LiquityStabilityPoolDouble")
        tm = deploy("LiquityTroveManagerDouble", ("address", "address", "address", "address"),
                    (registry, sorted_troves, sp, feed))
        rpc.send_bulk([
            Tx(deployer, registry, encode_call("setAddresses(address,address,address,address)", tm, sorted_troves, sp, feed),
               _GAS),
            Tx(deployer, sorted_troves, encode_call("setTroveManager(address)", tm), _GAS),
            Tx(deployer, sp, encode_call("setTroveManager(address)", tm), _GAS),
        ], what=f"wire Liquity {symbol}")
        out.append(LiquityBranchDeployment(symbol, to_checksum_address(token[symbol]), registry, tm, sorted_troves, sp,
                                           feed))
    return LiquityDeployment(bold, tuple(out), rpc.block_number())


@dataclass(frozen=True, slots=True)
class TrovePlan:
    branch: str
    owner: str
    index: int
    coll_wei: int
    debt_wei: int
    rate_wad: int


def trove_owner(seed: int, index: int) -> str:
    return to_checksum_address(keccak(text=f"liqrisk-liquity-trove:{seed}:{index}")[-20:])


def plan_troves(n_troves: int, seed: int, prices_usd: Mapping[str, float],
                branches: Mapping[str, BranchParams] = BRANCHES) -> list[TrovePlan]:
    """Seeded troves: 50% WETH, 30% wstETH, 20% rETH; ICR ``MCR * U(1.05, 1.15)`` for a third,
    ``MCR * U(1.15, 2.8)`` for the rest; annual rates log-uniform 0.5%-25% (a fifth at 0.5%-2%)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x11B0]))
    names = list(branches)
    weights = np.array([0.5, 0.3, 0.2][: len(names)])
    weights = weights / weights.sum()
    plans = []
    for i in range(n_troves):
        b = names[int(rng.choice(len(names), p=weights))]
        mcr = branches[b].mcr_wad / WAD
        price = prices_usd[b] if b in prices_usd else RETH_START_PRICE_USD
        coll_usd = float(np.exp(rng.uniform(np.log(8_000), np.log(2_500_000))))
        icr = mcr * (rng.uniform(1.05, 1.15) if rng.random() < 0.34 else rng.uniform(1.15, 2.8))
        debt = max(coll_usd / icr, 2_100.0)  # above MIN_DEBT
        coll_usd = max(coll_usd, debt * icr)
        rate = float(np.exp(rng.uniform(np.log(0.005), np.log(0.02)))) if rng.random() < 0.2 else \
            float(np.exp(rng.uniform(np.log(0.02), np.log(0.25))))
        plans.append(TrovePlan(b, trove_owner(seed, i), i, _wad(coll_usd / price), _wad(debt), int(round(rate * 1e6)) * 10**12))
    return plans


@dataclass(frozen=True, slots=True)
class LiquityPopulation:
    seed: int
    troves: Mapping[str, tuple[int, ...]]  # branch -> trove ids
    sp_deposits: Mapping[str, int]
    first_block: int
    last_block: int

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "troves": {k: [str(t) for t in v] for k, v in self.troves.items()},
                "sp_deposits": {k: str(v) for k, v in self.sp_deposits.items()},
                "first_block": self.first_block, "last_block": self.last_block}


def trove_id(deployer: str, owner: str, index: int) -> int:
    """The double's id: ``uint256(keccak256(abi.encode(msg.sender, owner, ownerIndex)))`` (mainnet
    BorrowerOperations uses the same form with its own caller)."""
    from eth_abi import encode

    return int.from_bytes(keccak(encode(["address", "address", "uint256"], [deployer, owner, index])), "big")


def populate_liquity(rpc: DevnetRpc, deployer: str, liquity: LiquityDeployment, prices_usd: Mapping[str, float],
                     n_troves: int, seed: int, *, accrual_s: int = ACCRUAL_S) -> LiquityPopulation:
    """Open ``n_troves`` seeded troves, fill each SP with ``SP_SHARE_OF_DEBT`` of its branch debt and
    let ``accrual_s`` seconds pass (one block) so interest accrues."""
    plans = plan_troves(n_troves, seed, prices_usd, {b.coll_symbol: BRANCHES[b.coll_symbol] for b in liquity.branches})
    first_block = rpc.block_number() + 1
    by_branch = {b.coll_symbol: b for b in liquity.branches}
    txs = [Tx(deployer, by_branch[p.branch].trove_manager,
              encode_call("openTrove(address,uint256,uint256,uint256,uint256)", p.owner, p.index, p.coll_wei, p.debt_wei,
                          p.rate_wad), _GAS) for p in plans]
    rpc.send_bulk(txs, per_block=64, what="Liquity troves")
    sp: dict[str, int] = {}
    deposits = []
    for b in liquity.branches:
        debt = sum(p.debt_wei for p in plans if p.branch == b.coll_symbol)
        sp[b.coll_symbol] = int(debt * SP_SHARE_OF_DEBT) // WAD * WAD
        deposits.append(Tx(deployer, b.stability_pool, encode_call("provideToSP(uint256)", sp[b.coll_symbol]), _GAS))
    rpc.send_bulk(deposits, what="Liquity SP deposits")
    now = int(rpc.request("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    rpc.request("evm_setNextBlockTimestamp", [hex(now + accrual_s)])  # deterministic: no wall clock
    rpc.request("evm_mine", [])
    troves = {b.coll_symbol: tuple(trove_id(deployer, p.owner, p.index) for p in plans if p.branch == b.coll_symbol)
              for b in liquity.branches}
    return LiquityPopulation(seed, troves, sp, first_block, rpc.block_number())


def set_liquity_price(rpc: DevnetRpc, deployer: str, liquity: LiquityDeployment, coll_symbol: str,
                      price_usd: float) -> None:
    """Set the price feed of every branch whose collateral is ``coll_symbol`` (one block)."""
    txs = [Tx(deployer, b.price_feed, encode_call("setPrice(uint256)", _wad(price_usd)), _GAS)
           for b in liquity.branches if b.coll_symbol == coll_symbol]
    rpc.send_bulk(txs, what=f"Liquity price {coll_symbol}")



# ------------------------------------------------------------------ the devnet plugin (chain.devnet.plugins)


def _devnet_price(ctx: Any, liquity: LiquityDeployment, symbol: str, price_usd: Any) -> None:
    if any(b.coll_symbol == symbol for b in liquity.branches):
        set_liquity_price(ctx.rpc, ctx.deployer, liquity, symbol, float(price_usd * 10**8) / 10**8)


def _register_devnet() -> None:
    from chain.devnet.plugins import DevnetVenue, register_devnet_venue

    register_devnet_venue(DevnetVenue(
        "liquity", order=60, module=__name__,
        deploy=lambda ctx: deploy_liquity(ctx.rpc, ctx.deployer, ctx.tokens, ctx.start_prices_usd),
        from_dict=LiquityDeployment.from_dict,
        # one trove per four borrowers (at least 24), over three branches
        populate=lambda ctx, liquity, n, seed: populate_liquity(ctx.rpc, ctx.deployer, liquity, ctx.start_prices_usd,
                                                                max(24, n // 4), seed, accrual_s=ctx.block_interval_s),
        set_price=_devnet_price,
    ))


_register_devnet()

__all__ = [
    "BRANCHES", "LiquityBranchDeployment", "LiquityDeployment", "LiquityPopulation", "RETH_START_PRICE_USD", "TrovePlan",
    "deploy_liquity", "plan_troves", "populate_liquity", "set_liquity_price", "trove_id", "trove_owner",
]
