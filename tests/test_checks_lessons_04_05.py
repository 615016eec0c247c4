"""The exercise checkers of lessons 04 and 05: right answers pass, every typical wrong answer
fails with its own hint, and no answer, however odd, makes a checker raise."""

import numpy as np
import pytest
import torch

from zi2zi_lessons.checks import (
    check_diffusion_levels,
    check_matrix_bytes,
    check_parameter_change,
    check_seed002_parameters,
    check_up_conv_rule,
    seed002_attention_parameters,
)

from repo_scripts import load_solution_cells

CLASSIC_ATTENTION = dict(attention_levels=(6, 8))
CLASSIC_NONE_UNDER = dict(attention_levels=(6, 8), skip_under_attention="none")
CHANGE = -8_388_608  # levels 5 and 7: ConvTranspose2d(1024 -> 512, k4) becomes (512 -> 512)


def verdict(capsys, checker, *args, **kwargs):
    result = checker(*args, **kwargs)
    out = capsys.readouterr().out
    assert out.startswith("✓" if result else "✗"), out
    assert result in (True, False)
    return result, out


# ---------------------------------------------------------------- the solutions in the notebooks
def test_solutions_of_lesson_04_pass_their_checkers(capsys):
    solutions = load_solution_cells("04_removing_skips_under_attention")
    assert verdict(capsys, check_up_conv_rule, solutions.up_conv_in_channels)[0]
    assert verdict(capsys, check_parameter_change, solutions.parameter_change, CLASSIC_ATTENTION, CLASSIC_NONE_UNDER)[0]


def test_solutions_of_lesson_05_pass_their_checkers(capsys):
    solutions = load_solution_cells("05_where_attention_goes")
    assert verdict(capsys, check_matrix_bytes, solutions.matrix_bytes)[0]
    assert verdict(capsys, check_diffusion_levels, solutions.levels_taking_the_diffusion_block, ngf=24)[0]
    assert verdict(capsys, check_seed002_parameters, solutions.seed002_added_parameters)[0]


# ---------------------------------------------------------------- lesson 04, exercise 1
def right_rule(config):
    channels = {}
    for level in range(1, config.num_downs + 1):
        if level == config.num_downs:
            channels[level] = config.level_channels(level)[1] + config.embedding_dim
        else:
            child_input, _, child_outer = config.level_channels(level + 1)
            channels[level] = child_input + child_outer if config.level_skip(level + 1) == "concat" else child_outer
    return channels


def own_flag_rule(config):  # the second attempt of lesson 04
    return {
        level: config.level_channels(level)[1] + config.embedding_dim if level == config.num_downs
        else config.level_channels(level)[1] * (2 if config.level_skip(level) == "concat" else 1)
        for level in range(1, config.num_downs + 1)
    }


@pytest.mark.parametrize("wrong,hint", [
    (own_flag_rule, "own skip"),
    (lambda config: {**right_rule(config), config.num_downs: config.level_channels(config.num_downs)[1]}, "font embedding"),
    (lambda config: {level: config.level_channels(level + 1)[2] if level < config.num_downs else value
                     for level, value in right_rule(config).items()}, "concatenates"),
    (lambda config: {level - 1: value for level, value in right_rule(config).items()}, "numbered from 1"),
    (lambda config: {level: value for level, value in right_rule(config).items() if level != 3}, "no entry for level(s) [3]"),
    # accepted before: every level right, plus a level the generator does not have (a loop one step too long)
    (lambda config: {**right_rule(config), config.num_downs + 1: 128}, "one entry per level, no more"),
    (lambda config: {**right_rule(config), 0: 64}, "one entry per level, no more"),
    (lambda config: {}, "not written yet"),
    (lambda config: None, "not written yet"),
    (lambda config: list(right_rule(config).values()), "return a dict"),
    (lambda config: 1 / 0, "ZeroDivisionError"),
    (None, "give a function"),
])
def test_up_conv_rule_rejects_typical_mistakes(capsys, wrong, hint):
    result, out = verdict(capsys, check_up_conv_rule, wrong)
    assert not result and hint in out


def test_up_conv_rule_takes_numpy_and_float_widths(capsys):
    assert verdict(capsys, check_up_conv_rule, lambda config: {np.int64(k): float(v) for k, v in right_rule(config).items()})[0]


