"""The checkers of lessons 01 and 02 accept the solutions and reject typical mistakes,
naming what was off."""

import copy
import math

import pytest
import torch
from torch import nn

from zi2zi_lessons.checks import (
    CHANNEL_FIELDS,
    check_block_channels,
    check_innermost_up_fix,
    check_self_attention,
)

from repo_scripts import load_solution

def verdict(capsys, checker, *args, **kwargs):
    passed = checker(*args, **kwargs)
    return passed, capsys.readouterr().out


# ---------------------------------------------------------------- lesson 01: the SAGAN block
class Sagan(nn.Module):
    """A configurable hand-written block: each flag is one typical mistake."""

    softmax_dim = -1
    transpose_weights = True
    residual = True
    use_gamma = True
    energy_scale = 1.0
    key_channels_divisor = 8
    gamma_start = 0.0
    bias = True
    extra_output_conv = False

    def __init__(self, channels):
        super().__init__()
        self.query = nn.Conv2d(channels, channels // 8, 1, bias=self.bias)
        self.key = nn.Conv2d(channels, channels // self.key_channels_divisor, 1, bias=self.bias)
        self.value = nn.Conv2d(channels, channels, 1, bias=self.bias)
        self.gamma = nn.Parameter(torch.full((1,), self.gamma_start))
        if self.extra_output_conv:
            self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        q = self.query(x).reshape(b, -1, h * w).transpose(1, 2)
        k = self.key(x).reshape(b, -1, h * w)
        v = self.value(x).reshape(b, c, h * w)
        weights = torch.softmax(torch.bmm(q, k) * self.energy_scale, dim=self.softmax_dim)
        out = torch.bmm(v, weights.transpose(1, 2) if self.transpose_weights else weights).reshape(b, c, h, w)
        if self.extra_output_conv:
            out = self.out(out)
        out = self.gamma * out if self.use_gamma else out
        return out + x if self.residual else out


def mistake(**flags):
    return type("Mistake", (Sagan,), flags)


def test_self_attention_checker_accepts_the_solution(capsys):
    passed, out = verdict(capsys, check_self_attention, load_solution("lesson_01_self_attention").SAGANBlock)
    assert passed and out.startswith("✓ correct")


def test_self_attention_checker_accepts_the_reference_block_and_a_scaled_block(capsys):
    from zi2zi_lessons import SelfAttention

    assert verdict(capsys, check_self_attention, SelfAttention)[0]
    assert verdict(capsys, check_self_attention, lambda c: SelfAttention(c, scaled=True), scaled=True)[0]


@pytest.mark.parametrize(
    "wrong,expected_words",
    [
        (mistake(softmax_dim=1), "softmax runs over the queries"),
        (mistake(transpose_weights=False), "untransposed"),
        (mistake(residual=False), "residual + x is missing"),
        (mistake(use_gamma=False), "is gamma multiplying"),
        (mistake(gamma_start=1.0), "gamma starts at 1"),
        (mistake(energy_scale=1 / math.sqrt(8)), "divided by sqrt(C/8)"),  # 8 key channels at C=64
        (mistake(key_channels_divisor=1), "key.weight has shape (64, 64, 1, 1), expected (8, 64, 1, 1)"),
        (mistake(bias=False), "no query.bias"),
        (mistake(extra_output_conv=True), "has 9,361 parameters, expected 5,201"),
    ],
)
def test_self_attention_checker_rejects_typical_mistakes(capsys, wrong, expected_words):
    passed, out = verdict(capsys, check_self_attention, wrong)
    assert not passed
    assert out.startswith("✗") and expected_words in out, out


def test_scaled_energy_is_judged_against_the_right_reference(capsys):
    # An unscaled block is wrong when the scaled one is asked for, and the verdict says so.
    passed, out = verdict(capsys, check_self_attention, Sagan, scaled=True)
    assert not passed and "not divided by sqrt(C/8)" in out


def test_self_attention_checker_reports_learner_errors_instead_of_raising(capsys):
    class Unfinished(Sagan):
        def forward(self, x):
            raise NotImplementedError("fill in forward")

    passed, out = verdict(capsys, check_self_attention, Unfinished)
    assert not passed and "NotImplementedError: fill in forward" in out

    passed, out = verdict(capsys, check_self_attention, lambda c: nn.Identity())
    assert not passed and "no submodule 'query'" in out


# ---------------------------------------------------------------- lesson 02: channel counts
def test_channel_checker_accepts_the_solution(capsys):
    passed, out = verdict(capsys, check_block_channels, load_solution("lesson_02_skip_block").CHANNEL_ANSWERS)
    assert passed
    assert out.count("✓") == 3


def solution_answers():
    return copy.deepcopy(load_solution("lesson_02_skip_block").CHANNEL_ANSWERS)


def test_channel_checker_catches_concat_counted_as_add(capsys):
    answers = solution_answers()
    answers["concat"].update(child_out=128, parent_up_in=128, parent_up_conv_parameters=4 * 4 * 128 * 64)
    passed, out = verdict(capsys, check_block_channels, answers)
    assert not passed
    assert "✗ child skip 'concat': child_out 128 is off, expected 256" in out and "concat counted as add" in out
    assert "✓ child skip 'add'" in out and "✓ child skip 'none'" in out


def test_channel_checker_catches_a_forgotten_embedding_and_a_parent_sized_by_its_own_mode(capsys):
    answers = solution_answers()
    answers["add"]["child_up_in"] = 256
    answers["none"]["parent_up_in"] = 256  # "the parent concatenates, so it takes 2 x 128"
    passed, out = verdict(capsys, check_block_channels, answers)
    assert not passed
    assert "child_up_in 256 is off, expected 320: the innermost up-conv also takes the 64-channel style embedding" in out
    assert "parent_up_in 256 is off, expected 128" in out and "you said the child hands back 128" in out


def test_channel_checker_catches_a_bias_and_unfilled_answers(capsys):
    answers = solution_answers()
    answers["add"]["parent_up_conv_parameters"] += 64
    answers["none"] = {field: None for field in CHANNEL_FIELDS}
    passed, out = verdict(capsys, check_block_channels, answers)
    assert not passed
    assert "no bias here" in out
    assert "child_up_in not filled in" in out


# ---------------------------------------------------------------- lesson 02: the stride fix
def test_stride_checker_accepts_the_solution(capsys):
    passed, out = verdict(capsys, check_innermost_up_fix, load_solution("lesson_02_skip_block").make_innermost_up)
    assert passed and out.startswith("✓ correct")


def test_stride_checker_accepts_upsample_then_convolve(capsys):
    def resize_convolution(c_in, c_out):
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1))

    assert verdict(capsys, check_innermost_up_fix, resize_convolution)[0]


