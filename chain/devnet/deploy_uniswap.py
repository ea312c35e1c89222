"""Deploy the genuine Uniswap v3 on the devnet and give its pools realistic liquidity.

Bytecode: the Hardhat artifacts of npm ``@uniswap/v3-core`` 1.0.1 (``UniswapV3Factory``, which
carries ``UniswapV3Pool``'s creation code — its keccak is the periphery's ``POOL_INIT_CODE_HASH``
0xe34f…8b54, so the periphery finds the pools by CREATE2) and ``@uniswap/v3-periphery`` 1.4.4
(``SwapRouter``, ``lens/QuoterV2``, ``NonfungiblePositionManager``). The periphery's WETH9 is the
devnet's WETH token (only ETH-wrapping paths use it, and liqrisk never takes them); the position
manager's token descriptor is any address (``tokenURI`` is never called).

Pools (token pair, fee tiers in pips): WETH/USDC 500 + 3000, WBTC/USDC 500 + 3000, WBTC/WETH
500 + 3000, wstETH/WETH 100 + 500 (the 0.01% tier, tick spacing 1, is enabled by the factory
owner as on mainnet). Each starts at the devnet start prices (chain.devnet.population) and holds
a seeded liquidity *shape* (:data:`LIQUIDITY_SHAPES`): most liquidity in narrow ranges around spot,
less in wider ones, a few wide or full-range positions, and a seeded ladder of small positions
that leaves many initialized ticks to cross. The wstETH/WETH 0.05% pool has no full-range
position: a large enough sale runs out of liquidity there (the swap stops at the price limit).
Sizes are USD values of each position at the start prices, of the order of mainnet's pools
scaled to the devnet's borrower population.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from eth_utils import to_checksum_address

from chain.devnet.rpc import DevnetRpc, Tx, encode_args, encode_call
from chain.devnet.solc import NODE_MODULES
from risk.uniswap_v3 import MAX_TICK, MIN_TICK, Q96, sqrt_price_x96_for, sqrt_ratio_at_tick

CORE_ARTIFACTS = NODE_MODULES / "@uniswap" / "v3-core" / "artifacts" / "contracts"
PERIPHERY_ARTIFACTS = NODE_MODULES / "@uniswap" / "v3-periphery" / "artifacts" / "contracts"
POOL_INIT_CODE_HASH = "0xe34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"
FAR_DEADLINE = 2**255
MINT_PARAMS = "(address,address,uint24,int24,int24,uint256,uint256,uint256,uint256,address,uint256)"
TICK_SPACING = {100: 1, 500: 10, 3000: 60, 10000: 200}


class UniswapDeployError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Band:
    """A position: ``value_usd`` at the start prices in the price range ``[lo, hi]`` x spot
    (``lo = 0, hi = inf``: full range)."""

    lo: float
    hi: float
    value_usd: float


FULL = (0.0, math.inf)

# name "TOKEN_A/TOKEN_B" -> fee pips -> bands. Price ranges are multiples of spot (of A in B).
LIQUIDITY_SHAPES: dict[str, dict[int, tuple[Band, ...]]] = {
    "WETH/USDC": {
        500: (Band(0.99, 1.01, 6e6), Band(0.97, 1.03, 10e6), Band(0.92, 1.08, 14e6), Band(0.80, 1.25, 14e6),
              Band(0.50, 2.0, 10e6), Band(*FULL, 8e6)),
        3000: (Band(0.95, 1.05, 4e6), Band(0.85, 1.15, 6e6), Band(0.60, 1.6, 5e6), Band(*FULL, 4e6)),
    },
    "WBTC/USDC": {
        500: (Band(0.98, 1.02, 3e6), Band(0.93, 1.07, 5e6), Band(0.75, 1.3, 5e6), Band(*FULL, 3e6)),
        3000: (Band(0.93, 1.07, 2e6), Band(0.70, 1.4, 3e6), Band(*FULL, 2e6)),
    },
    "WBTC/WETH": {
        500: (Band(0.98, 1.02, 2e6), Band(0.90, 1.10, 4e6), Band(*FULL, 2e6)),
        3000: (Band(0.90, 1.10, 2e6), Band(0.60, 1.6, 2e6), Band(*FULL, 1e6)),
    },
    "wstETH/WETH": {
        100: (Band(0.998, 1.002, 4e6), Band(0.99, 1.01, 6e6), Band(0.97, 1.03, 4e6), Band(*FULL, 1e6)),
        500: (Band(0.995, 1.005, 2e6), Band(0.98, 1.02, 2e6), Band(0.90, 1.10, 1e6)),  # no full range
    },
}
LADDER_POSITIONS = 12
"""Per pool: small seeded positions (each 1% of the pool's value) between 0.85x and 1.15x spot."""
LADDER_SEED = 20261201


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """One devnet pool (addresses checksummed); ``token0`` < ``token1`` as Uniswap orders them."""

    address: str
    token0: str
    token1: str
    fee: int
    tick_spacing: int


@dataclass(frozen=True, slots=True)
class UniswapDeployment:
    factory: str
    swap_router: str
    quoter_v2: str
    position_manager: str
    lp: str  # the account that holds every position (anvil account 3)
    pools: Mapping[str, PoolInfo]  # "WETH/USDC-500" -> pool

    def to_dict(self) -> dict[str, Any]:
        return {"factory": self.factory, "swap_router": self.swap_router, "quoter_v2": self.quoter_v2,
                "position_manager": self.position_manager, "lp": self.lp,
                "pools": {k: list(dataclasses.astuple(v)) for k, v in self.pools.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "UniswapDeployment":
        return cls(factory=d["factory"], swap_router=d["swap_router"], quoter_v2=d["quoter_v2"],
                   position_manager=d["position_manager"], lp=d["lp"],
                   pools={k: PoolInfo(*v) for k, v in d["pools"].items()})

    def pool(self, symbol_a: str, symbol_b: str, fee: int) -> PoolInfo:
        for key in (f"{symbol_a}/{symbol_b}-{fee}", f"{symbol_b}/{symbol_a}-{fee}"):
            if key in self.pools:
                return self.pools[key]
        raise KeyError(f"no devnet pool {symbol_a}/{symbol_b} at fee {fee}")


@functools.lru_cache(maxsize=None)
def artifact(package: str, relative: str) -> dict[str, Any]:
    root = CORE_ARTIFACTS if package == "core" else PERIPHERY_ARTIFACTS
    path = root / relative
    if not path.exists():
        raise UniswapDeployError(f"Uniswap artifact not found: {path} (run ./setup.sh)")
    return json.loads(path.read_text())


def pool_abi() -> list[dict[str, Any]]:
    return artifact("core", "UniswapV3Pool.sol/UniswapV3Pool.json")["abi"]


def _deploy(rpc: DevnetRpc, sender: str, package: str, relative: str, types: tuple[str, ...], args: tuple) -> str:
    code = artifact(package, relative)["bytecode"] + (encode_args(types, args) if types else "")
    return rpc.deploy(sender, code, gas=12_000_000, what=f"deploy {relative.split('/')[-1]}")


def _position_amounts(band: Band, spot_b_per_a: float, sqrt_p: int, spacing: int, a_is_token0: bool,
                      value_raw_token1: float, price_raw_1_per_0: float) -> tuple[int, int, int, int]:
    """Ticks and desired raw amounts (amount0, amount1) for a band worth ``value_raw_token1``."""
    if band.lo == 0.0:
        tick_lo, tick_hi = (MIN_TICK // spacing + 1) * spacing, (MAX_TICK // spacing) * spacing
    else:
        # Range in pool terms (token1 per token0): a range in B-per-A inverts when A is token1.
        lo, hi = (band.lo, band.hi) if a_is_token0 else (1 / band.hi, 1 / band.lo)
        tick_lo = math.floor(math.log(price_raw_1_per_0 * lo, 1.0001) / spacing) * spacing
        tick_hi = math.ceil(math.log(price_raw_1_per_0 * hi, 1.0001) / spacing) * spacing
    sa, sb = sqrt_ratio_at_tick(tick_lo) / Q96, sqrt_ratio_at_tick(tick_hi) / Q96
    s = min(max(sqrt_p / Q96, sa), sb)
    per_l0 = (1 / s - 1 / sb)  # token0 per unit of liquidity
    per_l1 = (s - sa)
    liquidity = value_raw_token1 / (per_l0 * price_raw_1_per_0 + per_l1)
    amount0 = int(liquidity * per_l0 * 1.000001) + 10
    amount1 = int(liquidity * per_l1 * 1.000001) + 10
    return tick_lo, tick_hi, amount0, amount1


def deploy_uniswap(
    rpc: DevnetRpc,
    deployer: str,
    lp: str,
    tokens: Mapping[str, str],
    decimals: Mapping[str, int],
    prices_usd: Mapping[str, float],
    shapes: Mapping[str, Mapping[int, Sequence[Band]]] = LIQUIDITY_SHAPES,
) -> UniswapDeployment:
    """Deploy factory + periphery, create and initialize the pools of ``shapes`` and mint the
    positions (held by ``lp``, funded by minting the devnet's open TestERC20 tokens)."""
    factory = _deploy(rpc, deployer, "core", "UniswapV3Factory.sol/UniswapV3Factory.json", (), ())
    code_hash = "0x" + __import__("eth_utils").keccak(
        hexstr=artifact("core", "UniswapV3Pool.sol/UniswapV3Pool.json")["bytecode"]).hex()
    if code_hash != POOL_INIT_CODE_HASH:
        raise UniswapDeployError(f"UniswapV3Pool init code hash {code_hash} is not the periphery's {POOL_INIT_CODE_HASH}")
    weth = tokens["WETH"]
    router = _deploy(rpc, deployer, "periphery", "SwapRouter.sol/SwapRouter.json", ("address", "address"), (factory, weth))
    quoter = _deploy(rpc, deployer, "periphery", "lens/QuoterV2.sol/QuoterV2.json", ("address", "address"), (factory, weth))
    npm = _deploy(rpc, deployer, "periphery", "NonfungiblePositionManager.sol/NonfungiblePositionManager.json",
                  ("address", "address", "address"), (factory, weth, factory))
    fees = sorted({fee for per_fee in shapes.values() for fee in per_fee})
    if 100 in fees:  # UniswapV3Factory 1.0.1 enables 500, 3000, 10000; mainnet's owner added 100 later
        rpc.transact(Tx(deployer, factory, encode_call("enableFeeAmount(uint24,int24)", 100, 1), 200_000),
                     what="enableFeeAmount 100")

    pools: dict[str, PoolInfo] = {}
    mints: list[Tx] = []
    need: dict[str, int] = {}
    rng = random.Random(LADDER_SEED)
    for name, per_fee in shapes.items():
        sym_a, sym_b = name.split("/")
        a_is_token0 = int(tokens[sym_a], 16) < int(tokens[sym_b], 16)
        t0, t1 = (sym_a, sym_b) if a_is_token0 else (sym_b, sym_a)
        price_b_per_a = prices_usd[sym_a] / prices_usd[sym_b]
        price_1_per_0 = price_b_per_a if a_is_token0 else 1 / price_b_per_a
        raw_1_per_0 = price_1_per_0 * 10 ** (decimals[t1] - decimals[t0])
        sqrt_p = sqrt_price_x96_for(price_1_per_0, decimals[t0], decimals[t1])
        for fee, bands in per_fee.items():
            spacing = TICK_SPACING[fee]
            rpc.transact(Tx(deployer, factory, encode_call("createPool(address,address,uint24)", tokens[t0],
                                                           tokens[t1], fee), 6_000_000), what=f"createPool {name}")
            (address,) = rpc.call_decode(factory, "getPool(address,address,uint24)", (tokens[t0], tokens[t1], fee),
                                         ("address",))
            address = to_checksum_address(address)
            rpc.transact(Tx(deployer, address, encode_call("initialize(uint160)", sqrt_p), 300_000),
                         what=f"initialize {name}-{fee}")
            pools[f"{name}-{fee}"] = PoolInfo(address, tokens[t0], tokens[t1], fee, spacing)
            total = sum(b.value_usd for b in bands)
            ladder = [Band(lo, lo * rng.uniform(1.005, 1.06), 0.01 * total)
                      for lo in (rng.uniform(0.85, 1.10) for _ in range(LADDER_POSITIONS))]
            for band in (*bands, *ladder):
                value_raw1 = band.value_usd / prices_usd[t1] * 10 ** decimals[t1]
                lo_t, hi_t, amt0, amt1 = _position_amounts(band, price_b_per_a, sqrt_p, spacing, a_is_token0,
                                                           value_raw1, raw_1_per_0)
                need[t0] = need.get(t0, 0) + amt0
                need[t1] = need.get(t1, 0) + amt1
                mints.append(Tx(lp, npm, encode_call(f"mint({MINT_PARAMS})", (
                    tokens[t0], tokens[t1], fee, lo_t, hi_t, amt0, amt1, 0, 0, lp, FAR_DEADLINE)), 2_000_000))
    funding = []
    for sym, amount in sorted(need.items()):
        funding.append(Tx(lp, tokens[sym], encode_call("mint(address,uint256)", lp, amount), 150_000))
        funding.append(Tx(lp, tokens[sym], encode_call("approve(address,uint256)", npm, 2**256 - 1), 100_000))
    rpc.send_bulk(funding, what="uniswap LP funding")
    rpc.send_bulk(mints, per_block=64, what="uniswap positions")
    return UniswapDeployment(factory=factory, swap_router=router, quoter_v2=quoter, position_manager=npm, lp=lp,
                             pools=pools)


def encode_path(tokens_and_fees: Sequence[str | int]) -> bytes:
    """Uniswap v3 path bytes: token (20 bytes), fee (3 bytes), token, ... (periphery ``Path.sol``)."""
    out = b""
    for i, item in enumerate(tokens_and_fees):
        out += bytes.fromhex(str(item)[2:]) if i % 2 == 0 else int(item).to_bytes(3, "big")
    return out


__all__ = ["Band", "LIQUIDITY_SHAPES", "PoolInfo", "UniswapDeployment", "deploy_uniswap", "encode_path", "pool_abi"]
