"""Consumable budgets of liquidation rules: the state the engines carry across rows, rounds and steps.

A rule may declare budgets its liquidations use up (:class:`risk.rules.ConsumableBudget`, e.g. the
Sky ``Dog``'s ``hole - dirt`` per ilk and ``Hole - Dirt`` across ilks). This module is the generic
part, naming no venue:

- :class:`BudgetLayout` (once per book): the budget *cells* (one per market and budget, or one per
  rule and budget when ``shared``), their room at the block, and per position the cell of each of
  its rule's budgets (``-1``: none);
- :class:`RowBudget` (per kernel call): the ``room`` array the kernel draws from **in place**, the
  rows' cells into it and their ``priority`` (the position's index in the book: a fixed tie-break
  for the order in which a kernel spends a budget, whatever order the engine hands rows over in).

The engines (:mod:`risk.cascade` both engines, :mod:`risk.montecarlo`) start every grid point and
every path from :attr:`BudgetLayout.initial` and keep drawing from the same array through all of its
rounds and steps: nothing is given back within the horizon (a rule whose budget frees up as
liquidations settle, like dss ``Clipper.take`` -> ``Dog.digs``, is modelled without that release).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from risk.rules import BUDGET_WIDTH, RULES

if TYPE_CHECKING:  # pragma: no cover
    from risk.book import PositionBook


@dataclass(frozen=True, eq=False)
class RowBudget:
    """What a kernel call may spend: ``room`` (1-D, drawn from in place), ``cells`` shape (n_rows,
    :data:`risk.rules.BUDGET_WIDTH`) the index into ``room`` of each row's budgets in its rule's
    declaration order (``-1``: none), ``priority`` shape (n_rows,) the tie-break key (book index)."""

    room: NDArray[np.float64]
    cells: NDArray[np.int64]
    priority: NDArray[np.int64]

    def select(self, rows: NDArray[np.intp]) -> "RowBudget":
        """The same ``room`` (shared, still consumed in place) for a subset of the rows."""
        return RowBudget(self.room, self.cells[rows], self.priority[rows])


@dataclass(frozen=True, eq=False)
class BudgetLayout:
    """The budget cells of a book: ``initial`` room per cell (at the snapshot block), ``cells`` shape
    (n_positions, BUDGET_WIDTH) per position, ``names`` one label per cell (``rule:budget@market``,
    or ``rule:budget`` for a shared one)."""

    initial: NDArray[np.float64]
    cells: NDArray[np.int64]
    names: tuple[str, ...]

    @property
    def n_cells(self) -> int:
        return int(self.initial.size)

    def for_rows(self, positions: NDArray[np.intp], room: NDArray[np.float64],
                 copy_index: NDArray[np.intp] | None = None) -> RowBudget:
        """A :class:`RowBudget` for the book rows ``positions`` drawing from ``room``, which holds
        one copy of the cells per independent run (``room`` of length ``k * n_cells``; copy
        ``copy_index[i]`` for row ``i``, e.g. its Monte Carlo path; ``None``: copy 0)."""
        cells = self.cells[positions]
        if copy_index is not None and self.n_cells:
            cells = np.where(cells >= 0, cells + (np.asarray(copy_index, dtype=np.int64) * self.n_cells)[:, None], -1)
        return RowBudget(room, cells, np.asarray(positions, dtype=np.int64))

    @classmethod
    def of(cls, book: "PositionBook") -> "BudgetLayout":
        """The layout of ``book`` from its rows' market parameters (``PositionBook.rule_params``).

        A shared budget's ``limit``/``used`` must be the same in every market of its rule (one
        ``Dog`` per book): otherwise ``ValueError``."""
        cached = book._cache.get("budget_layout")
        if isinstance(cached, BudgetLayout):
            return cached
        n = book.n_positions
        cells = np.full((n, BUDGET_WIDTH), -1, dtype=np.int64)
        initial: list[float] = []
        names: list[str] = []
        params = np.asarray(book.rule_params)
        for code, rule in enumerate(RULES):
            if not rule.budgets:
                continue
            rows = np.flatnonzero(book.venue == code)
            if not rows.size:
                continue
            column = {name: k for k, (name, _, _) in enumerate(rule.market_params)}
            for b, budget in enumerate(rule.budgets):
                room = np.maximum(params[rows, column[budget.limit]] - params[rows, column[budget.used]], 0.0)
                if budget.shared:
                    if np.unique(params[rows][:, [column[budget.limit], column[budget.used]]], axis=0).shape[0] > 1:
                        raise ValueError(f"rule {rule.name!r}: budget {budget.name!r} is shared by all its markets, but "
                                         f"their {budget.limit}/{budget.used} differ (one book holds one such limit)")
                    cells[rows, b] = len(initial)
                    initial.append(float(room[0]))
                    names.append(f"{rule.name}:{budget.name}")
                    continue
                markets = book.market[rows]
                for m in np.unique(markets):
                    at = rows[markets == m]
                    cells[at, b] = len(initial)
                    initial.append(float(room[markets == m][0]))
                    label = book.market_ids[m] if m < len(book.market_ids) else f"market-{m}"
                    names.append(f"{rule.name}:{budget.name}@{label}")
        layout = cls(np.array(initial, dtype=np.float64), cells, tuple(names))
        book._cache["budget_layout"] = layout
        return layout


def budget_layout(book: "PositionBook") -> BudgetLayout | None:
    """The book's :class:`BudgetLayout`, or ``None`` when no position is under a rule with budgets."""
    layout = BudgetLayout.of(book)
    return layout if layout.n_cells else None


__all__ = ["BudgetLayout", "RowBudget", "budget_layout"]