def test_the_exercise_template_is_not_accepted(capsys):
    def template(config):
        channels = {}
        ...
        return channels

    result, out = verdict(capsys, check_up_conv_rule, template)
    assert not result and "not written yet" in out


# ---------------------------------------------------------------- lesson 04, exercise 2
@pytest.mark.parametrize("answer", [CHANGE, np.int64(CHANGE), float(CHANGE), torch.tensor(CHANGE)])
def test_parameter_change_accepts_the_number_in_any_numeric_form(capsys, answer):
    assert verdict(capsys, check_parameter_change, answer, CLASSIC_ATTENTION, CLASSIC_NONE_UNDER)[0]


@pytest.mark.parametrize("answer,hint", [
    (-CHANGE, "wrong sign"),
    (CHANGE // 2, "two parents narrow"),
    (2 * CHANGE, "twice the change"),
    (CHANGE * 9 // 16, "3x3 kernels"),
    (CHANGE + 2 * 328_321, "cancel"),
    (-1_234_567, "which up-convolutions change"),
    (..., "not written yet"),
    (None, "not written yet"),
    ("-8M", "whole number"),
    (-8.4e6 + 0.5, "whole number"),
    (True, "whole number"),
])
def test_parameter_change_rejects_typical_mistakes(capsys, answer, hint):
    result, out = verdict(capsys, check_parameter_change, answer, CLASSIC_ATTENTION, CLASSIC_NONE_UNDER)
    assert not result and hint in out


def test_parameter_change_defaults_to_the_exercise(capsys):
    assert verdict(capsys, check_parameter_change, CHANGE)[0]


@pytest.mark.parametrize("baseline,candidate,answer", [
    # accepted before: the template's dicts edited, and the answer right for the edited pair
    (dict(attention_levels=(6, 7)), dict(attention_levels=(6, 7), skip_under_attention="none"), CHANGE),
    (CLASSIC_ATTENTION, dict(attention_levels=(6, 8), skip_under_attention="add"), CHANGE),
    (CLASSIC_ATTENTION, CLASSIC_ATTENTION, 0),
])
def test_parameter_change_is_about_the_exercises_generators(capsys, baseline, candidate, answer):
    result, out = verdict(capsys, check_parameter_change, answer, baseline, candidate)
    assert not result and "restore the template's two dicts" in out, out


def test_parameter_change_takes_the_same_generators_however_written(capsys):
    same_candidate = dict(attention_levels=[8, 6], level_skips={6: "none", 8: "none"})
    assert verdict(capsys, check_parameter_change, CHANGE, CLASSIC_ATTENTION, same_candidate)[0]


# ---------------------------------------------------------------- lesson 05, exercise 1
@pytest.mark.parametrize("wrong,hint", [
    (lambda side, batch, per_entry: batch * side * side * per_entry, "one entry per pixel"),
    (lambda side, batch, per_entry: side ** 4 * per_entry, "multiply by the batch"),
    (lambda side, batch, per_entry: batch * side ** 4, "multiply by the bytes"),
    (lambda side, batch, per_entry: batch * side ** 4 * per_entry + 1, "batch x N x N"),
    (lambda side, batch, per_entry: None, "not written yet"),
    (lambda side, batch, per_entry: "1 GiB", "'1 GiB'"),
    (lambda side: side, "TypeError"),
    (42, "give a function"),
])
def test_matrix_bytes_rejects_typical_mistakes(capsys, wrong, hint):
    result, out = verdict(capsys, check_matrix_bytes, wrong)
    assert not result and hint in out


def test_matrix_bytes_accepts_a_tensor_result(capsys):
    assert verdict(capsys, check_matrix_bytes, lambda side, batch, b: torch.tensor(batch * side ** 4 * b))[0]


# ---------------------------------------------------------------- lesson 05, exercise 2
@pytest.mark.parametrize("answer,hint", [
    (set(range(1, 9)), "level 1 has 16 channels and cannot take it (16 % 32 groups = 16)"),
    ({4, 5}, "level 2 has 32 channels, a multiple of 32 and of 8: it fits"),
    ({0, 2, 3}, "levels 1..8"),
    ({"2", 3}, "give level numbers"),
    ("2345678", "give a set"),
    ({2: True}, "give a set"),
    (..., "not written yet"),
    (None, "not written yet"),
    (5, "give a set"),
])
def test_diffusion_levels_rejects_typical_mistakes(capsys, answer, hint):
    result, out = verdict(capsys, check_diffusion_levels, answer, ngf=16)
    assert not result and hint in out


def test_diffusion_levels_at_ngf_24_as_the_lesson_asks(capsys):
    # widths 24, 48, 96, 192...: 8 heads take every level, GroupNorm(32) only levels 3-8
    assert verdict(capsys, check_diffusion_levels, {3, 4, 5, 6, 7, 8}, ngf=24)[0]
    result, out = verdict(capsys, check_diffusion_levels, set(range(1, 9)), ngf=24)  # the heads checked alone
    assert not result and "level 1 has 24 channels and cannot take it" in out and "level 2 has 48 channels" in out
    result, out = verdict(capsys, check_diffusion_levels, {2, 3, 4, 5, 6, 7, 8}, ngf=24)  # ngf=16's answer, copied
    assert not result and "level 2 has 48 channels" in out


def test_diffusion_levels_accepts_any_collection_of_the_right_levels(capsys):
    assert verdict(capsys, check_diffusion_levels, [2, 3, 4, 5, 6, 7, 8], ngf=16)[0]
    assert verdict(capsys, check_diffusion_levels, np.arange(2, 9), ngf=16)[0]


# ---------------------------------------------------------------- lesson 05, exercise 3
def test_seed002_parameters_are_the_sum_of_its_blocks():
    widths = (64, 128, 256, 512, 512, 512, 512)  # outer channels of levels 2..8
    per_block = [2 * (c * (c // 8) + c // 8) + c * c + c + 1 for c in widths]
    assert seed002_attention_parameters() == sum(per_block) + 3 == 1_421_370


@pytest.mark.parametrize("answer,hint", [
    (1_421_367, "outermost block gets one too"),
    (sum(2 * (c * (c // 8) + c // 8) + c * c + c + 1 for c in (64, 128, 256, 512, 512, 512, 512, 512)), "inner channels"),
    (8 * 328_321, "levels 1-4 are narrower"),
    (1_421_370 - 8, "one gamma"),
    (sum(2 * c * (c // 8) + c * c + 1 for c in (1, 64, 128, 256, 512, 512, 512, 512)), "bias"),
    (1_400_000, "per block"),
    ("1.4M", "whole number"),
    (..., "not written yet"),
])
def test_seed002_parameters_reject_typical_mistakes(capsys, answer, hint):
    result, out = verdict(capsys, check_seed002_parameters, answer)
    assert not result and hint in out


# ---------------------------------------------------------------- no answer makes a checker raise
class Hostile:
    """An answer whose every operation raises."""

    def __eq__(self, other):
        raise RuntimeError("no comparing")

    def __hash__(self):
        return 0

    def __iter__(self):
        raise RuntimeError("no iterating")

    def __index__(self):
        raise RuntimeError("no index")

    def __float__(self):
        raise RuntimeError("no float")


ODD_ANSWERS = [None, ..., True, 1.5, float("nan"), float("inf"), -0.0, "x", b"x", [], {}, set(), (1,), object(),
               Hostile(), torch.ones(3), np.array([1, 2]), np.float64("nan"), lambda *a: Hostile(), lambda *a: 1 / 0,
               lambda *a: {1: Hostile()}, lambda *a: {Hostile(): 1}, lambda *a: np.ones(2), lambda *a: torch.ones(2)]


@pytest.mark.parametrize("answer", ODD_ANSWERS, ids=[type(a).__name__ for a in ODD_ANSWERS])
def test_no_answer_makes_a_checker_raise(capsys, answer):
    assert verdict(capsys, check_up_conv_rule, answer)[0] is False
    assert verdict(capsys, check_parameter_change, answer, CLASSIC_ATTENTION, CLASSIC_NONE_UNDER)[0] is False
    assert verdict(capsys, check_matrix_bytes, answer)[0] is False
    assert verdict(capsys, check_diffusion_levels, answer, ngf=16)[0] is False
    assert verdict(capsys, check_seed002_parameters, answer)[0] is False
