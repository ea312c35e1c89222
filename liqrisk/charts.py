"""Report charts: PNGs (matplotlib, Agg, no pyplot global state) for Markdown and mail, and
interactive figures (plotly) for the HTML report.

PNG (each takes library results and a path, writes the PNG and returns the path):

- :func:`liquidation_map_png`: collateral at risk per price bucket, stacked by venue, spot
  marked, detected bands shaded, short-side (above spot) buckets hatched.
- :func:`cascade_png`: final vs initial drawdown; liquidated and bad-debt USD per drawdown.
- :func:`monte_carlo_png`: distribution of liquidated debt per path with LaR 95/99 marked,
  and the bad-debt tail (a panel only when some path leaves bad debt).
- :func:`path_png`: a replayed path (returns of each moving asset) and what it liquidated.

Interactive (each returns a ``plotly.graph_objects.Figure``; hover and zoom come with plotly):

- :func:`liquidation_map_figure`, :func:`cumulative_figure` ("liquidatable if the price
  reaches X", per side), :func:`market_split_figure`, :func:`band_history_figure` (heatmap of
  the bands over scheduled runs), :func:`cascade_figure`, :func:`monte_carlo_figure`,
  :func:`path_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from risk.bands import BandReport
    from risk.cascade import CascadeTable

    from liqrisk.run import MonteCarloRun, PathRun

# Labels and colours of the liquidation rules come from their registration (risk.rules: built-in
# rules and every risk/venues/ plugin declare ``label`` / ``color``); a rule without one shows its name.
from risk.rules import RULES as _RULES  # noqa: E402

VENUE_LABELS = {r.name: r.label for r in _RULES if r.label}
# One colour per market (series order = book order), the same in every chart of a report.
MARKET_PALETTE = ("#2F6FED", "#C2185B", "#00A57A", "#F57C00", "#8E6CC9", "#6D4C41", "#00838F", "#D84315",
                  "#7CB342", "#5E35B1", "#F5B700", "#455A64", "#EC407A", "#26A69A", "#9E9D24", "#8D6E63")
VENUE_COLORS = {r.name: r.color for r in _RULES if r.color}
DPI = 110
MODEL_LABELS = {"gbm": "GBM", "student_t": "Student-t", "merton": "Merton jump-diffusion"}


def usd_short(value: float, _pos: object = None) -> str:
    """Axis label: ``$1.2M``, ``$350k``, ``$2B``, ``$0`` (:func:`risk.frames.human_usd`, trailing ``.0`` dropped)."""
    from risk.frames import human_usd

    sign = "-" if value < 0 else ""
    text = human_usd(abs(value))
    return f"{sign}${text.replace('.0', '') if text[-1:] in 'kMB' else text}"


def usd_price(value: float, _pos: object = None) -> str:
    return f"${value:,.0f}" if abs(value) >= 100 else f"${value:,.2f}"


def _no_mathtext(func):
    """Run a chart function with mathtext off: "$1.2M – $3.4M" must not be parsed as LaTeX."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False}):
            return func(*args, **kwargs)

    return wrapper


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, facecolor="white")
    return path


