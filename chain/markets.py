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
from chain.venues import MarketEntryBase

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


def address_field(*names: str) -> Any:
    """A pydantic validator for address fields (0x + 40 hex, EIP-55 checked when mixed-case), for
    venues' market-file entries: ``_check = address_field("vat", "dog")``."""
    return field_validator(*names)(classmethod(lambda cls, v: _address(v)))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    markets: tuple[MarketEntryBase, ...] = Field(min_length=1, description="entries of registered venue kinds "
                                                 "(chain.venues); validated by the kind's own entry model")
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
        if sum(m.kind == "morpho_blue" for m in self.markets) > 1:  # type: ignore[attr-defined]
            raise ValueError("at most one Morpho Blue entry per network (list market_ids to restrict it)")
        return self

    def sources(self) -> list[Any]:
        """The network's markets as source objects of their registered venues, in file order."""
        from chain.venues import venue

        return [venue(m.kind).source_from_entry(m) for m in self.markets]  # type: ignore[attr-defined]

    def scan_kwargs(self) -> dict[str, Any]:
        """``chain.scan.scan_snapshot`` keyword arguments: every market (generic ``sources``) and the pools."""
        out: dict[str, Any] = {"sources": self.sources()}
        if self.uniswap_v3_pools:
            out["uniswap_pools"] = [p.address for p in self.uniswap_v3_pools]
        return out

    def scan_sources(self) -> dict[str, Any]:
        """``chain.scan.scan_snapshot`` keyword arguments grouped by the shorthand keywords
        (``aave_pools``, ``morpho``, ``comets``; every other venue in ``sources``, in file order). Prefer
        :meth:`scan_kwargs` (every market in file order)."""
        from chain.scan import AaveSource, CometSource, MorphoSource
        out: dict[str, Any] = {"aave_pools": [], "morpho": None, "comets": [], "sources": []}
        for source in self.sources():
            if isinstance(source, AaveSource):
                out["aave_pools"].append(source)
            elif isinstance(source, MorphoSource):
                out["morpho"] = source
            elif isinstance(source, CometSource):
                out["comets"].append(source)
            else:
                out["sources"].append(source)
        if self.uniswap_v3_pools:
            out["uniswap_pools"] = [p.address for p in self.uniswap_v3_pools]
        return out


class MarketFile(_Strict):
    plugins: tuple[str, ...] = Field(default=(), description="modules to import first: they register venues "
                                     "(chain.venues.register_venue) whose kinds this file uses")
    networks: dict[str, Network] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_chains(self) -> "MarketFile":
        seen: dict[int, str] = {}
        for name, net in self.networks.items():
            if net.chain_id in seen:
                raise ValueError(f"networks {seen[net.chain_id]!r} and {name!r} have the same chain_id {net.chain_id}")
            seen[net.chain_id] = name
        return self

    def network_for_chain(self, chain_id: int, *, where: str = "market file",
                          network: str | None = None) -> tuple[str, Network]:
        """The network whose ``chain_id`` the node answered. ``network``: the one the caller wants;
        then its chain id must be the node's."""
        if network is not None:
            if network not in self.networks:
                raise MarketFileError(f"{where}: no network {network!r} (listed: {', '.join(self.networks)})")
            net = self.networks[network]
            if net.chain_id != chain_id:
                raise MarketFileError(f"{where}: networks.{network}.chain_id is {net.chain_id}, but the node answers "
                                      f"chain {chain_id}: wrong node or wrong network")
            return network, net
        for name, net in self.networks.items():
            if net.chain_id == chain_id:
                return name, net
        listed = ", ".join(f"{n} ({v.chain_id})" for n, v in self.networks.items())
        raise MarketFileError(f"{where}: the node is chain {chain_id}, which has no network here (no "
                              f"networks.*.chain_id = {chain_id}; listed: {listed})")


def _format(error: ValidationError, where: str) -> str:
    from chain.venues import venue_kinds

    kinds = venue_kinds()
    lines = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item.get("loc", ()) if p not in kinds) or "(top level)"
        kind = item.get("type", "")
        if kind == "missing":
            text = "required field is missing"
        elif kind == "extra_forbidden":
            text = "unknown key (not part of the market file format; check the spelling)"
        elif kind == "union_tag_invalid":
            ctx = item.get("ctx", {})
            text = f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
        elif kind == "union_tag_not_found":
            text = f"needs a kind key (one of {', '.join(kinds)})"
        else:
            text = item.get("msg", "").removeprefix("Value error, ")
        lines.append(f"  {loc}: {text}")
    return f"{where}: {len(lines)} problem{'s' if len(lines) != 1 else ''}:\n" + "\n".join(lines)


_MODELS: dict[tuple[type, ...], type[MarketFile]] = {}


def market_file_model() -> type[MarketFile]:
    """The MarketFile model whose ``markets`` accept every registered venue's entry (by ``kind``)."""
    from pydantic import create_model

    from chain.venues import venues

    entries = tuple(v.entry for v in venues())
    model = _MODELS.get(entries)
    if model is None:
        entry_type: Any = (Annotated[Union[entries], Field(discriminator="kind")]  # type: ignore[valid-type]
                           if len(entries) > 1 else entries[0])
        network = create_model("Network", __base__=Network,
                               markets=(tuple[entry_type, ...], Field(min_length=1)))  # type: ignore[call-overload]
        model = create_model("MarketFile", __base__=MarketFile,
                             networks=(dict[str, network], Field(min_length=1)))  # type: ignore[call-overload,valid-type]
        _MODELS[entries] = model
    return model


def _load_plugins(data: Any, where: str) -> None:
    """Import the modules of the file's ``plugins`` list (they register venues) before validating."""
    from chain.venues import load_venues

    plugins = data.get("plugins", ()) if isinstance(data, dict) else ()
    if not isinstance(plugins, (list, tuple)) or not all(isinstance(p, str) for p in plugins):
        raise MarketFileError(f"{where}: 1 problem:\n  plugins: expected a list of module names")
    for module in plugins:
        try:
            load_venues([module])
        except ImportError as exc:
            raise MarketFileError(f"{where}: 1 problem:\n  plugins: cannot import {module!r} ({exc})") from None
    load_venues()


def parse_market_file(data: dict[str, Any], *, where: str = "market file") -> MarketFile:
    _load_plugins(data, where)
    try:
        return market_file_model().model_validate(data)
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


_MOVED = {"AaveMarketEntry": "chain.venues.aave_v3", "MorphoMarketEntry": "chain.venues.morpho_blue",
          "CometMarketEntry": "chain.venues.compound_v3"}


def __getattr__(name: str) -> Any:
    """Entries moved to their venue's module (chain/venues/): still importable from here."""
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    if name == "MarketEntryBase":
        from chain.venues import MarketEntryBase

        return MarketEntryBase
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MarketFile", "MarketFileError", "Network", "SHIPPED_MARKET_FILE", "UniswapV3PoolEntry", "address_field",
    "load_market_file", "market_file_model", "parse_market_file", "uniswap_v3_pool_address",
]
