"""Deploy the genuine Morpho Blue 1.0.0 (compiled from ``@morpho-org/morpho-blue`` sources) on the devnet.

IRM: ``address(0)`` is enabled and used by every market, so no interest accrues (Morpho skips
accrual when ``irm == 0``): positions stay put while tests move prices. Oracles are Morpho's
own ``src/mocks/OracleMock.sol`` (it has ``setPrice``), kept consistent with the USD feeds by
:meth:`chain.devnet.core.Devnet.set_price_usd`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from chain.devnet.rpc import DevnetRpc, Tx, encode_args, encode_call
from chain.devnet.solc import compile_morpho

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ORACLE_PRICE_SCALE = 10**36
MARKET_PARAMS_TYPE = "(address,address,address,address,uint256)"


class MorphoMarket(NamedTuple):
    """One Morpho Blue market: ``id`` is the 0x-hex bytes32 market id; ``lltv_wad`` WAD."""

    id: str
    loan_token: str
    collateral_token: str
    oracle: str
    irm: str
    lltv_wad: int

    @property
    def params(self) -> tuple[str, str, str, str, int]:
        """MarketParams tuple in Solidity field order."""
        return (self.loan_token, self.collateral_token, self.oracle, self.irm, self.lltv_wad)


# name -> (collateral symbol, loan symbol, LLTV WAD)
MARKET_SPECS: dict[str, tuple[str, str, int]] = {
    "wstETH/WETH": ("wstETH", "WETH", 945 * 10**15),
    "WETH/USDC": ("WETH", "USDC", 860 * 10**15),
    "WBTC/USDC": ("WBTC", "USDC", 860 * 10**15),
}


@dataclass(frozen=True, slots=True)
class MorphoDeployment:
    address: str
    markets: Mapping[str, MorphoMarket]  # name "COLL/LOAN" -> market

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "markets": {k: list(v) for k, v in self.markets.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MorphoDeployment":
        return cls(address=d["address"], markets={k: MorphoMarket(*v) for k, v in d["markets"].items()})


def market_id(loan: str, collateral: str, oracle: str, irm: str, lltv_wad: int) -> str:
    """Morpho ``Id`` = keccak256(abi.encode(MarketParams)), as 0x-hex."""
    return "0x" + keccak(encode(["address", "address", "address", "address", "uint256"],
                                [loan, collateral, oracle, irm, lltv_wad])).hex()


def oracle_price(coll_price_raw: int, coll_decimals: int, loan_price_raw: int, loan_decimals: int) -> int:
    """Morpho oracle price from two feed answers of equal decimals (e.g. 8-dec USD):
    1e36 × 10^(loanDec − collDec) × coll/loan, floored."""
    exp = 36 + loan_decimals - coll_decimals
    return coll_price_raw * 10**exp // loan_price_raw


def deploy_morpho(
    rpc: DevnetRpc,
    owner: str,
    tokens: Mapping[str, str],
    decimals: Mapping[str, int],
    feed_answers: Mapping[str, int],
) -> MorphoDeployment:
    """Deploy Morpho (owner = ``owner``), enable irm 0 and the LLTVs, one OracleMock per market
    priced from ``feed_answers`` (8-dec USD raw ints), and create the markets."""
    compiled = compile_morpho()
    morpho_code = compiled["src/Morpho.sol:Morpho"].bytecode + encode_args(("address",), (owner,))
    morpho = rpc.deploy(owner, morpho_code, gas=15_000_000, what="deploy Morpho")

    def tx(signature: str, *args: Any) -> None:
        rpc.transact(Tx(owner, morpho, encode_call(signature, *args), 2_000_000), what=signature.split("(")[0])

    tx("enableIrm(address)", ZERO_ADDRESS)
    for lltv in sorted({spec[2] for spec in MARKET_SPECS.values()}):
        tx("enableLltv(uint256)", lltv)
    oracle_code = compiled["src/mocks/OracleMock.sol:OracleMock"].bytecode
    markets: dict[str, MorphoMarket] = {}
    for name, (coll, loan, lltv) in MARKET_SPECS.items():
        oracle = rpc.deploy(owner, oracle_code, gas=2_000_000, what=f"deploy OracleMock {name}")
        price = oracle_price(feed_answers[coll], decimals[coll], feed_answers[loan], decimals[loan])
        rpc.transact(Tx(owner, oracle, encode_call("setPrice(uint256)", price), 200_000), what="setPrice")
        params = (tokens[loan], tokens[coll], oracle, ZERO_ADDRESS, lltv)
        tx(f"createMarket({MARKET_PARAMS_TYPE})", params)
        markets[name] = MorphoMarket(market_id(*params), tokens[loan], tokens[coll], oracle, ZERO_ADDRESS, lltv)
    return MorphoDeployment(address=to_checksum_address(morpho), markets=markets)


def position(rpc: DevnetRpc, morpho: str, market: MorphoMarket, user: str,
             block: str | int = "latest") -> tuple[int, int, int]:
    """``position(id, user)``: (supply_shares, borrow_shares, collateral_raw)."""
    return tuple(rpc.call_decode(morpho, "position(bytes32,address)", (bytes.fromhex(market.id[2:]), user),
                                 ("uint256", "uint128", "uint128"), block))  # type: ignore[return-value]