def _style(ax) -> None:
    ax.grid(True, axis="y", color="#e3e3e3", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


@dataclass(frozen=True)
class MarketSeries:
    """One market as a chart series: its index in the book's markets, label and colour."""

    index: int
    market_id: str
    rule: str
    label: str
    color: str


def market_series(market_ids: "tuple[str, ...] | list[str]", rules: "tuple[str, ...] | list[str]",
                  names: "dict[str, str] | None" = None) -> list[MarketSeries]:
    """Series for every market that has positions (a rule), in book order: the label is the market's
    name (``names``: id -> name, e.g. from the snapshot) with its liquidation rule as metadata."""
    names = names or {}
    out = []
    for k, (market, rule) in enumerate(zip(market_ids, rules)):
        if not rule:
            continue
        name = names.get(market) or market
        out.append(MarketSeries(k, market, rule, f"{name} · {VENUE_LABELS.get(rule, rule)}",
                                MARKET_PALETTE[k % len(MARKET_PALETTE)]))
    return out


def _map_series(bands: "BandReport", names: "dict[str, str] | None") -> list[MarketSeries]:
    m = bands.map
    if m.collateral_by_market_usd.shape[1:] != (len(m.market_ids),) or not m.market_ids:
        return []
    return market_series(m.market_ids, m.market_rules, names)


@dataclass(frozen=True, eq=False)
class MapBins:
    """The liquidation map over its visible range, neighbouring buckets merged for drawing.

    edges_usd : shape (n + 1,); collateral_usd, debt_usd : shape (n, n_venues); positions : (n,)
    """

    edges_usd: "np.ndarray"
    collateral_usd: "np.ndarray"
    debt_usd: "np.ndarray"
    positions: "np.ndarray"
    collateral_by_market_usd: "np.ndarray | None" = None
    """shape (n, n_markets) when the map has its per-market split"""
    debt_by_market_usd: "np.ndarray | None" = None


def map_bins(bands: "BandReport", *, max_bars: int = 120) -> MapBins:
    """Visible range: where the mass is (0.5%..99.5%), always spot +-10% and every band; about
    ``max_bars`` bars (readable at a glance)."""
    import numpy as np

    m = bands.map
    spot, edges = m.spot_usd, m.edges_usd
    total = m.collateral_usd.sum(axis=1)
    lo_i, hi_i = 0, total.size - 1
    if total.sum() > 0:
        cum = np.cumsum(total) / total.sum()
        lo_i = int(np.searchsorted(cum, 0.005))
        hi_i = int(np.searchsorted(cum, 0.995))
    lo = min(edges[lo_i], spot * 0.9, *(b.low_usd for b in bands.bands))
    hi = max(edges[min(hi_i + 1, edges.size - 1)], spot * 1.1, *(b.high_usd for b in bands.bands))
    first = int(np.clip(np.searchsorted(edges, lo, side="right") - 1, 0, edges.size - 2))
    last = int(np.clip(np.searchsorted(edges, hi, side="left"), first + 1, edges.size - 1))  # edge index
    group = max(1, int(np.ceil((last - first) / max_bars)))
    starts = np.arange(first, last, group)
    stops = np.minimum(starts + group, last)
    g_edges = np.append(edges[starts], edges[last])

    def merged(values: "np.ndarray") -> "np.ndarray":
        return np.add.reduceat(values[first:last], starts - first, axis=0)

    pos = m.positions.sum(axis=1) if m.positions.ndim == 2 else m.positions
    assert stops[-1] == last
    per_market = m.collateral_by_market_usd.shape == (edges.size - 1, len(m.market_ids)) and bool(m.market_ids)
    return MapBins(g_edges, merged(m.collateral_usd), merged(m.debt_usd), merged(pos),
                   merged(m.collateral_by_market_usd) if per_market else None,
                   merged(m.debt_by_market_usd) if per_market else None)


@_no_mathtext
def liquidation_map_png(bands: "BandReport", path: str | Path, *, subtitle: str = "", max_labels: int = 4,
                        market_names: "dict[str, str] | None" = None) -> Path:
    """Stacked bars of collateral (USD at spot) per liquidation-price bucket, by market (by venue
    for a map without its market split)."""
    import numpy as np
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    m = bands.map
    spot = m.spot_usd
    view = map_bins(bands, max_bars=120)
    g_edges, g_coll, n_groups = view.edges_usd, view.collateral_usd, view.edges_usd.size - 1
    lo, hi = g_edges[0], g_edges[-1]
    centers = g_edges[:-1] + np.diff(g_edges) / 2

    fig = _figure(11, 5.6)
    ax = fig.add_subplot()
    _style(ax)
    bottom = np.zeros(centers.size)
    legend = []
    # Stacked step areas (one patch per venue and side: fast, and bins stay contiguous).
    split = int(np.searchsorted(centers, spot))
    series = _map_series(bands, market_names)
    if series and view.collateral_by_market_usd is not None:
        stacks = [(view.collateral_by_market_usd[:, s.index], s.color, s.label) for s in series]
    else:
        stacks = [(g_coll[:, v], VENUE_COLORS.get(venue, "#777777"), VENUE_LABELS.get(venue, venue))
                  for v, venue in enumerate(m.venues)]
    for heights, color, label in stacks:
        if not heights.any():
            continue
        for lo_k, hi_k, short in ((0, split, False), (split, centers.size, True)):
            if hi_k <= lo_k or not heights[lo_k:hi_k].any():
                continue
            ax.stairs(bottom[lo_k:hi_k] + heights[lo_k:hi_k], g_edges[lo_k:hi_k + 1], baseline=bottom[lo_k:hi_k],
                      fill=True, color=color, alpha=0.55 if short else 1.0, hatch="///" if short else None,
                      edgecolor="white" if short else color, linewidth=0)
        bottom += heights
        legend.append(Patch(facecolor=color, label=label))
    top = float(bottom.max()) if bottom.size and bottom.max() > 0 else 1.0
    ax.set_ylim(0, top * 1.38)
    # Bands: shaded, the largest labelled in staggered rows (spot has its own top row) so labels
    # never collide with each other or with the spot label.
    shown = sorted(bands.bands, key=lambda b: b.collateral_usd, reverse=True)
    for rank, band in enumerate(shown):
        ax.axvspan(band.low_usd, band.high_usd, color="#F5B700", alpha=0.16 if rank < max_labels else 0.08, lw=0)
    labelled = sorted(shown[:max_labels], key=lambda b: b.low_usd)
    for k, band in enumerate(labelled):
        y = top * (1.25 - 0.09 * (k % 3))
        ax.annotate(f"{usd_price(band.low_usd)}–{usd_price(band.high_usd)}\n{usd_short(band.collateral_usd)}",
                    xy=((band.low_usd + band.high_usd) / 2, y), ha="center", va="top", fontsize=8,
                    color="#6b4e00", bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="#F5B700", lw=0.6, alpha=0.9))
    ax.axvline(spot, color="black", linestyle="--", linewidth=1.2)
    ax.annotate(f"spot {usd_price(spot)}", xy=(spot, top * 1.37), ha="center", va="top", fontsize=9,
                fontweight="bold", bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="black", lw=0.8))
    ax.set_xlim(g_edges[0] if n_groups else lo, g_edges[-1] if n_groups else hi)
    ax.xaxis.set_major_formatter(FuncFormatter(usd_price))
    ax.yaxis.set_major_formatter(FuncFormatter(usd_short))
    ax.set_xlabel(f"{m.symbol} liquidation price (USD; other prices held at spot)")
    ax.set_ylabel("Collateral liquidatable (USD at spot)")
    legend.append(Patch(facecolor="white", edgecolor="#555555", hatch="///", label="short side (liquidated on a rise)"))
    legend.append(Patch(facecolor="#F5B700", alpha=0.3, label="detected band"))
    fig.legend(handles=legend, loc="outside right upper", fontsize=8, frameon=False)
    now = f"; liquidatable now: {usd_short(m.now_collateral_usd)}" if m.now_collateral_usd > 0 else ""
    fig.suptitle(f"{m.symbol} liquidation map", fontsize=13, fontweight="bold")
    ax.set_title(f"{subtitle}{now}", fontsize=9, color="#555555")
    return _save(fig, path)


