"""Deploy the genuine Aave V3 (``@aave/core-v3`` 1.19.3 = protocol v3.0.2) on the devnet.

Bytecode comes from the package's Hardhat artifacts (abi + bytecode + linkReferences); the
logic libraries are deployed and linked here. Order matters (see /work/shared/devnet-notes.md):
ACL admin before ACLManager, ``setPoolImpl`` before ``setPoolConfiguratorImpl``, token
implementations constructed with the Pool *proxy* address.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from eth_utils import to_checksum_address

from chain.devnet.rpc import DevnetRpc, encode_args, encode_call, Tx
from chain.devnet.solc import NODE_MODULES

AAVE_ARTIFACTS = NODE_MODULES / "@aave" / "core-v3" / "artifacts" / "contracts"
RAY = 10**27
USD_BASE_UNIT = 10**8  # AaveOracle base currency USD, 8 decimals


class AaveDeployError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class ReserveParams:
    """Risk parameters of one reserve, all in bps (10000 = 100%); bonus includes the principal."""

    ltv_bps: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int
    liquidation_protocol_fee_bps: int
    reserve_factor_bps: int
    emode_category: int = 0


# Mainnet-like parameters (brief of the devnet task).
RESERVE_PARAMS: dict[str, ReserveParams] = {
    "WETH": ReserveParams(8050, 8300, 10500, 1000, 1000, emode_category=1),
    "WBTC": ReserveParams(7300, 7800, 10500, 1000, 1000),
    "USDC": ReserveParams(7700, 8000, 10450, 1000, 1000),
    "wstETH": ReserveParams(7850, 8100, 10600, 1000, 1000, emode_category=1),
}
EMODE_ETH_CORRELATED = {"id": 1, "ltv_bps": 9300, "lt_bps": 9500, "bonus_bps": 10100, "label": "ETH correlated"}
# Default interest rate strategy (RAY): optimal usage 80%, base 0, slope1 4%, slope2 75%; stable
# rates unused (stable borrowing stays disabled).
RATE_STRATEGY_RAY = (
    RAY * 80 // 100,  # optimalUsageRatio
    0,  # baseVariableBorrowRate
    RAY * 4 // 100,  # variableRateSlope1
    RAY * 75 // 100,  # variableRateSlope2
    RAY * 4 // 100,  # stableRateSlope1
    RAY * 75 // 100,  # stableRateSlope2
    RAY * 2 // 100,  # baseStableRateOffset
    RAY * 8 // 100,  # stableRateExcessOffset
    RAY * 20 // 100,  # optimalStableToTotalDebtRatio
)


@dataclass(frozen=True, slots=True)
class AaveDeployment:
    """Addresses of the devnet Aave V3 market (checksummed)."""

    pool: str
    addresses_provider: str
    oracle: str
    pool_data_provider: str
    pool_configurator: str
    acl_manager: str
    price_feeds: Mapping[str, str]  # symbol -> SettablePriceFeed (8-dec USD), the AaveOracle sources
    a_tokens: Mapping[str, str]
    variable_debt_tokens: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "addresses_provider": self.addresses_provider,
            "oracle": self.oracle,
            "pool_data_provider": self.pool_data_provider,
            "pool_configurator": self.pool_configurator,
            "acl_manager": self.acl_manager,
            "price_feeds": dict(self.price_feeds),
            "a_tokens": dict(self.a_tokens),
            "variable_debt_tokens": dict(self.variable_debt_tokens),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "AaveDeployment":
        return cls(**{k: (dict(v) if isinstance(v, dict) else v) for k, v in d.items()})


@functools.lru_cache(maxsize=None)
def artifact(name: str) -> dict[str, Any]:
    """The Hardhat artifact of contract ``name`` (exactly one must exist)."""
    matches = [p for p in AAVE_ARTIFACTS.rglob(f"{name}.json") if not p.name.endswith(".dbg.json")]
    if len(matches) != 1:
        raise AaveDeployError(f"expected one artifact {name}.json under {AAVE_ARTIFACTS}, found {len(matches)}")
    return json.loads(Path(matches[0]).read_text())


def linked_bytecode(name: str, libraries: Mapping[str, str]) -> str:
    """Creation bytecode of ``name`` with library placeholders replaced by ``libraries`` addresses."""
    art = artifact(name)
    code = art["bytecode"][2:]
    for _file, libs in art.get("linkReferences", {}).items():
        for lib, refs in libs.items():
            if lib not in libraries:
                raise AaveDeployError(f"{name} needs library {lib}, which is not deployed yet")
            addr = libraries[lib][2:].lower()
            for ref in refs:
                start = ref["start"] * 2  # byte offsets into the code without 0x
                code = code[:start] + addr + code[start + ref["length"] * 2 :]
    if "__" in code:
        raise AaveDeployError(f"{name}: unlinked placeholder left in bytecode")
    return "0x" + code


def _deploy(rpc: DevnetRpc, sender: str, name: str, types: tuple[str, ...] = (), args: tuple[Any, ...] = (),
            libraries: Mapping[str, str] | None = None) -> str:
    code = linked_bytecode(name, libraries or {}) + (encode_args(types, args) if types else "")
    return rpc.deploy(sender, code, gas=25_000_000, what=f"deploy {name}")


def _tx(rpc: DevnetRpc, sender: str, to: str, signature: str, *args: Any) -> None:
    rpc.transact(Tx(sender, to, encode_call(signature, *args), 30_000_000), what=signature.split("(")[0])


def _addr(rpc: DevnetRpc, to: str, signature: str) -> str:
    (value,) = rpc.call_decode(to, signature, (), ("address",))
    return to_checksum_address(value)


def deploy_aave(
    rpc: DevnetRpc,
    deployer: str,
    treasury: str,
    tokens: Mapping[str, str],
    decimals: Mapping[str, int],
    price_feeds: Mapping[str, str],
) -> AaveDeployment:
    """Deploy and configure the market; reserves in the order of ``tokens``."""
    symbols = list(tokens)
    for sym in symbols:
        if sym not in RESERVE_PARAMS or sym not in price_feeds:
            raise AaveDeployError(f"no reserve parameters / price feed for token {sym}")
    provider = _deploy(rpc, deployer, "PoolAddressesProvider", ("string", "address"), ("liqrisk devnet", deployer))
    _tx(rpc, deployer, provider, "setACLAdmin(address)", deployer)
    acl = _deploy(rpc, deployer, "ACLManager", ("address",), (provider,))
    _tx(rpc, deployer, provider, "setACLManager(address)", acl)
    _tx(rpc, deployer, acl, "addPoolAdmin(address)", deployer)
    _tx(rpc, deployer, acl, "addRiskAdmin(address)", deployer)
    _tx(rpc, deployer, acl, "addAssetListingAdmin(address)", deployer)

    libs: dict[str, str] = {}
    for lib in ("BorrowLogic", "BridgeLogic", "EModeLogic", "LiquidationLogic", "PoolLogic", "SupplyLogic"):
        libs[lib] = _deploy(rpc, deployer, lib)
    libs["FlashLoanLogic"] = _deploy(rpc, deployer, "FlashLoanLogic", libraries=libs)  # links BorrowLogic
    libs["ConfiguratorLogic"] = _deploy(rpc, deployer, "ConfiguratorLogic")

    pool_impl = _deploy(rpc, deployer, "Pool", ("address",), (provider,), libraries=libs)
    _tx(rpc, deployer, provider, "setPoolImpl(address)", pool_impl)
    pool = _addr(rpc, provider, "getPool()")
    configurator_impl = _deploy(rpc, deployer, "PoolConfigurator", libraries=libs)
    _tx(rpc, deployer, provider, "setPoolConfiguratorImpl(address)", configurator_impl)
    configurator = _addr(rpc, provider, "getPoolConfigurator()")

    oracle = _deploy(
        rpc, deployer, "AaveOracle",
        ("address", "address[]", "address[]", "address", "address", "uint256"),
        (provider, [tokens[s] for s in symbols], [price_feeds[s] for s in symbols],
         "0x" + "00" * 20, "0x" + "00" * 20, USD_BASE_UNIT),
    )
    _tx(rpc, deployer, provider, "setPriceOracle(address)", oracle)
    data_provider = _deploy(rpc, deployer, "AaveProtocolDataProvider", ("address",), (provider,))
    _tx(rpc, deployer, provider, "setPoolDataProvider(address)", data_provider)

    a_impl = _deploy(rpc, deployer, "AToken", ("address",), (pool,))
    s_impl = _deploy(rpc, deployer, "StableDebtToken", ("address",), (pool,))
    v_impl = _deploy(rpc, deployer, "VariableDebtToken", ("address",), (pool,))
    strategy = _deploy(rpc, deployer, "DefaultReserveInterestRateStrategy",
                       ("address",) + ("uint256",) * 9, (provider, *RATE_STRATEGY_RAY))

    inputs = [
        (a_impl, s_impl, v_impl, decimals[s], strategy, tokens[s], treasury, "0x" + "00" * 20,
         f"Aave devnet {s}", f"a{s}", f"Aave devnet variable debt {s}", f"variableDebt{s}",
         f"Aave devnet stable debt {s}", f"stableDebt{s}", b"")
        for s in symbols
    ]
    init_type = ("(address,address,address,uint8,address,address,address,address,"
                 "string,string,string,string,string,string,bytes)[]")
    _tx(rpc, deployer, configurator, f"initReserves({init_type})", inputs)

    for s in symbols:
        p = RESERVE_PARAMS[s]
        asset = tokens[s]
        _tx(rpc, deployer, configurator, "configureReserveAsCollateral(address,uint256,uint256,uint256)",
            asset, p.ltv_bps, p.liquidation_threshold_bps, p.liquidation_bonus_bps)
        _tx(rpc, deployer, configurator, "setReserveBorrowing(address,bool)", asset, True)
        _tx(rpc, deployer, configurator, "setReserveFactor(address,uint256)", asset, p.reserve_factor_bps)
        _tx(rpc, deployer, configurator, "setLiquidationProtocolFee(address,uint256)", asset,
            p.liquidation_protocol_fee_bps)
    em = EMODE_ETH_CORRELATED
    _tx(rpc, deployer, configurator, "setEModeCategory(uint8,uint16,uint16,uint16,address,string)",
        em["id"], em["ltv_bps"], em["lt_bps"], em["bonus_bps"], "0x" + "00" * 20, em["label"])
    for s in symbols:
        if RESERVE_PARAMS[s].emode_category:
            _tx(rpc, deployer, configurator, "setAssetEModeCategory(address,uint8)", tokens[s],
                RESERVE_PARAMS[s].emode_category)

    a_tokens: dict[str, str] = {}
    v_tokens: dict[str, str] = {}
    for s in symbols:
        a, _stable, v = rpc.call_decode(data_provider, "getReserveTokensAddresses(address)", (tokens[s],),
                                        ("address", "address", "address"))
        a_tokens[s], v_tokens[s] = to_checksum_address(a), to_checksum_address(v)
    return AaveDeployment(
        pool=pool, addresses_provider=provider, oracle=oracle, pool_data_provider=data_provider,
        pool_configurator=configurator, acl_manager=acl, price_feeds=dict(price_feeds),
        a_tokens=a_tokens, variable_debt_tokens=v_tokens,
    )


def user_account_data(rpc: DevnetRpc, pool: str, user: str, block: str | int = "latest") -> tuple[int, ...]:
    """``getUserAccountData``: (collateral_base, debt_base, available_borrows_base, lt_bps, ltv_bps, hf_wad)."""
    return tuple(rpc.call_decode(pool, "getUserAccountData(address)", (user,), ("uint256",) * 6, block))


__all__ = ["AaveDeployment", "RESERVE_PARAMS", "EMODE_ETH_CORRELATED", "deploy_aave", "user_account_data",
           "artifact", "linked_bytecode"]
