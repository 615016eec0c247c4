"""The lesson 02 checkers accept the notebook's solutions and name each typical wrong answer;
they never raise, whatever they are given."""

import copy

import pytest
import torch
from torch import nn

from zi2zi_lessons import UnetSkipConnectionBlock
from zi2zi_lessons.checks import CHANNEL_FIELDS, check_block_channels, check_innermost_up_fix, check_skip_block

from repo_scripts import load_notebook_cells


def solutions():
    return load_notebook_cells("02_skip_block", "solution")


def templates():
    return load_notebook_cells("02_skip_block", "exercise")

def verdict(capsys, checker, *args, **kwargs):
    passed = checker(*args, **kwargs)
    return passed, capsys.readouterr().out


# ---------------------------------------------------------------- lesson 02: channel counts
def test_channel_checker_accepts_the_solution(capsys):
    passed, out = verdict(capsys, check_block_channels, solutions().answers)
    assert passed
    assert out.count("✓") == 3


def test_channel_checker_judges_the_notebook_template(capsys):
    passed, out = verdict(capsys, check_block_channels, templates().answers)
    assert not passed and out.count("not filled in") == 3 * len(CHANNEL_FIELDS)


@pytest.mark.parametrize("answers", [None, {"concat": 3}, {"add": {"child_out": "128"}}])
def test_channel_checker_never_raises(capsys, answers):
    passed, out = verdict(capsys, check_block_channels, answers)
    assert not passed and out.startswith("✗")


def solution_answers():
    return copy.deepcopy(solutions().answers)


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
    passed, out = verdict(capsys, check_innermost_up_fix, solutions().make_innermost_up)
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


class UnusedRefinement(nn.Module):
    """The refinement is built (and counted) but forward never calls it."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False)
        self.refine = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)

    def forward(self, x):
        return self.up(x)


@pytest.mark.parametrize(
    "make_up,expected_words",
    [
        (UnusedRefinement, "refine gets no gradient: registered but never called"),
        # the refinement before the upsampling: on a 1x1 bottleneck its 3x3 kernel uses its centre tap only
        (lambda i, o: nn.Sequential(nn.Conv2d(i, i, 3, 1, 1), nn.ConvTranspose2d(i, o, 4, 2, 1)),
         "runs before the map is doubled"),
        (lambda i, o: nn.Sequential(nn.Conv2d(i, 4 * o, 3, 1, 1), nn.PixelShuffle(2)), "one of nine"),
    ],
)
def test_stride_checker_catches_a_refinement_that_does_not_refine(capsys, make_up, expected_words):
    passed, out = verdict(capsys, check_innermost_up_fix, make_up)
    assert not passed and out.startswith("✗") and expected_words in out, out


@pytest.mark.parametrize(
    "make_up,expected_words",
    [
        (lambda i, o: None, "returned NoneType"),
        (lambda i, o: (_ for _ in ()).throw(NotImplementedError("write it")), "not written yet"),
        (lambda i, o: nn.Flatten(), "it must return a (B, C, H, W) map"),
        (3, "raised TypeError"),
    ],
)
def test_stride_checker_never_raises(capsys, make_up, expected_words):
    passed, out = verdict(capsys, check_innermost_up_fix, make_up)
    assert not passed and out.startswith("✗") and expected_words in out, out


def test_stride_checker_judges_the_notebook_template_as_the_broken_change(capsys):
    passed, out = verdict(capsys, check_innermost_up_fix, templates().make_innermost_up)
    assert not passed and "a 2x2 map comes out 3x3" in out


class DetachedInput(nn.Module):
    """A right-sized up path with a refinement, whose forward detaches its input: every layer of
    it learns, but no gradient reaches the encoder or the font embedding below it."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False)
        self.refine = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)

    def forward(self, x):
        return self.refine(self.up(x.detach()))


class UnderNoGrad(DetachedInput):
    def forward(self, x):
        with torch.no_grad():
            return self.refine(self.up(x))


class RefinementUnderNoGrad(DetachedInput):
    def forward(self, x):
        up = self.up(x)
        with torch.no_grad():
            return self.refine(up)


@pytest.mark.parametrize(
    "make_up,expected_words",
    [
        # accepted before: the checker never looked at the gradient reaching the input
        (DetachedInput, "no gradient reaches the up path's input: it is detached"),
        # a traceback-like "element 0 of tensors does not require grad" before
        (UnderNoGrad, "the up path's output is cut off from autograd"),
        (RefinementUnderNoGrad, "the up path's output is cut off from autograd"),
    ],
)
def test_stride_checker_catches_an_up_path_cut_off_from_autograd(capsys, make_up, expected_words):
    passed, out = verdict(capsys, check_innermost_up_fix, make_up)
    assert not passed and out.startswith("✗") and expected_words in out, out


def test_stride_checker_can_accept_plain_stride_two(capsys):
    plain = lambda i, o: nn.ConvTranspose2d(i, o, 4, stride=2, padding=1, bias=False)  # noqa: E731
    assert verdict(capsys, check_innermost_up_fix, plain, require_refinement=False)[0]


