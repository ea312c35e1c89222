"""Euler v2 on the devnet: the EVC/EVK TEST DOUBLE (``chain/contracts/EulerDouble.sol``) and a
seeded population of accounts.

``deploy_euler`` deploys an EVC double, an EulerRouter-like oracle double (unit of account USD,
``0x…0348`` as on Euler's mainnet clusters), one collateral (escrow) vault per collateral token and
the controller vaults of :data:`VAULT_PARAMS` with their LTVs and ``maxLiquidationDiscount``.
``populate_euler`` opens accounts with a seeded ``numpy.random.Generator``: each enables one
controller vault and 1-3 of its collaterals on the EVC, receives collateral shares and borrows
(``borrowFor``); a share of them sits just above the liquidation boundary and some are
near-insolvent (collateral barely above the debt, so a small drawdown leaves debt to socialise).
Then the governor lowers one collateral's liquidation LTV with a ramp (``setLTV`` with
``rampDuration``), so the snapshot sees a ramping LTV; every account stays healthy at the ramp's
target, so all are healthy at the start prices. Finally the USDC vault's interest accumulator
grows 2% (interest accrued on every account).

Nothing here is Euler's code: the double implements the EVC/EVK read interface and liquidation
math from the Euler sources (cited in the .sol file).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping, Sequence

import numpy as np
from eth_utils import keccak, to_checksum_address

from chain.devnet.rpc import DevnetRpc, Tx, encode_args, encode_call
from chain.devnet.solc import compile_own_contracts

USD_UNIT_OF_ACCOUNT = "0x0000000000000000000000000000000000000348"
"""ISO 4217 code 840 as an address: the unit of account of Euler's USD-quoted clusters."""

# Collateral (escrow) vaults: token symbol -> exchange rate (assets per share).
ESCROW_RATES: dict[str, float] = {"WETH": 1.02, "wstETH": 1.0, "WBTC": 1.0}

# Controller vaults: debt token, max liquidation discount, collaterals (symbol -> (borrow LTV,
# liquidation LTV)), and an optional ramp: (collateral, new borrow LTV, new liquidation LTV, seconds).
VAULT_PARAMS: dict[str, dict[str, Any]] = {
    "eUSDC": {"asset": "USDC", "max_discount": 0.15,
              "ltvs": {"WETH": (0.83, 0.85), "wstETH": (0.80, 0.83), "WBTC": (0.80, 0.85)},
              "ramp": ("WBTC", 0.70, 0.72, 6 * 3_600)},
    "eWETH": {"asset": "WETH", "max_discount": 0.08,
              "ltvs": {"wstETH": (0.93, 0.95), "WBTC": (0.75, 0.78)}, "ramp": None},
}
USDC_ACCUMULATOR_GROWTH = 1.02
_GAS = 800_000
_ONE_1E4 = 10_000


def _bps(x: float) -> int:
    return int(round(x * _ONE_1E4))


def oracle_rate(price_usd: float | int | str | Decimal, decimals: int) -> int:
    """The oracle double's rate: USD wei (18 decimals) per raw token unit, scaled by 1e18."""
    return int(Decimal(str(price_usd)) * 10 ** (36 - decimals))


@dataclass(frozen=True, slots=True)
class EulerVaultDeployment:
    name: str
    asset_symbol: str
    address: str
    collaterals: tuple[str, ...]  # collateral token symbols (their escrow vaults in EulerDeployment.escrows)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "asset_symbol": self.asset_symbol, "address": self.address,
                "collaterals": list(self.collaterals)}


