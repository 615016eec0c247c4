"""Skip surgery: the surgered network is the original with zeros in the removed skips."""

import pytest
import torch

from zi2zi_lessons import UNetGenerator
from zi2zi_lessons.anatomy import count_parameters
from zi2zi_lessons.surgery import dropped_channels_table, remove_skips, skip_removed_config, zeroed_skips

SMALL = dict(num_downs=5, ngf=8, embedding_num=3, embedding_dim=8, attention_levels=(3, 4))


def trained_looking(**config):
    torch.manual_seed(0)
    model = UNetGenerator(**{**SMALL, **config})
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
        model(torch.rand(4, 1, 32, 32) * 2 - 1, torch.tensor([0, 1, 2, 0]))  # batch statistics
    return model.eval()


@pytest.mark.parametrize("config", [
    dict(skip="concat", upsample="transpose"),
    dict(skip="concat", upsample="pixelshuffle", norm="instance"),
    dict(skip="add", upsample="pixelshuffle"),
    dict(skip="add_activated", upsample="transpose", level_skips={2: "concat"}),
])
def test_surgered_model_is_the_original_with_zeros_in_the_removed_skips(config):
    model = trained_looking(**config)
    surgered, report = remove_skips(model, (3, 4))
    images, labels = torch.rand(2, 1, 32, 32) * 2 - 1, torch.tensor([1, 2])
    with torch.no_grad():
        after = surgered(images, labels)
        before = model(images, labels)
        with zeroed_skips(model, (3, 4)):
            zeroed = model(images, labels)
        assert torch.equal(model(images, labels), before)  # the join is restored
    assert torch.allclose(after, zeroed, atol=1e-6)
    assert not torch.allclose(after, before, atol=1e-3)  # the skips did carry something
    assert [block.skip for block in surgered.blocks()][2:4] == ["none", "none"]
    assert not surgered.training


def test_concat_surgery_drops_the_first_input_channels_of_each_parent():
    model = trained_looking(skip="concat", upsample="pixelshuffle")
    surgered, report = remove_skips(model, (3, 4))
    # level 3's input x has 16 channels (level 2 encodes 2 * ngf), level 4's 32.
    assert [(item.parent, item.up_in_before, item.up_in_after, item.dropped) for item in report] == \
        [(2, 32, 16, (0, 16)), (3, 64, 32, (0, 32))]
    old = dict(model.named_parameters())["model.submodule.up.1.weight"]
    new = dict(surgered.named_parameters())["model.submodule.up.1.weight"]
    assert torch.equal(new, old[:, 16:])  # Conv2d before PixelShuffle: (out, in, 3, 3)
    parent_outputs = {2: 4 * 8 * 3 * 3, 3: 4 * 16 * 3 * 3}  # PixelShuffle convs: 4 * outer outputs, 3x3
    assert count_parameters(model) - count_parameters(surgered) == 16 * parent_outputs[2] + 32 * parent_outputs[3]
    table = dropped_channels_table(report)
    assert table.column("channels dropped") == ["0..15", "0..31"]


def test_add_surgery_changes_no_weight():
    model = trained_looking(skip="add", upsample="pixelshuffle")
    surgered, report = remove_skips(model, (3, 4))
    assert all(item.dropped == (0, 0) for item in report)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), surgered.state_dict().values()))
    assert dropped_channels_table(report).column("channels dropped") == ["none", "none"]


def test_transposed_parent_drops_along_its_first_axis():
    model = trained_looking(skip="concat", upsample="transpose")
    surgered, _ = remove_skips(model, (4,))
    old = model.state_dict()["model.submodule.submodule.up.1.weight"]  # ConvTranspose2d (in, out, 4, 4)
    assert torch.equal(surgered.state_dict()["model.submodule.submodule.up.1.weight"], old[32:])


def test_bad_levels_are_refused():
    model = trained_looking()
    with pytest.raises(ValueError, match=r"level 1 has no skip to remove \(skips exist on levels 2..5\)"):
        remove_skips(model, (1,))
    with pytest.raises(ValueError, match="model must be a UNetGenerator"):
        remove_skips(torch.nn.Linear(2, 2), (3,))
    assert skip_removed_config(model.config, (5,)).level_skip(5) == "none"


