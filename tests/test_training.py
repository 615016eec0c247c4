"""The discriminator, the losses and training step, checkpoints, exact resume, evaluation.

A small data set rendered from matplotlib's DejaVu fonts keeps these tests fast and
free of CJK fonts.
"""

import math
import os
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

from zi2zi_lessons import training
from zi2zi_lessons.discriminator import Discriminator, DiscriminatorConfig
from zi2zi_lessons.glyphs import build_dataset
from zi2zi_lessons.training import LossWeights, Trainer, TrainingConfig

from repo_scripts import load_solution

MPL_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONTS = [MPL_FONTS / name for name in ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf")]


@pytest.fixture(scope="module")
def latin():
    """12 letters at 64x64, source DejaVu Sans, targets Serif and Mono; every 4th held out."""
    dataset, _ = build_dataset(FONTS[0], FONTS[1:], "ABCDEFGHKMRS", size=64, held_out_every=4)
    return dataset


def small_config(**overrides) -> TrainingConfig:
    # num_downs=6 with dropout: level 5 has Dropout(0.5), so the random state matters.
    generator = training.tiny_generator_config("classic", num_fonts=2, ngf=8, embedding_dim=8, num_downs=6,
                                               use_dropout=True)
    settings = dict(generator=generator, ndf=4, batch_size=4, seed=3)
    settings.update(overrides)
    return TrainingConfig(**settings)


# ------------------------------------------------------------------ discriminator
@pytest.mark.parametrize("size, side", [(64, 8), (256, 32), (48, 6), (36, 5)])
def test_discriminator_heads_are_sized_from_the_image(size, side):
    config = DiscriminatorConfig(image_size=size, embedding_num=3, ndf=4)
    assert config.feature_size == side
    model = Discriminator.from_config(config)
    assert model.real_fake.in_features == model.category.in_features == 32 * side * side
    real_fake, category = model(torch.zeros(2, 2, size, size))
    assert real_fake.shape == (2, 1) and category.shape == (2, 3)


def test_discriminator_refuses_other_sizes_and_bad_settings():
    model = Discriminator(image_size=64, embedding_num=3, ndf=4)
    with pytest.raises(ValueError, match=r"built for pairs shaped \(batch, 2, 64, 64\).*got \(1, 2, 32, 32\)"):
        model(torch.zeros(1, 2, 32, 32))
    with pytest.raises(ValueError, match="norm='layer'"):
        Discriminator(norm="layer")
    with pytest.raises(ValueError, match="image_size=4"):
        Discriminator(image_size=4)


def test_discriminator_matches_zi2zi_layer_for_layer():
    model = Discriminator(image_size=256, embedding_num=40, ndf=64)
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (2, 64, (5, 5), (2, 2), (2, 2)),
        (64, 128, (5, 5), (2, 2), (2, 2)),
        (128, 256, (5, 5), (2, 2), (2, 2)),
        (256, 512, (5, 5), (1, 1), (2, 2)),
    ]
    assert model.real_fake.in_features == 512 * 32 * 32 == 524_288


# ------------------------------------------------------------------ configuration
def test_loss_weights_and_config_are_validated():
    with pytest.raises(ValueError, match="loss weight l1=-1"):
        LossWeights(l1=-1)
    with pytest.raises(ValueError, match="loss weight constant=nan"):
        LossWeights(constant=math.nan)
    with pytest.raises(ValueError, match="batch_size=0"):
        small_config(batch_size=0)
    with pytest.raises(ValueError, match="learning_rate=2"):
        small_config(learning_rate=2)
    with pytest.raises(ValueError, match="architecture='unet'"):
        training.tiny_generator_config("unet")
    config = small_config(weights=LossWeights(l1=50, constant=0))
    assert TrainingConfig.from_dict(config.as_dict()) == config


def test_trainer_refuses_a_generator_that_cannot_take_the_data(latin):
    with pytest.raises(ValueError, match="embedding_num=1 cannot label the data's 2 target fonts"):
        Trainer(latin, small_config(generator=training.tiny_generator_config(num_fonts=1)))
    with pytest.raises(ValueError, match="image height 64 does not work with num_downs=7"):
        Trainer(latin, small_config(generator=training.tiny_generator_config(num_fonts=2, num_downs=7)))
    with pytest.raises(ValueError, match="batch_size=64 is larger than the 18 training pairs"):
        Trainer(latin, small_config(batch_size=64))


