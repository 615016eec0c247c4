"""Lesson 07's checkers: the right answers pass, the typical wrong ones get a specific verdict."""

import numpy as np
import pytest
import torch

from zi2zi_lessons import checks


def right_skip_reader(state_dict, level):
    weight = state_dict["model." + "submodule." * (level - 2) + "up.1.weight"]
    reads = weight.shape[0] if weight.shape[2:] == (4, 4) else weight.shape[1]
    child_down = state_dict["model." + "submodule." * (level - 1) + "down.1.weight"]
    return "concat" if reads == 2 * child_down.shape[1] else "add"


def own_up_conv_reader(state_dict, level):  # reads the level's own up-convolution
    weight = state_dict["model." + "submodule." * (level - 1) + "up.1.weight"]
    reads = weight.shape[0] if weight.shape[2:] == (4, 4) else weight.shape[1]
    return "concat" if reads == 2 * weight.shape[1 if weight.shape[2:] == (4, 4) else 0] else "add"


def output_axis_reader(state_dict, level):  # always the first axis, also for Conv2d (out, in, k, k)
    weight = state_dict["model." + "submodule." * (level - 2) + "up.1.weight"]
    child_down = state_dict["model." + "submodule." * (level - 1) + "down.1.weight"]
    return "concat" if weight.shape[0] == 2 * child_down.shape[1] else "add"


def test_skip_reader(capsys):
    assert checks.check_skip_reader(right_skip_reader)
    assert capsys.readouterr().out.startswith("✓")
    for wrong, message in ((own_up_conv_reader, "PARENT's up-convolution"), (output_axis_reader, "Conv2d stores (out, in, k, k)"),
                           (lambda s, l: None, "not written yet"), (lambda s, l: 1 / 0, "raised ZeroDivisionError"),
                           (lambda s, l: "concat", "adds, you said 'concat'")):
        assert not checks.check_skip_reader(wrong)
        out = capsys.readouterr().out
        assert out.startswith("✗") and message in out, out


def test_surgery_parameter_change(capsys):
    measured, parts = checks.surgery_parameter_change_reference()
    assert measured == -(16 * 8 * 16 + 32 * 16 * 16)  # level 2 reads 16 fewer of 8 outputs, level 3 32 fewer of 16; 4x4 kernels
    assert checks.check_surgery_parameter_change(measured)
    assert capsys.readouterr().out.startswith("✓")
    for wrong, message in ((-measured, "wrong sign"), (parts[0][1], "only level 2's"), (measured * 9 // 16, "3x3 kernels"),
                           (None, "not written yet"), (..., "not written yet"), ("-10240", "integer"), (-1, "is not it")):
        assert not checks.check_surgery_parameter_change(wrong)
        out = capsys.readouterr().out
        assert out.startswith("✗") and message in out, (wrong, out)


@pytest.mark.parametrize("form", [int, np.int64, float, torch.tensor])
def test_surgery_parameter_change_takes_the_number_in_any_numeric_form(form, capsys):
    # np.prod of the weights' shapes gives a NumPy integer: a right answer, rejected before
    measured, _ = checks.surgery_parameter_change_reference()
    assert checks.check_surgery_parameter_change(form(measured))
    assert capsys.readouterr().out.startswith("✓")


@pytest.mark.parametrize("wrong", [-10240.5, True, np.array([-10240, 0])])
def test_surgery_parameter_change_still_wants_one_whole_number(wrong, capsys):
    assert not checks.check_surgery_parameter_change(wrong)
    out = capsys.readouterr().out
    assert out.startswith("✗") and "integer" in out, out


def right_cut(weight, skip_channels, transposed):
    return weight[skip_channels:] if transposed else weight[:, skip_channels:]


@pytest.mark.parametrize("wrong, message", [
    (lambda w, n, t: w[: w.shape[0] - n] if t else w[:, : w.shape[1] - n], "cat([x, up]) puts x FIRST"),
    (lambda w, n, t: w[:, n:], "ConvTranspose2d stores (in, out, k, k)"),
    (lambda w, n, t: w[n:] if t else w[n:], "Conv2d stores (out, in, k, k)"),
    (lambda w, n, t: None, "not written yet"),
    (lambda w, n, t: (w[n:] if t else w[:, n:]).numpy(), "return a tensor"),
    (lambda w, n, t: (w[n:] if t else w[:, n:]) * 1.5, "other values"),
])
def test_drop_skip_channels(wrong, message, capsys):
    assert not checks.check_drop_skip_channels(wrong)
    out = capsys.readouterr().out
    assert out.startswith("✗") and message in out, out


def test_drop_skip_channels_right(capsys):
    assert checks.check_drop_skip_channels(right_cut)
    out = capsys.readouterr().out
    assert out.startswith("✓") and "forward and backward" in out
    torch.manual_seed(0)  # the checker must not depend on the caller's random state
    assert checks.check_drop_skip_channels(right_cut)


def test_the_lessons_solution_cells_pass_their_checkers(capsys):
    from repo_scripts import load_solution_cells

    solutions = load_solution_cells("07_open_a_real_zi2zi")
    assert checks.check_skip_reader(solutions.skip_of_level)
    assert checks.check_surgery_parameter_change(solutions.surgery_parameter_change)
    assert checks.check_drop_skip_channels(solutions.drop_skip_channels)
    assert capsys.readouterr().out.count("✓") == 3
