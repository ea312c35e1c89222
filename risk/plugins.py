"""The one way a plugin seam finds its modules: the package's own modules, then entry points.

Every registry of liqrisk (liquidation rules in :mod:`risk.rules`, venue readers in
:mod:`chain.venues`, devnet doubles in :mod:`chain.devnet.plugins`, report sections in
:mod:`liqrisk.venues`) is filled by importing modules that register themselves. Which modules,
and in which order, is decided here, so the seams cannot drift apart: the package's own modules
sorted by name, then the modules named by the entry points of the seam's group sorted by the
entry point's name (installed plugins). Importing them is left to the caller.
"""

from __future__ import annotations

import pkgutil
from collections.abc import Callable, Iterable


def _public(name: str) -> bool:
    return not name.startswith("_")


def plugin_module_names(package: str, package_path: Iterable[str], entry_point_group: str, *,
                        select: Callable[[str], bool] = _public) -> tuple[str, ...]:
    """Dotted names of the modules to import, in load order: ``package``'s modules found on
    ``package_path`` that ``select`` keeps (default: not starting with ``_``), sorted by name,
    then the module of every entry point of ``entry_point_group``, sorted by entry-point name."""
    from importlib.metadata import entry_points

    own = [f"{package}.{info.name}" for info in sorted(pkgutil.iter_modules(package_path), key=lambda i: i.name)
           if select(info.name)]
    installed = [ep.value.split(":")[0] for ep in sorted(entry_points(group=entry_point_group), key=lambda e: e.name)]
    return (*own, *installed)


__all__ = ["plugin_module_names"]