def test_quick_mode_follows_the_flag_then_the_ci_variable(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert training.quick_mode() is False
    monkeypatch.setenv("CI", "true")
    assert training.quick_mode() is True
    assert training.quick_mode(False) is False
    monkeypatch.setenv("CI", "0")
    assert training.quick_mode() is False


# ------------------------------------------------------------------ training
def test_batch_order_is_a_permutation_per_epoch_and_depends_only_on_the_step(latin):
    trainer = Trainer(latin, small_config())
    assert trainer.batches_per_epoch == 18 // 4
    epoch = [trainer.batch_pairs(step) for step in range(trainer.batches_per_epoch)]
    pairs = [(c, f) for chars, fonts in epoch for c, f in zip(chars, fonts)]
    assert len(set(pairs)) == len(pairs) == 16  # no pair twice within an epoch
    assert all(not latin.held_out[c] for c, _ in pairs)  # never a held-out character
    again = Trainer(latin, small_config())
    for step in (0, 5, 11):
        np.testing.assert_array_equal(trainer.batch_pairs(step)[0], again.batch_pairs(step)[0])
    assert not np.array_equal(trainer.batch_pairs(0)[0], trainer.batch_pairs(trainer.batches_per_epoch)[0])


def test_a_step_updates_both_networks_and_records_every_loss(latin):
    trainer = Trainer(latin, small_config())
    generator_before = [p.clone() for p in trainer.generator.parameters()]
    discriminator_before = [p.clone() for p in trainer.discriminator.parameters()]
    losses = trainer.train_step()
    assert set(losses) == set(training.HISTORY_KEYS)
    assert all(math.isfinite(value) for value in losses.values())
    weights = trainer.config.weights
    assert losses["generator"] == pytest.approx(
        weights.l1 * losses["l1"] + weights.adversarial * losses["adversarial"]
        + weights.category * losses["category"] + weights.constant * losses["constant"], rel=1e-5)
    assert any(not torch.equal(a, b) for a, b in zip(generator_before, trainer.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(discriminator_before, trainer.discriminator.parameters()))
    assert trainer.step == 1 and all(len(v) == 1 for v in trainer.history.values())


def test_loss_weights_reach_the_generator_update(latin):
    # With only the L1 weight on, the generator's loss is exactly weight * L1.
    trainer = Trainer(latin, small_config(weights=LossWeights(l1=7, adversarial=0, category=0, constant=0)))
    losses = trainer.train_step()
    assert losses["generator"] == pytest.approx(7 * losses["l1"], rel=1e-6)


def _state(trainer):
    return {**{f"g.{k}": v for k, v in trainer.generator.state_dict().items()},
            **{f"d.{k}": v for k, v in trainer.discriminator.state_dict().items()}}


def test_resuming_from_a_checkpoint_continues_exactly(latin, tmp_path):
    steps = 10  # crosses two epoch boundaries (4 batches per epoch)
    straight = Trainer(latin, small_config())
    straight.train(steps, progress=False)

    first_half = Trainer(latin, small_config())
    first_half.train(steps // 2, progress=False, checkpoint=tmp_path / "run.pt")
    del first_half
    torch.manual_seed(12345)  # whatever happens in between must not matter
    resumed = Trainer.load(tmp_path / "run.pt", latin)
    assert resumed.step == steps // 2
    resumed.train(steps - steps // 2, progress=False)

    a, b = _state(straight), _state(resumed)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert straight.history == resumed.history
    assert straight.optimizer_g.state_dict()["state"][0]["exp_avg"].equal(resumed.optimizer_g.state_dict()["state"][0]["exp_avg"])


def test_resume_really_depends_on_the_saved_random_state(latin, tmp_path):
    # The check above would be hollow if nothing random happened: with dropout on,
    # a resumed run whose random state is replaced takes different steps.
    straight = Trainer(latin, small_config())
    straight.train(4, progress=False)
    first_half = Trainer(latin, small_config())
    first_half.train(2, progress=False, checkpoint=tmp_path / "run.pt")
    resumed = Trainer.load(tmp_path / "run.pt", latin)
    torch.manual_seed(999)
    resumed.train(2, progress=False)
    a, b = _state(straight), _state(resumed)
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_checkpoints_are_written_atomically(latin, tmp_path, monkeypatch):
    trainer = Trainer(latin, small_config())
    path = trainer.save(tmp_path / "run.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]
    good = path.read_bytes()
    trainer.train_step()

    def broken_save(obj, file, *args, **kwargs):
        with open(file, "wb") as handle:
            handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        trainer.save(path)
    assert path.read_bytes() == good  # the old checkpoint survives a failed write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # and no temporary file is left


def test_checkpoints_load_with_weights_only(latin, tmp_path):
    trainer = Trainer(latin, small_config())
    trainer.save(tmp_path / "run.pt")
    payload = torch.load(tmp_path / "run.pt", weights_only=True)
    assert payload["format"] == training.CHECKPOINT_FORMAT and payload["resumable"]

    class Sneaky:
        def __reduce__(self):
            return (os.getcwd, ())

    torch.save({"format": training.CHECKPOINT_FORMAT, "x": Sneaky()}, tmp_path / "sneaky.pt")
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        training.read_checkpoint(tmp_path / "sneaky.pt")
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not a zi2zi-lessons checkpoint"):
        training.read_checkpoint(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="does not exist"):
        training.read_checkpoint(tmp_path / "none.pt")


def test_a_generator_only_checkpoint_evaluates_but_cannot_resume(latin, tmp_path):
    trainer = Trainer(latin, small_config())
    trainer.train(2, progress=False)
    small = trainer.save(tmp_path / "small.pt", training_state=False)
    full = trainer.save(tmp_path / "full.pt")
    assert small.stat().st_size < full.stat().st_size / 2
    with pytest.raises(ValueError, match="holds only the generator"):
        Trainer.load(small, latin)
    # float16 on disk, float32 in memory, the same glyphs up to rounding
    assert all(t.dtype == torch.float16 for t in training.read_checkpoint(small)["generator"].values() if t.is_floating_point())
    restored, _ = training.load_generator(small)
    assert all(p.dtype == torch.float32 for p in restored.parameters())
    direct = training.evaluate(trainer.generator, latin)
    assert training.evaluate_checkpoint(small, latin).generated_l1 == pytest.approx(direct.generated_l1, abs=5e-3)
    assert training.evaluate_checkpoint(full, latin) == direct


def test_a_checkpoint_refuses_data_from_other_fonts(latin, tmp_path):
    trainer = Trainer(latin, small_config())
    trainer.save(tmp_path / "run.pt")
    other, _ = build_dataset(FONTS[0], [FONTS[2], FONTS[1]], "ABCDEFGH", size=64)
    with pytest.raises(ValueError, match="trained on other data.*target_fonts"):
        Trainer.load(tmp_path / "run.pt", other)
    with pytest.raises(ValueError, match="trained on other data"):
        training.evaluate_checkpoint(tmp_path / "run.pt", other)
    # an evaluation set of other characters from the same fonts is compatible
    evaluation_set, _ = build_dataset(FONTS[0], FONTS[1:], "abcdefg", size=64, held_out_every=1)
    assert training.evaluate_checkpoint(tmp_path / "run.pt", evaluation_set).characters == 7


# ------------------------------------------------------------------ evaluation
class Copier(torch.nn.Module):
    """A 'generator' that returns its input: its L1 must be the copy-the-source baseline."""

    def forward(self, images, labels):
        return images


class Blank(torch.nn.Module):
    def forward(self, images, labels):
        return torch.ones_like(images)


def test_evaluation_baselines_are_what_they_say(latin):
    held = latin.indices("held_out")
    copy = training.evaluate(Copier(), latin)
    expected = [np.abs(latin.source[held] / 127.5 - latin.targets[f, held] / 127.5).mean() for f in range(2)]
    assert copy.copy_source_l1 == pytest.approx(expected, rel=1e-6)
    assert copy.generated_l1 == pytest.approx(copy.copy_source_l1, rel=1e-6)
    assert copy.reduction == pytest.approx((0, 0), abs=1e-6)
    blank = training.evaluate(Blank(), latin)
    assert blank.generated_l1 == pytest.approx(blank.blank_l1, rel=1e-6)
    assert copy.characters == len(held) == 3
    text = str(copy)
    assert "DejaVu Serif" in text and "overall" in text and "copy source" in text


def test_generate_leaves_the_generator_in_its_mode(latin):
    trainer = Trainer(latin, small_config())
    trainer.generator.train()
    images = training.generate(trainer.generator, latin, [0, 1, 2], font_id=1)
    assert images.shape == (3, 64, 64) and images.dtype == np.uint8
    assert trainer.generator.training
    with pytest.raises(ValueError, match="font_id=2"):
        training.generate(trainer.generator, latin, [0], font_id=2)


# ------------------------------------------------------------------ the lesson 06 checkers
def test_copy_baseline_checker_accepts_the_right_value_and_names_mistakes(latin, capsys):
    from zi2zi_lessons.checks import check_copy_baseline

    held = latin.indices("held_out")
    right = np.abs(latin.source[held] / 127.5 - latin.targets[1, held] / 127.5).mean()
    assert check_copy_baseline(right, latin, 1)
    assert not check_copy_baseline(right * 127.5, latin, 1)
    assert "0..255 grey levels" in capsys.readouterr().out
    assert not check_copy_baseline(np.abs(latin.source / 127.5 - latin.targets[1] / 127.5).mean(), latin, 1)
    assert "uses every character" in capsys.readouterr().out
    assert not check_copy_baseline(np.abs(latin.source[held] / 127.5 - latin.targets[0, held] / 127.5).mean(), latin, 1)
    assert "this is font 0" in capsys.readouterr().out
    assert not check_copy_baseline("0.3", latin, 1) and not check_copy_baseline(None, latin, 1)


def test_constant_loss_checker(capsys):
    import torch.nn.functional as F

    from zi2zi_lessons.checks import check_constant_loss

    state = torch.get_rng_state()
    assert check_constant_loss(lambda g, s, f: F.mse_loss(g.encode(f), g.encode(s)))
    assert torch.equal(torch.get_rng_state(), state)  # the learner's random state is untouched
    assert not check_constant_loss(lambda g, s, f: F.l1_loss(g.encode(f), g.encode(s)))
    assert "L1" in capsys.readouterr().out
    assert not check_constant_loss(lambda g, s, f: F.mse_loss(f, s))
    assert "compares the images" in capsys.readouterr().out
    assert not check_constant_loss(lambda g, s, f: g.encode(f) - g.encode(s))
    assert "return one number" in capsys.readouterr().out
    assert not check_constant_loss(lambda g, s, f: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_solutions_of_lesson_06_pass_their_checkers_and_train(latin, capsys):
    from zi2zi_lessons.checks import check_constant_loss, check_copy_baseline

    solutions = load_solution("lesson_06_train_a_tiny_zi2zi")
    assert check_copy_baseline(solutions.copy_l1(latin, 1), latin, font_id=1)
    assert check_constant_loss(solutions.constant_loss)
    results = solutions.compare_weights(latin, steps=2)
    assert len(results) == 3
    for evaluation in results.values():
        assert len(evaluation.generated_l1) == latin.num_fonts
        assert all(math.isfinite(value) and value > 0 for value in evaluation.generated_l1)
    assert "zi2zi (l1=100): held-out L1 per font" in capsys.readouterr().out


def test_the_progress_bar_keeps_one_line_in_a_notebook(monkeypatch, latin):
    shown = []

    class Handle:
        def update(self, data, raw=False):
            shown.append(data["text/plain"])

    monkeypatch.setattr("IPython.display.display", lambda data, raw=False, display_id=False: Handle())
    line = training.NotebookLine()
    line.write("\rtraining:  10%|#  | 1/10")
    line.flush()
    line.write("\rtraining: 100%|###| 10/10\n")
    line.flush()
    assert shown == ["training:  10%|#  | 1/10", "training: 100%|###| 10/10"]
    # outside a Jupyter kernel the bar goes to stderr
    assert training._progress_file() is sys.stderr


def test_training_in_a_kernel_shows_the_bar_in_one_updated_output(monkeypatch, latin):
    lines = []

    class Handle:
        def update(self, data, raw=False):
            lines.append(data["text/plain"])

    class Shell:
        kernel = object()

    monkeypatch.setattr("IPython.get_ipython", lambda: Shell())
    monkeypatch.setattr("IPython.display.display", lambda data, raw=False, display_id=False: Handle())
    trainer = Trainer(latin, small_config())
    trainer.train(3)
    assert lines and lines[-1].startswith("training: 100%") and "3/3" in lines[-1]