@_no_mathtext
def cascade_png(table: "CascadeTable", path: str | Path, *, subtitle: str = "") -> Path:
    """Left: final vs initial drawdown. Right: liquidated debt and bad debt per initial drawdown."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    x = table.initial_drawdown * 100
    fig = _figure(12, 4.8)
    ax1, ax2 = fig.subplots(1, 2)
    for ax in (ax1, ax2):
        _style(ax)
        ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.set_xlabel(f"Initial {table.driver} drawdown")
    step = float(np.min(np.diff(np.unique(x)))) if np.unique(x).size > 1 else 5.0
    extra = (table.final_drawdown - table.initial_drawdown) * 100
    # Extra drawdown caused by the cascade (percentage points) as light bars on a second axis:
    # final and initial are often close, and the gap is what the desk wants to read.
    ax1b = ax1.twinx()
    ax1b.bar(x, extra, step * 0.55, color="#F5B700", alpha=0.45, label="extra drawdown from the cascade (pp, right)")
    ax1b.set_ylabel("Extra drawdown (percentage points)")
    ax1b.set_ylim(0, max(float(np.nanmax(extra)) if extra.size else 0.0, 0.1) * 3.0)
    ax1b.spines["top"].set_visible(False)
    ax1.set_zorder(ax1b.get_zorder() + 1)
    ax1.patch.set_visible(False)
    lim = max(float(np.nanmax(table.final_drawdown * 100)) if len(table) else 0, float(x.max()) if x.size else 0, 1)
    ax1.plot([0, lim], [0, lim], color="#999999", linestyle=":", linewidth=1, label="no cascade (final = initial)")
    ax1.plot(x, table.final_drawdown * 100, marker="o", markersize=4, color="#C2185B", label="final drawdown (left)")
    ax1.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax1.set_ylabel(f"Final {table.driver} drawdown")
    ax1.set_ylim(bottom=min(0.0, float(np.nanmin(table.final_drawdown * 100)) if len(table) else 0.0))
    ax1.set_xlim(left=min(0.0, float(x.min()) if x.size else 0.0) - step * 0.6)
    ax1.set_title("Drawdown after the cascade", fontsize=10)
    handles = ax1.get_legend_handles_labels()
    handles_b = ax1b.get_legend_handles_labels()
    ax1.legend(handles[0] + handles_b[0], handles[1] + handles_b[1], fontsize=8, frameon=False, loc="upper left")
    if len(table) and np.isfinite(table.amplification).any():
        i = int(np.nanargmax(table.amplification))
        ax1.annotate(f"max amplification ×{table.amplification[i]:.2f} at {x[i]:.0f}%", xy=(0.98, 0.04),
                     xycoords="axes fraction", ha="right", fontsize=8.5, color="#555555")
    w = step * 0.38
    ax2.bar(x - w / 2, table.liquidated_debt_usd, w, color="#2F6FED", label="debt liquidated")
    ax2.bar(x + w / 2, table.bad_debt_usd, w, color="#D84315", label="bad debt")
    ax2.yaxis.set_major_formatter(FuncFormatter(usd_short))
    ax2.set_ylabel("USD")
    ax2.set_title("Liquidated debt and bad debt", fontsize=10)
    ax2.legend(fontsize=8, frameon=False, loc="upper left")
    fig.suptitle(f"{table.driver} cascade", fontsize=13, fontweight="bold")
    if subtitle:
        fig.supxlabel(subtitle, fontsize=8, color="#555555")
    return _save(fig, path)


#: Up to this many paths with bad debt, the bad-debt panel shows each path's amount, not a histogram.
FEW_BAD_DEBT_PATHS = 12

#: The per-market Monte Carlo bars go to a log axis when the largest non-zero bar is this many
#: times the smallest: on a linear axis the small markets would be invisible next to the big one.
LOG_AXIS_SPREAD = 100.0


def _bad_debt_paths(count: int) -> str:
    return "the path that leaves any" if count == 1 else f"the {count:,} paths that leave any"


def _wide_spread(values: Sequence[float]) -> bool:
    positive = [v for v in values if v > 0]
    return bool(positive) and max(positive) > LOG_AXIS_SPREAD * min(positive)


@_no_mathtext
def monte_carlo_png(run: "MonteCarloRun", path: str | Path, *, subtitle: str = "") -> Path:
    """Histogram of liquidated debt per path (with and without cascade impact), LaR marked;
    right panel (only when some path leaves bad debt): bad debt per path with its VaR."""
    return _save(monte_carlo_matplotlib(run, subtitle=subtitle), path)


@_no_mathtext
def monte_carlo_matplotlib(run: "MonteCarloRun", *, subtitle: str = "") -> Any:
    """The matplotlib Figure behind :func:`monte_carlo_png`."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter, NullFormatter

    res = run.result
    endo, summary = res.endogenous, res.endogenous_summary
    bad = endo.bad_debt_usd
    has_bad_debt = bool(bad.max() > 0)
    fig = _figure(12, 4.8)
    # The bad-debt panel only when some path leaves bad debt: an empty half-figure says less
    # than one line in the title.
    if has_bad_debt:
        ax1, ax2 = fig.subplots(1, 2, width_ratios=[2, 1])
    else:
        ax1, ax2 = fig.add_subplot(), None
    for ax in (ax1, ax2) if ax2 is not None else (ax1,):
        _style(ax)
        ax.xaxis.set_major_formatter(FuncFormatter(usd_short))
        ax.set_ylabel("Paths")
    liq = endo.liquidated_debt_usd
    hi = float(max(liq.max(), res.exogenous.liquidated_debt_usd.max() if res.exogenous is not None else 0, 1.0))
    bins = np.linspace(0, hi * 1.02, 41)
    ax1.hist(liq, bins=bins, color="#2F6FED", alpha=0.85, label="with cascade impact")
    if res.exogenous is not None:
        ax1.hist(res.exogenous.liquidated_debt_usd, bins=bins, histtype="step", color="#333333", linewidth=1.2,
                 label="price paths only (no impact)")
    # Log count axis: most paths liquidate little, and the tail is what LaR is about.
    ax1.set_yscale("log")
    ax1.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax1.yaxis.set_minor_formatter(NullFormatter())
    ax1.set_ylim(0.7, max(ax1.get_ylim()[1], 10) * 4)
    ax1.set_ylabel("Paths (log scale)")
    for value, label, color, y in ((summary.lar_95_usd, "LaR 95%", "#F57C00", 0.95), (summary.lar_99_usd, "LaR 99%", "#C62828", 0.87)):
        ax1.axvline(value, color=color, linestyle="--", linewidth=1.3)
        ax1.annotate(f"{label} {usd_short(value)}", xy=(value, y), xycoords=("data", "axes fraction"), xytext=(4, 0),
                     textcoords="offset points", fontsize=8.5, color=color, fontweight="bold", va="center",
                     bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    ax1.set_xlabel("Debt liquidated over the horizon, per path (USD)")
    ax1.set_title(f"Liquidations-at-Risk — mean {usd_short(summary.mean_liquidated_usd)}, "
                  f"P(any liquidation) {summary.prob_any_liquidation:.0%}", fontsize=10)
    ax1.legend(fontsize=8, frameon=False, loc="upper right", bbox_to_anchor=(1.0, 0.78))
    if ax2 is not None:
        # Only the paths that leave bad debt: the others would be one tall $0 bar hiding the tail.
        with_bad = bad[bad > 0]
        share = float(np.mean(bad > 0))
        if with_bad.size <= FEW_BAD_DEBT_PATHS:
            # A histogram of a handful of values is a few unit bars on a meaningless count axis:
            # show each path's bad debt instead, largest first.
            ranked = np.sort(with_bad)[::-1]
            ax2.bar(np.arange(1, ranked.size + 1), ranked, 0.6, color="#D84315")
            ax2.axhline(summary.bad_debt_var_99_usd, color="#C62828", linestyle="--", linewidth=1.2)
            ax2.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"#{v:.0f}"))
            ax2.set_xticks(np.arange(1, ranked.size + 1))
            ax2.yaxis.set_major_formatter(FuncFormatter(usd_short))
            ax2.set_ylabel("Bad debt (USD)")
            ax2.set_xlabel(f"{_bad_debt_paths(ranked.size).capitalize()}, largest first")
        else:
            ax2.hist(with_bad, bins=np.linspace(0, bad.max() * 1.02, 31), color="#D84315")
            ax2.axvline(summary.bad_debt_var_99_usd, color="#C62828", linestyle="--", linewidth=1.2)
            ax2.set_xlabel(f"Bad debt per path, {_bad_debt_paths(with_bad.size)} (USD)")
        ax2.text(0.97, 0.95, f"{share:.1%} of paths leave bad debt", transform=ax2.transAxes, ha="right",
                 va="top", fontsize=8.5, color="#555555")
        ax2.set_title(f"Bad-debt VaR 95% {usd_short(summary.bad_debt_var_95_usd)}, "
                      f"99% {usd_short(summary.bad_debt_var_99_usd)}", fontsize=10)
    else:
        ax1.text(0.99, 0.62, "no bad debt on any path", transform=ax1.transAxes, ha="right", va="center",
                 fontsize=9, color="#555555", bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="#cccccc"))
    model = MODEL_LABELS.get(run.model, run.model)
    days = f"{run.horizon_days:g} day" + ("" if run.horizon_days == 1 else "s")
    fig.suptitle(f"Monte Carlo: {model}, {days}, {res.n_paths:,} paths", fontsize=13,
                 fontweight="bold")
    if subtitle:
        fig.supxlabel(subtitle, fontsize=8, color="#555555")
    return fig


