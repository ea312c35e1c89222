"""The venue seam: a reader protocol and a registry of lending-venue readers, keyed by kind.

A *venue reader* (:class:`VenueReader`) knows one protocol (Aave V3, Morpho Blue, Compound V3,
Sky vaults, ...). Given one *source* (what a market-file entry says: addresses, ids, start block)
it reads, at the pinned block:

1. the market(s) (reserves, parameters, oracle answers);
2. the accounts: the ones the caller gave, or those discovered from the venue's events up to the
   block (:meth:`ReadContext.discover`, an SQLite :class:`chain.discovery.AccountIndex`);
3. the positions of those accounts,

and returns a :class:`VenueRead`, which later says which tokens it needs (decimals, symbols, USD
prices) and turns itself into typed Snapshot rows (:class:`VenueRows`: markets, positions and the
skipped list) once :mod:`chain.scan` has read the tokens and priced them. :func:`chain.scan.scan_snapshot`
only iterates sources through this protocol: it has no branch per venue.

Registration. A venue registers itself with :func:`register_venue` when its module is imported.
Modules are found, in this order (:func:`load_venues`):

- every module of this package (``chain/venues/*.py``, sorted by name): the built-in venues;
- every entry point of group ``liqrisk.venues`` (an installed plugin distribution);
- the modules a market file lists in ``plugins = ["pkg.module", ...]`` (:mod:`chain.markets`).

So adding a venue is new files (a reader module here, its rule in ``risk/venues/``, its market-file
entries) and no edit to a shared module. An unknown kind is an error naming the registered ones.

A venue also declares its market-file entry (:attr:`VenueReader.entry`, a pydantic model with a
``kind`` literal; :class:`MarketEntryBase` gives the common fields) and how an entry becomes a
source (:meth:`VenueReader.source_from_entry`).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # pragma: no cover
    from chain.blocks import PinnedBlock
    from chain.discovery import AccountIndex, DiscoveredAccount, EventSource
    from chain.pricing import UsdPricing
    from chain.transport import Transport
    from risk.snapshot import Market, Position, Skipped

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "liqrisk.venues"


class VenueError(KeyError):
    """An unknown venue kind (the message names the registered ones)."""

    def __str__(self) -> str:  # KeyError quotes its message; this one is a sentence
        return str(self.args[0]) if self.args else ""


# ------------------------------------------------------------------------------ market-file entry


class MarketEntryBase(BaseModel):
    """Fields every market-file entry has. A venue's entry subclasses it and adds ``kind: Literal[...]``
    and its own addresses (validate them with :func:`chain.markets.address_field`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9:_.\-]+$")
    name: str = Field(min_length=1)
    start_block: int = Field(default=0, ge=0, description="discovery starts here (deployment block or earlier)")
    checked: str = Field(default="", description="address book the addresses were checked against")


# ---------------------------------------------------------------------------------- read context


@dataclass
class ReadContext:
    """What a reader gets to read one source at the pinned block.

    ``transport`` is the pinned transport (reads go by the block's hash, re-checked by the scan at
    the end); ``given``: accounts per source address (checksummed), from the caller; ``index``:
    the account index discovery writes to; ``include_suppliers``: keep accounts without debt.
    """

    transport: "Transport"
    pinned: "PinnedBlock"
    given: Mapping[str, list[str]]
    index: "AccountIndex"
    include_suppliers: bool = False

    def given_accounts(self, address: str) -> list[str] | None:
        """The caller's accounts for the source at ``address``, or None (then discover them)."""
        from chain.aave_v3 import checksum

        return self.given.get(checksum(address, "source address"))

    def discover(self, source: "EventSource") -> list["DiscoveredAccount"]:
        """Scan ``source``'s events up to the pinned block into the index; the accounts first seen
        at or before it."""
        from chain.discovery import LogScanner

        LogScanner(self.index).scan(self.transport, source, self.pinned)
        return self.index.accounts(self.transport.chain_id, source, up_to_block=self.pinned.number)


@dataclass(frozen=True)
class PricingInputs:
    """What a venue hands to :func:`chain.pricing.price_tokens` (the built-in oracle tiers: Aave USD
    oracles, Comets, Morpho oracles). A venue without such an oracle leaves it empty and prices its
    tokens in :meth:`VenueRead.own_prices` (after every other source) or through the anchors."""

    aave: tuple[tuple[str, Any], ...] = ()
    comets: tuple[Any, ...] = ()
    morpho: tuple[Any, ...] = ()


@dataclass
class AssembleContext:
    """What a :class:`VenueRead` needs to become Snapshot rows: unique symbols per token address, the
    decimals and USD prices (:class:`chain.scan.TokenPrices`: ``problem(token)`` says why a token
    cannot be an Asset) and the pricing record (e.g. Morpho markets pricing skipped)."""

    symbols: Mapping[str, str]
    prices: Any  # chain.scan.TokenPrices
    pricing: "UsdPricing"

    def named(self, token: str) -> str:
        return f"{self.symbols[token]} ({token})"


@dataclass
class VenueRows:
    """Typed Snapshot rows of one source. ``venue_state``: the venue's own Snapshot payload by its
    declared key (:mod:`risk.venue_state`; joined over sources by the model's ``combine``).
    ``extra``: rows of other top-level Snapshot fields, by field name, concatenated over sources."""

    markets: list["Market"] = field(default_factory=list)
    positions: list["Position"] = field(default_factory=list)
    skipped: list["Skipped"] = field(default_factory=list)
    venue_state: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, list[Any]] = field(default_factory=dict)


