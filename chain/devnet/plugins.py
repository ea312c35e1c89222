"""Devnet deployments of plugin venues: a venue's devnet double registers itself from its own file.

The devnet (:mod:`chain.devnet.core`) deploys the tokens, USD feeds, both genuine Aave lines,
Morpho Blue, the Comet double, Multicall3 and the Uniswap pools itself. Every other venue's devnet
part — its test double, a seeded population, how a price move reaches it — is a
:class:`DevnetVenue` registered with :func:`register_devnet_venue` by the venue's own module:
``chain/devnet/deploy_<venue>.py`` (every ``chain/devnet/deploy_*.py`` module is imported, sorted by
name, and those that call :func:`register_devnet_venue` are the plugins; e.g.
``chain/devnet/deploy_maker.py`` for Sky) or a module named by an entry point of group
``liqrisk.devnet``. ``Devnet.deploy`` / ``populate`` / ``set_price_usd``, the deployment's JSON state
and ``DevnetDeployment.<key>`` (``dep.sky``) go through the registry, so a new venue's devnet double
needs no edit to ``core.py``; its market-file entry comes from the venue reader's
``devnet_entries(deployment)`` (:mod:`chain.devnet.markets`).

Order. Plugins deploy and populate in ``(order, key)`` order; those with ``order <
UNISWAP_ORDER`` deploy before the Uniswap pools, the others after (the order the devnet has always
had, so the addresses of a given seed stay the same).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ENTRY_POINT_GROUP = "liqrisk.devnet"
UNISWAP_ORDER = 50
"""Plugins with a lower ``order`` deploy before the Uniswap pools."""


@dataclass(frozen=True)
class DevnetContext:
    """What a plugin gets: the node, the deployer (anvil account 0), every anvil account, the
    devnet's tokens (symbol -> address) and decimals, the 8-decimal USD feeds (symbol -> address),
    the start prices (USD) and the fixed block interval (s)."""

    rpc: Any  # chain.devnet.rpc.DevnetRpc
    deployer: str
    accounts: Sequence[str]
    tokens: Mapping[str, str]
    decimals: Mapping[str, int]
    feeds: Mapping[str, str]
    start_prices_usd: Mapping[str, float]
    block_interval_s: int


@dataclass(frozen=True)
class DevnetVenue:
    """A venue's devnet part.

    ``key``: its name in the deployment (``DevnetDeployment.<key>``, the state file's ``"<key>"``)
    and of its population (``Devnet.<key>_population``). ``deploy(ctx) -> part`` (an object with
    ``to_dict()``); ``from_dict(d) -> part``; ``populate(ctx, part, n_borrowers, seed) -> population``
    (None: no population); ``set_price(ctx, part, symbol, price_usd)``: move ``symbol`` to
    ``price_usd`` (an exact 8-decimal :class:`~decimal.Decimal`) in this venue's oracles, or do
    nothing when the venue does not use it. ``module``: where it was registered."""

    key: str
    deploy: Callable[[DevnetContext], Any]
    from_dict: Callable[[Mapping[str, Any]], Any]
    populate: Callable[[DevnetContext, Any, int, int], Any] | None = None
    set_price: Callable[[DevnetContext, Any, str, Decimal], None] | None = None
    order: int = 100
    module: str = ""


_REGISTRY: dict[str, DevnetVenue] = {}
_CORE_KEYS = frozenset({"rpc_url", "chain_id", "deployer", "lender", "tokens", "decimals", "aave", "morpho",
                        "comet_double", "multicall3", "deploy_block", "uniswap", "aave36", "parts"})
_LOADED = False


def register_devnet_venue(plugin: DevnetVenue) -> DevnetVenue:
    """Register a venue's devnet part (at import of its module). A key registered twice by another
    module, or one that is a core deployment field, is an error."""
    if not plugin.key.isidentifier() or plugin.key in _CORE_KEYS:
        raise ValueError(f"devnet venue key {plugin.key!r} must be an identifier and not a core deployment field")
    existing = _REGISTRY.get(plugin.key)
    if existing is not None and existing.module != plugin.module:
        raise ValueError(f"devnet venue {plugin.key!r} is registered twice ({existing.module} and {plugin.module})")
    _REGISTRY[plugin.key] = plugin
    return plugin


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import chain.devnet as package
    from risk.plugins import plugin_module_names

    for module in plugin_module_names("chain.devnet", package.__path__, ENTRY_POINT_GROUP,
                                      select=lambda name: name.startswith("deploy_")):
        importlib.import_module(module)


def devnet_venues() -> tuple[DevnetVenue, ...]:
    """Registered devnet parts in deploy order (``order``, then ``key``)."""
    _load()
    return tuple(sorted(_REGISTRY.values(), key=lambda p: (p.order, p.key)))


def devnet_venue_keys() -> frozenset[str]:
    _load()
    return frozenset(_REGISTRY)


__all__ = ["DevnetContext", "DevnetVenue", "ENTRY_POINT_GROUP", "UNISWAP_ORDER", "devnet_venue_keys",
           "devnet_venues", "register_devnet_venue"]
