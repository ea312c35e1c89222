"""Markets as data: the market file (TOML) that says which networks and lending markets to scan.

The shipped file is ``chain/data/markets.toml`` (Ethereum: Aave Core, Prime, EtherFi, SparkLend,
Morpho Blue, Compound V3 USDC, Sky vaults, Euler v2 (Euler Prime); Arbitrum, Base and Optimism: Aave V3, Morpho Blue on
Base, Compound V3 USDC). A user's own file in the same format replaces it. Every entry is checked
on load (pydantic, ``extra="forbid"``): addresses must be 0x + 40 hex and, when mixed-case, carry a
valid EIP-55 checksum; market ids are unique per network; chain ids unique. A bad file gives one
:class:`MarketFileError` naming the file and each field at fault.

Scanning: :func:`network_for_chain` picks the network whose ``chain_id`` the node answered (the
node and the file must agree, or the scan is refused); :meth:`Network.scan_sources` turns its
markets into the readers' source objects.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from eth_utils import is_checksum_address, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chain.toml_input import TomlNestingError, loads_toml

SHIPPED_MARKET_FILE = Path(__file__).resolve().parent / "data" / "markets.toml"


class MarketFileError(ValueError):
    """The market file is missing, not TOML, or not valid: the message names file and fields."""


def _address(value: str) -> str:
    if not isinstance(value, str) or len(value) != 42 or not value.startswith("0x"):
        raise ValueError(f"{value!r} is not an address (0x + 40 hex digits)")
    try:
        int(value[2:], 16)
    except ValueError:
        raise ValueError(f"{value!r} is not an address (0x + 40 hex digits)") from None
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise ValueError(f"{value!r} has a wrong EIP-55 checksum (a typo?); expected {to_checksum_address(value)}")
    return to_checksum_address(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _MarketBase(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9:_.\-]+$")
    name: str = Field(min_length=1)
    start_block: int = Field(default=0, ge=0, description="discovery starts here (deployment block or earlier)")
    checked: str = Field(default="", description="address book the addresses were checked against")


class AaveMarketEntry(_MarketBase):
    kind: Literal["aave_v3"]
    address: str = Field(description="PoolAddressesProvider (or Pool)")

    _check = field_validator("address")(classmethod(lambda cls, v: _address(v)))


class MorphoMarketEntry(_MarketBase):
    kind: Literal["morpho_blue"]
    address: str
    market_ids: tuple[str, ...] | None = Field(default=None, description="None: every market created")

    _check = field_validator("address")(classmethod(lambda cls, v: _address(v)))

    @field_validator("market_ids")
    @classmethod
    def _ids(cls, ids: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for i in ids or ():
            if len(i) != 66 or not i.startswith("0x"):
                raise ValueError(f"Morpho market id {i!r} must be 0x + 64 hex digits")
        return ids


class CometMarketEntry(_MarketBase):
    kind: Literal["compound_v3"]
    address: str

    _check = field_validator("address")(classmethod(lambda cls, v: _address(v)))


class SkyIlkEntry(_Strict):
    name: str = Field(min_length=1, max_length=32, pattern=r"^[ -~]+$")
    gem: str

    _check = field_validator("gem")(classmethod(lambda cls, v: _address(v)))


class SkyMarketEntry(_MarketBase):
    kind: Literal["sky_vaults"]
    vat: str
    spotter: str
    dog: str
    dai: str = Field(description="the DAI token (the debt asset's address in the snapshot)")
    ilks: tuple[SkyIlkEntry, ...] = Field(min_length=1)

    _check = field_validator("vat", "spotter", "dog", "dai")(classmethod(lambda cls, v: _address(v)))

    @model_validator(mode="after")
    def _unique_ilks(self) -> "SkyMarketEntry":
        names = [i.name for i in self.ilks]
        if len(set(names)) != len(names):
            raise ValueError(f"ilk names must be unique (got {names})")
        return self


class LiquityMarketEntry(_MarketBase):
    """Liquity v2 (BOLD): the BOLD token and one AddressesRegistry per collateral branch (liquity/bold
    ``contracts/addresses/<chain id>.json``); troves are discovered from each TroveManager's TroveIds."""

    kind: Literal["liquity_v2"]
    bold: str
    registries: tuple[str, ...] = Field(min_length=1, description="AddressesRegistry of each branch")

    _check = field_validator("bold")(classmethod(lambda cls, v: _address(v)))
    _check_registries = field_validator("registries")(classmethod(lambda cls, v: tuple(_address(r) for r in v)))