@runtime_checkable
class VenueRead(Protocol):
    """One source read at the pinned block (the typed rows before tokens are priced)."""

    def tokens(self) -> Iterable[str]:
        """Token addresses whose symbol/decimals/price the scan must read."""
        ...

    def venue_decimals(self) -> Mapping[str, int]:
        """Decimals the venue keeps itself (used when a token has no ``decimals()``)."""
        ...

    def pricing_inputs(self) -> PricingInputs:
        ...

    def own_prices(self, pricing: "UsdPricing") -> None:
        """Add fallback USD prices (the price the venue itself liquidates on) for tokens still without one."""
        ...

    def assemble(self, ctx: AssembleContext) -> VenueRows:
        ...


class BaseVenueRead:
    """Defaults for :class:`VenueRead`: no venue decimals, no built-in pricing tier, no own prices."""

    def tokens(self) -> Iterable[str]:  # pragma: no cover - every venue overrides it
        return ()

    def venue_decimals(self) -> Mapping[str, int]:
        return {}

    def pricing_inputs(self) -> PricingInputs:
        return PricingInputs()

    def own_prices(self, pricing: "UsdPricing") -> None:
        return None

    def assemble(self, ctx: AssembleContext) -> VenueRows:  # pragma: no cover
        raise NotImplementedError


@runtime_checkable
class VenueReader(Protocol):
    """A registered venue: its market-file kind and entry model, its source type, and how to read it."""

    kind: ClassVar[str]
    entry: ClassVar[type[MarketEntryBase]]
    source_type: ClassVar[type]

    def source_from_entry(self, entry: Any) -> Any:
        """The source object for a market-file entry of this kind."""
        ...

    def source_address(self, source: Any) -> str:
        """The address ``accounts`` keys for this source (as :func:`chain.scan.scan_snapshot` documents)."""
        ...

    def read(self, source: Any, ctx: ReadContext) -> VenueRead:
        """Read the source at ``ctx.pinned``: market(s), accounts, positions."""
        ...


# --------------------------------------------------------------------------------------- registry

_REGISTRY: dict[str, VenueReader] = {}
_LOADED = False
_LOADED_MODULES: list[str] = []


def register_venue(reader: VenueReader | type) -> Any:
    """Register a venue reader (an instance, or a class with a no-argument constructor; usable as a
    class decorator). Registering a second reader for the same kind is an error."""
    instance: Any = reader() if isinstance(reader, type) else reader
    for attribute in ("kind", "entry", "source_type", "source_from_entry", "source_address", "read"):
        if not hasattr(instance, attribute):
            raise TypeError(f"venue reader {instance!r} has no {attribute!r} (see chain.venues.VenueReader)")
    kind = instance.kind
    entry_kind = instance.entry.model_fields.get("kind")
    if entry_kind is None:
        raise TypeError(f"venue {kind!r}: its market-file entry {instance.entry.__name__} has no 'kind' field")
    existing = _REGISTRY.get(kind)
    if existing is not None and type(existing) is not type(instance):
        raise ValueError(f"venue kind {kind!r} is registered twice ({type(existing).__name__} and "
                         f"{type(instance).__name__})")
    _REGISTRY[kind] = instance
    return reader


def load_venues(extra_modules: Sequence[str] = ()) -> None:
    """Import the built-in venue modules, the ``liqrisk.venues`` entry points (once) and ``extra_modules``."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from risk.plugins import plugin_module_names

        for module in plugin_module_names(__name__, __path__, ENTRY_POINT_GROUP):
            _import(module)
    for module in extra_modules:
        _import(module)


def _import(module: str) -> None:
    if module in _LOADED_MODULES:
        return
    importlib.import_module(module)
    _LOADED_MODULES.append(module)


def venue(kind: str) -> VenueReader:
    """The registered reader of ``kind``; an unknown kind raises :class:`VenueError`."""
    load_venues()
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise VenueError(f"unknown venue kind {kind!r}; registered: {', '.join(venue_kinds())}") from None


def venue_kinds() -> tuple[str, ...]:
    """Registered kinds, sorted (registration order depends on which module was imported first)."""
    load_venues()
    return tuple(sorted(_REGISTRY))


def venues() -> tuple[VenueReader, ...]:
    """Registered readers, sorted by kind."""
    load_venues()
    return tuple(_REGISTRY[k] for k in sorted(_REGISTRY))


def venue_for_source(source: Any) -> VenueReader:
    """The registered reader whose ``source_type`` ``source`` is."""
    for reader in venues():
        if isinstance(source, reader.source_type):
            return reader
    raise VenueError(f"no registered venue reads a {type(source).__name__} source; registered: "
                     f"{', '.join(f'{r.kind} ({r.source_type.__name__})' for r in venues())}")


def plugin_modules() -> tuple[str, ...]:
    """Modules imported so far by :func:`load_venues` (for reports and the seam test)."""
    return tuple(_LOADED_MODULES)


Hook = Callable[..., Any]

__all__ = [
    "AssembleContext", "BaseVenueRead", "ENTRY_POINT_GROUP", "MarketEntryBase", "PricingInputs", "ReadContext",
    "VenueError", "VenueRead", "VenueReader", "VenueRows", "load_venues", "plugin_modules", "register_venue", "venue",
    "venue_for_source", "venue_kinds", "venues",
]
