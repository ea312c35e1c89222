"""PNG charts for reports (matplotlib, Agg, no pyplot global state).

- :func:`liquidation_map_png`: collateral at risk per price bucket, stacked by venue, spot
  marked, detected bands shaded, short-side (above spot) buckets hatched.
- :func:`cascade_png`: final vs initial drawdown; liquidated and bad-debt USD per drawdown.
- :func:`monte_carlo_png`: distribution of liquidated debt per path with LaR 95/99 marked,
  and the bad-debt tail.
- :func:`path_png`: a replayed path (returns of each moving asset) and what it liquidated.

Every function takes library results and a path, writes the PNG and returns the path.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from risk.bands import BandReport
    from risk.cascade import CascadeTable

    from liqrisk.run import MonteCarloRun, PathRun

VENUE_LABELS = {
    "aave_v30": "Aave v3.0–3.2 / Spark",
    "aave_v33": "Aave v3.3+",
    "morpho_blue": "Morpho Blue",
    "compound_v3": "Compound V3",
}
VENUE_COLORS = {"aave_v30": "#8E6CC9", "aave_v33": "#C2185B", "morpho_blue": "#2F6FED", "compound_v3": "#00A57A"}
DPI = 110
MODEL_LABELS = {"gbm": "GBM", "student_t": "Student-t", "merton": "Merton jump-diffusion"}


def usd_short(value: float, _pos: object = None) -> str:
    """Axis label: ``$1.2M``, ``$350k``, ``$2.0B``, ``$0``."""
    sign = "-" if value < 0 else ""
    v = abs(value)
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            text = f"{v / scale:.1f}".rstrip("0").rstrip(".")
            return f"{sign}${text}{unit}"
    return f"{sign}${v:,.0f}"


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


@_no_mathtext
def liquidation_map_png(bands: "BandReport", path: str | Path, *, subtitle: str = "", max_labels: int = 4) -> Path:
    """Stacked bars of collateral (USD at spot) per liquidation-price bucket, by venue."""
    import numpy as np
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    m = bands.map
    spot = m.spot_usd
    coll = m.collateral_usd  # (n_bins, n_venues)
    total = coll.sum(axis=1)
    edges = m.edges_usd
    # Visible range: where the mass is (0.5%..99.5%), always spot +-10% and every band.
    lo_i, hi_i = 0, total.size - 1
    if total.sum() > 0:
        cum = np.cumsum(total) / total.sum()
        lo_i = int(np.searchsorted(cum, 0.005))
        hi_i = int(np.searchsorted(cum, 0.995))
    lo = min(edges[lo_i], spot * 0.9, *(b.low_usd for b in bands.bands))
    hi = max(edges[min(hi_i + 1, edges.size - 1)], spot * 1.1, *(b.high_usd for b in bands.bands))
    lo, hi = max(lo, edges[0]), min(hi, edges[-1])
    inside = (edges[:-1] >= lo) & (edges[1:] <= hi)
    idx = np.flatnonzero(inside)
    # Merge neighbouring bins so about 120 bars are drawn (readable at a glance).
    group = max(1, int(np.ceil(idx.size / 120)))
    start = idx[0] if idx.size else 0
    n_groups = int(np.ceil(idx.size / group)) if idx.size else 0
    g_edges = edges[start + np.arange(n_groups + 1) * group] if n_groups else np.array([lo, hi])
    g_coll = np.add.reduceat(coll[start:start + n_groups * group], np.arange(0, n_groups * group, group), axis=0) \
        if n_groups else np.zeros((0, coll.shape[1]))
    centers = g_edges[:-1] + np.diff(g_edges) / 2

    fig = _figure(11, 5.6)
    ax = fig.add_subplot()
    _style(ax)
    bottom = np.zeros(centers.size)
    legend = []
    # Stacked step areas (one patch per venue and side: fast, and bins stay contiguous).
    split = int(np.searchsorted(centers, spot))
    for v, venue in enumerate(m.venues):
        heights = g_coll[:, v]
        if not heights.any():
            continue
        color = VENUE_COLORS.get(venue, "#777777")
        for lo_k, hi_k, short in ((0, split, False), (split, centers.size, True)):
            if hi_k <= lo_k or not heights[lo_k:hi_k].any():
                continue
            ax.stairs(bottom[lo_k:hi_k] + heights[lo_k:hi_k], g_edges[lo_k:hi_k + 1], baseline=bottom[lo_k:hi_k],
                      fill=True, color=color, alpha=0.55 if short else 1.0, hatch="///" if short else None,
                      edgecolor="white" if short else color, linewidth=0)
        bottom += heights
        legend.append(Patch(facecolor=color, label=VENUE_LABELS.get(venue, venue)))
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


@_no_mathtext
def monte_carlo_png(run: "MonteCarloRun", path: str | Path, *, subtitle: str = "") -> Path:
    """Histogram of liquidated debt per path (with and without cascade impact), LaR marked;
    right panel: bad debt per path with its VaR."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter, NullFormatter

    res = run.result
    endo, summary = res.endogenous, res.endogenous_summary
    fig = _figure(12, 4.8)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[2, 1])
    for ax in (ax1, ax2):
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
    bad = endo.bad_debt_usd
    if bad.max() > 0:
        ax2.hist(bad, bins=np.linspace(0, bad.max() * 1.02, 31), color="#D84315")
        ax2.axvline(summary.bad_debt_var_99_usd, color="#C62828", linestyle="--", linewidth=1.2)
        share = float(np.mean(bad > 0))
        ax2.text(0.97, 0.95, f"{share:.1%} of paths leave bad debt", transform=ax2.transAxes, ha="right",
                 va="top", fontsize=8.5, color="#555555")
    else:
        ax2.set_xticks([])
        ax2.set_yticks([])
        ax2.text(0.5, 0.5, "no bad debt on any path", transform=ax2.transAxes, ha="center", va="center",
                 fontsize=10, color="#555555")
    ax2.set_xlabel("Bad debt per path (USD)")
    ax2.set_title(f"Bad-debt VaR 95% {usd_short(summary.bad_debt_var_95_usd)}, "
                  f"99% {usd_short(summary.bad_debt_var_99_usd)}", fontsize=10)
    model = MODEL_LABELS.get(run.model, run.model)
    days = f"{run.horizon_days:g} day" + ("" if run.horizon_days == 1 else "s")
    fig.suptitle(f"Monte Carlo: {model}, {days}, {res.n_paths:,} paths", fontsize=13,
                 fontweight="bold")
    if subtitle:
        fig.supxlabel(subtitle, fontsize=8, color="#555555")
    return _save(fig, path)


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


__all__ = ["cascade_png", "liquidation_map_png", "monte_carlo_png", "path_png", "usd_price", "usd_short"]