class EulerMarketEntry(_MarketBase):
    """Euler v2: the EVC and the EVK controller vaults whose borrowers are scanned (each vault's
    recognised collaterals are read from its LTVList)."""

    kind: Literal["euler_v2"]
    evc: str
    vaults: tuple[str, ...] = Field(min_length=1)

    _check = field_validator("evc")(classmethod(lambda cls, v: _address(v)))
    _check_vaults = field_validator("vaults")(classmethod(lambda cls, v: tuple(_address(a) for a in v)))

    @model_validator(mode="after")
    def _unique_vaults(self) -> "EulerMarketEntry":
        if len(set(self.vaults)) != len(self.vaults):
            raise ValueError(f"vaults must be unique (got {list(self.vaults)})")
        return self


MarketEntry = Annotated[Union[AaveMarketEntry, MorphoMarketEntry, CometMarketEntry, SkyMarketEntry, LiquityMarketEntry,
                              EulerMarketEntry],
                        Field(discriminator="kind")]


UNISWAP_V3_POOL_INIT_CODE_HASH = bytes.fromhex("e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54")
"""``PoolAddress.POOL_INIT_CODE_HASH`` of Uniswap/v3-periphery (npm 1.4.4, libraries/PoolAddress.sol)."""


def uniswap_v3_pool_address(factory: str, token_a: str, token_b: str, fee: int) -> str:
    """The pool's CREATE2 address, as the periphery's ``PoolAddress.computeAddress`` derives it."""
    from eth_abi import encode
    from eth_utils import keccak

    token0, token1 = sorted((to_checksum_address(token_a), to_checksum_address(token_b)), key=lambda a: int(a, 16))
    salt = keccak(encode(["address", "address", "uint24"], [token0, token1, fee]))
    return to_checksum_address(keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + UNISWAP_V3_POOL_INIT_CODE_HASH)[12:])


class UniswapV3PoolEntry(_Strict):
    """A Uniswap v3 pool the on-chain liquidity model reads (``Snapshot.pools``). With the
    network's ``uniswap_v3_factory`` set, ``address`` must be the CREATE2 address of
    (factory, tokens, fee) — a typo in any of them is refused on load."""

    name: str = Field(min_length=1)
    address: str
    tokens: tuple[str, str]
    fee: int = Field(gt=0, lt=1_000_000, description="pips: 500 = 0.05%")
    checked: str = ""

    _check = field_validator("address")(classmethod(lambda cls, v: _address(v)))
    _check_tokens = field_validator("tokens")(classmethod(lambda cls, v: tuple(_address(t) for t in v)))


class Network(_Strict):
    chain_id: int = Field(ge=1)
    multicall3: str = "0xcA11bde05977b3631167028862bE2a173976CA11"
    confirmations: int = Field(default=0, ge=0, le=1_000)
    markets: tuple[MarketEntry, ...] = Field(min_length=1)
    uniswap_v3_factory: str | None = None
    uniswap_v3_pools: tuple[UniswapV3PoolEntry, ...] = ()

    _check = field_validator("multicall3")(classmethod(lambda cls, v: _address(v)))
    _check_factory = field_validator("uniswap_v3_factory")(
        classmethod(lambda cls, v: None if v is None else _address(v)))

    @model_validator(mode="after")
    def _pools_from_factory(self) -> "Network":
        if self.uniswap_v3_factory is not None:
            for pool in self.uniswap_v3_pools:
                expected = uniswap_v3_pool_address(self.uniswap_v3_factory, *pool.tokens, pool.fee)
                if pool.address != expected:
                    raise ValueError(f"uniswap_v3_pools {pool.name!r}: address {pool.address} is not the factory's "
                                     f"pool for these tokens and fee ({expected})")
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> "Network":
        ids = [m.id for m in self.markets]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"market ids must be unique in a network (repeated: {dupes})")
        if sum(isinstance(m, MorphoMarketEntry) for m in self.markets) > 1:
            raise ValueError("at most one Morpho Blue entry per network (list market_ids to restrict it)")
        return self

    def scan_sources(self) -> dict[str, Any]:
        """``chain.scan.scan_snapshot`` keyword arguments for this network's markets."""
        from chain.scan import AaveSource, CometSource, MorphoSource

        out: dict[str, Any] = {"aave_pools": [], "morpho": None, "comets": []}
        for m in self.markets:
            if isinstance(m, AaveMarketEntry):
                out["aave_pools"].append(AaveSource(m.address, m.id, m.name, m.start_block))
            elif isinstance(m, MorphoMarketEntry):
                out["morpho"] = MorphoSource(m.address, m.market_ids, m.start_block)
            elif isinstance(m, CometMarketEntry):
                out["comets"].append(CometSource(m.address, m.id, m.name, m.start_block))
        if self.uniswap_v3_pools:
            out["uniswap_pools"] = [p.address for p in self.uniswap_v3_pools]
        sky = [m for m in self.markets if isinstance(m, SkyMarketEntry)]
        if sky:
            out["sky"] = sky
        liquity = [m for m in self.markets if isinstance(m, LiquityMarketEntry)]
        if liquity:
            out["liquity"] = liquity
        euler = [m for m in self.markets if isinstance(m, EulerMarketEntry)]
        if euler:
            out["euler"] = euler
        return out