@_no_mathtext
def path_png(run: "PathRun", symbols: tuple[str, ...], driver: str, path: str | Path, *, title: str = "",
             subtitle: str = "") -> Path:
    """Cumulative return of each moving asset along the replayed path, and the outcome."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    prices = run.prices_usd[0]
    returns = prices / prices[0] - 1.0
    fig = _figure(11, 4.8)
    ax = fig.add_subplot()
    _style(ax)
    moving = [j for j in range(len(symbols)) if np.max(np.abs(returns[:, j])) > 1e-4]
    order = sorted(moving, key=lambda j: (symbols[j] != driver, symbols[j]))
    # Assets on the very same path share one line (e.g. WETH and wstETH without a depeg).
    groups: list[list[int]] = []
    for j in order:
        same = next((g for g in groups if np.allclose(returns[:, g[0]], returns[:, j], atol=1e-9)), None)
        if same is None:
            groups.append([j])
        else:
            same.append(j)
    palette = ["#C2185B", "#2F6FED", "#00A57A", "#F57C00", "#6D4C41", "#8E6CC9"]
    for k, g in enumerate(groups):
        label = ", ".join(symbols[j] + (" (driver)" if symbols[j] == driver else "") for j in g)
        ax.plot(run.hours, returns[:, g[0]] * 100, color=palette[k % len(palette)],
                linewidth=2.2 if driver in (symbols[j] for j in g) else 1.5, label=label)
    ax.axhline(0, color="#999999", linewidth=0.8)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=None))
    ax.set_xlabel("Hours since the start")
    ax.set_ylabel("Return vs the snapshot's spot")
    ax.legend(fontsize=8, frameon=False, loc="best")
    s = run.result.endogenous_summary
    x = run.result.exogenous_summary
    text = (f"debt liquidated {usd_short(s.mean_liquidated_usd)}"
            + (f" (without impact {usd_short(x.mean_liquidated_usd)})" if x is not None else "")
            + f"\nbad debt {usd_short(s.mean_bad_debt_usd)}; positions hit {s.mean_positions_hit:,.0f}")
    ax.text(0.99, 0.03, text, transform=ax.transAxes, ha="right", va="bottom", fontsize=9,
            bbox=dict(boxstyle="round,pad=0.4", fc="white", ec="#cccccc"))
    fig.suptitle(title or "Replayed path", fontsize=13, fontweight="bold")
    if subtitle:
        ax.set_title(subtitle, fontsize=9, color="#555555")
    return _save(fig, path)



# ------------------------------------------------------------------------- interactive (plotly)

PLOT_FONT = dict(family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif", size=12, color="#222")
SIDE_COLORS = {"long": "#C2185B", "short": "#2F6FED"}


def _layout(title: str, subtitle: str = "", **kw: Any) -> dict[str, Any]:
    text = f"<b>{title}</b>" + (f"<br><span style='font-size:11px;color:#666'>{subtitle}</span>" if subtitle else "")
    # Legend under the plot: at the top it collides with the subtitle and the spot label.
    base: dict[str, Any] = dict(title=dict(text=text, x=0.01, xanchor="left"), font=PLOT_FONT, template="plotly_white",
                                margin=dict(l=70, r=30, t=75, b=120), hovermode="x unified", height=480,
                                legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0.0,
                                            traceorder="normal"))
    base.update(kw)
    return base


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def liquidation_map_figure(bands: "BandReport", *, subtitle: str = "", max_bars: int = 160,
                           market_names: "dict[str, str] | None" = None) -> Any:
    """Collateral (USD at spot) per liquidation-price bucket, stacked by market (one series per
    market, its rule in the label; by venue for a map without its market split); spot and bands marked."""
    import numpy as np

    go = _go()
    m = bands.map
    view = map_bins(bands, max_bars=max_bars)
    e = view.edges_usd
    centers, widths = (e[:-1] + e[1:]) / 2, np.diff(e)
    ranges = [f"{usd_price(a)}–{usd_price(b)}" for a, b in zip(e[:-1], e[1:])]
    fig = go.Figure()
    series = _map_series(bands, market_names)
    if series and view.collateral_by_market_usd is not None and view.debt_by_market_usd is not None:
        stacks = [(view.collateral_by_market_usd[:, s.index], view.debt_by_market_usd[:, s.index], s.label, s.color)
                  for s in series]
    else:
        stacks = [(view.collateral_usd[:, v], view.debt_usd[:, v], VENUE_LABELS.get(venue, venue),
                   VENUE_COLORS.get(venue, "#777")) for v, venue in enumerate(m.venues)]
    side = np.where(centers < m.spot_usd, "long (liquidated on a fall)", "short (liquidated on a rise)")
    for coll, debt, label, color in stacks:
        if not coll.any():
            continue
        fig.add_bar(x=centers, y=coll, width=widths, name=label,
                    marker=dict(color=color, line=dict(width=0)),
                    customdata=np.stack([ranges, debt, side], axis=1),
                    hovertemplate="%{customdata[0]}: %{y:$,.0f} collateral, %{customdata[1]:$,.0f} debt"
                                  "<br>%{customdata[2]}<extra>%{fullData.name}</extra>")
    for b in sorted(bands.bands, key=lambda b: b.collateral_usd, reverse=True):
        fig.add_vrect(x0=b.low_usd, x1=b.high_usd, fillcolor="#F5B700", opacity=0.16, line_width=0, layer="below")
    fig.add_vline(x=m.spot_usd, line=dict(color="black", dash="dash", width=1.3),
                  annotation=dict(text=f"spot {usd_price(m.spot_usd)}", font=dict(size=11)), annotation_position="top")
    now = f"; liquidatable now: {usd_short(m.now_collateral_usd)}" if m.now_collateral_usd > 0 else ""
    fig.update_layout(**_layout(f"{m.symbol} liquidation map", subtitle + now, barmode="stack", bargap=0,
                                xaxis=dict(title=f"{m.symbol} liquidation price (USD; other prices at spot)", tickprefix="$",
                                           tickformat=",.0f"),
                                yaxis=dict(title="Collateral liquidatable (USD at spot)", tickprefix="$", tickformat="~s")))
    return fig


@dataclass(frozen=True, eq=False)
class CumulativeCurve:
    """What is liquidatable if the price reaches ``price_usd`` (one side, moving away from spot).

    price_usd : shape (n,), from spot outwards (falling for ``long``, rising for ``short``);
    collateral_usd, debt_usd, positions : cumulative totals at that price, including the positions
    liquidatable already (at spot). Resolution: the liquidation map's buckets.
    """

    symbol: str
    side: str
    price_usd: "np.ndarray"
    collateral_usd: "np.ndarray"
    debt_usd: "np.ndarray"
    positions: "np.ndarray"


def cumulative_liquidatable(bands: "BandReport") -> tuple[CumulativeCurve, CumulativeCurve]:
    """(long, short) curves from the liquidation map. Long-side positions have their liquidation
    price below spot and short-side ones above, so the map's buckets split at spot."""
    import numpy as np

    m = bands.map
    e = m.edges_usd
    coll, debt = m.collateral_usd.sum(axis=1), m.debt_usd.sum(axis=1)
    pos = m.positions.sum(axis=1) if m.positions.ndim == 2 else m.positions
    s = int(np.searchsorted(e, m.spot_usd * (1 - 1e-12)))  # first edge at/above spot: buckets < s are below
    now = (m.now_collateral_usd, m.now_debt_usd, m.now_positions)

    def curve(side: str, idx: "np.ndarray", prices: "np.ndarray") -> CumulativeCurve:
        out = [np.concatenate([[base], base + np.cumsum(col[idx])]) for col, base in zip((coll, debt, pos), now)]
        return CumulativeCurve(m.symbol, side, np.concatenate([[m.spot_usd], prices]), *out)

    below = np.arange(s - 1, -1, -1)          # buckets from spot downwards
    above = np.arange(s, e.size - 1)          # buckets from spot upwards
    return curve("long", below, e[below]), curve("short", above, e[above + 1])