def test_the_experiment_script_runs_and_writes_its_results(tmp_path):
    """A tiny configuration on 40 of the shipped characters (same fonts, so the reference fits)."""
    import dataclasses
    import json

    import numpy as np

    from repo_scripts import load_benchmark
    from zi2zi_lessons import glyphs

    shipped = glyphs.load_glyphs()
    keep = slice(0, 40)
    small = dataclasses.replace(shipped, characters=shipped.characters[keep], source=shipped.source[keep],
                                targets=shipped.targets[:, keep], held_out=shipped.held_out[keep])
    small.save(tmp_path / "small.npz")
    unseen = dataclasses.replace(small, characters=shipped.characters[40:45], source=shipped.source[40:45],
                                 targets=shipped.targets[:, 40:45], held_out=np.ones(5, dtype=bool))
    unseen.save(tmp_path / "unseen.npz")
    output = tmp_path / "surgery.json"
    results = load_benchmark("skip_surgery").main(
        ["--steps", "1", "--seeds", "3", "--data", str(tmp_path / "small.npz"), "--eval-data", str(tmp_path / "unseen.npz"),
         "--output", str(output), "--threads", "1"])
    written = json.loads(output.read_text())
    assert written == json.loads(json.dumps(results))
    assert written["levels"] == list(written["generator"]["attention_levels"]) and written["characters"] == 5
    assert written["evaluation_data"] == str(tmp_path / "unseen.npz")
    assert written["command"].startswith("python benchmarks/skip_surgery.py --steps 1 --seeds 3")
    for arm in ("fine_tuned", "reference_fine_tuned", "scratch"):
        assert [run["seed"] for run in written[arm]] == [3] and len(written[arm][0]["per_font"]) == 3
    assert written["after_surgery_l1"]["overall"] != written["reference_l1"]["overall"]


def test_the_experiment_refuses_evaluation_data_in_other_fonts(tmp_path):
    import dataclasses

    from zi2zi_lessons import glyphs, training
    from zi2zi_lessons.surgery import surgery_experiment

    shipped = glyphs.load_glyphs()
    other = dataclasses.replace(shipped, settings={**shipped.settings, "em_fraction": 0.5})
    with pytest.raises(ValueError, match="the evaluation data differ from the training data"):
        surgery_experiment(training.REFERENCE_CHECKPOINTS["attention"], shipped, 1, (0,), evaluation_data=other)


def test_l1_per_font_is_the_l1_that_evaluate_reports():
    import dataclasses

    from zi2zi_lessons import glyphs, training
    from zi2zi_lessons.surgery import l1_per_font

    shipped = glyphs.load_glyphs()
    small = dataclasses.replace(shipped, characters=shipped.characters[:30], source=shipped.source[:30],
                                targets=shipped.targets[:, :30], held_out=shipped.held_out[:30])
    generator, _ = training.load_generator(training.REFERENCE_CHECKPOINTS["attention"])
    expected = training.evaluate(generator, small, "all").generated_l1
    assert l1_per_font(generator, small, "all") == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="no 'held_out' characters"):
        l1_per_font(generator, dataclasses.replace(small, held_out=small.held_out & False), "held_out")


def test_evaluation_set_names_what_the_characters_are_to_the_training_data():
    import dataclasses

    import numpy as np

    from zi2zi_lessons import glyphs
    from zi2zi_lessons.surgery import evaluation_set

    shipped = glyphs.load_glyphs()
    held = np.flatnonzero(shipped.held_out)[:3]
    trained = np.flatnonzero(~shipped.held_out)[:2]

    def subset(indices, held_out):
        return dataclasses.replace(shipped, characters="".join(shipped.characters[i] for i in indices),
                                   source=shipped.source[indices], targets=shipped.targets[:, indices],
                                   held_out=np.full(len(indices), held_out))

    small = subset(np.concatenate([held, trained]), True)
    small.held_out[len(held):] = False
    unseen = glyphs.load_glyphs(glyphs.UNSEEN_DATA)
    assert evaluation_set(shipped, unseen, "held_out") == ("unseen", 0)
    assert evaluation_set(shipped, shipped, "held_out") == ("validation", 0)
    assert evaluation_set(small, subset(held, True), "held_out") == ("validation", 0)
    assert evaluation_set(small, subset(trained, True), "held_out") == ("held_out (2 trained on)", 2)
    assert evaluation_set(shipped, shipped, "all") == (f"all ({int((~shipped.held_out).sum()):,} trained on)",
                                                       int((~shipped.held_out).sum()))
    mixed = dataclasses.replace(unseen, characters=unseen.characters[:2] + shipped.characters[held[0]],
                                source=np.concatenate([unseen.source[:2], shipped.source[held[:1]]]),
                                targets=np.concatenate([unseen.targets[:, :2], shipped.targets[:, held[:1]]], axis=1),
                                held_out=np.ones(3, dtype=bool))
    assert evaluation_set(shipped, mixed, "held_out") == ("validation and unseen", 0)
    with pytest.raises(ValueError, match="split='train'.*no such characters"):
        evaluation_set(shipped, unseen, "train")