class MarketFile(_Strict):
    networks: dict[str, Network] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_chains(self) -> "MarketFile":
        seen: dict[int, str] = {}
        for name, net in self.networks.items():
            if net.chain_id in seen:
                raise ValueError(f"networks {seen[net.chain_id]!r} and {name!r} have the same chain_id {net.chain_id}")
            seen[net.chain_id] = name
        return self

    def network_for_chain(self, chain_id: int, *, where: str = "market file") -> tuple[str, Network]:
        for name, net in self.networks.items():
            if net.chain_id == chain_id:
                return name, net
        listed = ", ".join(f"{n} ({v.chain_id})" for n, v in self.networks.items())
        raise MarketFileError(f"{where}: the node is on chain {chain_id}, which has no network here (listed: {listed})")


def _format(error: ValidationError, where: str) -> str:
    lines = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item.get("loc", ()) if p not in
                       ("aave_v3", "morpho_blue", "compound_v3", "sky_vaults", "liquity_v2", "euler_v2")) or "(top level)"
        kind = item.get("type", "")
        if kind == "missing":
            text = "required field is missing"
        elif kind == "extra_forbidden":
            text = "unknown key (not part of the market file format; check the spelling)"
        elif kind == "union_tag_invalid":
            ctx = item.get("ctx", {})
            text = f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
        elif kind == "union_tag_not_found":
            text = "needs a kind key (aave_v3, morpho_blue, compound_v3, sky_vaults, liquity_v2 or euler_v2)"
        else:
            text = item.get("msg", "").removeprefix("Value error, ")
        lines.append(f"  {loc}: {text}")
    return f"{where}: {len(lines)} problem{'s' if len(lines) != 1 else ''}:\n" + "\n".join(lines)


def parse_market_file(data: dict[str, Any], *, where: str = "market file") -> MarketFile:
    try:
        return MarketFile.model_validate(data)
    except ValidationError as exc:
        raise MarketFileError(_format(exc, where)) from None


def load_market_file(path: str | Path | None = None) -> MarketFile:
    """The market file at ``path`` (default: the shipped one)."""
    path = Path(path) if path is not None else SHIPPED_MARKET_FILE
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise MarketFileError(f"market file not found: {path}") from None
    except OSError as exc:
        raise MarketFileError(f"market file {path}: cannot read ({exc.strerror})") from None
    try:
        data = loads_toml(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, TomlNestingError) as exc:
        raise MarketFileError(f"{path}: not valid TOML ({exc})") from None
    return parse_market_file(data, where=str(path))


__all__ = [
    "AaveMarketEntry", "CometMarketEntry", "EulerMarketEntry", "LiquityMarketEntry", "MarketEntry", "MarketFile",
    "MarketFileError", "MorphoMarketEntry",
    "Network", "SHIPPED_MARKET_FILE", "SkyIlkEntry", "SkyMarketEntry", "UniswapV3PoolEntry", "load_market_file",
    "parse_market_file", "uniswap_v3_pool_address",
]