def cumulative_figure(bands: "BandReport", *, subtitle: str = "") -> Any:
    """Collateral liquidatable if the price reaches X: one curve per side, from spot outwards."""
    import numpy as np

    go = _go()
    long_c, short_c = cumulative_liquidatable(bands)
    view = map_bins(bands)
    lo, hi = float(view.edges_usd[0]), float(view.edges_usd[-1])
    fig = go.Figure()
    for c, label in ((long_c, "price falls to X (long side)"), (short_c, "price rises to X (short side)")):
        keep = (c.price_usd >= lo) & (c.price_usd <= hi)
        move = c.price_usd[keep] / bands.map.spot_usd - 1
        fig.add_scatter(x=c.price_usd[keep], y=c.collateral_usd[keep], name=label, mode="lines", line=dict(
            color=SIDE_COLORS[c.side], width=2.2, shape="hv" if c.side == "short" else "vh"),
            customdata=np.stack([move, c.debt_usd[keep], c.positions[keep]], axis=1),
            hovertemplate="X = %{x:$,.0f} (%{customdata[0]:+.1%}): %{y:$,.0f} collateral, "
                          "%{customdata[1]:$,.0f} debt, %{customdata[2]:,} positions<extra>%{fullData.name}</extra>")
    fig.add_vline(x=bands.map.spot_usd, line=dict(color="black", dash="dash", width=1.2))
    fig.update_layout(**_layout(f"Liquidatable if {bands.map.symbol} reaches X", subtitle,
                                xaxis=dict(title=f"{bands.map.symbol} price X (USD; other prices at spot)", tickprefix="$",
                                           tickformat=",.0f"),
                                yaxis=dict(title="Collateral liquidatable (USD at spot, cumulative)", tickprefix="$",
                                           tickformat="~s")))
    return fig


def market_split_figure(breakdown: Any, *, driver: str, subtitle: str = "",
                        market_names: "dict[str, str] | None" = None) -> Any:
    """Debt per market by how far the driver must move to liquidate it (a
    :class:`risk.positions.MarketBreakdown` with ``within`` starting at 0)."""
    import numpy as np

    go = _go()
    within = list(breakdown.within)
    near = breakdown.debt_within_usd  # cumulative in ``within``
    parts = np.diff(np.concatenate([np.zeros((len(breakdown), 1)), near], axis=1), axis=1)
    rest = breakdown.debt_usd - near[:, -1]
    known = market_names or {}
    labels = [f"{known.get(str(m)) or m} · {VENUE_LABELS.get(str(v), str(v))}" for m, v in zip(breakdown.market_id,
                                                                                                breakdown.venue)]
    names = ["liquidatable now"] + [f"{a:.0%}–{b:.0%} {driver} move" for a, b in zip(within[:-1], within[1:])]
    colors = ["#7f0000", "#C62828", "#F57C00", "#F5B700", "#9CCC65", "#26A69A"]
    fig = go.Figure()
    for k, name in enumerate(names):
        fig.add_bar(y=labels, x=parts[:, k], name=name, orientation="h", marker_color=colors[k % len(colors)],
                    hovertemplate="%{y}: %{x:$,.0f} debt<extra>" + name + "</extra>")
    fig.add_bar(y=labels, x=rest, name=f"farther / never", orientation="h", marker_color="#CFD8DC",
                hovertemplate="%{y}: %{x:$,.0f} debt<extra>farther or never</extra>")
    fig.update_layout(**_layout(f"Debt per market by distance to liquidation ({driver} move, betas applied)", subtitle,
                                barmode="stack", hovermode="closest", height=max(340, 200 + 42 * len(labels)),
                                xaxis=dict(title="Debt (USD at spot)", tickprefix="$", tickformat="~s"),
                                yaxis=dict(autorange="reversed", automargin=True)))
    return fig


@dataclass(frozen=True)
class BandSnapshot:
    """One run's bands for the history: ``bands`` = ((low_usd, high_usd, collateral_usd), ...)."""

    label: str
    block_number: int
    spot_usd: float | None
    bands: tuple[tuple[float, float, float], ...]


