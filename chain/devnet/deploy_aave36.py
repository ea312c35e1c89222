"""Deploy the genuine Aave v3.6 (npm ``@aave-dao/aave-v3-origin`` 3.6.0) on the devnet.

This is the v3.3+ code line that Aave's Ethereum Core and Prime markets run (``POOL_REVISION``
10); the v3.0.2 market of :mod:`chain.devnet.deploy_aave` stays as the Spark line. Both list the
same devnet tokens with the same risk parameters (:data:`chain.devnet.deploy_aave.RESERVE_PARAMS`).

Compiled from the package's sources by :func:`chain.devnet.solc.compile_aave36` (solc-js 0.8.27,
200 runs, shanghai, no via-IR; cached). Order and facts from /work/shared/devnet-notes.md:

1. the five logic libraries with external functions (BorrowLogic, ConfiguratorLogic,
   LiquidationLogic, PoolLogic, SupplyLogic), then FlashLoanLogic (linked to BorrowLogic);
   v3.6 has no EModeLogic library;
2. ``PoolAddressesProvider(marketId, admin)``; one global ``DefaultReserveInterestRateStrategyV2``
   passed to the ``PoolInstance`` constructor (v3.4+);
3. ``setPoolImpl`` before ``setPoolConfiguratorImpl`` (the configurator reads ``getPool()`` once);
   ``setACLAdmin`` before ``new ACLManager`` (its constructor reads it);
4. ``ATokenInstance`` / ``VariableDebtTokenInstance`` constructed with the Pool **proxy**;
5. ``initReserves`` with rate data in bps; collateral parameters, reserve factor, protocol fee;
   eMode 1 with WETH and wstETH as collateral and WETH borrowable (v3.2+ bitmaps).

Prices: the v3.6 AaveOracle reads the same ``SettablePriceFeed`` sources as the v3.0.2 market,
so one transaction moves an asset's price on both lines in the same block (one USD price per
asset on the devnet). The package's ``MockAggregator`` (no setter; answer in storage slot 0) is
not used: moving it needs ``anvil_setStorageAt``, which rewrites the state of the *latest* block
in place, so a snapshot pinned to that block would change after the fact. For a price at one
pinned block without mining, tests override the feed's answer slot in an ``eth_call``
(:func:`feed_answer_override`, ``stateDiff``).
"""

from __future__ import annotations

from typing import Any, Mapping

from eth_utils import keccak, to_checksum_address

from chain.devnet.deploy_aave import EMODE_ETH_CORRELATED, RESERVE_PARAMS, USD_BASE_UNIT, AaveDeployment, AaveDeployError
from chain.devnet.rpc import DevnetRpc, Tx, encode_args, encode_call
from chain.devnet.solc import CompiledContract, compile_aave36

# chain/contracts/SettablePriceFeed.sol storage: `decimals` is immutable, `description` (string) is
# slot 0, `int256 _answer` slot 1 (tests/chain/test_aave36.py checks it against latestAnswer()).
FEED_ANSWER_SLOT = 1
POOL_REVISION = 10  # PoolInstance.sol of aave-v3-origin 3.6.0
# DefaultReserveInterestRateStrategyV2.InterestRateData, bps: optimal usage 80%, base 0, slope1 4%,
# slope2 75% (the v3.0.2 market's variable-rate curve).
RATE_DATA_BPS = (8_000, 0, 400, 7_500)
_LIBRARIES = ("BorrowLogic", "ConfiguratorLogic", "LiquidationLogic", "PoolLogic", "SupplyLogic")
_ZERO = "0x" + "00" * 20


def link(contract: CompiledContract, libraries: Mapping[str, str], compiled: Mapping[str, CompiledContract]) -> str:
    """Creation bytecode with solc's ``__$<keccak(source:Name)[:17]>$__`` placeholders replaced."""
    code = contract.bytecode
    for name, address in libraries.items():
        lib = compiled[name]
        placeholder = "__$" + keccak(text=f"{lib.source}:{lib.name}").hex()[:34] + "$__"
        code = code.replace(placeholder, address[2:].lower())
    if "__$" in code:
        raise AaveDeployError(f"{contract.name}: unlinked library placeholder left in bytecode")
    return code


