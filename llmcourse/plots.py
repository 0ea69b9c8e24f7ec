"""Plotting defaults shared by every page."""

from __future__ import annotations


def setup_plots() -> None:
    """Readable, consistent figures in the book (vector-sharp PNGs, light grid, no top/right spines)."""
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.figsize": (6.4, 3.6),
            "figure.dpi": 110,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
        }
    )


def mark_log_ticks(ax, values, axis: str = "x") -> None:
    """Label a log axis at exactly `values` (plain numbers), without matplotlib's crowded minor labels."""
    set_ticks = ax.set_xticks if axis == "x" else ax.set_yticks
    set_ticks(list(values), [f"{v:g}" for v in values])
    set_ticks([], minor=True)


def interval_bars(ax, centre, low, high, at, axis: str = "x", **style):
    """Points at `centre` with bars from `low` to `high` along `axis`, placed at `at` on the other axis
    (matplotlib's errorbar wants the distances to the ends, not the ends)."""
    import numpy as np

    centre, low, high = (np.asarray(v, dtype=float) for v in (centre, low, high))
    if np.any(low > centre) or np.any(high < centre):
        raise ValueError("an interval does not contain its point estimate: are low and high swapped?")
    if "fmt" not in style and "marker" not in style:
        style["fmt"] = "o"
    style.setdefault("capsize", 3)
    distances = np.stack([centre - low, high - centre])
    if axis == "x":
        return ax.errorbar(centre, at, xerr=distances, **style)
    return ax.errorbar(at, centre, yerr=distances, **style)
