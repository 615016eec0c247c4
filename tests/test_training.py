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

from repo_scripts import load_solution_cells

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


# ------------------------------------------------------------------ zi2zi's recipe
def test_a_step_is_one_discriminator_update_and_two_generator_updates(latin):
    trainer = Trainer(latin, small_config())
    trainer.train(3, progress=False)
    assert trainer.config.generator_updates == 2  # zi2zi's default
    assert trainer.optimizer_d.state_dict()["state"][0]["step"] == 3
    assert trainer.optimizer_g.state_dict()["state"][0]["step"] == 6
    single = Trainer(latin, small_config(generator_updates=1))
    single.train(3, progress=False)
    assert single.optimizer_g.state_dict()["state"][0]["step"] == 3


def test_the_step_follows_zi2zis_order_update_by_update(latin):
    """D update on G(source); G update against the updated D; then G regenerates and updates again.

    Written out here as zi2zi-pytorch's Zi2ZiModel.optimize_parameters orders it, with
    generator_updates=2, sigmoid category loss, no dropout (so nothing random in a step).
    """
    import torch.nn.functional as F

    config = small_config(generator=training.tiny_generator_config("classic", num_fonts=2, ngf=8, embedding_dim=8))
    trainer = Trainer(latin, config)
    G, D = trainer.generator, trainer.discriminator
    reference_g = training.UNetGenerator.from_config(config.generator)
    reference_d = Discriminator(image_size=64, embedding_num=2, ndf=config.ndf)
    reference_g.load_state_dict(G.state_dict())
    reference_d.load_state_dict(D.state_dict())
    betas = (config.beta1, config.beta2)
    opt_g = torch.optim.Adam(reference_g.parameters(), lr=config.learning_rate, betas=betas)
    opt_d = torch.optim.Adam(reference_d.parameters(), lr=config.learning_rate, betas=betas)
    source, target, labels = trainer.batch(0)
    one_hot = F.one_hot(labels, 2).float()
    w = config.weights

    fake, code = reference_g.forward_with_encoding(source, labels)
    real_logit, real_cat = reference_d(torch.cat([source, target], 1))
    fake_logit, fake_cat = reference_d(torch.cat([source, fake.detach()], 1))
    d_loss = (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
              + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
              + w.category * (F.binary_cross_entropy_with_logits(real_cat, one_hot)
                              + F.binary_cross_entropy_with_logits(fake_cat, one_hot)) / 2)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    for update in range(2):
        if update:
            fake, code = reference_g.forward_with_encoding(source, labels)
        fake_logit, fake_cat = reference_d(torch.cat([source, fake], 1))
        g_loss = (w.adversarial * F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
                  + w.category * F.binary_cross_entropy_with_logits(fake_cat, one_hot)
                  + w.l1 * F.l1_loss(fake, target) + w.constant * F.mse_loss(reference_g.encode(fake), code))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()

    losses = trainer.train_step()
    assert losses["discriminator"] == pytest.approx(d_loss.item(), rel=1e-5)
    assert losses["generator"] == pytest.approx(g_loss.item(), rel=1e-5)
    for mine, theirs in ((G, reference_g), (D, reference_d)):
        for (name, a), b in zip(mine.state_dict().items(), theirs.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_the_category_loss_is_zi2zis_sigmoid_cross_entropy_on_one_hot_labels(latin):
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.3], [-3.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    by_hand = -(y * torch.log(torch.sigmoid(logits)) + (1 - y) * torch.log(1 - torch.sigmoid(logits))).mean()
    sigmoid = Trainer(latin, small_config())
    assert sigmoid.config.category_loss == "sigmoid"
    assert sigmoid._category_loss(logits, labels).item() == pytest.approx(by_hand.item(), rel=1e-6)
    softmax = Trainer(latin, small_config(category_loss="softmax"))
    by_hand = -torch.log_softmax(logits, 1)[torch.arange(3), labels].mean()
    assert softmax._category_loss(logits, labels).item() == pytest.approx(by_hand.item(), rel=1e-6)
    with pytest.raises(ValueError, match="category_loss='hinge' is not accepted"):
        small_config(category_loss="hinge")


def test_normal_init_is_zi2zis_and_pytorch_init_is_torchs(latin):
    normal = Trainer(latin, small_config(seed=0))
    convs = [m for m in normal.generator.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert weights.std().item() == pytest.approx(0.02, rel=0.05) and abs(weights.mean().item()) < 1e-3
    assert all(m.bias is None or not m.bias.any() for m in convs)
    norms = [m for m in normal.generator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all((m.weight - 1).abs().max() < 0.15 and not m.bias.any() for m in norms)
    assert normal.discriminator.real_fake.weight.std().item() == pytest.approx(0.02, rel=0.1)
    default = Trainer(latin, small_config(seed=0, init="pytorch"))
    first = next(m for m in default.generator.modules() if isinstance(m, torch.nn.Conv2d))
    bound = 1 / math.sqrt(first.weight[0].numel())  # torch's kaiming-uniform bound for this layer
    assert first.weight.abs().max().item() <= bound and first.weight.std().item() > 0.1
    with pytest.raises(ValueError, match="init='xavier' is not accepted"):
        small_config(init="xavier")


def test_augmentation_enlarges_and_crops_source_and_target_together():
    ramp = torch.linspace(-1, 1, 32).expand(32, 32)
    images = torch.stack([ramp, ramp.T]).unsqueeze(1)  # two different images
    same, _ = training.enlarge_and_crop(images, images.clone(), 0.0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(same, images, atol=1e-5, rtol=0)  # augment 0: no change
    source, target = training.enlarge_and_crop(images, images.clone(), 0.2, torch.Generator().manual_seed(0))
    assert torch.equal(source, target)  # a pair moves together
    assert not torch.allclose(source, images, atol=1e-3) and source.min() >= -1 and source.max() <= 1
    # enlarging a ramp makes it shallower: its range shrinks by the factor (at most 1.2)
    for image in source:
        spread = (image.max() - image.min()).item()
        assert 2 / 1.2 - 0.1 <= spread <= 2.0
    again, _ = training.enlarge_and_crop(images, images, 0.2, torch.Generator().manual_seed(0))
    assert torch.equal(again, source)  # a pure function of the random generator


def test_augmented_batches_are_a_function_of_seed_and_step(latin):
    trainer = Trainer(latin, small_config(augment=0.2))
    plain = Trainer(latin, small_config())
    a, b = trainer.batch(3), trainer.batch(3)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], plain.batch(3)[0]) and torch.equal(a[2], plain.batch(3)[2])
    with pytest.raises(ValueError, match="augment=1.5 is not accepted"):
        small_config(augment=1.5)


def test_zi2zis_learning_rate_halving(latin):
    config = small_config(learning_rate=1e-3, lr_halve_every=4)
    assert [config.learning_rate_at(step) for step in (0, 3, 4, 8, 12, 100)] == [1e-3, 1e-3, 5e-4, 2.5e-4, 2e-4, 2e-4]
    assert small_config(learning_rate=1e-4, lr_halve_every=4).learning_rate_at(50) == 1e-4  # never below its start
    assert small_config(lr_halve_every=0).learning_rate_at(10_000) == small_config().learning_rate
    trainer = Trainer(latin, config)
    trainer.train(5, progress=False)
    assert trainer.optimizer_g.param_groups[0]["lr"] == trainer.optimizer_d.param_groups[0]["lr"] == 5e-4


def test_a_checkpoint_without_the_new_fields_loads_with_the_recipe_it_was_trained_with():
    values = small_config().as_dict()
    for name in ("generator_updates", "category_loss", "init", "augment", "lr_halve_every"):
        del values[name]
    old = TrainingConfig.from_dict(values)
    assert (old.generator_updates, old.category_loss, old.init, old.augment, old.lr_halve_every) == (1, "softmax", "pytorch", 0, 0)


def test_zi2zi_recipe_changes_nothing_of_zi2zis():
    recipe = training.zi2zi_recipe()
    assert recipe.weights == LossWeights(l1=100, adversarial=1, category=1, constant=15)
    assert (recipe.generator_updates, recipe.category_loss, recipe.init, recipe.augment) == (2, "sigmoid", "normal", 0.2)
    assert (recipe.learning_rate, recipe.beta1, recipe.beta2, recipe.batch_size) == (1e-3, 0.5, 0.999, 16)


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


class Oracle(torch.nn.Module):
    """A 'generator' that answers every source glyph with the real target glyph."""

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    def forward(self, images, labels):
        from zi2zi_lessons.glyphs import to_tensor, to_uint8

        sources = to_uint8(images)
        index = [next(i for i, s in enumerate(self.dataset.source) if np.array_equal(s, image)) for image in sources]
        return to_tensor(self.dataset.targets[labels.numpy(), index])


def test_ssim_and_the_blank_page_share_mean_what_they_say(latin):
    from torchmetrics.functional.image import structural_similarity_index_measure

    perfect = training.evaluate(Oracle(latin), latin)
    assert perfect.generated_l1 == (0.0, 0.0) and perfect.ssim == pytest.approx((1.0, 1.0), abs=1e-6)
    assert perfect.beats_blank_share == (1.0, 1.0) and perfect.reduction == (1.0, 1.0)
    copy = training.evaluate(Copier(), latin)
    assert copy.ssim == pytest.approx(copy.copy_source_ssim, abs=1e-6)
    held = latin.indices("held_out")
    for f in range(latin.num_fonts):
        expected = structural_similarity_index_measure(
            torch.from_numpy(latin.source[held]).float()[:, None] / 127.5 - 1,
            torch.from_numpy(latin.targets[f, held]).float()[:, None] / 127.5 - 1, data_range=2.0)
        assert copy.copy_source_ssim[f] == pytest.approx(expected.item(), abs=1e-5)
        per_char = training.per_character_l1(latin, "held_out")
        expected_share = (per_char["copy source"][f] < per_char["blank page"][f]).mean()
        assert copy.beats_blank_share[f] == pytest.approx(expected_share)
    blank = training.evaluate(Blank(), latin)
    assert blank.beats_blank_share == (0.0, 0.0)  # equal is not better
    assert blank.ssim == pytest.approx(blank.blank_ssim, abs=1e-6) and all(value < 1 for value in blank.ssim)


def test_evaluation_as_json_has_every_number_per_font(latin):
    import json

    evaluation = training.evaluate(Copier(), latin)
    payload = json.loads(json.dumps(evaluation.to_json()))
    assert payload["characters"] == 3 and payload["split"] == "held_out"
    assert [font["name"] for font in payload["fonts"]] == list(latin.font_labels)
    for f, font in enumerate(payload["fonts"]):
        assert {"name", "l1", "copy_source_l1", "blank_l1", "ssim", "beats_blank_share"} <= set(font)
        assert (font["l1"], font["copy_source_l1"], font["blank_l1"], font["ssim"], font["beats_blank_share"]) == (
            evaluation.generated_l1[f], evaluation.copy_source_l1[f], evaluation.blank_l1[f], evaluation.ssim[f],
            evaluation.beats_blank_share[f])
    assert payload["overall"]["l1"] == pytest.approx(evaluation.overall_generated_l1)
    text = str(evaluation)
    assert "beats blank" in text and "SSIM" in text
    assert text.startswith("L1 on 3 held-out characters")  # the validation split of a training file


def test_evaluation_of_a_file_without_training_characters_says_unseen():
    unseen, _ = build_dataset(FONTS[0], FONTS[1:], "abcde", size=64, held_out_every=1)
    evaluation = training.evaluate(Copier(), unseen)
    assert evaluation.split == "held_out" and evaluation.to_json()["split"] == "held_out"  # the JSON keeps the split
    assert str(evaluation).startswith("L1 on 5 unseen characters") and "held-out" not in str(evaluation)


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
    assert not check_constant_loss(lambda g, s, f: None)
    assert "not written yet" in capsys.readouterr().out
    assert not check_constant_loss(lambda g, s, f: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_category_loss_checker_accepts_zi2zis_loss_and_names_each_typical_mistake(capsys):
    import torch.nn.functional as F

    from zi2zi_lessons.checks import check_category_loss

    def zi2zi(logits, labels):
        return F.binary_cross_entropy_with_logits(logits, F.one_hot(labels, logits.shape[1]).float())

    state = torch.get_rng_state()
    assert check_category_loss(zi2zi)
    assert capsys.readouterr().out.startswith("✓")
    assert torch.equal(torch.get_rng_state(), state)
    mistakes = {
        "softmax cross-entropy": lambda x, y: F.cross_entropy(x, y),
        "averages over the batch only": lambda x, y: F.binary_cross_entropy_with_logits(
            x, F.one_hot(y, 4).float(), reduction="none").sum(1).mean(),
        "sums everything": lambda x, y: F.binary_cross_entropy_with_logits(x, F.one_hot(y, 4).float(), reduction="sum"),
        "sigmoid twice": lambda x, y: F.binary_cross_entropy_with_logits(torch.sigmoid(x), F.one_hot(y, 4).float()),
        "not written yet": lambda x, y: None,
        "does not depend on the logits": lambda x, y: zi2zi(x.detach(), y),
        "raised ZeroDivisionError": lambda x, y: 1 / 0,
        "return one number": lambda x, y: F.binary_cross_entropy_with_logits(x, F.one_hot(y, 4).float(), reduction="none"),
        "expected": lambda x, y: zi2zi(x, y) * 2,
    }
    for hint, answer in mistakes.items():
        assert not check_category_loss(answer), hint
        out = capsys.readouterr().out
        assert out.startswith("✗") and hint in out, (hint, out)


def test_solutions_of_lesson_06_pass_their_checkers_and_train(latin, capsys):
    from zi2zi_lessons.checks import (check_category_loss, check_constant_loss, check_copy_baseline,
                                      check_recipe_comparison)
    from zi2zi_lessons.glyphs import load_glyphs

    solutions = load_solution_cells("06_train_a_tiny_zi2zi")
    assert check_copy_baseline(solutions.my_copy_l1, load_glyphs(), font_id=1)
    assert check_copy_baseline(solutions.copy_l1(latin, 1), latin, font_id=1)
    assert check_category_loss(solutions.my_category_loss)
    assert check_constant_loss(solutions.my_constant_loss)
    results = solutions.compare_with_zi2zi(latin, steps=2, seeds=(0, 1))
    assert sorted(results) == [("lesson", 0), ("lesson", 1), ("zi2zi", 0), ("zi2zi", 1)]
    for evaluation in results.values():
        assert len(evaluation.generated_l1) == latin.num_fonts
        assert all(math.isfinite(value) and value > 0 for value in evaluation.generated_l1)
    assert "zi2zi seed 1: validation L1" in capsys.readouterr().out
    assert check_recipe_comparison(solutions.compare_with_zi2zi)
    assert capsys.readouterr().out.startswith("✓ correct: your 4 runs")  # what the solution prints is not shown


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
