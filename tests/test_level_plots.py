"""Per-level parameter bars (plots.py, blocks-and-levels section)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from zi2zi_lessons import anatomy, plots  # noqa: E402

SEED000 = dict(skip="add", upsample="pixelshuffle", attention_levels=(7, 8))


def bar_heights(ax, label):
    container = next(c for c in ax.containers if c.get_label() == label)
    return [patch.get_height() for patch in container.patches]


def test_stacked_bars_add_up_to_each_levels_parameters():
    levels = anatomy.levels(SEED000, image_size=256)
    fig = plots.level_parameter_bars(levels)
    ax = fig.axes[0]
    stacked = [sum(parts) for parts in zip(*(bar_heights(ax, part) for part in ("encoder", "attention", "decoder")))]
    assert stacked == pytest.approx([info.parameters / 1e6 for info in levels])
    assert bar_heights(ax, "attention")[6] == pytest.approx(anatomy.parameter_totals(SEED000)["attention"] / 2e6)
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "1\n128x128"
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel() == "parameters (millions)"
    plt.close(fig)


def test_baseline_outline_and_unsplit_bars():
    fig = plots.level_parameter_bars(SEED000, split=False, baseline={}, baseline_label="classic")
    ax = fig.axes[0]
    assert bar_heights(ax, "classic") == pytest.approx([info.parameters / 1e6 for info in anatomy.levels({})])
    assert bar_heights(ax, "parameters") == pytest.approx([info.parameters / 1e6 for info in anatomy.levels(SEED000)])
    assert {c.get_label() for c in ax.containers} == {"classic", "parameters"}
    assert ax.get_xlabel() == "level (1 = outermost)"  # no image size given: no map sizes on the ticks
    plt.close(fig)


def test_no_attention_no_attention_bars_and_draws_on_a_given_axis():
    fig, ax = plt.subplots()
    assert plots.level_parameter_bars({}, ax=ax, title="classic") is fig
    assert "attention" not in {c.get_label() for c in ax.containers} and ax.get_title() == "classic"
    plt.close(fig)


def test_empty_levels_are_refused():
    with pytest.raises(ValueError, match="no levels to plot"):
        plots.level_parameter_bars(())
