"""The lesson 03 exercise checker: reach a parameter budget with skips and attention."""

import pytest

from zi2zi_lessons import UNetGenerator, anatomy
from zi2zi_lessons.checks import check_parameter_budget, parameter_budget


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
    assert capsys.readouterr().out.startswith("Right:")


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
        (dict(attention_levels=(6, 7), ngf=48), "ngf is 48; the task keeps the classic 64"),
        (dict(attention_levels=(6, 7), upsample="pixelshuffle", level_skips={6: "none", 7: "none"}), "upsample is 'pixelshuffle'"),
        (dict(attention_levels=(6, 7), level_skips={1: "none"}), "does not build a generator: level_skips={1: 'none'}"),
        ("attention on 6 and 7", "does not build a generator: expected a UNetGenerator"),
    ],
)
def test_rejects_typical_wrong_answers(answer, expected, capsys):
    assert not check_parameter_budget(answer)
    out = capsys.readouterr().out
    assert out.startswith("Not yet") and expected in out


def test_does_not_touch_a_real_model():
    model = UNetGenerator(num_downs=5, ngf=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert not check_parameter_budget(model)
    assert all((before[k] == v).all() for k, v in model.state_dict().items())
