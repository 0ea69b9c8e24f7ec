"""Plot defaults and log-axis labels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from llmcourse.plots import mark_log_ticks, setup_plots  # noqa: E402


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
