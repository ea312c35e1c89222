"""The liquidation-rule registry: which rules exist, how each is computed, and which have a fast path.

Every :class:`risk.snapshot.Market` names its rule (``Market.venue``); the book stores the rule's
integer code (its position in :data:`RULES`). A rule declares:

- ``name`` and a one-line ``description``;
- ``kernel``: the vectorized liquidation of its rows (``None`` for the four built-in rules, whose
  kernel is :func:`risk.liquidation.liquidate_rows`' own close-factor / absorb code);
- ``pair_fast_path``: whether single-pair positions of this rule may go through the closed form of
  :mod:`risk.pair_classes` (``one_shot``: the whole debt is always repaid in one go);
- the plain-loop reference lives with the tests (``tests/risk/reference.py``,
  ``tests/risk/sky_reference.py``, ``tests/risk/euler_reference.py``) and the conformance suite runs over every rule here.

The parameter columns every rule reads are the book's: ``liq_threshold``, ``liq_bonus`` and
``protocol_fee`` (a rule documents what they mean for it; the Sky vault rule encodes its penalty and
the Clipper's clearing price in the last two, see :mod:`risk.sky_vaults`; the Liquity v2 rule reads
``liq_bonus`` as 1 + the Stability Pool penalty, see :mod:`risk.liquity_v2`).

An unknown rule is an error (:func:`rule`), never a silent default.

Adding a rule needs no edit here: put a module in ``risk/venues/`` (or ship one in a distribution
with an entry point of group ``liqrisk.rules``) that calls :func:`register_rule` at import. This
module imports them when it is first imported — every ``risk/venues/*.py`` module sorted by name,
then the entry points sorted by name — so :data:`RULES` (and ``risk.snapshot.VENUES``, the book's
codes) are complete and in a fixed order before any book is built. Such a module may import only
``risk.rules`` at module level (its kernel imports lazily, as ``risk/venues/sky_vault.py`` does):
``risk.snapshot`` imports this module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ENTRY_POINT_GROUP = "liqrisk.rules"

PARAMETER_COLUMNS: tuple[str, ...] = ("liq_threshold", "liq_bonus", "protocol_fee")
"""The book's per-(position, asset) parameter columns every kernel receives."""


@dataclass(frozen=True)
class ConsumableBudget:
    """A limit a rule's liquidations use up as they happen: every liquidation draws its amount from
    the budget, across the rows of one kernel call, the rounds of a cascade and the steps of a Monte
    Carlo path (the engine keeps the state, fresh per grid point and per path; :mod:`risk.budgets`).

    The room at the block is ``max(0, limit - used)``, from two of the rule's market parameters
    (``limit`` and ``used`` name entries of :attr:`LiquidationRule.market_params`; both in the same
    unit). ``shared``: ``False`` gives each market of the rule its own budget; ``True`` one budget
    for every market of the rule in a book (their ``limit``/``used`` values must then agree). What
    an amount drawn means (and in which unit) is the rule kernel's business, e.g. the Sky rule's
    ``Dog`` ``hole - dirt`` per ilk and ``Hole - Dirt`` across ilks, in DAI."""

    name: str
    meaning: str
    limit: str
    used: str
    shared: bool = False