@pytest.mark.parametrize(
    "make_up,expected_words",
    [
        # the broken change itself: stride 1 with kernel 4, padding 1 grows the map by one
        (lambda i, o: nn.ConvTranspose2d(i, o, 4, stride=1, padding=1), "a 2x2 map comes out 3x3; the join needs 4x4"),
        # a same-size convolution alone never upsamples
        (lambda i, o: nn.Conv2d(i, o, 3, stride=1, padding=1), "a 1x1 map comes out 1x1; the join needs 2x2"),
        # a kernel-4 stride-1 refinement shrinks the doubled map by one
        (lambda i, o: nn.Sequential(nn.ConvTranspose2d(i, o, 4, 2, 1), nn.Conv2d(o, o, 4, 1, 1)),
         "a 1x1 map comes out 1x1; the join needs 2x2"),
        (lambda i, o: nn.ConvTranspose2d(i, o, 3, stride=2, padding=1), "a 1x1 map comes out 1x1"),
        (lambda i, o: nn.ConvTranspose2d(i, 2 * o, 4, stride=2, padding=1), "hands back 32 channels, expected 16"),
        (lambda i, o: nn.ConvTranspose2d(i, o, 4, stride=2, padding=1), "no stride-1 convolution is left"),
    ],
)
def test_stride_checker_rejects_typical_mistakes(capsys, make_up, expected_words):
    passed, out = verdict(capsys, check_innermost_up_fix, make_up)
    assert not passed
    assert out.startswith("✗") and expected_words in out, out


def test_stride_checker_can_accept_plain_stride_two(capsys):
    plain = lambda i, o: nn.ConvTranspose2d(i, o, 4, stride=2, padding=1, bias=False)  # noqa: E731
    assert verdict(capsys, check_innermost_up_fix, plain, require_refinement=False)[0]


def test_checkers_leave_the_learners_random_state_alone(capsys):
    from zi2zi_lessons import SelfAttention

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_self_attention(SelfAttention)
    check_innermost_up_fix(load_solution("lesson_02_skip_block").make_innermost_up)
    assert torch.equal(torch.rand(3), expected)