def band_history_grid(history: "list[BandSnapshot]", n_prices: int = 80) -> tuple["np.ndarray", "np.ndarray"]:
    """(price cell edges (n_prices + 1,), collateral per cell and run (n_prices, n_runs)): each band's
    collateral spread evenly over its price range, cut by the cells."""
    import numpy as np

    lows = [b[0] for h in history for b in h.bands]
    highs = [b[1] for h in history for b in h.bands]
    if not lows:
        return np.array([0.0, 1.0]), np.zeros((1, len(history)))
    lo, hi = min(lows), max(highs)
    pad = (hi - lo) * 0.05 or lo * 0.05 or 1.0
    edges = np.linspace(lo - pad, hi + pad, n_prices + 1)
    z = np.zeros((n_prices, len(history)))
    for t, h in enumerate(history):
        for low, high, coll in h.bands:
            width = max(high - low, 1e-12)
            overlap = np.clip(np.minimum(edges[1:], high) - np.maximum(edges[:-1], low), 0.0, None)
            z[:, t] += coll * overlap / width
    return edges, z


def band_history_figure(history: "list[BandSnapshot]", *, symbol: str, subtitle: str = "") -> Any:
    """Heatmap: liquidation bands (price, collateral) across scheduled runs, spot as a line."""
    import numpy as np

    go = _go()
    edges, z = band_history_grid(history)
    centers = (edges[:-1] + edges[1:]) / 2
    x = [h.label for h in history]
    fig = go.Figure()
    fig.add_heatmap(x=x, y=centers, z=np.where(z > 0, z, np.nan), colorscale="YlOrRd", hoverongaps=False,
                    colorbar=dict(title="USD", tickprefix="$", tickformat="~s"),
                    customdata=np.array([[h.block_number for h in history]] * centers.size),
                    hovertemplate="%{x} (block %{customdata:,})<br>" + symbol + " %{y:$,.0f}: %{z:$,.0f} collateral"
                                  "<extra></extra>")
    spots = [h.spot_usd for h in history]
    if any(v is not None for v in spots):
        fig.add_scatter(x=x, y=spots, mode="lines+markers", name="spot", line=dict(color="black", dash="dash", width=1.2),
                        marker=dict(size=5), hovertemplate="%{x}: spot %{y:$,.2f}<extra></extra>")
    runs = f"{len(history)} run" + ("" if len(history) == 1 else "s")
    fig.update_layout(**_layout(f"{symbol} bands across scheduled runs ({runs})", subtitle, hovermode="closest",
                                xaxis=dict(title="Run (UTC)", type="category"),
                                yaxis=dict(title=f"{symbol} liquidation price (USD)", tickprefix="$", tickformat=",.0f")))
    return fig


def cascade_figure(table: "CascadeTable", *, subtitle: str = "") -> Any:
    """Final vs initial drawdown (left) and liquidated / bad debt per initial drawdown (right)."""
    from plotly.subplots import make_subplots

    x = table.initial_drawdown
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("Drawdown after the cascade", "Liquidated debt and bad debt"))
    lim = float(max(x.max(), table.final_drawdown.max(), 0.01)) if len(table) else 0.01
    fig.add_scatter(x=[0, lim], y=[0, lim], mode="lines", name="no cascade (final = initial)",
                    line=dict(color="#999", dash="dot"), hoverinfo="skip", row=1, col=1)
    fig.add_scatter(x=x, y=table.final_drawdown, mode="lines+markers", name="final drawdown", line=dict(color="#C2185B"),
                    customdata=table.amplification, row=1, col=1,
                    hovertemplate="initial %{x:.0%} → final %{y:.2%} (×%{customdata:.3f})<extra></extra>")
    fig.add_bar(x=x, y=table.liquidated_debt_usd, name="debt liquidated", marker_color="#2F6FED", row=1, col=2,
                customdata=table.positions_hit, hovertemplate="%{x:.0%}: %{y:$,.0f} liquidated, %{customdata:,} positions"
                                                              "<extra></extra>")
    fig.add_bar(x=x, y=table.bad_debt_usd, name="bad debt", marker_color="#D84315", row=1, col=2,
                hovertemplate="%{x:.0%}: %{y:$,.0f} bad debt<extra></extra>")
    fig.update_layout(**_layout(f"{table.driver} cascade", subtitle, hovermode="closest", barmode="group",
                                margin=dict(l=70, r=30, t=110, b=120)))
    fig.update_xaxes(title=f"Initial {table.driver} drawdown", tickformat=".0%")
    fig.update_yaxes(title=f"Final {table.driver} drawdown", tickformat=".0%", row=1, col=1)
    fig.update_yaxes(title="USD", tickprefix="$", tickformat="~s", row=1, col=2)
    return fig


def _cascade_series(table: "CascadeTable", names: "dict[str, str] | None") -> list[MarketSeries]:
    if table.liquidated_debt_by_market_usd.shape != (len(table), len(table.market_ids)) or not table.market_ids:
        return []
    used = (table.liquidated_debt_by_market_usd > 0).any(axis=0) | (table.bad_debt_by_market_usd > 0).any(axis=0)
    return [s for s in market_series(table.market_ids, table.market_rules, names) if used[s.index]]


def cascade_markets_figure(table: "CascadeTable", *, subtitle: str = "",
                           market_names: "dict[str, str] | None" = None) -> Any:
    """Debt liquidated (left) and bad debt (right) per initial drawdown, stacked by market."""
    from plotly.subplots import make_subplots

    x = table.initial_drawdown
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("Debt liquidated, by market", "Bad debt, by market"))
    series = _cascade_series(table, market_names)
    for s in series:
        liq = table.liquidated_debt_by_market_usd[:, s.index]
        bad = table.bad_debt_by_market_usd[:, s.index]
        hit = table.positions_hit_by_market[:, s.index]
        fig.add_bar(x=x, y=liq, name=s.label, marker_color=s.color, legendgroup=s.market_id, row=1, col=1,
                    customdata=hit, hovertemplate="%{x:.0%}: %{y:$,.0f} liquidated, %{customdata:,} positions"
                                                  "<extra>" + s.label + "</extra>")
        fig.add_bar(x=x, y=bad, name=s.label, marker_color=s.color, legendgroup=s.market_id, showlegend=False,
                    row=1, col=2, hovertemplate="%{x:.0%}: %{y:$,.0f} bad debt<extra>" + s.label + "</extra>")
    if not series:
        fig.add_bar(x=x, y=table.liquidated_debt_usd, name="all markets", marker_color="#2F6FED", row=1, col=1)
    fig.update_layout(**_layout(f"{table.driver} cascade by market", subtitle, hovermode="closest", barmode="stack",
                                margin=dict(l=70, r=30, t=110, b=140)))
    fig.update_xaxes(title=f"Initial {table.driver} drawdown", tickformat=".0%")
    fig.update_yaxes(title="USD", tickprefix="$", tickformat="~s")
    return fig