@dataclass(frozen=True)
class LiquidationRule:
    """A registered liquidation rule.

    ``kernel(collateral, debt, liq_threshold, liq_bonus, protocol_fee, prices_usd)`` -> ``(seized,
    fee, repaid tokens, bad_debt_usd, hit)`` for a rule with its own vectorized kernel (updates
    ``collateral``/``debt`` in place); ``None`` for the built-in rules of :mod:`risk.liquidation`.
    ``columns``: what the rule reads from each of :data:`PARAMETER_COLUMNS` (documentation, and
    the conformance suite checks every rule documents all three). ``module``: where it was registered.
    ``reference``: ``"module:function"`` of its plain-loop reference, kept with the tests (one
    position at a time: ``f(coll, debt, lt, bonus, fee, prices) -> (seized, fee, repaid, bad_usd, hit)``
    over Python lists, mutating ``coll``/``debt``); the conformance suite (``tests/risk/test_conformance.py``)
    runs the kernel against it. Empty: the suite looks for ``tests.risk.reference_<name>:liquidate_position``.
    ``label`` / ``color``: how charts and reports show the rule (empty: its name, a neutral grey).
    """

    name: str
    description: str
    kernel: Callable[..., Any] | None = None
    pair_fast_path: bool = False
    one_shot: bool = False
    columns: tuple[tuple[str, str], ...] = (
        ("liq_threshold", "liquidation threshold (fraction)"),
        ("liq_bonus", "collateral seized per unit of debt repaid (1.05 = 5% bonus)"),
        ("protocol_fee", "share of the bonus part the protocol keeps"),
    )
    module: str = __name__
    reference: str = ""
    label: str = ""
    color: str = ""
    market_params: tuple[tuple[str, str, int], ...] = ()
    """Per-market rule parameters ``(name, meaning, default)``, for a rule that needs more than the
    per-asset columns (e.g. the Aave V4 spoke's target health factor). Values are integers in the
    unit their name ends with (:data:`MARKET_PARAM_SCALES`: ``_wad`` 1e18 = 1.0, ``_bps`` 1e4 = 1.0,
    ``_rad`` 1e45 = 1.0, dss's DAI amounts).
    A Snapshot market of the rule carries every one of them in ``Market.rule_params`` (no more, no
    fewer); :class:`risk.book.PositionBook` turns them into floats per position (``rule_params``,
    columns in this order); the kernel receives its rows' values as ``rule_params=`` (shape
    (n_rows, len(market_params))). A book built without a snapshot (synthetic, the conformance
    suite) gets the defaults."""
    budgets: tuple[ConsumableBudget, ...] = ()
    """Budgets its liquidations consume (:class:`ConsumableBudget`). A rule that declares any needs its
    own kernel and no pair fast path; the kernel then also receives ``budget=`` (a
    :class:`risk.budgets.RowBudget`: per row the cells of ``room`` it draws from, in this order, and
    the order key) and must draw from ``room`` in place; without ``budget=`` (a direct call, the
    conformance suite) it liquidates unlimited."""


_BUILTIN: tuple[LiquidationRule, ...] = (
    LiquidationRule("aave_v30", "Aave v3.0-v3.2 and Spark: 50%/100% close factor at HF 0.95", pair_fast_path=True,
                    reference="tests.risk.rule_references:aave_v30", label="Aave v3.0–3.2 / Spark", color="#8E6CC9"),
    LiquidationRule("aave_v33", "Aave v3.3+: position-wide 50% cap above HF 0.95 and $2,000, $1,000 dust rule",
                    pair_fast_path=True, reference="tests.risk.rule_references:aave_v33", label="Aave v3.3+",
                    color="#C2185B"),
    LiquidationRule("morpho_blue", "Morpho Blue: whole debt, LIF", pair_fast_path=True, one_shot=True,
                    reference="tests.risk.rule_references:morpho_blue", label="Morpho Blue", color="#2F6FED"),
    LiquidationRule("compound_v3", "Compound V3: absorb takes all collateral", pair_fast_path=True, one_shot=True,
                    reference="tests.risk.rule_references:compound_v3", label="Compound V3", color="#00A57A"),
)

_REGISTRY: list[LiquidationRule] = list(_BUILTIN)
_FROZEN = False


MARKET_PARAM_SCALES: dict[str, int] = {"_wad": 10**18, "_bps": 10**4, "_rad": 10**45}
"""Unit suffix of a market parameter's name -> the integer that means 1.0."""


def market_param_scale(name: str) -> int:
    """The integer meaning 1.0 for the market parameter ``name`` (by its unit suffix)."""
    for suffix, scale in MARKET_PARAM_SCALES.items():
        if name.endswith(suffix):
            return scale
    raise ValueError(f"market parameter {name!r} must end with a unit suffix: {', '.join(MARKET_PARAM_SCALES)}")