def deploy_aave36(
    rpc: DevnetRpc,
    deployer: str,
    treasury: str,
    tokens: Mapping[str, str],
    decimals: Mapping[str, int],
    price_feeds: Mapping[str, str],
) -> AaveDeployment:
    """Deploy and configure the v3.6 market; reserves in the order of ``tokens``.

    ``price_feeds``: the 8-decimal USD feeds (shared with the v3.0.2 market). Returns the same
    :class:`AaveDeployment` shape as the v3.0.2 market."""
    compiled = compile_aave36()
    symbols = list(tokens)
    for sym in symbols:
        if sym not in RESERVE_PARAMS or sym not in price_feeds:
            raise AaveDeployError(f"no reserve parameters / price feed for token {sym}")

    def deploy(name: str, types: tuple[str, ...] = (), args: tuple[Any, ...] = (),
               libraries: Mapping[str, str] | None = None) -> str:
        code = link(compiled[name], libraries or {}, compiled) + (encode_args(types, args) if types else "")
        return rpc.deploy(deployer, code, gas=25_000_000, what=f"deploy v3.6 {name}")

    def tx(to: str, signature: str, *args: Any) -> None:
        rpc.transact(Tx(deployer, to, encode_call(signature, *args), 30_000_000), what=f"v3.6 {signature.split('(')[0]}")

    def address(to: str, signature: str) -> str:
        (value,) = rpc.call_decode(to, signature, (), ("address",))
        return to_checksum_address(value)

    feeds = dict(price_feeds)
    libs: dict[str, str] = {lib: deploy(lib) for lib in _LIBRARIES}
    libs["FlashLoanLogic"] = deploy("FlashLoanLogic", libraries=libs)

    provider = deploy("PoolAddressesProvider", ("string", "address"), ("liqrisk devnet v3.6", deployer))
    strategy = deploy("DefaultReserveInterestRateStrategyV2", ("address",), (provider,))
    pool_impl = deploy("PoolInstance", ("address", "address"), (provider, strategy), libraries=libs)
    configurator_impl = deploy("PoolConfiguratorInstance", libraries=libs)
    oracle = deploy("AaveOracle", ("address", "address[]", "address[]", "address", "address", "uint256"),
                    (provider, [tokens[s] for s in symbols], [feeds[s] for s in symbols], _ZERO, _ZERO, USD_BASE_UNIT))
    tx(provider, "setPriceOracle(address)", oracle)
    tx(provider, "setPoolImpl(address)", pool_impl)
    pool = address(provider, "getPool()")
    tx(provider, "setPoolConfiguratorImpl(address)", configurator_impl)
    configurator = address(provider, "getPoolConfigurator()")
    tx(provider, "setACLAdmin(address)", deployer)
    acl = deploy("ACLManager", ("address",), (provider,))
    tx(provider, "setACLManager(address)", acl)
    for role in ("addPoolAdmin(address)", "addRiskAdmin(address)", "addAssetListingAdmin(address)"):
        tx(acl, role, deployer)
    data_provider = deploy("AaveProtocolDataProvider", ("address",), (provider,))
    tx(provider, "setPoolDataProvider(address)", data_provider)
    (revision,) = rpc.call_decode(pool, "POOL_REVISION()", (), ("uint256",))
    if revision != POOL_REVISION:
        raise AaveDeployError(f"v3.6 Pool reports POOL_REVISION {revision}, expected {POOL_REVISION}")

    a_impl = deploy("ATokenInstance", ("address", "address", "address"), (pool, _ZERO, treasury))
    v_impl = deploy("VariableDebtTokenInstance", ("address", "address"), (pool, _ZERO))
    rate_data = encode_args(("(uint16,uint32,uint32,uint32)",), (RATE_DATA_BPS,))
    inputs = [
        (a_impl, v_impl, tokens[s], f"Aave v3.6 devnet {s}", f"a36{s}", f"Aave v3.6 devnet variable debt {s}",
         f"v36{s}", b"", bytes.fromhex(rate_data))
        for s in symbols
    ]
    tx(configurator, "initReserves((address,address,address,string,string,string,string,bytes,bytes)[])", inputs)
    for s in symbols:
        p = RESERVE_PARAMS[s]
        asset = tokens[s]
        tx(configurator, "configureReserveAsCollateral(address,uint256,uint256,uint256)", asset, p.ltv_bps,
           p.liquidation_threshold_bps, p.liquidation_bonus_bps)
        tx(configurator, "setReserveBorrowing(address,bool)", asset, True)
        tx(configurator, "setReserveFactor(address,uint256)", asset, p.reserve_factor_bps)
        tx(configurator, "setLiquidationProtocolFee(address,uint256)", asset, p.liquidation_protocol_fee_bps)
    em = EMODE_ETH_CORRELATED
    tx(configurator, "setEModeCategory(uint8,uint16,uint16,uint16,string)", em["id"], em["ltv_bps"], em["lt_bps"],
       em["bonus_bps"], em["label"])
    for s in symbols:
        if RESERVE_PARAMS[s].emode_category:
            tx(configurator, "setAssetCollateralInEMode(address,uint8,bool)", tokens[s], em["id"], True)
    # The eMode borrowers borrow WETH against wstETH (chain.devnet.population "aave_emode").
    tx(configurator, "setAssetBorrowableInEMode(address,uint8,bool)", tokens["WETH"], em["id"], True)

    a_tokens: dict[str, str] = {}
    v_tokens: dict[str, str] = {}
    for s in symbols:
        a, _stable, v = rpc.call_decode(data_provider, "getReserveTokensAddresses(address)", (tokens[s],),
                                        ("address", "address", "address"))
        a_tokens[s], v_tokens[s] = to_checksum_address(a), to_checksum_address(v)
    return AaveDeployment(
        pool=pool, addresses_provider=provider, oracle=oracle, pool_data_provider=data_provider,
        pool_configurator=configurator, acl_manager=acl, price_feeds=feeds, a_tokens=a_tokens,
        variable_debt_tokens=v_tokens,
    )


def feed_answer_override(feed: str, answer: int) -> dict[str, Any]:
    """``eth_call`` state override: the devnet feed ``feed`` answers ``answer`` (for one call at
    a pinned block; nothing is mined)."""
    if answer < 0:
        raise ValueError(f"negative price answer {answer}")
    return {feed: {"stateDiff": {"0x%064x" % FEED_ANSWER_SLOT: "0x%064x" % answer}}}


__all__ = ["FEED_ANSWER_SLOT", "POOL_REVISION", "RATE_DATA_BPS", "deploy_aave36", "feed_answer_override", "link"]
