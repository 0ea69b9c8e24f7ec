"""Plot defaults and log-axis labels."""

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from llmcourse.plots import interval_bars, mark_log_ticks, setup_plots  # noqa: E402


def test_setup_plots_sets_the_book_defaults():
    setup_plots()
    assert plt.rcParams["axes.grid"] and not plt.rcParams["axes.spines.top"]


def test_mark_log_ticks_labels_exactly_the_given_values():
    fig, ax = plt.subplots()
    ax.loglog([128, 256, 512, 2048], [1, 2, 3, 4])
    mark_log_ticks(ax, [128, 256, 512, 2048])
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["128", "256", "512", "2048"]
    assert not ax.get_xticks(minor=True).size
    plt.close(fig)


def test_interval_bars_end_where_the_intervals_end():
    fig, ax = plt.subplots()
    interval_bars(ax, [0.5, 0.2], [0.4, 0.1], [0.9, 0.25], at=[0, 1])
    interval_bars(ax, [3.0], [1.0], [4.0], at=[5], axis="y")
    bars = sorted((tuple(seg[:, 0].round(6)), tuple(seg[:, 1].round(6)))
                  for collection in ax.collections for seg in collection.get_segments())
    assert bars == [((0.1, 0.25), (1, 1)), ((0.4, 0.9), (0, 0)), ((5, 5), (1, 4))]  # (x ends, y ends) per bar
    with pytest.raises(ValueError, match="swapped"):
        interval_bars(ax, [0.5], [0.9], [0.4], at=[0])
    plt.close(fig)