def register_rule(new: LiquidationRule) -> LiquidationRule:
    """Register a rule (from a ``risk/venues/`` module or a ``liqrisk.rules`` entry point, at import).

    Its code is its position in registration order. Rules can only be added while this module loads
    its plugins (afterwards the book's codes are fixed); a name registered twice is an error."""
    if _FROZEN:
        raise RuntimeError(f"register_rule({new.name!r}) after risk.rules was loaded: put the module in risk/venues/ "
                           f"or declare it as a {ENTRY_POINT_GROUP!r} entry point")
    if not new.name or not new.name.isidentifier():
        raise ValueError(f"rule name {new.name!r} must be an identifier (it is a JSON value and a column value)")
    for param, _, default in new.market_params:
        market_param_scale(param)
        if not isinstance(default, int):
            raise ValueError(f"rule {new.name!r}: market parameter {param!r} default must be an integer")
    declared = {param for param, _, _ in new.market_params}
    for budget in new.budgets:
        if new.kernel is None or new.pair_fast_path:
            raise ValueError(f"rule {new.name!r}: a rule with budgets needs its own kernel and no pair fast path")
        if not {budget.limit, budget.used} <= declared:
            raise ValueError(f"rule {new.name!r}: budget {budget.name!r} names market parameters "
                             f"{budget.limit!r}/{budget.used!r}; declared: {', '.join(sorted(declared)) or 'none'}")
    if any(r.name == new.name for r in _REGISTRY):
        raise ValueError(f"liquidation rule {new.name!r} is registered twice")
    _REGISTRY.append(new)
    return new


def _load_plugins() -> tuple[str, ...]:
    import risk.venues as package
    from risk.plugins import plugin_module_names

    loaded = plugin_module_names("risk.venues", package.__path__, ENTRY_POINT_GROUP)
    for module in loaded:
        importlib.import_module(module)
    return loaded


PLUGIN_MODULES: tuple[str, ...] = _load_plugins()
"""The modules that registered rules (``risk/venues/*`` then entry points)."""
_FROZEN = True

RULES: tuple[LiquidationRule, ...] = tuple(_REGISTRY)
"""Registered rules, in code order (the book's ``venue`` column is an index into this)."""

RULE_NAMES: tuple[str, ...] = tuple(r.name for r in RULES)
RULE_CODE: dict[str, int] = {name: code for code, name in enumerate(RULE_NAMES)}


def rule(name_or_code: str | int) -> LiquidationRule:
    """The registered rule, by name or code; an unknown one raises ``KeyError`` naming the known ones."""
    if isinstance(name_or_code, str):
        if name_or_code not in RULE_CODE:
            raise KeyError(f"unknown liquidation rule {name_or_code!r}; registered: {', '.join(RULE_NAMES)}")
        return RULES[RULE_CODE[name_or_code]]
    code = int(name_or_code)
    if not 0 <= code < len(RULES):
        raise KeyError(f"unknown liquidation rule code {code}; registered: "
                       + ", ".join(f"{i}={n}" for i, n in enumerate(RULE_NAMES)))
    return RULES[code]


MARKET_PARAM_WIDTH: int = max((len(r.market_params) for r in RULES), default=0)
"""Columns of ``PositionBook.rule_params`` (the most market parameters any rule declares)."""


def default_market_params(code: int) -> tuple[float, ...]:
    """The rule's market-parameter defaults as floats, padded with 0 to :data:`MARKET_PARAM_WIDTH`."""
    declared = rule(code).market_params
    values = [default / market_param_scale(name) for name, _, default in declared]
    return tuple(values + [0.0] * (MARKET_PARAM_WIDTH - len(values)))


BUDGET_WIDTH: int = max((len(r.budgets) for r in RULES), default=0)
"""Budgets per row (the most any rule declares): the width of :class:`risk.budgets.RowBudget` cells."""


def budget_codes() -> tuple[int, ...]:
    """Codes of rules that declare consumable budgets."""
    return tuple(i for i, r in enumerate(RULES) if r.budgets)


def pair_fast_path_codes() -> tuple[int, ...]:
    return tuple(i for i, r in enumerate(RULES) if r.pair_fast_path)


def one_shot_codes() -> tuple[int, ...]:
    return tuple(i for i, r in enumerate(RULES) if r.one_shot)


def kernel_codes() -> tuple[int, ...]:
    """Codes of rules with their own kernel (dispatched by :func:`risk.liquidation.liquidate_rows`)."""
    return tuple(i for i, r in enumerate(RULES) if r.kernel is not None)


__all__ = ["BUDGET_WIDTH", "ConsumableBudget", "budget_codes", "ENTRY_POINT_GROUP", "LiquidationRule", "MARKET_PARAM_SCALES", "MARKET_PARAM_WIDTH", "default_market_params",
           "market_param_scale", "PARAMETER_COLUMNS", "PLUGIN_MODULES", "RULES", "register_rule", "RULE_CODE", "RULE_NAMES", "kernel_codes", "one_shot_codes",
           "pair_fast_path_codes", "rule"]