@dataclass(frozen=True, slots=True)
class EulerDeployment:
    """The Euler double's addresses (checksummed)."""

    evc: str
    oracle: str
    unit_of_account: str
    escrows: Mapping[str, str]  # token symbol -> collateral vault
    vaults: tuple[EulerVaultDeployment, ...]
    deploy_block: int

    def to_dict(self) -> dict[str, Any]:
        return {"evc": self.evc, "oracle": self.oracle, "unit_of_account": self.unit_of_account,
                "escrows": dict(self.escrows), "vaults": [v.to_dict() for v in self.vaults],
                "deploy_block": self.deploy_block}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EulerDeployment":
        return cls(d["evc"], d["oracle"], d["unit_of_account"], dict(d["escrows"]),
                   tuple(EulerVaultDeployment(v["name"], v["asset_symbol"], v["address"], tuple(v["collaterals"]))
                         for v in d["vaults"]), int(d["deploy_block"]))

    def vault(self, name: str) -> EulerVaultDeployment:
        for v in self.vaults:
            if v.name == name:
                return v
        raise KeyError(f"no Euler vault {name!r} on the devnet; have {[v.name for v in self.vaults]}")


def deploy_euler(rpc: DevnetRpc, deployer: str, tokens: Mapping[str, str], decimals: Mapping[str, int],
                 prices_usd: Mapping[str, float], *, vault_params: Mapping[str, Mapping[str, Any]] = VAULT_PARAMS,
                 escrow_rates: Mapping[str, float] = ESCROW_RATES) -> EulerDeployment:
    """Deploy and configure the Euler double (tokens from ``tokens``; ramps are applied by
    :func:`populate_euler`, after the accounts borrowed)."""
    own = compile_own_contracts()

    def deploy(name: str, types: Sequence[str] = (), args: Sequence[Any] = ()) -> str:
        code = own[name].bytecode + (encode_args(types, args) if types else "")
        return rpc.deploy(deployer, code, gas=8_000_000, what=f"deploy {name}")

    evc = deploy("EVCDouble")
    oracle = deploy("OracleDouble", ("address",), (USD_UNIT_OF_ACCOUNT,))
    symbols = sorted({p["asset"] for p in vault_params.values()} | {c for p in vault_params.values() for c in p["ltvs"]})
    txs = [Tx(deployer, oracle, encode_call("setRates(address[],uint256[])", [tokens[s] for s in symbols],
                                            [oracle_rate(prices_usd[s], decimals[s]) for s in symbols]), 2_000_000)]
    escrows: dict[str, str] = {}
    for sym in sorted({c for p in vault_params.values() for c in p["ltvs"]}):
        escrows[sym] = deploy("EscrowVaultDouble", ("address", "address", "string", "string", "uint8"),
                              (evc, tokens[sym], f"Escrow {sym} (devnet double)", f"e{sym}", decimals[sym]))
        seed_shares = 1_000 * 10 ** decimals[sym]  # sets the exchange rate (assets per share)
        txs += [Tx(deployer, oracle, encode_call("govSetResolvedVault(address,address)", escrows[sym], tokens[sym]), _GAS),
                Tx(deployer, escrows[sym], encode_call("mintShares(address,uint256,uint256)", deployer, seed_shares,
                                                       int(seed_shares * escrow_rates.get(sym, 1.0))), _GAS)]
    vaults = []
    for name, p in vault_params.items():
        vault = deploy("EVaultDouble", ("address", "address", "address", "address", "string"),
                       (evc, tokens[p["asset"]], oracle, USD_UNIT_OF_ACCOUNT, f"{name} (devnet double)"))
        txs.append(Tx(deployer, vault, encode_call("setMaxLiquidationDiscount(uint16)", _bps(p["max_discount"])), _GAS))
        for sym, (borrow, liq) in p["ltvs"].items():
            txs.append(Tx(deployer, vault, encode_call("setLTV(address,uint16,uint16,uint32)", escrows[sym], _bps(borrow),
                                                       _bps(liq), 0), _GAS))
        vaults.append(EulerVaultDeployment(name, p["asset"], vault, tuple(p["ltvs"])))
    rpc.send_bulk(txs, what="configure Euler double")
    return EulerDeployment(evc, oracle, USD_UNIT_OF_ACCOUNT, escrows, tuple(vaults), rpc.block_number())


# ------------------------------------------------------------------------------------ population


