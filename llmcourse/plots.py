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