def cascade_markets_png(table: "CascadeTable", path: str | Path, *, subtitle: str = "",
                        market_names: "dict[str, str] | None" = None) -> Path:
    """PNG of :func:`cascade_markets_figure`: stacked bars per market (liquidated, bad debt)."""
    return _save(_cascade_markets_matplotlib(table, subtitle=subtitle, market_names=market_names), path)


@_no_mathtext
def _cascade_markets_matplotlib(table: "CascadeTable", *, subtitle: str = "",
                                market_names: "dict[str, str] | None" = None) -> Any:
    import numpy as np
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    x = table.initial_drawdown * 100
    step = float(np.min(np.diff(np.unique(x)))) if np.unique(x).size > 1 else 5.0
    fig = _figure(12, 5.2)
    ax1, ax2 = fig.subplots(1, 2)
    series = _cascade_series(table, market_names)
    for ax, values, title in ((ax1, table.liquidated_debt_by_market_usd, "Debt liquidated, by market"),
                              (ax2, table.bad_debt_by_market_usd, "Bad debt, by market")):
        _style(ax)
        bottom = np.zeros(x.size)
        for s in series:
            ax.bar(x, values[:, s.index], step * 0.7, bottom=bottom, color=s.color, label=s.label)
            bottom += values[:, s.index]
        ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.yaxis.set_major_formatter(FuncFormatter(usd_short))
        ax.set_xlabel(f"Initial {table.driver} drawdown")
        ax.set_ylabel("USD")
        ax.set_title(title, fontsize=10)
        if not bottom.any():
            ax.text(0.5, 0.5, "none", transform=ax.transAxes, ha="center", va="center", color="#777777")
    if series:
        fig.legend(handles=ax1.get_legend_handles_labels()[0], loc="outside lower center", ncols=min(3, len(series)),
                   fontsize=8, frameon=False)
    fig.suptitle(f"{table.driver} cascade by market", fontsize=13, fontweight="bold")
    if subtitle:
        ax1.annotate(subtitle, xy=(0, 1.08), xycoords="axes fraction", fontsize=8, color="#555555")
    return fig


def _mc_market_rows(run: "MonteCarloRun", names: "dict[str, str] | None") -> list[tuple[MarketSeries, Any]]:
    res = run.result
    summaries = {s.market_id: s for s in res.by_market()}
    rows = []
    for s in market_series(res.market_ids, res.market_rules, names):
        summary = summaries.get(s.market_id)
        if summary is not None and (summary.lar_99_usd > 0 or summary.mean_liquidated_usd > 0
                                    or summary.bad_debt_var_99_usd > 0):
            rows.append((s, summary))
    return rows


_MC_MARKET_FIELDS = (("mean_liquidated_usd", "mean liquidated", "#90CAF9"), ("lar_95_usd", "LaR 95%", "#F57C00"),
                     ("lar_99_usd", "LaR 99%", "#C62828"), ("bad_debt_var_99_usd", "bad-debt VaR 99%", "#6D4C41"))