@dataclass(frozen=True, slots=True)
class AccountPlan:
    vault: str
    account: str
    collateral_shares: Mapping[str, int]  # token symbol -> shares
    debt_assets: int
    kind: str  # "safe" | "near-boundary" | "near-insolvent"


def account_address(seed: int, index: int) -> str:
    return to_checksum_address(keccak(text=f"liqrisk-euler-account:{seed}:{index}")[-20:])


def plan_accounts(n_accounts: int, seed: int, prices_usd: Mapping[str, float], decimals: Mapping[str, int],
                  vault_params: Mapping[str, Mapping[str, Any]] = VAULT_PARAMS,
                  escrow_rates: Mapping[str, float] = ESCROW_RATES) -> list[AccountPlan]:
    """Seeded accounts: 65% on the first vault; 1-3 collaterals each; health (on the lower of the
    current and ramp-target liquidation LTVs) U(1.05, 2.5), a third in U(1.02, 1.12) (liquidated by
    a 10-20% drawdown), one in eight near-insolvent (collateral value only 3-8% above the debt)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xE1]))
    names = list(vault_params)
    plans = []
    for i in range(n_accounts):
        name = names[0] if (rng.random() < 0.65 or len(names) == 1) else names[1]
        p = vault_params[name]
        cols = list(p["ltvs"])
        k = int(rng.integers(1, min(3, len(cols)) + 1))
        chosen = [cols[j] for j in sorted(rng.choice(len(cols), size=k, replace=False))]
        weights = rng.dirichlet(np.ones(k))
        total_usd = float(np.exp(rng.uniform(np.log(20_000), np.log(2_000_000))))
        ramp = p.get("ramp")
        ltv = {c: min(p["ltvs"][c][1], ramp[2]) if ramp and ramp[0] == c else p["ltvs"][c][1] for c in chosen}
        adjusted = sum(w * total_usd * ltv[c] for c, w in zip(chosen, weights))
        u = rng.random()
        if u < 0.125:
            kind = "near-insolvent"
            debt_usd = total_usd / rng.uniform(1.03, 1.08)
            debt_usd = min(debt_usd, adjusted / 1.005)  # still healthy at the start
        elif u < 0.45:
            kind = "near-boundary"
            debt_usd = adjusted / rng.uniform(1.02, 1.12)
        else:
            kind = "safe"
            debt_usd = adjusted / rng.uniform(1.05, 2.5)
        shares = {}
        for c, w in zip(chosen, weights):
            tokens = w * total_usd / prices_usd[c]
            shares[c] = int(tokens / escrow_rates.get(c, 1.0) * 10 ** decimals[c])
        asset = p["asset"]
        growth = USDC_ACCUMULATOR_GROWTH if asset == "USDC" else 1.0  # populate_euler accrues it afterwards
        debt_assets = int(debt_usd / prices_usd[asset] / growth * 10 ** decimals[asset])
        plans.append(AccountPlan(name, account_address(seed, i), shares, debt_assets, kind))
    return plans


@dataclass(frozen=True, slots=True)
class EulerPopulation:
    seed: int
    accounts: Mapping[str, tuple[str, ...]]  # vault name -> accounts
    first_block: int
    last_block: int

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "accounts": {k: list(v) for k, v in self.accounts.items()},
                "first_block": self.first_block, "last_block": self.last_block}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EulerPopulation":
        return cls(int(d["seed"]), {k: tuple(v) for k, v in d["accounts"].items()}, int(d["first_block"]),
                   int(d["last_block"]))


def populate_euler(rpc: DevnetRpc, deployer: str, euler: EulerDeployment, prices_usd: Mapping[str, float],
                   decimals: Mapping[str, int], n_accounts: int, seed: int,
                   vault_params: Mapping[str, Mapping[str, Any]] = VAULT_PARAMS) -> EulerPopulation:
    """Open ``n_accounts`` seeded accounts (all transactions from the deployer, the EVC double's
    admin, so they execute in order), start the LTV ramps and accrue the USDC vault's interest."""
    plans = plan_accounts(n_accounts, seed, prices_usd, decimals, vault_params)
    first_block = rpc.block_number() + 1
    txs: list[Tx] = []
    for plan in plans:
        vault = euler.vault(plan.vault).address
        txs.append(Tx(deployer, euler.evc, encode_call("enableController(address,address)", plan.account, vault), _GAS))
        for sym, shares in plan.collateral_shares.items():
            escrow = euler.escrows[sym]
            rate = ESCROW_RATES.get(sym, 1.0)
            txs += [Tx(deployer, euler.evc, encode_call("enableCollateral(address,address)", plan.account, escrow), _GAS),
                    Tx(deployer, escrow, encode_call("mintShares(address,uint256,uint256)", plan.account, shares,
                                                     int(shares * rate)), _GAS)]
        if plan.debt_assets > 0:
            txs.append(Tx(deployer, vault, encode_call("borrowFor(address,uint256)", plan.account, plan.debt_assets), _GAS))
    for name, p in vault_params.items():
        ramp = p.get("ramp")
        if ramp:
            sym, borrow, liq, seconds = ramp
            txs.append(Tx(deployer, euler.vault(name).address, encode_call(
                "setLTV(address,uint16,uint16,uint32)", euler.escrows[sym], _bps(borrow), _bps(liq), seconds), _GAS))
    usdc_vaults = [v for v in euler.vaults if v.asset_symbol == "USDC"]
    for v in usdc_vaults:
        txs.append(Tx(deployer, v.address, encode_call("setInterestAccumulator(uint256)",
                                                       int(10**27 * Decimal(str(USDC_ACCUMULATOR_GROWTH)))), _GAS))
    rpc.send_bulk(txs, what="Euler accounts")
    accounts: dict[str, list[str]] = {v.name: [] for v in euler.vaults}
    for plan in plans:
        accounts[plan.vault].append(plan.account)
    return EulerPopulation(seed, {k: tuple(v) for k, v in accounts.items()}, first_block, rpc.block_number())


