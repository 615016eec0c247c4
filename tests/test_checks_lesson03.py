"""The lesson 03 exercise checkers: predict a level's multiply-adds; reach a parameter budget
with skips and attention. They accept the notebook's solutions and name typical wrong answers."""

import numpy as np
import pytest

from zi2zi_lessons import UNetGenerator, anatomy
from zi2zi_lessons.checks import check_multiply_adds, check_parameter_budget, parameter_budget

from repo_scripts import load_notebook_cells


def test_budget_is_ninety_percent_of_the_classic_generator():
    assert parameter_budget() == int(0.9 * 55_461_505) == 49_915_354


@pytest.mark.parametrize(
    "answer",
    [
        dict(attention_levels=(6, 7), level_skips={6: "none", 7: "none"}),
        dict(attention_levels=(5, 6), level_skips={5: "add", 6: "add"}),  # add saves as much as none
        dict(attention_levels=(5, 6, 7), skip_under_attention="none"),
    ],
)
def test_accepts_right_answers(answer, capsys):
    assert check_parameter_budget(answer)
    assert capsys.readouterr().out.startswith("✓ right:")


def test_accepts_a_config_and_a_model(capsys):
    answer = dict(attention_levels=(6, 7), level_skips={7: "none", 8: "none"})
    assert check_parameter_budget(anatomy.as_config(answer))
    assert check_parameter_budget(anatomy.build_meta(answer))
    assert "47,729,539 parameters" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer,expected",
    [
        # attention added, no skip removed (the seed's first attempt): over budget
        (dict(attention_levels=(6, 7)), "56,118,147 parameters is 6,202,793 over the budget"),
        # one skip removed is not enough
        (dict(attention_levels=(6, 7), level_skips={7: "none"}), "2,008,489 over the budget"),
        # the cheap way: drop the detail skips
        (dict(attention_levels=(6, 7), level_skips={2: "none", 3: "none", 4: "none"}),
         "the detail levels must keep concatenated skips, but level 2: 'none', level 3: 'none', level 4: 'none'"),
        (dict(attention_levels=(6, 7), skip="add"), "level 4: 'add'"),
        # attention on the 1x1 bottleneck
        (dict(attention_levels=(7, 8), level_skips={7: "none", 8: "none"}), "attention on level 8"),
        (dict(attention_levels=(3, 6), level_skips={6: "none", 7: "none"}), "attention on level(s) [3]"),
        # shrinking the whole network instead
        (dict(attention_levels=(6, 7), ngf=48), "ngf is 48; the task keeps the classic 64 (it saves 24,350,176 parameters by shrinking"),
        # PixelShuffle grows the model: no talk of shrinking
        (dict(attention_levels=(6, 7), upsample="pixelshuffle", level_skips={6: "none", 7: "none"}),
         "upsample is 'pixelshuffle'; the task keeps the classic 'transpose' (it adds "),
        (dict(attention_levels=(6, 7), level_skips={1: "none"}), "does not build a generator: level_skips={1: 'none'}"),
        ("attention on 6 and 7", "does not build a generator: expected a UNetGenerator"),
        (None, "does not build a generator"),
    ],
)
def test_rejects_typical_wrong_answers(answer, expected, capsys):
    assert not check_parameter_budget(answer)
    out = capsys.readouterr().out
    assert out.startswith("✗ not yet") and expected in out


def test_does_not_touch_a_real_model():
    model = UNetGenerator(num_downs=5, ngf=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert not check_parameter_budget(model)
    assert all((before[k] == v).all() for k, v in model.state_dict().items())


def test_growing_the_network_is_not_called_shrinking(capsys):
    assert not check_parameter_budget(dict(attention_levels=(6, 7), ngf=96, level_skips={6: "none", 7: "none"}))
    out = capsys.readouterr().out
    assert "ngf is 96" in out and "it adds" in out and "shrink" not in out.split("ngf is 96")[1].split("\n")[0]


def test_the_notebook_budget_solution_passes_and_lists_every_tied_answer(capsys):
    solutions = load_notebook_cells("03_unet_generator", "solution")
    out = capsys.readouterr().out
    assert "the largest total that fits is 49,826,691, reached by 9 of them" in out
    assert len(solutions.ties) == 9 and ((5, 6), (5, 6)) in solutions.ties
    for attention, removed in solutions.ties:  # every tie is a right answer
        assert check_parameter_budget(dict(attention_levels=attention, level_skips={level: "add" for level in removed}))
    assert check_parameter_budget(solutions.answer)


def test_the_notebook_budget_template_is_judged(capsys):
    template = load_notebook_cells("03_unet_generator", "exercise")
    assert not check_parameter_budget(template.answer)
    assert "6,202,793 over the budget" in capsys.readouterr().out


# ---------------------------------------------------------------- multiply-adds of level 5 at 512x512
DOWN, UP = 16 * 16 * 16 * 512 * 512, 16 * 16 * 16 * 1024 * 512  # 1,073,741,824 and 2,147,483,648


def test_the_notebook_multiply_add_predictions_pass(capsys):
    solutions = load_notebook_cells("03_unet_generator", "solution")
    capsys.readouterr()
    assert solutions.predictions == {"down_conv": DOWN, "up_conv": UP}
    assert check_multiply_adds(solutions.predictions)
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize(
    "answers,expected_words",
    [
        ({"down_conv": DOWN, "up_conv": 4 * UP}, "this is torchinfo's count"),
        ({"down_conv": DOWN, "up_conv": UP // 2}, "takes 1024 channels"),
        ({"down_conv": 2 * DOWN, "up_conv": UP}, "that counts FLOPs"),
        ({"down_conv": 32 * 32 * 16 * 512 * 512, "up_conv": UP}, "each output pixel (16x16 of them)"),
        ({"down_conv": None, "up_conv": UP}, "down_conv: not filled in"),
        ({"down_conv": 2.5e8, "up_conv": UP}, "give a whole number"),
        (None, "answers must be a dict"),
        # the 256x256 counts printed by section 3's table: right for another image size
        ({"down_conv": 268_435_456, "up_conv": UP}, "that is the count at 256x256"),
        ({"down_conv": DOWN, "up_conv": 536_870_912}, "that is the count at 256x256"),
    ],
)
def test_multiply_add_mistakes_are_named(answers, expected_words, capsys):
    assert not check_multiply_adds(answers)
    out = capsys.readouterr().out
    assert expected_words in out, out


def test_numpy_integers_are_whole_numbers(capsys):
    # np.prod and friends return NumPy integers: a right count is right whatever integer type holds it
    assert check_multiply_adds({"down_conv": np.int64(DOWN), "up_conv": np.prod([16, 16, 16, 1024, 512])})


def test_the_notebook_multiply_add_template_is_judged(capsys):
    template = load_notebook_cells("03_unet_generator", "exercise")
    assert not check_multiply_adds(template.predictions)
    assert capsys.readouterr().out.count("not filled in") == 2
