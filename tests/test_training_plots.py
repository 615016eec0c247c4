"""Lesson 06's figures: glyph grids, loss curves (also live), the L1 comparison."""

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from zi2zi_lessons import glyphs, plots, training
from zi2zi_lessons.glyphs import build_dataset

MPL_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@pytest.fixture(scope="module")
def latin():
    dataset, _ = build_dataset(MPL_FONTS / "DejaVuSans.ttf", [MPL_FONTS / "DejaVuSerif.ttf", MPL_FONTS / "DejaVuSansMono.ttf"],
                               "ABCDEFGH", size=32, held_out_every=2)
    return dataset


def test_glyph_rows_draws_every_glyph_where_its_row_and_column_say(latin):
    figure = plots.glyph_rows([("first", latin.source[:3]), ("second", latin.targets[0, :3])], "title")
    axis = figure.axes[0]
    image = axis.images[0].get_array()
    assert image.shape == (2 * 32 + 2, 3 * 32 + 2 * 2)
    np.testing.assert_array_equal(image[:32, 34:66], latin.source[1])
    np.testing.assert_array_equal(image[34:, 68:], latin.targets[0, 2])
    assert [t.get_text() for t in axis.get_yticklabels()] == ["first", "second"]
    assert axis.get_title() == "title" and axis.get_xlabel()
    plt.close(figure)


def test_glyph_rows_refuses_ragged_or_empty_rows(latin):
    with pytest.raises(ValueError, match="same number of glyphs"):
        plots.glyph_rows([("a", latin.source[:3]), ("b", latin.source[:2])], "t")
    with pytest.raises(ValueError, match="rows is empty"):
        plots.glyph_rows([], "t")


def test_grids_label_the_source_then_each_font(latin):
    figure = plots.dataset_grid(latin, [0, 1])
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert labels == ["source: DejaVu Sans", "target 0: DejaVu Serif", "target 1: DejaVu Sans Mono"]
    plt.close(figure)
    fake = [latin.targets[f, [0, 1]] for f in range(2)]
    figure = plots.generated_grid(latin, [0, 1], fake, "held out")
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert labels == ["source: DejaVu Sans", "generated: DejaVu Serif", "real: DejaVu Serif",
                      "generated: DejaVu Sans Mono", "real: DejaVu Sans Mono"]
    assert figure.axes[0].get_xlabel().startswith("character (column j")  # a training file: no split named
    plt.close(figure)
    unseen = glyphs.load_glyphs(glyphs.UNSEEN_DATA)  # no training characters: they are "unseen", not "held-out"
    figure = plots.generated_grid(unseen, [0, 1], [unseen.targets[f, [0, 1]] for f in range(unseen.num_fonts)], "unseen")
    assert figure.axes[0].get_xlabel().startswith("unseen character (column j")
    plt.close(figure)


def test_loss_curves_show_every_recorded_loss_with_its_running_mean():
    history = {key: list(np.linspace(1, 0, 60)) for key in training.HISTORY_KEYS}
    figure = plots.loss_curves(history, "run", window=10)
    plotted = {line.get_label() for axis in figure.axes for line in axis.get_lines()}
    for key in ("l1", "constant", "category", "generator: fool D", "discriminator: total"):
        assert any(label.startswith(key) for label in plotted), key
    smooth = figure.axes[0].get_lines()[1]
    assert len(smooth.get_xdata()) == 60 - 10 + 1 and smooth.get_ydata()[0] == pytest.approx(np.mean(history["l1"][:10]))
    assert all(axis.get_title() for axis in figure.axes)
    plt.close(figure)


def test_live_loss_curves_update_one_display(monkeypatch, latin):
    shown = []

    class Handle:
        def update(self, figure):
            shown.append(("update", figure))

    def fake_display(figure, display_id=False):
        shown.append(("display", figure))
        return Handle()

    monkeypatch.setattr("IPython.display.display", fake_display)
    trainer = training.Trainer(latin, training.TrainingConfig(
        generator=training.tiny_generator_config(num_fonts=2, ngf=8, embedding_dim=8), ndf=4, batch_size=2))
    trainer.train(4, progress=False, callback=plots.LiveLossCurves(), callback_every=2)
    assert [kind for kind, _ in shown] == ["display", "update"]
    assert "step 4" in shown[-1][1]._suptitle.get_text()


def test_l1_comparison_puts_baselines_next_to_each_model(latin):
    class Copier(torch.nn.Module):
        def forward(self, images, labels):
            return images

    copier = training.evaluate(Copier(), latin)
    figure = plots.l1_comparison({"copier": copier})
    axis = figure.axes[0]
    heights = [patch.get_height() for patch in axis.patches]
    assert heights == pytest.approx([*copier.copy_source_l1, *copier.blank_l1, *copier.generated_l1])
    assert [t.get_text() for t in axis.get_xticklabels()] == list(latin.font_labels)
    assert axis.get_ylabel() and axis.get_title()
    plt.close(figure)


def test_seed_spread_draws_one_dot_per_seed_and_the_targets():
    from zi2zi_lessons import results

    runs = results.reference_runs()
    figure = plots.seed_spread(runs, "unseen", reduction_target=0.35, beats_blank_target=0.85)
    left, right = figure.axes
    dots = [c for c in left.collections if c.get_offsets().shape[0] == 3]  # one scatter per (architecture, font)
    assert len(dots) == 2 * 3
    reductions = sorted(float(y) for c in dots for _, y in c.get_offsets())
    expected = sorted(v for a in ("classic", "attention") for vs in results.metric(runs, a, "unseen", "reduction").values() for v in vs)
    assert reductions == pytest.approx(expected)
    assert [line.get_ydata()[0] for line in left.lines] == [0.35] and [line.get_ydata()[0] for line in right.lines] == [0.85]
    assert "unseen" in left.get_title() and [t.get_text() for t in left.get_xticklabels()] == list(runs[("classic", 0)]["unseen"]["fonts"][i]["name"] for i in range(3))
    plt.close(figure)