def set_euler_price(rpc: DevnetRpc, deployer: str, euler: EulerDeployment, token: str, decimals: int,
                    price_usd: float | int | str | Decimal) -> None:
    """Set the oracle double's USD price of ``token`` (one transaction)."""
    rpc.transact(Tx(deployer, euler.oracle, encode_call("setRate(address,uint256)", token,
                                                        oracle_rate(price_usd, decimals)), 200_000),
                 what="Euler oracle price")



# ------------------------------------------------------------------ the devnet plugin (chain.devnet.plugins)


def _devnet_price(ctx: Any, euler: EulerDeployment, symbol: str, price_usd: Decimal) -> None:
    if symbol in ctx.tokens:
        set_euler_price(ctx.rpc, ctx.deployer, euler, ctx.tokens[symbol], ctx.decimals[symbol], price_usd)


def _register_devnet() -> None:
    from chain.devnet.plugins import DevnetVenue, register_devnet_venue

    register_devnet_venue(DevnetVenue(
        "euler", order=70, module=__name__,
        deploy=lambda ctx: deploy_euler(ctx.rpc, ctx.deployer, ctx.tokens, ctx.decimals, ctx.start_prices_usd),
        from_dict=EulerDeployment.from_dict,
        # one account per six borrowers (at least 12)
        populate=lambda ctx, euler, n, seed: populate_euler(ctx.rpc, ctx.deployer, euler, ctx.start_prices_usd,
                                                            ctx.decimals, max(12, n // 6), seed),
        set_price=_devnet_price,
    ))


_register_devnet()

__all__ = [
    "AccountPlan", "ESCROW_RATES", "EulerDeployment", "EulerPopulation", "EulerVaultDeployment",
    "USD_UNIT_OF_ACCOUNT", "VAULT_PARAMS", "account_address", "deploy_euler", "oracle_rate", "plan_accounts",
    "populate_euler", "set_euler_price",
]
