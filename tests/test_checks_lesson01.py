"""The lesson 01 checkers accept right answers (the notebook's solutions among them) and name
each typical wrong one; they never raise, whatever they are given."""

import math

import pytest
import torch
from torch import nn

from zi2zi_lessons import SelfAttention
from zi2zi_lessons.checks import check_attention_predictions, check_self_attention

from repo_scripts import load_notebook_cells


def verdict(capsys, checker, *args, **kwargs):
    passed = checker(*args, **kwargs)
    return passed, capsys.readouterr().out


# ---------------------------------------------------------------- the SAGAN block
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


class RowsBlock(nn.Module):
    """The block written with one row per pixel and nn.Linear projections (mathematically the
    same as 1x1 convolutions); each class attribute below switches in one mistake."""

    reshape_query = reshape_value = reshape_output = energy_kq = mix_batch = detach_weights = False
    gamma_as_number = in_place = False

    def __init__(self, channels):
        super().__init__()
        self.query = nn.Linear(channels, channels // 8)
        self.key = nn.Linear(channels, channels // 8)
        self.value = nn.Linear(channels, channels)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        b, c, h, w = x.shape
        rows = x.flatten(2).transpose(1, 2)  # (B, N, C)
        if self.mix_batch:
            rows = rows.reshape(1, b * h * w, c)
        q, k, v = self.query(rows), self.key(rows), self.value(rows)
        if self.reshape_query:
            q = q.transpose(1, 2).contiguous().reshape(q.shape)  # (B, C/8, N) memory read as (B, N, C/8)
        if self.reshape_value:
            v = v.transpose(1, 2).contiguous().reshape(v.shape)
        energy = torch.bmm(k, q.transpose(1, 2)) if self.energy_kq else torch.bmm(q, k.transpose(1, 2))
        weights = torch.softmax(energy, dim=-1)
        if self.detach_weights:
            weights = weights.detach()
        out = torch.bmm(weights, v)  # (B, N, C)
        if self.mix_batch:
            out = out.reshape(b, h * w, c)
        out = out.reshape(b, c, h, w) if self.reshape_output else out.transpose(1, 2).reshape(b, c, h, w)
        gamma = self.gamma.item() if self.gamma_as_number else self.gamma
        if self.in_place:
            x += gamma * out
            return x
        return gamma * out + x


def rows_mistake(**flags):
    return type("RowsMistake", (RowsBlock,), flags)


def test_the_notebook_solution_passes(capsys):
    solutions = load_notebook_cells("01_self_attention", "solution")
    passed, out = verdict(capsys, check_self_attention, solutions.MySelfAttention)
    assert passed and out.startswith("✓ correct") and "every gradient" in out


def test_the_reference_a_scaled_block_and_a_linear_block_pass(capsys):
    assert verdict(capsys, check_self_attention, SelfAttention)[0]
    assert verdict(capsys, check_self_attention, lambda c: SelfAttention(c, scaled=True), scaled=True)[0]
    passed, out = verdict(capsys, check_self_attention, RowsBlock)  # nn.Linear per pixel: the same function
    assert passed, out


@pytest.mark.parametrize(
    "wrong,expected_words",
    [
        (mistake(softmax_dim=1), "softmax runs over the queries"),
        (mistake(softmax_dim=0), "softmax runs over the batch"),
        (mistake(transpose_weights=False), "untransposed"),
        (mistake(residual=False), "residual + x is missing"),
        (mistake(use_gamma=False), "is gamma multiplying"),
        (mistake(gamma_start=1.0), "gamma starts at 1"),
        (mistake(energy_scale=1 / math.sqrt(8)), "divided by sqrt(C/8)"),  # 8 key channels at C=64
        (mistake(key_channels_divisor=1), "key.weight has shape (64, 64, 1, 1), expected (8, 64, 1, 1)"),
        (mistake(bias=False), "no query.bias"),
        (mistake(extra_output_conv=True), "has 9,361 parameters, expected 5,201"),
        (rows_mistake(reshape_query=True), "the query is made with reshape/view where a transpose is needed"),
        (rows_mistake(reshape_value=True), "the value is made with reshape/view where a transpose is needed"),
        (rows_mistake(reshape_output=True), "reshaped to (B, C, H, W) without a transpose"),
        (rows_mistake(energy_kq=True), "the energy is k^T q"),
        (rows_mistake(mix_batch=True), "the images of the batch are mixed"),
        (rows_mistake(detach_weights=True), "query and key get no gradient"),
        (rows_mistake(gamma_as_number=True), "gamma gets no gradient, so it cannot learn"),
        (rows_mistake(in_place=True), "writes into its input in place"),
    ],
)
def test_typical_mistakes_are_named(capsys, wrong, expected_words):
    passed, out = verdict(capsys, check_self_attention, wrong)
    assert not passed
    assert out.startswith("✗") and expected_words in out, out


def test_a_gamma_that_cannot_learn_is_named(capsys):
    class Frozen(Sagan):
        def __init__(self, channels):
            super().__init__(channels)
            self.gamma.requires_grad_(False)

    class Buffer(Sagan):
        def __init__(self, channels):
            super().__init__(channels)
            del self.gamma
            self.register_buffer("gamma", torch.zeros(1))

    assert "requires_grad=False: it cannot learn" in verdict(capsys, check_self_attention, Frozen)[1]
    assert "not a parameter: the optimiser never sees it" in verdict(capsys, check_self_attention, Buffer)[1]


def test_an_unscaled_block_is_wrong_when_the_scaled_one_is_asked_for(capsys):
    passed, out = verdict(capsys, check_self_attention, Sagan, scaled=True)
    assert not passed and "not divided by sqrt(C/8)" in out


def test_a_kernel_larger_than_1x1_is_named(capsys):
    class Wide(Sagan):
        def __init__(self, channels):
            super().__init__(channels)
            self.query = nn.Conv2d(channels, channels // 8, 3, padding=1)

    passed, out = verdict(capsys, check_self_attention, Wide)
    assert not passed and "the kernel must be 1x1" in out


def test_wrong_outputs_are_verdicts_not_errors(capsys):
    class Swapped(Sagan):
        def forward(self, x):
            return super().forward(x).transpose(2, 3)

    class Pair(Sagan):
        def forward(self, x):
            return super().forward(x), None

    assert "height and width are swapped" in verdict(capsys, check_self_attention, Swapped)[1]
    assert "returned a tuple of 2 items" in verdict(capsys, check_self_attention, Pair)[1]


@pytest.mark.parametrize(
    "answer,expected_words",
    [
        (lambda c: nn.Identity(), "not written yet"),
        (lambda c: None, "returned NoneType, not an nn.Module"),
        (42, "raised TypeError"),
        (lambda c: 1 / 0, "raised ZeroDivisionError"),
    ],
)
def test_anything_is_a_verdict(capsys, answer, expected_words):
    passed, out = verdict(capsys, check_self_attention, answer)
    assert not passed and out.startswith("✗") and expected_words in out, out


def test_the_notebook_template_gets_a_not_written_yet_verdict(capsys):
    template = load_notebook_cells("01_self_attention", "exercise")
    passed, out = verdict(capsys, check_self_attention, template.MySelfAttention)
    assert not passed and out.startswith("✗ not written yet")


def test_an_unfinished_forward_is_reported(capsys):
    class Unfinished(Sagan):
        def forward(self, x):
            raise NotImplementedError("fill in forward")

    passed, out = verdict(capsys, check_self_attention, Unfinished)
    assert not passed and "not written yet" in out and "fill in forward" in out


def test_the_checker_leaves_the_learners_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_self_attention(SelfAttention)
    check_attention_predictions({})
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------- predict, then measure
RIGHT = {"parameters": 82_241, "weights_shape": (4, 256, 256), "weights_bytes": 1_048_576, "frozen_at_1x1": 16_448}


def test_the_notebook_predictions_pass_and_equal_the_measured_numbers(capsys):
    solutions = load_notebook_cells("01_self_attention", "solution")
    assert solutions.predictions == RIGHT
    passed, out = verdict(capsys, check_attention_predictions, solutions.predictions)
    assert passed and out.count("✓") == 4


@pytest.mark.parametrize(
    "field,given,expected_words",
    [
        ("parameters", 2 * 256 * 32 + 256 * 256 + 1, "biases too"),
        ("parameters", 82_240, "gamma is a parameter too"),
        ("weights_shape", (4, 16, 16), "N = 16 * 16 = 256"),
        ("weights_shape", (256, 256), "the batch comes first"),
        ("weights_shape", [4, 256, 256], None),  # a list is a shape too
        ("weights_bytes", 4 * 256 * 256, "float32 takes 4 bytes"),
        ("weights_bytes", 2 * 1_048_576, "counts the energy too"),
        ("frozen_at_1x1", 2 * 256 * 32, "biases of query and key"),
        ("frozen_at_1x1", 16_449, "gamma still learns"),
        ("frozen_at_1x1", 0, "the softmax has one entry"),
        ("parameters", "82241", "give a whole number"),
        ("weights_shape", 65536, "give a shape"),
    ],
)
def test_prediction_mistakes_are_named(capsys, field, given, expected_words):
    passed, out = verdict(capsys, check_attention_predictions, {**RIGHT, field: given})
    if expected_words is None:
        assert passed
    else:
        assert not passed and f"✗ {field}" in out and expected_words in out, out


@pytest.mark.parametrize("answers", [None, [], {}, {"parameters": None}])
def test_unfilled_predictions_are_verdicts(capsys, answers):
    passed, out = verdict(capsys, check_attention_predictions, answers)
    assert not passed and out.startswith("✗")


def test_the_notebook_prediction_template_is_judged(capsys):
    template = load_notebook_cells("01_self_attention", "exercise")
    passed, out = verdict(capsys, check_attention_predictions, template.predictions)
    assert not passed and out.count("not filled in") == 4


def test_numpy_integers_are_whole_numbers_and_shapes(capsys):
    # np.prod(...) * 4 and tuple(array.shape-like arrays) hold NumPy integers: a right number is right
    # whatever integer type holds it (they were refused as "give a whole number" before)
    import numpy as np

    answers = {"parameters": np.int64(82_241), "weights_shape": tuple(np.array([4, 256, 256])),
               "weights_bytes": np.prod([4, 256, 256]) * 4, "frozen_at_1x1": np.int32(16_448)}
    passed, out = verdict(capsys, check_attention_predictions, answers)
    assert passed and out.count("✓") == 4, out