def monte_carlo_markets_figure(run: "MonteCarloRun", *, subtitle: str = "",
                               market_names: "dict[str, str] | None" = None) -> Any:
    """Per market: mean liquidated, LaR 95% / 99% and bad-debt VaR 99% over the paths (each market's
    own tail: quantiles do not add up across markets)."""
    go = _go()
    rows = _mc_market_rows(run, market_names)
    labels = [s.label for s, _ in rows]
    fig = go.Figure()
    for field, name, color in _MC_MARKET_FIELDS:
        fig.add_bar(y=labels, x=[getattr(r, field) for _, r in rows], name=name, orientation="h", marker_color=color,
                    hovertemplate="%{y}: %{x:$,.0f}<extra>" + name + "</extra>")
    if not rows:
        fig.add_annotation(text="no market liquidates on any path", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
    log = _wide_spread([getattr(r, f) for _, r in rows for f, _n, _c in _MC_MARKET_FIELDS])
    fig.update_layout(**_layout("Monte Carlo by market: Liquidations-at-Risk and bad-debt VaR", subtitle,
                                barmode="group", hovermode="closest", height=max(360, 220 + 70 * len(rows)),
                                xaxis=dict(title="USD over the horizon" + (" (log scale)" if log else ""),
                                           tickprefix="$", tickformat="~s", type="log" if log else "linear"),
                                yaxis=dict(autorange="reversed", automargin=True)))
    return fig


@_no_mathtext
def monte_carlo_markets_png(run: "MonteCarloRun", path: str | Path, *, subtitle: str = "",
                            market_names: "dict[str, str] | None" = None) -> Path:
    """PNG of :func:`monte_carlo_markets_figure` (grouped horizontal bars per market)."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter

    rows = _mc_market_rows(run, market_names)
    fig = _figure(11, max(4.2, 1.4 + 0.55 * len(rows)))
    ax = fig.add_subplot()
    _style(ax)
    y = np.arange(len(rows))
    fields = _MC_MARKET_FIELDS
    h = 0.8 / len(fields)
    for k, (field, name, color) in enumerate(fields):
        ax.barh(y + (k - 1.5) * h, [getattr(r, field) for _, r in rows], h, color=color, label=name)
    ax.set_yticks(y, [s.label for s, _ in rows], fontsize=8)
    ax.invert_yaxis()
    if _wide_spread([getattr(r, f) for _, r in rows for f, _n, _c in fields]):
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("USD over the horizon (log scale)")
    else:
        ax.set_xlabel("USD over the horizon")
    ax.xaxis.set_major_formatter(FuncFormatter(usd_short))
    if not rows:
        ax.text(0.5, 0.5, "no market liquidates on any path", transform=ax.transAxes, ha="center", va="center")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    fig.suptitle("Monte Carlo by market: LaR and bad-debt VaR", fontsize=13, fontweight="bold")
    if subtitle:
        ax.set_title(subtitle, fontsize=9, color="#555555")
    return _save(fig, path)


def monte_carlo_figure(run: "MonteCarloRun", *, subtitle: str = "") -> Any:
    """Liquidated debt per path (with and without impact), LaR marked; a bad-debt panel only when
    some path leaves bad debt."""
    import numpy as np
    from plotly.subplots import make_subplots

    res = run.result
    endo, summary = res.endogenous, res.endogenous_summary
    bad = endo.bad_debt_usd
    has_bad = bool(bad.max() > 0)
    fig = make_subplots(rows=1, cols=2 if has_bad else 1, column_widths=[0.66, 0.34] if has_bad else None,
                        horizontal_spacing=0.08)
    hi = float(max(endo.liquidated_debt_usd.max(), res.exogenous.liquidated_debt_usd.max() if res.exogenous else 0, 1.0))
    xbins = dict(start=0, end=hi * 1.02, size=hi * 1.02 / 40)
    fig.add_histogram(x=endo.liquidated_debt_usd, xbins=xbins, name="with cascade impact", marker_color="#2F6FED",
                      opacity=0.85, hovertemplate="%{x}: %{y} paths<extra>with impact</extra>", row=1, col=1)
    if res.exogenous is not None:
        fig.add_histogram(x=res.exogenous.liquidated_debt_usd, xbins=xbins, name="price paths only (no impact)",
                          marker=dict(color="rgba(0,0,0,0)", line=dict(color="#333", width=1.2)),
                          hovertemplate="%{x}: %{y} paths<extra>no impact</extra>", row=1, col=1)
    for value, label, color in ((summary.lar_95_usd, "LaR 95%", "#F57C00"), (summary.lar_99_usd, "LaR 99%", "#C62828")):
        fig.add_vline(x=value, line=dict(color=color, dash="dash", width=1.3), row=1, col=1,
                      annotation=dict(text=f"{label} {usd_short(value)}", font=dict(color=color, size=11)))
    if has_bad:
        # Only the paths that leave bad debt: the others sit in one tall $0 bar that hides the tail.
        with_bad = bad[bad > 0]
        if with_bad.size <= FEW_BAD_DEBT_PATHS:
            # A few values: each path's bad debt, largest first (a histogram would be unit bars).
            ranked = np.sort(with_bad)[::-1]
            fig.add_bar(x=[f"#{i + 1}" for i in range(ranked.size)], y=ranked, name="bad debt per path",
                        marker_color="#D84315", row=1, col=2, hovertemplate="path %{x}: %{y:$,.0f}<extra></extra>")
            fig.add_hline(y=summary.bad_debt_var_99_usd, line=dict(color="#C62828", dash="dash"), row=1, col=2)
            fig.update_xaxes(title=f"{_bad_debt_paths(ranked.size).capitalize()}, largest first", row=1, col=2)
            fig.update_yaxes(title="Bad debt (USD)", tickprefix="$", tickformat="~s", row=1, col=2)
        else:
            fig.add_histogram(x=with_bad, nbinsx=30, name="bad debt (paths with any)", marker_color="#D84315",
                              row=1, col=2, hovertemplate="%{x}: %{y} paths<extra>bad debt</extra>")
            fig.add_vline(x=summary.bad_debt_var_99_usd, line=dict(color="#C62828", dash="dash"), row=1, col=2)
            fig.update_xaxes(title=f"Bad debt per path, {_bad_debt_paths(with_bad.size)} (USD)",
                             tickprefix="$", tickformat="~s", row=1, col=2)
            fig.update_yaxes(title="Paths", row=1, col=2)
        bad_text = (f"bad-debt VaR 95% {usd_short(summary.bad_debt_var_95_usd)}, 99% {usd_short(summary.bad_debt_var_99_usd)}"
                    f" ({float(np.mean(bad > 0)):.1%} of paths)")
    else:
        bad_text = "no bad debt on any path"
    model = MODEL_LABELS.get(run.model, run.model)
    days = f"{run.horizon_days:g} day" + ("" if run.horizon_days == 1 else "s")
    sub = (f"mean liquidated {usd_short(summary.mean_liquidated_usd)}, P(any) {summary.prob_any_liquidation:.0%}; "
           f"{bad_text}" + (f" — {subtitle}" if subtitle else ""))
    fig.update_layout(**_layout(f"Monte Carlo: {model}, {days}, {res.n_paths:,} paths", sub, barmode="overlay",
                                hovermode="closest"))
    fig.update_xaxes(title="Debt liquidated over the horizon, per path (USD)", tickprefix="$", tickformat="~s", row=1, col=1)
    fig.update_yaxes(title="Paths (log scale)", type="log", dtick=1, row=1, col=1)
    return fig


def path_figure(run: "PathRun", symbols: tuple[str, ...], driver: str, *, title: str = "", subtitle: str = "") -> Any:
    """Return of each moving asset along a replayed path (vs the snapshot's spot)."""
    import numpy as np

    go = _go()
    prices = run.prices_usd[0]
    returns = prices / prices[0] - 1.0
    fig = go.Figure()
    palette = ["#C2185B", "#2F6FED", "#00A57A", "#F57C00", "#6D4C41", "#8E6CC9"]
    moving = [j for j in range(len(symbols)) if np.max(np.abs(returns[:, j])) > 1e-4]
    # Assets on the very same path share one line (e.g. WETH and wstETH without a depeg), as in the PNG.
    groups: list[list[int]] = []
    for j in sorted(moving, key=lambda j: (symbols[j] != driver, symbols[j])):
        same = next((g for g in groups if np.allclose(returns[:, g[0]], returns[:, j], atol=1e-9)), None)
        if same is None:
            groups.append([j])
        else:
            same.append(j)
    for k, g in enumerate(groups):
        j = g[0]
        is_driver = any(symbols[i] == driver for i in g)
        name = ", ".join(symbols[i] + (" (driver)" if symbols[i] == driver else "") for i in g)
        fig.add_scatter(x=run.hours, y=returns[:, j], mode="lines", name=name,
                        line=dict(color=palette[k % len(palette)], width=2.4 if is_driver else 1.5),
                        hovertemplate="%{x:.1f} h: %{y:+.2%}<extra>%{fullData.name}</extra>")
    s = run.result.endogenous_summary
    sub = f"debt liquidated {usd_short(s.mean_liquidated_usd)}, bad debt {usd_short(s.mean_bad_debt_usd)}" + (
        f" — {subtitle}" if subtitle else "")
    fig.update_layout(**_layout(title or "Replayed path", sub, xaxis=dict(title="Hours since the start"),
                                yaxis=dict(title="Return vs the snapshot's spot", tickformat=".0%")))
    return fig


__all__ = ["BandSnapshot", "CumulativeCurve", "MapBins", "band_history_figure", "band_history_grid", "cascade_figure",
           "cascade_png", "cumulative_figure", "cumulative_liquidatable", "liquidation_map_figure", "liquidation_map_png",
           "map_bins", "market_split_figure", "monte_carlo_figure", "monte_carlo_png", "path_figure", "path_png", "usd_price",
           "usd_short"]