def test_checkers_leave_the_learners_random_state_alone(capsys):
    answers = solutions()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_innermost_up_fix(answers.make_innermost_up)
    check_skip_block(answers.SkipBlock)
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------- lesson 02: the learner writes the block
class Block(nn.Module):
    """A hand-written skip-connection block; each class attribute switches in one typical mistake."""

    own_flag = x_last = style_last = innermost_norm = bias = forget_style = detach_child = False
    inplace_activation = False
    middle_norm = True
    concat_counted_as_add = False

    def __init__(self, outer_channels, inner_channels, submodule=None, embedding_dim=128, skip="concat"):
        super().__init__()
        innermost = submodule is None
        down = [nn.LeakyReLU(0.2, inplace=self.inplace_activation),
                nn.Conv2d(outer_channels, inner_channels, 4, 2, 1, bias=self.bias)]
        if (innermost and self.innermost_norm) or (not innermost and self.middle_norm):
            down.append(nn.BatchNorm2d(inner_channels))
        self.down = nn.Sequential(*down)
        self.submodule = submodule
        if innermost:
            up_in = inner_channels + (0 if self.forget_style else embedding_dim)
        elif self.own_flag:
            up_in = 2 * inner_channels if skip == "concat" else inner_channels
        else:
            up_in = submodule.out_channels
        self.up = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(up_in, outer_channels, 4, 2, 1, bias=self.bias),
                                nn.BatchNorm2d(outer_channels))
        self.skip = skip
        concat = skip == "concat" and not self.concat_counted_as_add
        self.out_channels = 2 * outer_channels if concat else outer_channels

    def forward(self, x, style):
        encoded = self.down(x)
        if self.submodule is None:
            style_map = style[:, :, None, None].expand(-1, -1, *encoded.shape[2:])
            up = self.up(torch.cat([encoded, style_map] if self.style_last else [style_map, encoded], 1))
        else:
            child = self.submodule(encoded, style)
            up = self.up(child.detach() if self.detach_child else child)
        if self.skip == "concat":
            return torch.cat([up, x] if self.x_last else [x, up], 1)
        return x + up if self.skip == "add" else up


def block_mistake(**flags):
    return type("SkipBlock", (Block,), flags)


def test_skip_block_checker_accepts_the_notebook_solution_the_package_and_a_correct_block(capsys):
    passed, out = verdict(capsys, check_skip_block, solutions().SkipBlock)
    assert passed and out.startswith("✓ correct") and "all 9 pairs" in out

    def package(outer_channels, inner_channels, submodule=None, embedding_dim=128, skip="concat"):
        return UnetSkipConnectionBlock(outer_channels, inner_channels, submodule=submodule, embedding_dim=embedding_dim, skip=skip)

    assert verdict(capsys, check_skip_block, package)[0]  # it returns (out, bottleneck): the first item counts
    assert verdict(capsys, check_skip_block, Block)[0]


@pytest.mark.parametrize(
    "wrong,expected_words",
    [
        (block_mistake(own_flag=True), "sized from this block's own skip mode ('concat'), but the child joins with 'add'"),
        (block_mistake(forget_style=True), "also takes the 4-channel style embedding"),
        (block_mistake(concat_counted_as_add=True), "has out_channels = 8, expected 16"),
        (block_mistake(x_last=True), "concatenate x first"),
        (block_mistake(style_last=True), "the style embedding comes after the encoded map"),
        (block_mistake(innermost_norm=True), "the innermost down path has no norm"),
        (block_mistake(middle_norm=False), "a middle block's down path ends in nn.BatchNorm2d"),
        (block_mistake(bias=True), "the convolutions take no bias"),
        (block_mistake(detach_child=True), "get no gradient: the forward pass is cut off"),
        # pix2pix builds its down path's LeakyReLU in place: the skip then joins the activated x
        (block_mistake(inplace_activation=True), "writes into x in place"),
    ],
)
def test_skip_block_checker_names_typical_mistakes(capsys, wrong, expected_words):
    passed, out = verdict(capsys, check_skip_block, wrong)
    assert not passed and out.startswith("✗") and expected_words in out, out


def test_skip_block_checker_wants_a_number_for_out_channels(capsys):
    class Method(Block):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._out = self.__dict__.pop("out_channels")

        def out_channels(self):
            return self._out

    passed, out = verdict(capsys, check_skip_block, Method)
    assert not passed and "out_channels is a method: make it a @property" in out


@pytest.mark.parametrize(
    "answer,expected_words",
    [
        (lambda **kwargs: None, "returned NoneType, not an nn.Module"),
        (lambda outer, inner: None, "raised TypeError"),
        (lambda **kwargs: nn.Identity(), "not written yet"),
    ],
)
def test_skip_block_checker_never_raises(capsys, answer, expected_words):
    passed, out = verdict(capsys, check_skip_block, answer)
    assert not passed and out.startswith("✗") and expected_words in out, out


def test_skip_block_checker_judges_the_notebook_template(capsys):
    passed, out = verdict(capsys, check_skip_block, templates().SkipBlock)
    assert not passed and out.startswith("✗ not written yet")
