"""Exercise checkers: run the learner's answer against the package's reference and
print a short, specific verdict (which shape, which count, which value was off).

Every checker returns ``True`` when the answer is right, ``False`` otherwise.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import anatomy
from . import glyphs as _glyphs
from . import training as _training
from .anatomy import build_meta, count_parameters
from .attention import SelfAttention, self_attention_parameter_count
from .cost import attention_matrix_bytes, convolution_multiply_adds
from .diffusion import channel_constraints
from .placement import add_decoder_attention
from .training import tiny_generator_config
from .unet import SKIP_MODES, GeneratorConfig, UNetGenerator, UnetSkipConnectionBlock


def fail(message: str) -> bool:
    """Print a checker's verdict on a wrong answer and return ``False``."""
    print(f"✗ {message}")
    return False


def _verdict_never_raises(checker):
    """A checker that prints a verdict whatever the learner's answer does, and leaves the
    learner's random state as it was: an exception the checker did not foresee becomes a
    ``✗`` line naming it, never a traceback in the learner's notebook."""

    @functools.wraps(checker)
    def judged(*args, **kwargs) -> bool:
        with torch.random.fork_rng():
            try:
                return checker(*args, **kwargs)
            except Exception as error:  # an answer no diagnosis foresaw is still a verdict
                return fail(f"checking stopped on {type(error).__name__}: {error}")

    return judged


# ---------------------------------------------------------------- lesson 00: start here
# (image size, levels) pairs the map-size checker tries: the classic generator, smaller and
# deeper ones, and a side that is not a power of two.
_MAP_SIZE_CASES = ((256, 8), (64, 6), (512, 9), (96, 5), (32, 5))


def _describe_levels(image_size: int, num_downs: int):
    return build_meta(GeneratorConfig(num_downs=num_downs)).levels(image_size)


@_verdict_never_raises
def check_encoded_sizes(encoded_sizes) -> bool:
    """Lesson 00: ``encoded_sizes(image_size, num_downs)`` must list the side of the map each
    level *encodes*, level 1 first, as the package's generator builds it, for several image
    sizes and depths. Names the usual slips: the map a level receives instead of the one it
    encodes, innermost first, one level too many or too few, floats instead of integers."""
    for image_size, num_downs in _MAP_SIZE_CASES:
        call = f"encoded_sizes({image_size}, {num_downs})"
        expected = [info.encoded_size for info in _describe_levels(image_size, num_downs)]
        try:
            answer = encoded_sizes(image_size, num_downs)
        except Exception as error:  # the learner's code: report, never crash
            return _raised(call, error)
        if answer is None or answer is Ellipsis:
            return fail(f"not written yet: {call} returned {answer!r}")
        try:
            answer = list(answer)
        except TypeError:
            return fail(f"{call} returned {type(answer).__name__}; return a list of {num_downs} sides, level 1 first")
        sides = [_whole_number(side) for side in answer]
        if any(isinstance(side, float) for side in answer) and sides == expected:
            return fail(f"{call} returned floats {answer}: a map has a whole number of pixels; use // to halve")
        if None in sides:
            return fail(f"{call} returned {answer!r}; give one whole number per level (a side in pixels), level 1 first")
        answer = sides
        if answer == expected:
            continue
        received = [image_size // 2 ** (level - 1) for level in range(1, num_downs + 1)]
        if answer == received:
            return fail(f"{call} gave {answer}: those are the maps each level receives; a level encodes "
                        f"the map after its stride-2 down-convolution, half as wide ({expected})")
        if answer == expected[::-1]:
            return fail(f"{call} gave {answer}: innermost first; list level 1 (the outermost) first")
        if len(answer) != num_downs:
            return fail(f"{call} gave {len(answer)} sides, but a generator with {num_downs} levels encodes "
                        f"{num_downs} maps ({expected})")
        return fail(f"{call} gave {answer}, the generator encodes {expected}")
    print(f"✓ correct: the encoded map sizes match the generator's for {len(_MAP_SIZE_CASES)} image sizes and "
          f"depths ({', '.join(f'{size}px/{levels} levels' for size, levels in _MAP_SIZE_CASES)})")
    return True


# The channel exercise of lesson 00: the classic widths (ngf 64, embedding 128), every
# level joining its skip the same way.
_UP_CHANNEL_CASES = (("concat", 8), ("add", 8), ("concat", 6), ("add", 5))


@_verdict_never_raises
def check_up_in_channels(up_in_channels) -> bool:
    """Lesson 00: ``up_in_channels(level, skip, num_downs)`` must give the input channels of
    level ``level``'s up-convolution in a generator of ``num_downs`` levels (ngf 64, font
    embedding 128) whose levels all join their skip by ``skip`` ("concat" or "add"), as the
    package builds it. Names the usual slips: the embedding forgotten at the innermost
    level, the skip counted at the wrong level, the join mode ignored."""
    for skip, num_downs in _UP_CHANNEL_CASES:
        config = GeneratorConfig(num_downs=num_downs, skip=skip)
        for info in build_meta(config).levels(None):
            call = f"up_in_channels({info.level}, {skip!r}, {num_downs})"
            try:
                answer = up_in_channels(info.level, skip, num_downs)
            except Exception as error:  # the learner's code: report, never crash
                return _raised(call, error)
            if answer is None or answer is Ellipsis:
                return fail(f"not written yet: {call} returned {answer!r}")
            if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)):
                return fail(f"{call} returned {answer!r}; give a whole number of channels")
            if answer == info.up_in_channels:
                continue
            innermost = info.level == num_downs
            if innermost and answer == info.inner_channels:
                return fail(f"{call} = {answer}: at the innermost level the font embedding "
                            f"({config.embedding_dim} channels) is concatenated to the {info.inner_channels}-channel "
                            f"map before the up-convolution: {info.up_in_channels}")
            if innermost and answer == 2 * info.inner_channels:
                return fail(f"{call} = {answer}: the innermost level has no child to hand back a skip; its "
                            f"up-convolution takes its map plus the font embedding: {info.up_in_channels}")
            if not innermost and skip == "add" and answer == 2 * info.inner_channels:
                return fail(f"{call} = {answer}: with 'add' the child adds its skip to what comes up, which keeps "
                            f"the width: {info.up_in_channels}, not twice it")
            if not innermost and skip == "concat" and answer == info.inner_channels:
                return fail(f"{call} = {answer}: with 'concat' the child hands back its map joined to its skip, "
                            f"twice {info.inner_channels}: {info.up_in_channels}")
            return fail(f"{call} = {answer}, the generator builds {info.up_in_channels}")
    print(f"✓ correct: every level's up-convolution input matches the generator's, with concatenated and added "
          f"skips, at {len({n for _, n in _UP_CHANNEL_CASES})} depths")
    return True


# ---------------------------------------------------------------- lesson 01: self-attention

# (channels, input shape) pairs the self-attention checker tries: a non-square map
# catches transposed reshapes, 1x1 is the degenerate case, batch > 1 catches mixing
# samples.
_ATTENTION_CASES = ((64, (2, 64, 6, 8)), (64, (1, 64, 1, 1)), (16, (3, 16, 5, 5)), (32, (2, 32, 4, 3)))
_ATTENTION_TOLERANCE = 1e-4
_CHECK_GAMMA = 0.7  # gamma while comparing: at 0 the attention would not reach the output
_PROJECTIONS = {"query": "C/8", "key": "C/8", "value": "C"}


def _shape(tensor) -> str:
    return "x".join(str(n) for n in tensor.shape)


def _close(a: torch.Tensor, b: torch.Tensor, tolerance: float = _ATTENTION_TOLERANCE) -> bool:
    """``a`` equals ``b`` up to float rounding, relative to ``b``'s size."""
    if a.shape != b.shape:
        return False
    scale = max(1.0, b.abs().max().item()) if b.numel() else 1.0
    return bool(torch.allclose(a, b, rtol=tolerance, atol=tolerance * scale))


def _unwritten(error: Exception) -> bool:
    return isinstance(error, NotImplementedError)


def _raised(label: str, error: Exception) -> bool:
    if _unwritten(error):
        return fail(f"not written yet: {label} raised NotImplementedError ({error})")
    return fail(f"{label} raised {type(error).__name__}: {error}")


def _sagan_variants(block: SelfAttention, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Outputs of typical wrong SAGAN blocks with ``block``'s weights, by diagnosis."""
    batch, channels, height, width = x.shape
    pixels = height * width
    query_map, key_map, value_map = block.query(x), block.key(x), block.value(x)
    query_rows = query_map.flatten(2).transpose(1, 2)  # (B, N, C/8)
    key_columns = key_map.flatten(2)  # (B, C/8, N)
    value_columns = value_map.flatten(2)  # (B, C, N)
    scale = block.energy_scale
    other_scale = 1.0 if block.scaled else (channels // 8) ** -0.5
    gamma = block.gamma

    def finish(weights, values=value_columns, transpose=True):
        out = torch.bmm(values, weights.transpose(1, 2) if transpose else weights)
        return gamma * out.reshape(batch, channels, height, width) + x

    right = torch.softmax(torch.bmm(query_rows, key_columns) * scale, dim=-1)
    attended = torch.bmm(value_columns, right.transpose(1, 2)).reshape(batch, channels, height, width)
    # Rows per pixel made with reshape instead of transpose: memory order kept, axes not swapped.
    scrambled_query = torch.softmax(torch.bmm(query_map.reshape(batch, pixels, -1), key_columns) * scale, dim=-1)
    scrambled_key = torch.softmax(torch.bmm(query_rows, key_map.reshape(batch, pixels, -1).transpose(1, 2)) * scale, dim=-1)
    value_rows_scrambled = value_map.reshape(batch, pixels, channels)
    out_rows = torch.bmm(right, value_columns.transpose(1, 2))  # (B, N, C), the right numbers
    # The batch folded into the pixels: every pixel attends over every image's pixels.
    def fold(t):
        return t.flatten(2).permute(1, 0, 2).reshape(1, t.shape[1], batch * pixels)

    joint_weights = torch.softmax(torch.bmm(fold(query_map).transpose(1, 2), fold(key_map)) * scale, dim=-1)
    joint = torch.bmm(fold(value_map), joint_weights.transpose(1, 2))
    joint = joint.reshape(channels, batch, pixels).permute(1, 0, 2).reshape(batch, channels, height, width)

    reshape_hint = (
        "is made with reshape/view where a transpose is needed: (B, C', N) -> (B, N, C') must swap the axes "
        "(.transpose(1, 2) or .permute(0, 2, 1)); reshape keeps the memory order and mixes pixels with channels"
    )
    scaled_hint = (
        "the energy is divided by sqrt(C/8), but this block should use the raw energy q.k (SAGAN does not scale)"
        if not block.scaled
        else "the energy is not divided by sqrt(C/8), but this (scaled) block should divide it"
    )
    return {
        "softmax runs over the queries (dim=1); it must run over the keys (the last dim), so that each pixel's weights sum to 1":
            finish(torch.softmax(torch.bmm(query_rows, key_columns) * scale, dim=1)),
        "the weighted sum uses the attention matrix untransposed: out[:, :, i] must be sum_j value[:, :, j] * weights[i, j], i.e. bmm(value, weights.transpose(1, 2))":
            finish(right, transpose=False),
        "the energy is k^T q, the transpose of q^T k: row i must hold pixel i's query against every key "
        "(energy[i, j] = q_i . k_j), i.e. bmm(query as (B, N, C/8), key as (B, C/8, N))":
            finish(torch.softmax(torch.bmm(key_columns.transpose(1, 2), query_rows.transpose(1, 2)) * scale, dim=-1)),
        f"the query {reshape_hint}": finish(scrambled_query),
        f"the key {reshape_hint}": finish(scrambled_key),
        f"the value {reshape_hint}": gamma * torch.bmm(right, value_rows_scrambled).transpose(1, 2).reshape(batch, channels, height, width) + x,
        "the output, one row per pixel (B, N, C), is reshaped to (B, C, H, W) without a transpose: reshape keeps "
        "the memory order and mixes pixels with channels; swap the axes first with .transpose(1, 2)":
            gamma * out_rows.reshape(batch, channels, height, width) + x,
        "the images of the batch are mixed: every pixel attends over the pixels of all images; keep the batch "
        "dimension first in every reshape and bmm, so each image attends only over its own pixels":
            gamma * joint + x,
        "the softmax runs over the batch (dim=0); it must run over the keys (the last dim)":
            finish(torch.softmax(torch.bmm(query_rows, key_columns) * scale, dim=0)),
        scaled_hint: finish(torch.softmax(torch.bmm(query_rows, key_columns) * other_scale, dim=-1)),
        "the residual is missing: the block must return gamma * out + x, not gamma * out": gamma * attended,
        "gamma is not applied: the block must return gamma * out + x, not out + x": attended + x,
    }


def _projection(block: nn.Module, name: str, channels: int, label: str):
    """The learner's ``name`` projection as ``(weight, bias)`` Parameters shaped like
    a 1x1 ``Conv2d``'s (``nn.Linear`` and ``nn.Conv1d`` of the same sizes count too),
    or a verdict string."""
    out_channels = channels // 8 if name != "value" else channels
    expected = (out_channels, channels, 1, 1)
    module = getattr(block, name)
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    if not isinstance(weight, torch.Tensor):
        return f"{label}.{name} has no weight: make it a 1x1 convolution, nn.Conv2d({channels}, {out_channels}, kernel_size=1)"
    if not isinstance(bias, torch.Tensor):
        return f"{label} has no {name}.bias (the 1x1 convolutions need their biases)"
    shape = tuple(weight.shape)
    one_by_one = len(shape) >= 2 and all(n == 1 for n in shape[2:])
    if not one_by_one or shape[:2] != (out_channels, channels) or tuple(bias.shape) != (out_channels,):
        kernel = "" if one_by_one or len(shape) < 3 else "; the kernel must be 1x1 (kernel_size=1): attention, not the convolution, mixes pixels"
        return (f"{label}: {name}.weight has shape {shape}, expected {expected} ({name} maps C = {channels} "
                f"channels to {_PROJECTIONS[name]}){kernel}")
    return weight, bias


@_verdict_never_raises
def check_self_attention(make_block, scaled: bool = False) -> bool:
    """Judge a hand-written SAGAN block against ``SelfAttention(C, scaled)``, forward and backward.

    ``make_block(C)`` must return a module with projections ``query`` and ``key``
    (C -> C/8), ``value`` (C -> C), each with a bias (1x1 convolutions, or
    ``nn.Linear`` layers applied to each pixel), and a one-element parameter
    ``gamma`` that starts at 0. For several C and maps (1x1 and non-square included)
    the checker copies the weights into the reference block, sets gamma to 0.7 in
    both, and compares the outputs, the gradient of every parameter and of the input
    (after one backward pass), and checks that the input is left as it was. It prints
    one line naming what was off, or that everything matched; it never raises.
    """
    return _check_self_attention(make_block, scaled)  # _verdict_never_raises: a verdict whatever the object does


def _check_self_attention(make_block, scaled: bool) -> bool:
    maker = getattr(make_block, "__name__", "make_block")
    maker = "make_block" if maker == "<lambda>" else maker
    for channels, shape in _ATTENTION_CASES:
        label = f"{maker}({channels})"
        try:
            block = make_block(channels)
        except Exception as error:  # the learner's code: report, never crash
            return _raised(label, error)
        if not isinstance(block, nn.Module):
            return fail(f"{label} returned {type(block).__name__}, not an nn.Module")
        block.train()
        if not any(isinstance(getattr(block, name, None), nn.Module) for name in _PROJECTIONS) and not list(block.parameters()):
            return fail(f"not written yet: {label} has no query, key, value or gamma")
        for name in _PROJECTIONS:
            if not isinstance(getattr(block, name, None), nn.Module):
                return fail(f"{label} has no submodule {name!r}: name the three 1x1 convolutions query, key and value")
        gamma = getattr(block, "gamma", None)
        if not isinstance(gamma, torch.Tensor) or gamma.numel() != 1:
            got = type(gamma).__name__ if not isinstance(gamma, torch.Tensor) else f"a tensor of {gamma.numel()} elements"
            return fail(f"{label}.gamma must be a one-element nn.Parameter (a learned scalar), got {got}")
        if not any(p is gamma for p in block.parameters()):
            return fail(f"{label}.gamma is a plain tensor (or a buffer), not a parameter: the optimiser never sees it, "
                        f"so it cannot learn; make it nn.Parameter(torch.zeros(1))")
        if not gamma.requires_grad:
            return fail(f"{label}.gamma has requires_grad=False: it cannot learn, and the block stays the identity for ever")
        if gamma.item() != 0.0:
            return fail(f"{label}.gamma starts at {gamma.item():g}; it must start at 0 so that a new block is the identity")

        learned = {}
        for name in _PROJECTIONS:
            found = _projection(block, name, channels, label)
            if isinstance(found, str):
                return fail(found)
            learned[f"{name}.weight"], learned[f"{name}.bias"] = found
        learned["gamma"] = gamma
        counted = sum(p.numel() for p in block.parameters())
        formula = self_attention_parameter_count(channels)
        if counted != formula:
            return fail(
                f"{label} has {counted:,} parameters, expected {formula:,} = 2(C*C/8 + C/8) + C^2 + C + 1: "
                f"remove the extra parameters ({counted - formula:+,})"
            )
        reference = SelfAttention(channels, scaled=scaled)
        reference_parameters = dict(reference.named_parameters())
        with torch.no_grad():
            for name, tensor in learned.items():
                reference_parameters[name].copy_(tensor.detach().reshape(reference_parameters[name].shape))

        generator = torch.Generator().manual_seed(channels)
        x = torch.randn(*shape, generator=generator)
        verdict = _attention_forward_verdict(block, reference, x, label, gamma=0.0)
        if verdict is not None:
            return fail(verdict)
        with torch.no_grad():
            gamma.fill_(_CHECK_GAMMA)
            reference.gamma.fill_(_CHECK_GAMMA)
        verdict = _attention_forward_verdict(block, reference, x, label, gamma=_CHECK_GAMMA)
        if verdict is not None:
            return fail(verdict)
        verdict = _attention_backward_verdict(block, reference, learned, x, label, generator)
        if verdict is not None:
            return fail(verdict)
    kind = "scaled" if scaled else "unscaled"
    print(
        f"✓ correct: parameters match 2(C*C/8 + C/8) + C^2 + C + 1, gamma = 0 gives the identity, the input is "
        f"left untouched, and the output and every gradient (query, key, value, gamma, input) equal "
        f"SelfAttention({kind})'s on {len(_ATTENTION_CASES)} maps "
        f"({', '.join(_shape(torch.empty(s)) for _, s in _ATTENTION_CASES)})"
    )
    return True


def _run_on_copy(block: nn.Module, x: torch.Tensor, label: str, requires_grad: bool = False):
    """``block`` on a copy of ``x``: ``(output, copy)`` or ``(None, verdict)``; a write into the copy is a verdict."""
    given = x.clone().requires_grad_(requires_grad)
    try:
        if requires_grad:
            out = block(given)
        else:
            with torch.no_grad():
                out = block(given)
    except Exception as error:
        if "in-place" in str(error) or "inplace" in str(error):
            return None, (f"{label} writes into its input in place (x += ..., x.add_(...)), which autograd refuses: "
                          f"{type(error).__name__}: {str(error).splitlines()[0]}; return a new tensor, gamma * out + x")
        if _unwritten(error):
            return None, f"not written yet: {label} raised NotImplementedError ({error})"
        return None, f"{label} on a {_shape(x)} map raised {type(error).__name__}: {error}"
    if isinstance(out, (tuple, list)):
        return None, (f"{label} returned a {type(out).__name__} of {len(out)} items; the block must return one tensor, "
                      f"gamma * out + x")
    if not isinstance(out, torch.Tensor):
        return None, f"{label} on a {_shape(x)} map returned {type(out).__name__}; the block must return a tensor"
    if not torch.equal(given.detach(), x):
        return None, (f"{label} writes into its input in place (x += ..., x.add_(...)): the caller's feature map "
                      f"changed; return a new tensor, gamma * out + x")
    if out.shape != x.shape:
        batch, channels, height, width = x.shape
        swapped = " (height and width are swapped: reshape back to (B, C, H, W))" if tuple(out.shape) == (batch, channels, width, height) else ""
        return None, f"{label} on a {_shape(x)} map returned {_shape(out)}; the block must keep the shape {_shape(x)}{swapped}"
    return out, given


def _attention_forward_verdict(block, reference, x, label, gamma: float) -> str | None:
    out, verdict = _run_on_copy(block, x, label)
    if out is None:
        return verdict
    if gamma == 0.0:
        if torch.allclose(out, x, atol=1e-6):
            return None
        if torch.allclose(out, torch.zeros_like(out)):
            return f"{label} with gamma = 0 returns zeros: the residual + x is missing"
        return (f"{label} with gamma = 0 must return its input unchanged (gamma * out + x), but differs by "
                f"up to {(out - x).abs().max().item():.3g}: is gamma multiplying the attention output?")
    with torch.no_grad():
        expected = reference(x)
        if _close(out, expected):
            return None
        for diagnosis, wrong in _sagan_variants(reference, x).items():
            if _close(out, wrong):
                return f"{label} on a {_shape(x)} map: {diagnosis}"
        if x.shape[0] > 1:
            alone = [_run_on_copy(block, x[i:i + 1], label)[0] for i in range(x.shape[0])]
            if all(o is not None for o in alone) and _close(torch.cat(alone), expected):
                return (f"{label} on a {_shape(x)} map: right for one image at a time, wrong for the batch: the images "
                        f"are mixed; keep the batch dimension first in every reshape and bmm")
    return (f"{label} on a {_shape(x)} map with gamma = {gamma} differs from SelfAttention by up to "
            f"{(out - expected).abs().max().item():.3g}; print the shape of every step and compare "
            f"with the steps of this lesson")


def _attention_backward_verdict(block, reference, learned, x, label, generator) -> str | None:
    block.zero_grad(set_to_none=True)
    out, learner_input = _run_on_copy(block, x, label, requires_grad=True)
    if out is None:
        return learner_input  # the verdict
    if out.grad_fn is None:
        return (f"{label}'s output is cut off from autograd (torch.no_grad(), .detach() or .data in forward): "
                f"no parameter of the block could learn")
    upstream = torch.randn(*x.shape, generator=generator)
    try:
        (out * upstream).sum().backward()
    except Exception as error:
        return f"{label}'s backward pass raised {type(error).__name__}: {error}"
    reference.zero_grad(set_to_none=True)
    reference_input = x.clone().requires_grad_(True)
    (reference(reference_input) * upstream).sum().backward()
    reference_parameters = dict(reference.named_parameters())

    silent = []
    for name, parameter in learned.items():
        expected = reference_parameters[name].grad
        got = torch.zeros_like(expected) if parameter.grad is None else parameter.grad.reshape(expected.shape)
        if expected.any() and not got.any():
            silent.append(name)
        elif not _close(got, expected, 1e-3):
            return (f"{label} on a {_shape(x)} map: the gradient of {name} differs from SelfAttention's by up to "
                    f"{(got - expected).abs().max().item():.3g}, although the outputs agree")
    if "gamma" in silent:
        return (f"{label}: gamma gets no gradient, so it cannot learn: the forward uses it as a constant "
                f"(.item(), float(gamma), .data or .detach())")
    if any(name.startswith(("query", "key")) for name in silent):
        return (f"{label}: query and key get no gradient: the attention weights are cut off from autograd "
                f"(.detach(), .data, torch.no_grad() or a NumPy round trip); the output is right, but training "
                f"would never change where a pixel looks")
    if silent:
        return f"{label}: {', '.join(silent)} get no gradient: the value path is cut off from autograd (.detach() or .data)"
    got = learner_input.grad
    if got is None or not _close(got, reference_input.grad, 1e-3):
        what = "no gradient reaches the input" if got is None else (
            f"the gradient reaching the input differs by up to {(got - reference_input.grad).abs().max().item():.3g}")
        return f"{label} on a {_shape(x)} map: {what}; is x (or the residual) detached?"
    return None


# The prediction exercise: one SelfAttention(256) block on a batch of four 16x16 maps.
ATTENTION_PREDICTION = dict(channels=256, batch=4, side=16)
ATTENTION_PREDICTION_FIELDS = ("parameters", "weights_shape", "weights_bytes", "frozen_at_1x1")


def _attention_prediction_measured() -> dict:
    """Each answer of the prediction exercise, measured on a real block."""
    setup = ATTENTION_PREDICTION
    channels, batch, side = setup["channels"], setup["batch"], setup["side"]
    torch.manual_seed(0)
    block = SelfAttention(channels)
    with torch.no_grad():
        weights = block.attention_map(torch.randn(batch, channels, side, side))
        block.gamma.fill_(_CHECK_GAMMA)
    block(torch.randn(batch, channels, 1, 1)).square().sum().backward()
    return {
        "parameters": sum(p.numel() for p in block.parameters()),
        "weights_shape": tuple(weights.shape),
        "weights_bytes": weights.numel() * weights.element_size(),
        "frozen_at_1x1": sum(p.numel() for p in block.parameters() if p.grad is None or not p.grad.any()),
    }


def _attention_prediction_hint(field: str, given, expected: dict) -> str:
    setup = ATTENTION_PREDICTION
    channels, batch, side = setup["channels"], setup["batch"], setup["side"]
    key, pixels = channels // 8, side * side
    hints = {
        "parameters": {
            2 * channels * key + channels * channels + 1: "the three convolutions have biases too (C/8 + C/8 + C)",
            expected["parameters"] - 1: "gamma is a parameter too (one number)",
            3 * (channels * channels + channels) + 1: "query and key map C to C/8 channels, not to C",
        },
        "weights_shape": {
            (batch, side, side): f"one weight per pair of pixels: N x N, with N = {side} * {side} = {pixels}",
            (pixels, pixels): "one matrix per image: the batch comes first",
            (batch, key, key): "the weights do not depend on C/8: one per pair of pixels, N x N",
            (batch, channels, pixels, pixels): "the weights are shared by all channels: (B, N, N)",
        },
        "weights_bytes": {
            batch * pixels * pixels: f"that is the number of entries; float32 takes 4 bytes each (or it is the bytes of one "
                                     f"image: the batch has {batch})",
            2 * expected["weights_bytes"]: "that counts the energy too; the question asks for the weights alone",
            pixels * pixels: "that is the entries of one image: 4 images, 4 bytes each",
        },
        "frozen_at_1x1": {
            2 * channels * key: "the biases of query and key get no gradient either",
            expected["frozen_at_1x1"] + 1: "gamma still learns: it scales value(x), which reaches the output",
            0: "on a 1x1 map the softmax has one entry, exactly 1 whatever query and key say: they get no gradient",
            expected["parameters"] - 1: "value still learns: the block is gamma * value(x) + x",
        },
    }
    known = hints[field].get(given)
    if known:
        return known
    return {
        "parameters": "two 1x1 convolutions C -> C/8 and one C -> C, all with biases, and gamma",
        "weights_shape": "(B, N, N): one row per pixel, one column per pixel it can look at",
        "weights_bytes": "B x N x N entries, 4 bytes each",
        "frozen_at_1x1": "which parameters does a softmax over a single entry make irrelevant?",
    }[field]


@_verdict_never_raises
def check_attention_predictions(answers) -> bool:
    """Judge predicted numbers of one ``SelfAttention(256)`` block against measurements.

    ``answers[field]`` for each field in ``ATTENTION_PREDICTION_FIELDS``: its parameter
    count; the shape and the float32 bytes of its attention weights for a batch of four
    256-channel 16x16 maps; how many of its parameters get no gradient on 1x1 maps.
    The expected values are measured on a real block, not typed in. Prints one line per
    field; never raises.
    """
    expected = _attention_prediction_measured()
    return _judge_predictions(answers, expected, ATTENTION_PREDICTION_FIELDS, _attention_prediction_hint)


def _integer(value):
    """``value`` as an ``int`` when it is an integer of any kind (Python's or NumPy's), else as it was."""
    return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value


def _as_answer(value):
    """Integers (NumPy's too) become ints; shapes (tuple, list, torch.Size) become tuples of them."""
    if isinstance(value, (tuple, list, torch.Size)):
        return tuple(_integer(v) for v in value)
    return _integer(value)


def _judge_predictions(answers, expected: dict, fields, hint) -> bool:
    """One verdict line per field: right, not filled in, of the wrong kind, or off (with a hint)."""
    if not isinstance(answers, dict):
        return fail(f"answers must be a dict {{field: value}} with {', '.join(fields)}; got {type(answers).__name__}")
    right = True
    for field in fields:
        given = _as_answer(answers.get(field))
        want = expected[field]
        if given is None or given is ...:
            right = fail(f"{field}: not filled in")
        elif isinstance(want, tuple) and not (isinstance(given, tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in given)):
            right = fail(f"{field}: give a shape, a tuple of integers such as (2, 3); got {given!r}")
        elif isinstance(want, int) and (isinstance(given, bool) or not isinstance(given, int)):
            right = fail(f"{field}: give a whole number (arithmetic like 4 * 256 is fine); got {given!r}")
        elif given != want:
            shown = f"{given:,}" if isinstance(given, int) else str(given)
            right = fail(f"{field}: {shown} is off: {hint(field, given, expected)}")
        else:
            print(f"✓ {field}: {want:,}" if isinstance(want, int) else f"✓ {field}: {want}")
    return right


# ---------------------------------------------------------------- lesson 02: skip block

# The channel exercise: an innermost child (outer 128, inner 256, style embedding 64)
# under a parent (outer 64, inner 128) that concatenates its own skip; the child's
# join mode varies. Batch norm, so the up-convolutions have no bias.
CHANNEL_EXERCISE = dict(parent_outer=64, parent_inner=128, child_inner=256, embedding_dim=64)
CHANNEL_FIELDS = ("child_up_in", "child_out", "parent_up_in", "parent_up_conv_parameters")


def channel_exercise_blocks(child_skip: str) -> tuple[UnetSkipConnectionBlock, UnetSkipConnectionBlock]:
    """``(parent, child)`` of the channel exercise, built on the meta device."""
    setup = CHANNEL_EXERCISE
    with torch.device("meta"):
        child = UnetSkipConnectionBlock(
            setup["parent_inner"], setup["child_inner"], submodule=None,
            embedding_dim=setup["embedding_dim"], skip=child_skip,
        )
        parent = UnetSkipConnectionBlock(setup["parent_outer"], setup["parent_inner"], submodule=child, skip="concat")
    return parent, child


def _channel_answers_expected(child_skip: str) -> dict[str, int]:
    parent, child = channel_exercise_blocks(child_skip)
    return {
        "child_up_in": child.up_in_channels,
        "child_out": child.out_channels,
        "parent_up_in": parent.up_in_channels,
        "parent_up_conv_parameters": sum(p.numel() for p in parent.up_conv.parameters()),
    }


def _channel_hint(mode: str, field: str, given: int, expected: dict, answer: dict) -> str:
    setup = CHANNEL_EXERCISE
    child_x, child_inner, embedding = setup["parent_inner"], setup["child_inner"], setup["embedding_dim"]
    if field == "child_up_in":
        if given == child_inner:
            return f"the innermost up-conv also takes the {embedding}-channel style embedding, concatenated to the encoded map"
        return f"the innermost up-conv takes the encoded map ({child_inner}) plus the style embedding ({embedding})"
    if field == "child_out":
        if mode == "concat":
            return f"concat hands back x ({child_x}) and the up path ({child_x}) side by side" + (
                ": concat counted as add" if given == child_x else "")
        if given == 2 * child_x:
            return f"{mode!r} does not stack channels: it hands back {child_x} ({'x + up' if mode == 'add' else 'the up path alone'})"
        return f"{mode!r} hands back {'x + up' if mode == 'add' else 'the up path alone'}: {child_x} channels"
    if field == "parent_up_in":
        said = answer.get("child_out")
        if isinstance(said, int) and said != given:
            return f"the parent's up-conv takes exactly what the child hands back (you said the child hands back {said})"
        return "the parent's up-conv takes what the child hands back, whatever the parent's own join mode"
    kernel_taps = 16
    if given == kernel_taps * expected["parent_up_in"] * setup["parent_outer"] + setup["parent_outer"]:
        return "no bias here: a batch norm follows the up-conv, so the convolution has none"
    return f"a 4x4 transposed convolution has 4*4*in*out weights: 16 x {expected['parent_up_in']} x {setup['parent_outer']}"


@_verdict_never_raises
def check_block_channels(answers) -> bool:
    """Judge predicted channel counts of the channel exercise, one line per child mode.

    ``answers[mode][field]`` for each mode in ``"concat", "add", "none"`` (the child's
    join mode) and each field in ``CHANNEL_FIELDS``. The expected values are read
    off blocks the checker builds, not typed in.
    """
    if not isinstance(answers, dict):
        print(f"✗ answers must be a dict {{mode: {{field: count}}}}, got {type(answers).__name__}")
        return False
    all_right = True
    for mode in SKIP_MODES:
        answer = answers.get(mode)
        if not isinstance(answer, dict):
            print(f"✗ {mode}: no answers yet: give a dict with {', '.join(CHANNEL_FIELDS)}")
            all_right = False
            continue
        expected = _channel_answers_expected(mode)
        problems = []
        for field in CHANNEL_FIELDS:
            given = _integer(answer.get(field))
            if given is None:
                problems.append(f"{field} not filled in")
            elif isinstance(given, bool) or not isinstance(given, int):
                problems.append(f"{field} must be an integer, got {given!r}")
            elif given != expected[field]:
                problems.append(f"{field} {given:,} is off, expected {expected[field]:,}: {_channel_hint(mode, field, given, expected, answer)}")
        if problems:
            all_right = False
            print(f"✗ child skip {mode!r}: " + "; ".join(problems))
        else:
            print(f"✓ child skip {mode!r}: all {len(CHANNEL_FIELDS)} counts right")
    return all_right


# The stride exercise: the innermost up path of a small generator (5 levels, ngf 8,
# embedding 16) must double the map, like ConvTranspose2d(k4, s2, p1) does.
STRIDE_EXERCISE = dict(num_downs=5, ngf=8, embedding_dim=16)
_STRIDE_INPUT_SIDES = ((1, 1), (2, 2), (3, 3), (4, 4), (3, 5))
_STRIDE_IMAGE_SIZES = (64, 128)  # innermost maps 2x2 and 4x4: stride 1 breaks both


def _stride_one_convolutions(module: nn.Module) -> dict[str, nn.Module]:
    return {
        name or "the module itself": m for name, m in module.named_modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and tuple(m.stride) == (1, 1)
    }


def _kernel_name(conv: nn.Module) -> str:
    return f"{type(conv).__name__} {'x'.join(str(k) for k in conv.kernel_size)}"


@_verdict_never_raises
def check_innermost_up_fix(make_up, require_refinement: bool = True) -> bool:
    """Judge a replacement for the innermost up-convolution.

    ``make_up(in_channels, out_channels)`` must return a module mapping
    ``(B, in, h, w)`` to ``(B, out, 2h, 2w)`` for every ``h, w`` (the join needs
    the map back at the size the down path started from), whose every parameter
    takes part in the forward pass (gets a gradient). With ``require_refinement``
    it must also run a stride-1 convolution on the doubled map (the change the
    author wanted): one that is registered but never called, or that runs before
    the upsampling (at a 1x1 bottleneck its 3x3 kernel would use one tap of nine),
    is named. The checker runs the module alone on several sizes, then inside the
    generator of ``STRIDE_EXERCISE`` at 64x64 and 128x128 (innermost maps 2x2 and
    4x4). It never raises.
    """
    return _check_innermost_up_fix(make_up, require_refinement)  # _verdict_never_raises: a verdict whatever the object does


def _make_up(make_up, in_channels: int, out_channels: int):
    """The learner's module, or a verdict string."""
    call = f"make_up({in_channels}, {out_channels})"
    try:
        module = make_up(in_channels, out_channels)
    except Exception as error:
        if _unwritten(error):
            return f"not written yet: {call} raised NotImplementedError ({error})"
        return f"{call} raised {type(error).__name__}: {error}"
    if not isinstance(module, nn.Module):
        return f"{call} returned {type(module).__name__}, not an nn.Module"
    return module


def _check_innermost_up_fix(make_up, require_refinement: bool) -> bool:
    in_channels, out_channels = 24, 16
    module = _make_up(make_up, in_channels, out_channels)
    if isinstance(module, str):
        return fail(module)
    generator = torch.Generator().manual_seed(0)
    module.eval()
    for height, width in _STRIDE_INPUT_SIDES:
        x = torch.randn(2, in_channels, height, width, generator=generator)
        try:
            with torch.no_grad():
                out = module(x)
        except Exception as error:
            return fail(f"on a {height}x{width} map it raised {type(error).__name__}: {error}")
        if not isinstance(out, torch.Tensor) or out.dim() != 4:
            got = f"a {out.dim()}-d tensor" if isinstance(out, torch.Tensor) else type(out).__name__
            return fail(f"on a {height}x{width} map it returned {got}; it must return a (B, C, H, W) map")
        expected = (2, out_channels, 2 * height, 2 * width)
        if tuple(out.shape) != expected:
            got_size, want_size = f"{out.shape[2]}x{out.shape[3]}", f"{2 * height}x{2 * width}"
            if tuple(out.shape[2:]) != expected[2:]:
                return fail(
                    f"a {height}x{width} map comes out {got_size}; the join needs {want_size} "
                    f"(twice the input, the size the down path started from)"
                )
            return fail(f"make_up({in_channels}, {out_channels}) hands back {out.shape[1]} channels, expected {out_channels}")

    # Which stride-1 convolutions run, on which map size, and which parameters learn.
    seen = {}

    def record(name):
        def hook(layer, inputs, output):
            seen.setdefault(name, tuple(inputs[0].shape[2:]))  # returns None: the output stays as it is
        return hook

    hooks = [conv.register_forward_hook(record(name)) for name, conv in _stride_one_convolutions(module).items()]
    try:
        module.zero_grad(set_to_none=True)
        x = torch.randn(2, in_channels, 2, 2, generator=generator, requires_grad=True)
        out = module(x)
        if not out.requires_grad:
            return fail("the up path's output is cut off from autograd (torch.no_grad(), .detach() or .data in "
                        "forward): none of its layers, and nothing below it in the generator, would learn")
        (out * torch.randn(2, out_channels, 4, 4, generator=generator)).sum().backward()
    finally:
        for hook in hooks:
            hook.remove()
    idle = [name for name, p in module.named_parameters() if p.requires_grad and p.grad is None]
    if idle:
        never_called = sorted({name.rsplit(".", 1)[0] if "." in name else name for name in idle})
        one = len(never_called) == 1
        return fail(
            f"{', '.join(never_called)} {'gets' if one else 'get'} no gradient: registered but never called in forward, or cut off "
            f"from autograd (.detach(), .data, torch.no_grad()); call every layer in forward, on the tensor that "
            f"carries the gradient (or leave out what forward does not call)"
        )
    if x.grad is None or not x.grad.any():
        return fail("no gradient reaches the up path's input: it is detached (x.detach(), x.data or torch.no_grad()); "
                    "in the generator nothing below this layer (the encoder, the font embedding) would learn")
    if require_refinement:
        stride_one = _stride_one_convolutions(module)
        if not stride_one:
            return fail(
                "the map doubles correctly, but no stride-1 convolution is left: the author wanted one; "
                "add a same-size refinement after the stride-2 up-convolution"
            )
        ran = dict(seen)
        if not ran:
            return fail(f"the stride-1 convolution {', '.join(stride_one)} is registered but never called: "
                        f"forward must run it after the upsampling")
        if all(side == (2, 2) for side in ran.values()):
            named = ", ".join(f"{name!r}, {_kernel_name(stride_one[name])}" for name in ran)
            return fail(
                f"the stride-1 convolution ({named}) runs before the map is doubled, on the small map: at "
                f"the 1x1 bottleneck of a 256x256 generator a 3x3 kernel there sees one real pixel and uses only "
                f"its centre tap, one of nine (a PixelShuffle path works this way too: its stride-1 convolution is "
                f"the upsampler); put the refinement after the upsampling, on the doubled map"
            )

    for image_size in _STRIDE_IMAGE_SIZES:
        torch.manual_seed(0)
        model = UNetGenerator(**STRIDE_EXERCISE).eval()
        innermost = list(model.blocks())[-1]
        old = innermost.up_conv
        replacement = _make_up(make_up, old.in_channels, old.out_channels)
        if isinstance(replacement, str):
            return fail(replacement)
        innermost.up[1] = replacement
        images = torch.rand(2, 1, image_size, image_size, generator=generator) * 2 - 1
        try:
            with torch.no_grad():
                out = model(images, torch.tensor([0, 1]))
        except Exception as error:
            return fail(f"inside the generator at {image_size}x{image_size}: {type(error).__name__}: {error}")
        if tuple(out.shape) != (2, 1, image_size, image_size):
            return fail(f"inside the generator at {image_size}x{image_size} the output is {_shape(out)}")
    stride_two = 4 * 4 * in_channels * out_channels
    counted = sum(p.numel() for p in module.parameters())
    refined = " with a stride-1 refinement on the doubled map" if require_refinement else ""
    print(
        f"✓ correct: every map doubles ({', '.join(f'{h}x{w}' for h, w in _STRIDE_INPUT_SIDES)}){refined}, every "
        f"parameter gets a gradient, and the generator runs at {' and '.join(f'{s}x{s}' for s in _STRIDE_IMAGE_SIZES)}; "
        f"for {in_channels} -> {out_channels} channels your up path has {counted:,} parameters (a lone stride-2 "
        f"ConvTranspose2d without bias: {stride_two:,})"
    )
    return True


# The block exercise: the learner writes the skip-connection block. An innermost
# child (outer 8, inner 16, style embedding 4) under a middle parent (outer 4,
# inner 8); batch norm, transposed convolutions, every join mode for both.
SKIP_BLOCK_EXERCISE = dict(parent_outer=4, child_outer=8, child_inner=16, embedding_dim=4, batch=2, parent_side=8)
SKIP_BLOCK_LAYOUT = (
    "down = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(outer, inner, 4, 2, 1, bias=False)"
    "[, nn.BatchNorm2d(inner) except at the innermost level]); "
    "up = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)); "
    "the child in self.submodule"
)


@_verdict_never_raises
def check_skip_block(make_block) -> bool:
    """Judge a hand-written ``UnetSkipConnectionBlock``, forward and backward, in every join mode.

    ``make_block(outer_channels=, inner_channels=, submodule=, embedding_dim=, skip=)``
    (a class or a function, called with those keywords) must build one level with the
    package's layout (``SKIP_BLOCK_LAYOUT``), an ``out_channels`` attribute (what it
    hands back) and ``forward(x, style)`` returning the joined map (a tensor, or a
    tuple whose first item is it). The checker builds an innermost block alone in each
    of the three modes, then a parent around a child for all nine pairs of modes, copies
    the weights into the package's blocks, and compares outputs and the gradients of
    every parameter, of ``x`` and of ``style``. It prints one line; it never raises.
    """
    return _check_skip_block(make_block)  # _verdict_never_raises: a verdict whatever the object does


def _build_learner_block(make_block, label: str, **arguments):
    try:
        return make_block(**arguments), None
    except Exception as error:
        if _unwritten(error):
            return None, f"not written yet: {label} raised NotImplementedError ({error})"
        return None, f"{label} raised {type(error).__name__}: {error}"


def _skip_block_cases():
    """``(child skip, parent skip or None)``: the innermost block alone, then every pair."""
    yield from ((mode, None) for mode in SKIP_MODES)
    yield from ((child, parent) for parent in SKIP_MODES for child in SKIP_MODES)


def _check_skip_block(make_block) -> bool:
    setup = SKIP_BLOCK_EXERCISE
    maker = getattr(make_block, "__name__", "make_block")
    for child_skip, parent_skip in _skip_block_cases():
        torch.manual_seed(0)
        child_arguments = dict(outer_channels=setup["child_outer"], inner_channels=setup["child_inner"], submodule=None,
                               embedding_dim=setup["embedding_dim"], skip=child_skip)
        child_label = f"{maker}({', '.join(f'{k}={v!r}' for k, v in child_arguments.items())})"
        child, verdict = _build_learner_block(make_block, child_label, **child_arguments)
        if verdict:
            return fail(verdict)
        reference_child = UnetSkipConnectionBlock(setup["child_outer"], setup["child_inner"], submodule=None,
                                                  embedding_dim=setup["embedding_dim"], skip=child_skip)
        verdict = _skip_block_layout_verdict(child, reference_child, child_label)
        if verdict:
            return fail(verdict)
        learner, reference, label = child, reference_child, child_label
        if parent_skip is not None:
            parent_arguments = dict(outer_channels=setup["parent_outer"], inner_channels=setup["child_outer"],
                                    submodule=child, embedding_dim=setup["embedding_dim"], skip=parent_skip)
            label = (f"a parent {maker}(outer_channels={setup['parent_outer']}, inner_channels={setup['child_outer']}, "
                     f"skip={parent_skip!r}) around a child with skip={child_skip!r}")
            parent, verdict = _build_learner_block(make_block, label, **parent_arguments)
            if verdict:
                return fail(verdict)
            reference = UnetSkipConnectionBlock(setup["parent_outer"], setup["child_outer"], submodule=reference_child,
                                                skip=parent_skip)
            verdict = _skip_block_layout_verdict(parent, reference, label)
            if verdict:
                return fail(verdict)
            learner = parent
        verdict = _skip_block_run_verdict(learner, reference, label)
        if verdict:
            return fail(verdict)
    print(f"✓ correct: an innermost block in each join mode and a parent around a child for all 9 pairs of modes "
          f"build the package's layers, ask the child for its width, and give the package's output and the same "
          f"gradients for every parameter, x and the style")
    return True


def _skip_block_layout_verdict(block, reference: UnetSkipConnectionBlock, label: str) -> str | None:
    """Names, shapes and ``out_channels`` against the package's block, or ``None``."""
    if not isinstance(block, nn.Module):
        return f"{label} returned {type(block).__name__}, not an nn.Module"
    found, expected = block.state_dict(), reference.state_dict()
    if not found:
        return f"not written yet: {label} has no layers; build {SKIP_BLOCK_LAYOUT}"
    place = "innermost" if reference.innermost else "middle"
    own = {k: v for k, v in found.items() if not k.startswith("submodule.")}
    wanted = {k: v for k, v in expected.items() if not k.startswith("submodule.")}
    extra, missing = sorted(set(own) - set(wanted)), sorted(set(wanted) - set(own))
    if any(k.endswith("conv.bias") or k in ("down.1.bias", "up.1.bias") for k in extra):
        return f"{label} has {', '.join(k for k in extra if k.endswith('bias'))}: the convolutions take no bias, a BatchNorm follows them (bias=False)"
    if reference.innermost and any(k.startswith("down.2.") for k in extra):
        return (f"{label}: the innermost down path has no norm (pix2pix and zi2zi do not normalise the bottleneck): "
                f"down = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(...))")
    if not reference.innermost and any(k.startswith("down.2.") for k in missing):
        return f"{label}: a middle block's down path ends in nn.BatchNorm2d(inner_channels), after its convolution"
    if extra or missing:
        listed = "; ".join(part for part in (f"missing {', '.join(missing)}" if missing else "",
                                             f"unexpected {', '.join(extra)}" if extra else "") if part)
        return f"{label} does not have the package's layers ({listed}): {SKIP_BLOCK_LAYOUT}"
    if reference.submodule is not None and getattr(block, "submodule", None) is None:
        return f"{label} does not keep its child: store it as self.submodule"
    for name in wanted:
        if tuple(own[name].shape) == tuple(wanted[name].shape):
            continue
        if name == "up.1.weight" and tuple(own[name].shape[1:]) == tuple(wanted[name].shape[1:]):
            return f"{label}: its up-convolution takes {own[name].shape[0]} channels, expected {wanted[name].shape[0]}: " + \
                _up_in_hint(reference, own[name].shape[0])
        return f"{label}: {name} has shape {tuple(own[name].shape)}, expected {tuple(wanted[name].shape)} ({SKIP_BLOCK_LAYOUT})"
    said = getattr(block, "out_channels", None)
    if callable(said):
        return (f"{label}.out_channels is a method: make it a @property (or a plain attribute) so that the parent "
                f"reads a number, submodule.out_channels")
    if said != reference.out_channels:
        how = {"concat": "x beside the up path: input + outer channels", "add": "x + up: outer channels",
               "none": "the up path alone: outer channels"}[reference.skip]
        shown = "no out_channels" if said is None else f"out_channels = {said!r}"
        return (f"{label} has {shown}, expected {reference.out_channels} ({place} block joined by {reference.skip!r} hands "
                f"back {how}); its parent asks for this number")
    return None


def _up_in_hint(reference: UnetSkipConnectionBlock, given: int) -> str:
    if reference.innermost:
        if given == reference.inner_channels:
            return f"the innermost up-conv also takes the {reference.embedding_dim}-channel style embedding, concatenated to the encoded map"
        return "the innermost up-conv takes the encoded map plus the style embedding: inner_channels + embedding_dim"
    child = reference.submodule
    own_flag = 2 * reference.inner_channels if reference.skip == "concat" else reference.inner_channels
    if given == own_flag:
        return (f"sized from this block's own skip mode ({reference.skip!r}), but the child joins with {child.skip!r} "
                f"and hands back {child.out_channels}: ask the child, submodule.out_channels")
    return f"the up-conv takes what the child hands back ({child.skip!r}: {child.out_channels}): submodule.out_channels"


def _manual_block(block: UnetSkipConnectionBlock, x, style, style_first: bool = True, x_first: bool = True):
    """The package block's forward with the concatenation orders as arguments (wrong orders name mistakes)."""
    encoded = block.down(x)
    if block.innermost:
        style_map = style[:, :, None, None].expand(-1, -1, encoded.shape[2], encoded.shape[3])
        up = block.up(torch.cat([style_map, encoded] if style_first else [encoded, style_map], dim=1))
    else:
        up = block.up(_manual_block(block.submodule, encoded, style, style_first, x_first))
    if block.skip == "concat":
        return torch.cat([x, up] if x_first else [up, x], dim=1)
    return x + up if block.skip == "add" else up


def _skip_block_run_verdict(block, reference: UnetSkipConnectionBlock, label: str) -> str | None:
    setup = SKIP_BLOCK_EXERCISE
    side = setup["parent_side"] if not reference.innermost else setup["parent_side"] // 2
    with torch.no_grad():
        reference.load_state_dict(block.state_dict())
    block.train()
    reference.train()
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(setup["batch"], reference.input_channels, side, side, generator=generator)
    style = torch.randn(setup["batch"], setup["embedding_dim"], generator=generator)
    block.zero_grad(set_to_none=True)
    x_learner, style_learner = x.clone().requires_grad_(True), style.clone().requires_grad_(True)
    try:
        out = block(x_learner, style_learner)
    except Exception as error:
        if _unwritten(error):
            return f"not written yet: {label}'s forward raised NotImplementedError ({error})"
        if "in-place" in str(error) or "inplace" in str(error):
            return (f"{label} writes into x in place ({type(error).__name__}: {str(error).splitlines()[0]}): an "
                    f"activation built with inplace=True, such as pix2pix's nn.LeakyReLU(0.2, True), overwrites the "
                    f"block's input, and the skip then joins the activated map; build the activations without it")
        return f"{label} on x {_shape(x)} and style {_shape(style)} raised {type(error).__name__}: {error}"
    if isinstance(out, (tuple, list)) and out:
        out = out[0]
    if not isinstance(out, torch.Tensor):
        return f"{label} returned {type(out).__name__}; forward(x, style) must return the joined map"
    x_reference, style_reference = x.clone().requires_grad_(True), style.clone().requires_grad_(True)
    expected, _ = reference(x_reference, style_reference)
    if out.shape != expected.shape:
        return (f"{label} returns {_shape(out)}, expected {_shape(expected)}: joined by {reference.skip!r} the block "
                f"hands back {reference.out_channels} channels at the size of x")
    if not _close(out.detach(), expected.detach()):
        with torch.no_grad():
            variants = {
                "the join puts the up path first: concatenate x first, torch.cat([x, up], dim=1)":
                    _manual_block(reference, x, style, x_first=False),
                "the style embedding comes after the encoded map: zi2zi puts it first, torch.cat([style_map, encoded], dim=1)":
                    _manual_block(reference, x, style, style_first=False),
            }
        for diagnosis, wrong in variants.items():
            if _close(out.detach(), wrong):
                return f"{label}: {diagnosis}"
        return (f"{label}: the output differs from the package's by up to {(out - expected).abs().max().item():.3g}; "
                f"check the order down, child, up, join, and the activations (LeakyReLU(0.2) down, ReLU up)")
    if out.grad_fn is None:
        return f"{label}'s output is cut off from autograd (torch.no_grad(), .detach() or .data in forward)"
    upstream = torch.randn(expected.shape, generator=generator)
    try:
        (out * upstream).sum().backward()
    except Exception as error:
        return f"{label}'s backward pass raised {type(error).__name__}: {error}"
    reference.zero_grad(set_to_none=True)
    (expected * upstream).sum().backward()
    learner_grads = {name: p.grad for name, p in block.named_parameters()}
    silent = [name for name, p in reference.named_parameters() if learner_grads.get(name) is None and p.grad.any()]
    if silent:
        shown = ", ".join(silent[:4]) + (f" and {len(silent) - 4} more" if len(silent) > 4 else "")
        return (f"{label}: {shown} get no gradient: the forward pass is cut off from autograd on their way to the "
                f"output (.detach(), .data or torch.no_grad())")
    for name, p in reference.named_parameters():
        got = learner_grads.get(name)
        if got is not None and not _close(got, p.grad, 1e-3):
            return (f"{label}: the gradient of {name} differs from the package's by up to "
                    f"{(got - p.grad).abs().max().item():.3g}, although the outputs agree (a layer called twice?)")
    for name, got, want in (("x", x_learner.grad, x_reference.grad), ("the style", style_learner.grad, style_reference.grad)):
        if got is None or not _close(got, want, 1e-3):
            what = "no gradient reaches" if got is None else "a different gradient reaches"
            return f"{label}: {what} {name} (detached, or joined differently?)"
    return None


# ---------------------------------------------------------------- lesson 03: whole generator

BUDGET_FRACTION = 0.9
BUDGET_ATTENTION_LEVELS = (5, 6, 7)  # the 8x8, 4x4 and 2x2 maps of a 256x256 image
BUDGET_DETAIL_LEVELS = (2, 3, 4)  # their skips carry the strokes' fine detail: keep them concatenated
_BUDGET_FIXED = ("input_nc", "output_nc", "num_downs", "ngf", "embedding_num", "embedding_dim", "norm", "upsample")


def parameter_budget() -> int:
    """The exercise's budget: 90% of the classic 8-level generator, rounded down."""
    return int(BUDGET_FRACTION * anatomy.parameter_totals({})["total"])


def _budget_size_effect(config: GeneratorConfig, name: str, classic_value) -> str:
    """What changing ``name`` away from the classic value does to the total, as a hint."""
    try:
        change = anatomy.parameter_totals(config)["total"] - anatomy.parameter_totals(replace(config, **{name: classic_value}))["total"]
    except (TypeError, ValueError, RuntimeError):
        return ""
    if change < 0:
        return f" (it saves {-change:,} parameters by shrinking the whole network, which is not the point: choose skips and attention)"
    if change > 0:
        return f" (it adds {change:,} parameters)"
    return ""


@_verdict_never_raises
def check_parameter_budget(answer) -> bool:
    """Lesson 03 exercise: attention on at least two of levels 5-7, concatenated skips
    on levels 2-4, everything else classic, and at most ``parameter_budget()`` parameters.

    ``answer`` is a dict of ``UNetGenerator`` arguments (e.g. ``attention_levels`` and
    ``level_skips``), a ``GeneratorConfig`` or a ``UNetGenerator``. Prints one line per
    rule that is broken, or the measured total when every rule holds.
    """
    try:
        config = anatomy.as_config(answer)
    except Exception as error:  # whatever the answer is, the verdict is printed
        return fail(f"not yet: the answer does not build a generator: {error}")
    classic = GeneratorConfig()
    problems = []
    for name in _BUDGET_FIXED:
        given, kept = getattr(config, name), getattr(classic, name)
        if given != kept:
            problems.append(f"{name} is {given!r}; the task keeps the classic {kept!r}{_budget_size_effect(config, name, kept)}")
    attention = set(config.attention_levels)
    if 8 in attention:
        problems.append("attention on level 8: at 256x256 it encodes a 1x1 map, where attention is gamma * value(x) + x "
                        "and sees no other position; put it on levels 5-7")
    too_large = sorted(level for level in attention if level < min(BUDGET_ATTENTION_LEVELS))
    if too_large:
        problems.append(f"attention on level(s) {too_large}: the task allows levels 5-7 (maps of 8x8 to 2x2); "
                        f"larger maps make the attention matrix explode")
    chosen = attention & set(BUDGET_ATTENTION_LEVELS)
    if len(chosen) < 2:
        problems.append(f"attention on {len(chosen)} of levels 5-7 ({sorted(chosen) or 'none'}); the task asks for at least 2")
    detail = {level: config.level_skip(level) for level in BUDGET_DETAIL_LEVELS if config.level_skip(level) != "concat"}
    if detail:
        shown = ", ".join(f"level {level}: {mode!r}" for level, mode in detail.items())
        problems.append(f"the detail levels must keep concatenated skips, but {shown}")
    total, budget = anatomy.parameter_totals(config)["total"], parameter_budget()
    if total > budget:
        problems.append(f"{total:,} parameters is {total - budget:,} over the budget of {budget:,}; remember that "
                        f"removing level k's concatenated skip shrinks the up-convolution of level k - 1")
    if problems:
        print("✗ not yet:")
        for problem in problems:
            print(f"  - {problem}")
        return False
    changed = [level for level in range(2, config.num_downs + 1) if config.level_skip(level) != "concat"]
    print(f"✓ right: attention on levels {sorted(attention)}, skips changed on levels {changed}: "
          f"{total:,} parameters, {budget - total:,} under the budget of {budget:,}.")
    return True


# The multiply-add exercise: level 5 of the classic generator at 512x512 (its down
# convolution makes the 16x16 map; its up-convolution doubles the 16x16 map that level 6
# hands back, 1024 channels, to 32x32). Lesson 03 prints every layer's count at 256x256,
# so the exercise asks for another image size: the counting rule, not the table.
MULTIPLY_ADDS_LEVEL = 5
MULTIPLY_ADDS_IMAGE_SIZE = 512
MULTIPLY_ADDS_FIELDS = ("down_conv", "up_conv")


def _level_multiply_adds(level: int = MULTIPLY_ADDS_LEVEL, image_size: int = MULTIPLY_ADDS_IMAGE_SIZE) -> dict:
    """Level ``level``'s two convolutions, as PyTorch's flop counter and torchinfo count them."""
    table = convolution_multiply_adds({}, image_size=image_size)
    found = {}
    for record in table.records():
        if record["level"] == level:
            found[f"{record['part']}_conv"] = record
    return found


def _multiply_adds_hint(field: str, given: int, expected: dict, rows: dict, at_256: dict) -> str:
    row = rows[field]
    (in_h, in_w), (out_h, out_w) = ((int(n) for n in row[key].split("x")) for key in ("input map", "output map"))
    layer = row["layer"]
    right = expected[field]
    taps = 16
    if given == at_256[field]:
        return (f"that is the count at 256x256 (section 3's table); at {MULTIPLY_ADDS_IMAGE_SIZE}x"
                f"{MULTIPLY_ADDS_IMAGE_SIZE} every map is twice as wide, so this layer works on {in_h}x{in_w} -> "
                f"{out_h}x{out_w}")
    if given == 2 * right:
        return "that counts FLOPs: a multiply-add is two of them; give multiply-adds"
    if field == "up_conv":
        if given == row["torchinfo"]:
            return (f"this is torchinfo's count, output pixels ({out_h}x{out_w}) x 16 taps x channels: a stride-2 "
                    f"transposed convolution spreads each input pixel over 16 output pixels, and each output pixel "
                    f"receives only 4 taps: count input pixels ({in_h}x{in_w}) x 16 taps x channels")
        if given == right // 2:
            return "the up-convolution takes 1024 channels: level 6 hands back its input and its up path side by side"
        return f"{layer}: input pixels x 16 taps x input channels x output channels"
    if given == in_h * in_w * taps * right // (out_h * out_w * taps):
        return f"a convolution computes each output pixel ({out_h}x{out_w} of them) from 16 taps, not each input pixel"
    return f"{layer}: output pixels x 16 taps x input channels x output channels"


@_verdict_never_raises
def check_multiply_adds(answers) -> bool:
    """Judge predicted multiply-adds of level 5's two convolutions in the classic
    generator at 512x512, one image: ``answers["down_conv"]`` and ``answers["up_conv"]``.

    The expected numbers are counted by PyTorch's ``FlopCounterMode`` on the real
    layers (``cost.convolution_multiply_adds``), not typed in; an answer equal to
    torchinfo's count for the transposed convolution is named as such. Never raises.
    """
    try:
        rows = _level_multiply_adds()
    except Exception as error:  # not the learner's fault, but a verdict all the same
        return fail(f"could not count the layers: {type(error).__name__}: {error}")
    expected = {field: rows[field]["flop counter"] for field in MULTIPLY_ADDS_FIELDS}
    at_256 = {field: row["flop counter"] for field, row in _level_multiply_adds(image_size=256).items()}
    return _judge_predictions(answers, expected, MULTIPLY_ADDS_FIELDS,
                              lambda field, given, want: _multiply_adds_hint(field, given, want, rows, at_256))


# ---------------------------------------------------------------- lessons 04-05: skips under attention, cost of attention
# Configurations the rule checker tries: every skip mode, both upsamplings, attention
# on shallow and deep levels, skips removed or switched under attention.
_RULE_CASES = (
    dict(),
    dict(num_downs=7, upsample="pixelshuffle", skip="add", attention_levels=(5, 7)),
    dict(num_downs=7, upsample="pixelshuffle", skip="add", attention_levels=(5, 7), skip_under_attention="concat"),
    dict(num_downs=7, upsample="pixelshuffle", skip="concat", attention_levels=(5, 7), skip_under_attention="none"),
    dict(num_downs=8, skip="concat", attention_levels=(2, 6, 8), skip_under_attention="add"),
    dict(num_downs=6, ngf=16, embedding_dim=64, skip="none", attention_levels=(3,), skip_under_attention="concat"),
    dict(num_downs=5, ngf=8, input_nc=3, output_nc=3, skip="add", attention_levels=(2, 3), skip_under_attention="concat"),
    dict(num_downs=7, skip="concat", attention_levels=(6,), level_skips={3: "none", 6: "add", 7: "none"}),
)


def _whole_number(value) -> int | None:
    """``value`` as an ``int`` when it is a whole number (an int, a NumPy integer, a float
    such as 3.0, a one-element tensor or array); ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, (torch.Tensor, np.ndarray)):
            elements = value.size if isinstance(value, np.ndarray) else value.numel()
            if elements != 1:
                return None
            value = value.item()
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
            return int(value)
    except Exception:  # whatever the learner's object does when asked, it is not a number
        return None
    return None


def _not_written(answer) -> bool:
    return answer is None or answer is Ellipsis


def _case_name(case: dict) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in case.items()) or "the default configuration"


def _rule_hint(config: GeneratorConfig, level: int, got) -> str:
    """Why a learner's width for ``level`` is wrong, when it matches a typical mistake."""
    innermost = config.num_downs
    _, inner, _ = config.level_channels(level)
    if level == innermost:
        if got == inner:
            return "the innermost up-convolution also reads the font embedding: inner channels + embedding_dim"
        return "the innermost up-convolution reads its encoded map plus the font embedding"
    child_input, _, child_outer = config.level_channels(level + 1)
    child_skip = config.level_skip(level + 1)
    own_skip = config.level_skip(level)
    if child_skip == "concat":
        hints = [f"level {level + 1} concatenates: it hands back its input x ({child_input} channels) next to "
                 f"its up path ({child_outer})"]
    else:
        hints = [f"level {level + 1} joins with {child_skip!r}: it hands back its up path's width, {child_outer} channels"]
    if got == (2 * inner if own_skip == "concat" else inner):
        hints.append(f"your number is what level {level}'s own skip ({own_skip!r}) would suggest, the second attempt "
                     f"of section 4, but the up-convolution reads what the child hands back")
    return "; ".join(hints)


@_verdict_never_raises
def check_up_conv_rule(up_conv_in_channels) -> bool:
    """Lesson 04: ``up_conv_in_channels(config) -> {level: channels}`` must give every
    level's up-convolution input for several configurations, as the package builds them.
    Names the first level that differs and, for the common mistakes, why."""
    if not callable(up_conv_in_channels):
        return fail(f"give a function up_conv_in_channels(config) -> {{level: channels}}, got {type(up_conv_in_channels).__name__}")
    for case in _RULE_CASES:
        config = GeneratorConfig(**case)
        expected = {info.level: info.up_in_channels for info in build_meta(config).levels(None)}
        try:
            answer = up_conv_in_channels(config)
        except Exception as error:  # the learner's code: report, never crash the notebook
            return fail(f"for {_case_name(case)} your function raised {type(error).__name__}: {error}")
        if _not_written(answer):
            return fail("not written yet: your function returns nothing; return a dict {level: channels}")
        if not isinstance(answer, Mapping):
            return fail(f"return a dict {{level: channels}}, got {type(answer).__name__}")
        if not answer:
            return fail(f"not written yet: the dict is empty; give one entry per level, 1 .. {config.num_downs}")
        keys = {_whole_number(key) for key in answer}
        if keys == set(range(config.num_downs)):
            return fail(f"levels are numbered from 1 (outermost) to {config.num_downs} (innermost), not from 0")
        missing = sorted(set(expected) - keys)
        if missing:
            return fail(f"for {_case_name(case)} there is no entry for level(s) {missing}")
        extra = [key for key in answer if _whole_number(key) not in expected]
        if extra:
            return fail(f"for {_case_name(case)} your dict has entries {extra!r}, but the generator has levels "
                        f"1 .. {config.num_downs} only: one entry per level, no more")
        values = {_whole_number(key): value for key, value in answer.items()}
        for level in sorted(expected):
            got = _whole_number(values[level])
            if got != expected[level]:
                return fail(
                    f"for {_case_name(case)}, level {level} (skip {config.level_skip(level)!r}) should read "
                    f"{expected[level]} channels, your function says {values[level]!r}: {_rule_hint(config, level, got)}"
                )
    print(f"✓ correct for all {len(_RULE_CASES)} configurations: a level reads what its child hands back")
    return True


# The parameter-change exercise of lesson 04: the classic generator with attention on levels 6
# and 8, before and after removing the skips under attention.
PARAMETER_CHANGE_BASELINE = dict(attention_levels=(6, 8))
PARAMETER_CHANGE_CANDIDATE = dict(attention_levels=(6, 8), skip_under_attention="none")


def _same_generator(a, b) -> bool:
    """Whether two specifications build the same generator, level for level."""
    return build_meta(a).levels(None) == build_meta(b).levels(None)


@_verdict_never_raises
def check_parameter_change(answer, baseline=PARAMETER_CHANGE_BASELINE, candidate=PARAMETER_CHANGE_CANDIDATE) -> bool:
    """Lesson 04: the predicted change in total parameters from ``baseline`` to ``candidate``
    (dicts of ``UNetGenerator`` arguments), against the change measured on both models.
    The exercise asks about ``PARAMETER_CHANGE_BASELINE`` and ``PARAMETER_CHANGE_CANDIDATE``;
    other configurations passed in (the template's two dicts, edited) get a verdict saying so,
    so that an answer right for another pair of generators is not taken for this one."""
    for name, given, exercise in (("baseline", baseline, PARAMETER_CHANGE_BASELINE),
                                  ("candidate", candidate, PARAMETER_CHANGE_CANDIDATE)):
        try:
            same = _same_generator(given, exercise)
        except (TypeError, ValueError) as error:
            return fail(f"the {name} configuration does not build a generator ({error}); the exercise's is {exercise}")
        if not same:
            return fail(f"the {name} configuration was changed to {given!r}; the exercise asks about {exercise}: "
                        f"restore the template's two dicts")
    base_model, new_model = build_meta(baseline), build_meta(candidate)
    measured = count_parameters(new_model) - count_parameters(base_model)
    if _not_written(answer):
        return fail("not written yet: replace ... with your predicted change, e.g. -1_234_567")
    value = _whole_number(answer)
    if value is None:
        return fail(f"give the change as a whole number of parameters (negative for fewer), got {answer!r}")
    if value == measured:
        print(f"✓ correct: {measured:+,} parameters ({count_parameters(base_model):,} -> {count_parameters(new_model):,})")
        return True
    attention = anatomy.parameter_totals(new_model)["attention"]
    hints = {
        -measured: "right size, wrong sign: the change is candidate minus baseline (fewer parameters: negative)",
        2 * measured: "twice the change: each narrowed up-convolution loses (1024 - 512) input channels once",
        measured // 2 if measured % 2 == 0 else None: "that is one up-convolution: two skips go, so two parents narrow",
        measured * 9 // 16 if measured * 9 % 16 == 0 else None:
            "that counts 3x3 kernels; a ConvTranspose2d with kernel 4 has 4 x 4 = 16 weights per input and output channel",
        measured + attention: "attention is in both designs: its parameters cancel",
        measured - attention: "attention is in both designs: its parameters cancel",
    }
    hint = hints.get(value, "which up-convolutions change their input width, by how many channels, and what does one "
                            "input channel cost there?")
    return fail(f"{value:+,} is off by {value - measured:+,}; {hint}")


@_verdict_never_raises
def check_matrix_bytes(matrix_bytes) -> bool:
    """Lesson 05: ``matrix_bytes(side, batch, bytes_per_entry)`` for a side x side map."""
    if not callable(matrix_bytes):
        return fail(f"give a function matrix_bytes(side, batch, bytes_per_entry), got {type(matrix_bytes).__name__}")
    # (2, 3, 2) first after 1x1: there every typical mistake gives a different number
    for side, batch, per_entry in ((1, 1, 4), (2, 3, 2), (16, 4, 4), (128, 16, 4), (64, 1, 2)):
        expected = attention_matrix_bytes(side, batch=batch, bytes_per_entry=per_entry)
        try:
            answer = matrix_bytes(side, batch, per_entry)
        except Exception as error:  # the learner's code: report, never crash the notebook
            return fail(f"matrix_bytes({side}, {batch}, {per_entry}) raised {type(error).__name__}: {error}")
        if _not_written(answer):
            return fail("not written yet: your function returns nothing")
        value = _whole_number(answer)
        if value == expected:
            continue
        pixels = side * side
        hints = {
            batch * pixels * per_entry: "that is one entry per pixel; the weights have one entry per pair of pixels, N x N with N = side x side",
            pixels * pixels * per_entry: "every image in the batch has its own N x N weights: multiply by the batch",
            batch * pixels * pixels: "that counts entries; multiply by the bytes per entry",
        }
        hint = hints.get(value, "batch x N x N entries, N = side x side, times the bytes per entry")
        shown = f"{value:,}" if value is not None else repr(answer)
        return fail(f"a {side}x{side} map, batch {batch}, {per_entry} bytes per entry needs {expected:,} bytes; "
                    f"yours says {shown}: {hint}")
    print("✓ correct: batch x (side²)² entries, times the bytes per entry")
    return True


@_verdict_never_raises
def check_diffusion_levels(answer, ngf: int, num_downs: int = 8, num_heads: int = 8, num_groups: int = 32) -> bool:
    """Lesson 05: the set of levels whose width takes GroupNorm(num_groups) and num_heads heads."""
    table = channel_constraints(dict(ngf=ngf, num_downs=num_downs), num_heads=num_heads, num_groups=num_groups)
    widths = dict(zip(table.column("level"), table.column("channels")))
    expected = {row["level"] for row in table.records() if row["diffusion block fits"]}
    if _not_written(answer):
        return fail("not written yet: replace ... with a set of level numbers, e.g. {4, 5}")
    if isinstance(answer, (str, bytes, Mapping)) or not isinstance(answer, Iterable):
        return fail(f"give a set of level numbers, e.g. {{4, 5}}, got {answer!r}")
    try:
        given = list(answer)
    except Exception as error:  # an iterable that fails while iterating
        return fail(f"could not read your answer as a set of levels ({type(error).__name__}: {error})")
    levels = {_whole_number(level) for level in given}
    if None in levels:
        return fail(f"give level numbers (integers 1..{num_downs}), got {answer!r}")
    outside = sorted(level for level in levels if not 1 <= level <= num_downs)
    if outside:
        return fail(f"the generator has levels 1..{num_downs}; {outside} is not one of them")
    if levels == expected:
        print(f"✓ correct: levels {sorted(expected)} (widths {', '.join(str(widths[level]) for level in sorted(expected))})")
        return True
    reasons = []
    for level in sorted(levels - expected):
        why = table.column("why not")[level - 1]
        reasons.append(f"level {level} has {widths[level]} channels and cannot take it ({why})")
    for level in sorted(expected - levels):
        reasons.append(f"level {level} has {widths[level]} channels, a multiple of {num_groups} and of {num_heads}: it fits")
    return fail("; ".join(reasons) + " (widths: level 1 = ngf, 2 = 2 ngf, 3 = 4 ngf, deeper = 8 ngf)")


def seed002_attention_parameters(num_downs: int = 8, ngf: int = 64, output_nc: int = 1) -> int:
    """Parameters seed 002's sketch adds to a pix2pix UNet: ``SelfAttention(outer channels)``
    in every block, measured on the package's blocks for levels 2 .. num_downs (their up
    paths' widths), plus the 1-channel block it builds at the outermost level (query and
    key of 1 // 8 = 0 channels: only the value convolution and gamma have parameters)."""
    model = build_meta(dict(num_downs=num_downs, ngf=ngf, output_nc=output_nc))
    before = count_parameters(model)
    add_decoder_attention(model, range(2, num_downs + 1))
    return count_parameters(model) - before + self_attention_parameter_count(output_nc)


@_verdict_never_raises
def check_seed002_parameters(answer, num_downs: int = 8, ngf: int = 64, output_nc: int = 1) -> bool:
    """Lesson 05: the parameters seed 002's "attention in every block" adds."""
    expected = seed002_attention_parameters(num_downs, ngf, output_nc)
    if _not_written(answer):
        return fail("not written yet: replace ... with your number")
    value = _whole_number(answer)
    if value is None:
        return fail(f"give a whole number of parameters, got {answer!r}")
    if value == expected:
        print(f"✓ correct: {expected:,} parameters, {expected - self_attention_parameter_count(output_nc):,} in levels "
              f"2-{num_downs} and {self_attention_parameter_count(output_nc)} in the outermost block, which is never called")
        return True
    config = GeneratorConfig(num_downs=num_downs, ngf=ngf, output_nc=output_nc)
    outer = [config.level_channels(level)[2] for level in range(1, num_downs + 1)]
    inner = [config.level_channels(level)[1] for level in range(1, num_downs + 1)]
    no_bias = sum(2 * c * (c // 8) + c * c + 1 for c in outer)
    hints = {
        expected - self_attention_parameter_count(output_nc):
            f"the outermost block gets one too, SelfAttention({output_nc}): its query and key have {output_nc} // 8 = 0 "
            f"channels, but its value convolution ({output_nc} -> {output_nc}, with bias) and gamma have parameters",
        sum(self_attention_parameter_count(c) for c in inner):
            "those are the encoded maps' widths (inner channels); seed 002 attends to each block's up path, whose "
            "width is the block's outer channels",
        num_downs * self_attention_parameter_count(8 * ngf): "not every level has 8 x ngf channels: levels 1-4 are narrower",
        no_bias: "each 1x1 convolution has a bias per output channel",
        expected - num_downs: "each block has one gamma",
    }
    hint = hints.get(value, "per block 2(C·K + K) + C² + C + 1 with K = C // 8, C the block's outer channels (1, 64, 128, 256, then 512)")
    return fail(f"{value:,} is off by {value - expected:+,}; {hint}")


# ---------------------------------------------------------------- lesson 06: training
def _copy_l1(data, font_id: int, split: str = "held_out") -> float:
    """The copy-the-source L1 of ``data``'s ``split`` for target font ``font_id``, images in [-1, 1]."""
    chars = data.indices(split)
    source = data.source[chars].astype(np.float64) / 127.5
    target = data.targets[font_id, chars].astype(np.float64) / 127.5
    return float(np.abs(source - target).mean())


def _other_file_diagnoses(data, font_id: int, l1_of) -> list[tuple[float, str]]:
    """The copy L1 of the same font in the other shipped glyph file (the unseen characters when
    ``data`` is the training file): the lessons load both, so a learner can take the wrong one."""
    from .glyphs import UNSEEN_DATA, load_glyphs

    try:
        unseen = load_glyphs(UNSEEN_DATA)
    except Exception:  # no unseen file on this machine: nothing to diagnose
        return []
    if unseen.fingerprint() != data.fingerprint() or set(unseen.characters) == set(data.characters):
        return []
    return [(l1_of(unseen), f"this is on the {len(unseen.indices('held_out')):,} unseen characters "
                            f"({UNSEEN_DATA.name}), not on the validation split of the data you were given "
                            f"(data.indices('held_out'))")]


@_verdict_never_raises
def check_copy_baseline(value, data, font_id: int, split: str = "held_out") -> bool:
    """Judge a hand-computed copy-the-source L1 for target font ``font_id``.

    The reference: mean |source - target| over the split's characters, with both
    images scaled to [-1, 1] (uint8 / 127.5 - 1), as ``training.evaluate`` reports it.
    """

    def l1(chars, font, scale):
        source = data.source[chars].astype(np.float64) / scale
        target = data.targets[font, chars].astype(np.float64) / scale
        return float(np.abs(source - target).mean())

    chars = data.indices(split)
    right = l1(chars, font_id, 127.5)
    if value is None or value is Ellipsis:
        return fail(f"not written yet: give the L1 as a number (got {value!r})")
    if isinstance(value, (str, bytes, bool)):
        return fail(f"give the L1 as a number, not {type(value).__name__} {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return fail(f"give the L1 as one number (got {type(value).__name__})")
    if abs(value - right) <= 1e-4 * max(1.0, right):
        print(f"✓ correct: the copy-the-source L1 for {data.font_labels[font_id]} is {right:.4f}")
        return True
    diagnoses = [
        (l1(chars, font_id, 1.0), "this is the L1 in 0..255 grey levels: divide the images by 127.5 (the [-1, 1] scale)"),
        (l1(chars, font_id, 255.0), "this is the L1 with images in [0, 1]: the lessons use [-1, 1], twice as wide"),
        (l1(data.indices("all"), font_id, 127.5), "this uses every character: take only the held-out ones (data.indices('held_out'))"),
        (l1(data.indices("train"), font_id, 127.5), "this uses the training characters: take the held-out ones"),
    ]
    diagnoses += [(l1(chars, other, 127.5), f"this is font {other} ({data.font_labels[other]}), not font {font_id}")
                  for other in range(data.num_fonts) if other != font_id]
    # uint8 arrays subtract modulo 256: |source - target| taken before converting to float wraps around
    wrapped = np.abs(data.source[chars] - data.targets[font_id, chars]).astype(np.float64)
    diagnoses += [(float(wrapped.mean()) / scale, "the images are uint8, and uint8 subtraction wraps around below 0 "
                   "(3 - 5 = 254): convert to float (divide by 127.5) before subtracting")
                  for scale in (127.5, 255.0, 1.0)]
    diagnoses += _other_file_diagnoses(data, font_id, l1_of=lambda other: _copy_l1(other, font_id))
    for wrong, hint in diagnoses:
        if abs(value - wrong) <= 1e-4 * max(1.0, abs(wrong)):
            return fail(f"{value:.4f}; {hint}")
    return fail(f"{value:.4f}, expected {right:.4f} (mean |source - target| over the {len(chars)} {split} characters, "
                "images in [-1, 1])")


@_verdict_never_raises
def check_constant_loss(constant_loss) -> bool:
    """Judge ``constant_loss(generator, source, fake) -> scalar tensor``, forward and backward.

    The reference: the mean squared difference between the generator's bottleneck
    of the source glyphs and of the generated glyphs, ``MSE(encode(source), encode(fake))``,
    with the gradient flowing through both encodings (into the generator's encoder and
    into ``fake``, which in training is the generator's output), as in zi2zi and both
    PyTorch ports. The learner's random state is left as it was.
    """
    torch.manual_seed(6)  # _verdict_never_raises restores the learner's random state
    # train mode, as in training: BatchNorm normalises each batch by its own statistics
    generator = UNetGenerator.from_config(tiny_generator_config(num_fonts=3, ngf=8, embedding_dim=8)).train()
    source = torch.rand(4, 1, 64, 64) * 2 - 1
    fake_values = torch.rand(4, 1, 64, 64) * 2 - 1

    def gradients(loss_function):
        """The loss's value, the gradient on ``fake`` and on every generator parameter."""
        generator.zero_grad(set_to_none=True)
        fake = fake_values.clone().requires_grad_(True)
        value = loss_function(fake)
        value.backward()
        return value.detach(), fake.grad, {name: p.grad for name, p in generator.named_parameters()}

    right, right_fake_grad, right_grads = gradients(lambda fake: F.mse_loss(generator.encode(fake), generator.encode(source)))
    _, _, source_detached_grads = gradients(
        lambda fake: F.mse_loss(generator.encode(fake), generator.encode(source).detach()))
    with torch.no_grad():
        code_source, code_fake = generator.encode(source), generator.encode(fake_values)
        wrong = {
            "this is the L1 (mean absolute) difference of the bottlenecks: the constant loss squares it (MSE)":
                F.l1_loss(code_fake, code_source),
            "this is the sum of the squared differences: take their mean": F.mse_loss(code_fake, code_source, reduction="sum"),
            "this compares the images, not their bottlenecks: encode both with generator.encode first":
                F.mse_loss(fake_values, source),
        }
    generator.zero_grad(set_to_none=True)
    fake = fake_values.clone().requires_grad_(True)
    try:
        answer = constant_loss(generator, source, fake)
    except Exception as error:  # the learner's code: report any failure as a verdict
        return fail(f"calling constant_loss(generator, source, fake) raised {type(error).__name__}: {error}")
    if answer is None or answer is Ellipsis:
        return fail("not written yet: return the loss as a scalar tensor")
    if not isinstance(answer, torch.Tensor) or answer.numel() != 1:
        return fail(f"return one number as a tensor (got {type(answer).__name__}"
                    f"{' of shape ' + str(tuple(answer.shape)) if isinstance(answer, torch.Tensor) else ''})")
    value = answer.detach().float().reshape(())
    if not torch.allclose(value, right, rtol=1e-4, atol=1e-7):
        for hint, wrong_value in wrong.items():
            if torch.allclose(value, wrong_value, rtol=1e-4, atol=1e-7):
                return fail(hint)
        return fail(f"got {value.item():.4g}, expected {right.item():.4g} = mean((encode(fake) - encode(source)) ** 2)")
    if not answer.requires_grad:
        return fail("the value is right, but the loss is cut off from autograd (torch.no_grad(), .item(), .detach() "
                    "or .data): training would get no gradient from it; compute it with torch operations on the encodings")
    answer.reshape(()).backward()
    learner_grads = {name: p.grad for name, p in generator.named_parameters()}

    def same(grads, reference):
        return all((got is None) == (want is None) and (got is None or _close(got, want, 1e-3))
                   for got, want in ((grads[name], reference[name]) for name in reference))

    if fake.grad is None or not _close(fake.grad, right_fake_grad, 1e-3):
        return fail("the value is right, but no gradient (or another one) reaches fake: in training fake is the "
                    "generator's output, and the constant loss must reach it through encode(fake)")
    if same(learner_grads, source_detached_grads) and not same(source_detached_grads, right_grads):
        return fail("the value is right, but encode(source) is detached: in zi2zi (and both PyTorch ports) the "
                    "gradient of the constant loss flows through both bottlenecks into the encoder")
    if not same(learner_grads, right_grads):
        return fail("the value is right, but the generator's gradients differ from the reference's: is an encoding "
                    "computed twice, detached, or in eval mode?")
    print(f"✓ correct: the MSE between the 2x2 bottlenecks is {right.item():.4g}")
    return True


@_verdict_never_raises
def check_category_loss(category_loss) -> bool:
    """Judge ``category_loss(logits, labels) -> scalar tensor``: zi2zi's font-category loss.

    The reference: a sigmoid cross-entropy of every font logit against one-hot labels,
    averaged over the batch *and* the fonts (zi2zi's ``sigmoid_cross_entropy_with_logits``
    then ``reduce_mean``), checked forward and backward (the gradient on the logits), on
    a batch of 4 fonts that holds every font and one of 5 fonts that lacks the last two
    (a one-hot built from the labels alone would be too narrow there)."""
    torch.manual_seed(61)  # _verdict_never_raises restores the learner's random state
    cases = [(torch.randn(6, 4) * 2, torch.tensor([0, 3, 1, 1, 2, 3])),
             (torch.randn(6, 5) * 2, torch.tensor([0, 1, 1, 2, 0, 2]))]
    first = None
    for logits, labels in cases:
        verdict = _category_loss_verdict(category_loss, logits, labels)
        if isinstance(verdict, str):
            return fail(verdict)
        first = verdict if first is None else first
    print(f"✓ correct: {first.item():.4f}, the mean over 6 glyphs x 4 fonts of the sigmoid cross-entropy, "
          "with the gradient zi2zi's discriminator gets")
    return True


def _category_loss_verdict(category_loss, logits: torch.Tensor, labels: torch.Tensor):
    """The right loss value when ``category_loss`` computes it, forward and backward, else a verdict string."""
    fonts = logits.shape[1]
    one_hot = F.one_hot(labels, fonts).float()

    def gradient(loss_function):
        x = logits.clone().requires_grad_(True)
        value = loss_function(x)
        value.backward()
        return value.detach(), x.grad

    right, right_grad = gradient(lambda x: F.binary_cross_entropy_with_logits(x, one_hot))
    wrong = {
        "this is the softmax cross-entropy (one font among several): zi2zi scores every font logit on its "
        "own with a sigmoid against the one-hot labels": lambda x: F.cross_entropy(x, labels),
        "this sums over the fonts and averages over the batch only: zi2zi averages over both (reduce_mean)":
            lambda x: F.binary_cross_entropy_with_logits(x, one_hot, reduction="none").sum(1).mean(),
        "this sums everything: take the mean over the batch and the fonts":
            lambda x: F.binary_cross_entropy_with_logits(x, one_hot, reduction="sum"),
        "this applies the sigmoid twice: binary_cross_entropy_with_logits takes raw logits":
            lambda x: F.binary_cross_entropy_with_logits(torch.sigmoid(x), one_hot),
    }
    x = logits.clone().requires_grad_(True)
    batch = f"a batch whose labels are {labels.tolist()} ({fonts} fonts)"
    try:
        answer = category_loss(x, labels.clone())
    except Exception as error:  # the learner's code: report any failure as a verdict
        hint = ""
        if labels.max().item() < fonts - 1:
            hint = (f"; the batch holds no glyph of font {fonts - 1}: is the one-hot's width read off the labels "
                    f"(F.one_hot(labels)) or typed in? Give it one column per font: F.one_hot(labels, logits.shape[1])")
        return f"calling category_loss(logits, labels) on {batch} raised {type(error).__name__}: {error}{hint}"
    if answer is None or answer is Ellipsis:
        return "not written yet: return the loss as a scalar tensor"
    if not isinstance(answer, torch.Tensor) or answer.numel() != 1:
        return (f"return one number as a tensor (got {type(answer).__name__}"
                f"{' of shape ' + str(tuple(answer.shape)) if isinstance(answer, torch.Tensor) else ''})")
    if not answer.requires_grad:
        return ("the loss does not depend on the logits through autograd (no gradient would reach the "
                "discriminator): compute it from the logits with torch operations")
    value = answer.detach().float().reshape(())
    if torch.allclose(value, right, rtol=1e-4, atol=1e-6):
        answer.reshape(()).backward()
        if x.grad is None or not torch.allclose(x.grad, right_grad, rtol=1e-3, atol=1e-6):
            return "the value is right but its gradient is not: compute it from the logits themselves"
        return right
    for hint, loss_function in wrong.items():
        if torch.allclose(value, loss_function(logits), rtol=1e-4, atol=1e-6):
            return f"{hint} (on {batch})"
    return (f"got {value.item():.4g} on {batch}, expected {right.item():.4g} = mean over batch and fonts of "
            "binary_cross_entropy_with_logits(logits, one_hot(labels, number of fonts))")


# The problem check_recipe_comparison sets: the first RECIPE_CHECK_CHARACTERS characters of the
# shipped glyphs (every 10th of them in the validation split), a few steps, two seeds.
RECIPE_CHECK_CHARACTERS = 400
RECIPE_CHECK_STEPS = 2
RECIPE_CHECK_SEEDS = (0, 1)
RECIPES = ("zi2zi", "lesson")
_RECIPE_TOLERANCE = 1e-6  # trainings are deterministic per seed: the same run gives the same L1


def recipe_check_data(characters: int = RECIPE_CHECK_CHARACTERS):
    """The data ``check_recipe_comparison`` hands to the learner's function: the first
    ``characters`` characters of ``glyphs.load_glyphs()``, with their split (training and
    validation) as in the shipped data, so that a validation split is seconds to evaluate."""
    data = _glyphs.load_glyphs()
    if isinstance(characters, bool) or not isinstance(characters, int) or not 0 < characters <= len(data.characters):
        raise ValueError(f"characters={characters!r} is not accepted: give a whole number from 1 to "
                         f"{len(data.characters)} (the shipped data's characters)")
    keep = slice(0, characters)
    return replace(data, characters=data.characters[keep], source=data.source[keep],
                   targets=data.targets[:, keep], held_out=data.held_out[keep])


def recipe_config(recipe: str, data, seed: int):
    """The run ``(recipe, seed)`` of the comparison: the classic tiny generator trained with
    ``training.zi2zi_recipe`` (``"zi2zi"``) or ``training.TrainingConfig`` (``"lesson"``)."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe={recipe!r} is not accepted: use one of {', '.join(map(repr, RECIPES))}")
    generator = tiny_generator_config("classic", data.num_fonts)
    if recipe == "zi2zi":
        return _training.zi2zi_recipe(generator=generator, seed=seed)
    return _training.TrainingConfig(generator=generator, seed=seed)


def _validation_l1(data, config, steps: int) -> np.ndarray:
    """Per-font L1 on the validation split after ``steps`` steps: ``evaluate(...).generated_l1``
    computed without the SSIM that ``evaluate`` adds (the same numbers, in less time)."""
    trainer = _training.Trainer(data, config)
    trainer.train(steps, progress=False)
    generated = _training.generate_split(trainer.generator, data, "held_out")
    return _training.per_character_l1(data, "held_out", generated)["generated"].mean(axis=1)


def _l1_of(evaluation, fonts: int):
    """The per-font L1 of one returned run as an array, or a verdict string."""
    if isinstance(evaluation, (int, float, np.floating, np.integer, torch.Tensor, np.ndarray, list, tuple)):
        return (f"returned a {type(evaluation).__name__} for a run; give each run's Evaluation, what "
                f"training.evaluate(trainer.generator, data) returns")
    l1 = getattr(evaluation, "generated_l1", None)
    if l1 is None:
        return (f"returned a {type(evaluation).__name__} for a run; give each run's Evaluation, what "
                f"training.evaluate(trainer.generator, data) returns")
    values = np.asarray([float(v) for v in l1], dtype=np.float64)
    if values.shape != (fonts,):
        return f"a run's generated_l1 holds {values.size} values; the data has {fonts} target fonts"
    return values


def _same_l1(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) <= _RECIPE_TOLERANCE))


def _characters_hint(evaluated: int, data, run: str) -> str | None:
    """A verdict when a run was evaluated on another set of characters than the validation split."""
    validation = len(data.indices("held_out"))
    if evaluated == validation:
        return None
    named = {len(data.indices("train")): "the training characters of the data: the validation split is "
                                         "training.evaluate's default (data.indices('held_out'))",
             len(data.characters): "every character of the data, the training ones included: evaluate on the "
                                   "validation split, training.evaluate's default"}
    unseen = _glyphs.load_glyphs(_glyphs.UNSEEN_DATA)
    named.setdefault(len(unseen.indices("held_out")),
                     "the unseen characters (glyphs.UNSEEN_DATA): they are kept for the final report; a recipe "
                     "is chosen on the validation split of the data given, training.evaluate(trainer.generator, data)")
    named.setdefault(len(_glyphs.load_glyphs().indices("held_out")),
                     "the validation split of glyphs.load_glyphs(), not of the data given to your function: "
                     "train and evaluate on its argument data")
    what = named.get(evaluated, "another set of characters")
    return (f"{run} was evaluated on {evaluated:,} characters, {what} (the check's data has {validation} "
            f"validation characters)")


@_verdict_never_raises
def check_recipe_comparison(compare_with_zi2zi) -> bool:
    """Judge ``compare_with_zi2zi(data, steps, seeds) -> {(recipe, seed): Evaluation}``, lesson
    06's comparison of zi2zi's recipe with the lesson's.

    It runs the learner's function on a small problem, ``RECIPE_CHECK_STEPS`` steps and seeds
    ``RECIPE_CHECK_SEEDS`` on ``recipe_check_data()`` (the first ``RECIPE_CHECK_CHARACTERS``
    characters of the shipped glyphs, so that evaluating their validation split takes a
    fraction of a second: the check restricts the evaluation, and the reference is computed
    on the same restricted data), and compares each run's per-font L1 with the reference's:
    the classic tiny generator trained with ``training.zi2zi_recipe`` (key ``("zi2zi", seed)``)
    or ``training.TrainingConfig`` (key ``("lesson", seed)``), ``seed=seed``, for ``steps``
    steps (``Trainer(data, config).train(steps)``), then ``training.evaluate(trainer.generator,
    data)`` on the validation split. Trainings are deterministic per seed, so the L1 must be
    the same to 1e-6. Names the usual slips: keys or seeds missing, evaluating on other
    characters (the unseen ones, the training ones), one seed reused for every run, one
    recipe for both, a model never trained. What the learner's function prints is not shown
    (the verdict is one line); the learner's random state is left as it was.
    """
    data = recipe_check_data()
    steps, seeds = RECIPE_CHECK_STEPS, RECIPE_CHECK_SEEDS
    call = f"compare_with_zi2zi(data, steps={steps}, seeds={seeds})"
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            answer = compare_with_zi2zi(data, steps, seeds)
    except Exception as error:  # the learner's code: report any failure as a verdict
        return _raised(call, error)
    if _not_written(answer):
        return fail(f"not written yet: {call} returned {answer!r}")
    if not isinstance(answer, Mapping):
        return fail(f"{call} returned a {type(answer).__name__}; return a dict {{(recipe, seed): Evaluation}} "
                    f"with recipe 'zi2zi' or 'lesson'")
    expected = [(recipe, seed) for seed in seeds for recipe in RECIPES]
    keys = list(answer)
    missing = [key for key in expected if key not in answer]
    if missing:
        found_seeds = sorted({key[1] for key in keys if isinstance(key, tuple) and len(key) == 2
                              and key[0] in RECIPES}, key=repr)
        if found_seeds and all(seed in seeds for seed in found_seeds) and len(found_seeds) < len(seeds):
            absent = [seed for seed in seeds if seed not in found_seeds]
            return fail(f"{call} has no run for seed {', '.join(map(str, absent))}: train both recipes once per "
                        f"seed in seeds (keys {expected})")
        return fail(f"{call} returned the keys {keys[:6]}{' ...' if len(keys) > 6 else ''}; expected one per "
                    f"recipe and seed: {expected}")
    extra = [key for key in keys if key not in expected]
    if extra:
        return fail(f"{call} returned runs {extra[:4]} beside the expected ones {expected}: one per recipe and seed")

    values = {}
    for key in expected:
        run = f"run {key}"
        l1 = _l1_of(answer[key], data.num_fonts)
        if isinstance(l1, str):
            return fail(f"{run}: {l1}")
        evaluated = getattr(answer[key], "characters", None)
        if isinstance(evaluated, (int, np.integer)) and not isinstance(evaluated, bool):
            hint = _characters_hint(int(evaluated), data, run)
            if hint:
                return fail(hint)
        values[key] = l1

    reference = {key: _validation_l1(data, recipe_config(key[0], data, key[1]), steps) for key in expected}
    wrong = [key for key in expected if not _same_l1(values[key], reference[key])]
    if not wrong:
        means = {key: float(reference[key].mean()) for key in expected}
        per_recipe = "; ".join(f"{recipe} " + " / ".join(f"{means[(recipe, seed)]:.4f}" for seed in seeds)
                               for recipe in RECIPES)
        print(f"✓ correct: your {len(expected)} runs ({steps} steps, {len(data.indices('held_out'))} validation "
              f"characters) match the reference; validation L1, mean over fonts, seeds "
              f"{' / '.join(map(str, seeds))}: {per_recipe}")
        return True

    key = wrong[0]
    recipe, seed = key
    run = f"run {key}"
    untrained = _validation_l1(data, recipe_config(recipe, data, seed), 0)
    if _same_l1(values[key], untrained):
        return fail(f"{run} has the L1 of the untrained generator: train it for the given steps "
                    f"(trainer.train(steps, progress=False)) before evaluating it")
    other = RECIPES[1 - RECIPES.index(recipe)]
    if _same_l1(values[key], reference[(other, seed)]):
        if _same_l1(values[(other, seed)], reference[key]):
            return fail(f"the '{recipe}' and '{other}' runs are swapped: '{recipe}' is trained with "
                        + ("training.zi2zi_recipe(...)" if recipe == "zi2zi" else "training.TrainingConfig(...)"))
        build = "training.zi2zi_recipe(generator=..., seed=seed)" if recipe == "zi2zi" else \
            "training.TrainingConfig(generator=..., seed=seed)"
        return fail(f"{run} is the '{other}' recipe's run: both recipes were trained with the same config; "
                    f"train the '{recipe}' runs with {build}")
    for reused in seeds:
        if reused != seed and _same_l1(values[key], reference[(recipe, reused)]):
            return fail(f"{run} is the run of seed {reused}: each run must be trained with its own seed "
                        f"(the config's seed=seed), or the seeds measure nothing")
    return fail(f"{run}: validation L1 {', '.join(f'{v:.4f}' for v in values[key])}, expected "
                f"{', '.join(f'{v:.4f}' for v in reference[key])}: train the classic tiny generator "
                f"(training.tiny_generator_config('classic', data.num_fonts)) for exactly steps steps with the "
                f"recipe's config and seed=seed, then training.evaluate(trainer.generator, data)")


# ---------------------------------------------------------------- lesson 07: real zi2zi checkpoints
# Imported here so that this lesson's section stays in one place.
from . import upstream as _upstream  # noqa: E402
from .surgery import remove_skips as _remove_skips  # noqa: E402


def _not_written(answer) -> bool:
    return answer is None or answer is Ellipsis


def _upstream_skip_cases() -> list[tuple[str, dict, GeneratorConfig]]:
    """(name, upstream-layout state_dict, its configuration): both fixtures, and two
    generators whose levels mix concatenated and added skips (transposed and PixelShuffle)."""
    cases = []
    for folder in ("euphoria_classic", "max32002_fork"):
        state = _upstream.read_state_dict(_upstream.EXAMPLE_CHECKPOINTS / folder / "100_net_G.pth")
        cases.append((f"the {folder} checkpoint", state, _upstream.generator_config(state)))
    for upsample in ("transpose", "pixelshuffle"):
        model = UNetGenerator(num_downs=6, ngf=8, embedding_num=3, embedding_dim=8, upsample=upsample,
                              level_skips={3: "add_activated", 5: "add_activated"})
        state = _upstream.generator_state_dict(model)
        cases.append((f"a mixed {upsample} generator", state, model.config))
    return cases


@_verdict_never_raises
def check_skip_reader(skip_of_level) -> bool:
    """Lesson 07: ``skip_of_level(state_dict, level) -> "concat" | "add"`` for upstream files.

    Tried on every level (2..num_downs) of four upstream-layout state_dicts: the two
    fixtures and two generators that mix both skips, with each kind of up-convolution.
    """
    for name, state, config in _upstream_skip_cases():
        for level in range(2, config.num_downs + 1):
            expected = "concat" if config.level_skip(level) == "concat" else "add"
            try:
                answer = skip_of_level(state, level)
            except NotImplementedError:
                return fail("not written yet: skip_of_level raises NotImplementedError")
            except Exception as error:  # the learner's code: a verdict, never a crash
                return fail(f"skip_of_level(state_dict, {level}) raised {type(error).__name__}: {error} (on {name})")
            if _not_written(answer):
                return fail("not written yet: skip_of_level returns None")
            if not isinstance(answer, str):
                return fail(f"skip_of_level(state_dict, {level}) returned {answer!r} ({type(answer).__name__}); "
                            f"return the string 'concat' or 'add'")
            if answer == "add_activated":
                answer = "add"
            if answer != expected:
                key = "model." + "submodule." * (level - 2) + "up.1.weight"
                shape = tuple(state[key].shape)
                transposed = shape[2:] == (4, 4)
                reads = shape[0] if transposed else shape[1]
                width = config.level_channels(level)[2]
                return fail(
                    f"level {level} of {name} {'concatenates' if expected == 'concat' else 'adds'}, you said {answer!r}. "
                    f"Its skip shows in its PARENT's up-convolution {key} {shape}: a "
                    f"{'ConvTranspose2d stores (in, out, k, k)' if transposed else 'Conv2d stores (out, in, k, k)'}, "
                    f"so it reads {reads} channels, and level {level} hands back {width} (its up path) "
                    f"{'plus' if expected == 'concat' else 'without'} its input x ({width})"
                )
    print(f"✓ right on every level of all {len(_upstream_skip_cases())} state_dicts: a level concatenates "
          f"when its parent's up-convolution reads twice the level's width")
    return True


def surgery_parameter_change_reference() -> tuple[int, list[tuple[int, int]]]:
    """Lesson 07: removing the skips of levels 3 and 4 from the classic fixture:
    ``(total change, [(parent level, change), ...])``, measured with ``remove_skips``."""
    model = _upstream.load_generator(_upstream.EXAMPLE_CHECKPOINTS / "euphoria_classic" / "100_net_G.pth")
    surgered, report = _remove_skips(model, (3, 4))
    parts = []
    for item in report:
        parent = list(model.blocks())[item.parent - 1].up_conv
        kernel = parent.kernel_size[0] * parent.kernel_size[1]
        parts.append((item.parent, -(item.up_in_before - item.up_in_after) * parent.out_channels * kernel))
    measured = count_parameters(surgered) - count_parameters(model)
    if measured != sum(change for _, change in parts):
        raise AssertionError(f"the surgery changed {measured:+,} parameters, the up-convolutions account for {sum(c for _, c in parts):+,}")
    return measured, parts


@_verdict_never_raises
def check_surgery_parameter_change(answer) -> bool:
    """Lesson 07: the change in parameters when the classic fixture loses the skips of levels 3 and 4."""
    measured, parts = surgery_parameter_change_reference()
    if _not_written(answer):
        return fail("not written yet: give the change as an integer (negative for fewer parameters)")
    whole = _whole_number(answer)
    if whole is None:
        return fail(f"give the change as an integer number of parameters, got {answer!r}")
    answer = whole  # an int, a NumPy integer (np.prod of shapes), 10240.0 or a one-element tensor
    if answer == measured:
        detail = " + ".join(f"{change:,} at level {parent}" for parent, change in parts)
        print(f"✓ {measured:+,} parameters ({detail}): the dropped input channels of the parents' 4x4 transposed convolutions")
        return True
    if answer == -measured:
        return fail("right size, wrong sign: the surgery removes weights, so the change is negative")
    for parent, change in parts:
        if answer == change:
            return fail(f"that is only level {parent}'s up-convolution; each removed skip narrows its own parent")
    if answer * 16 == measured * 9:
        return fail("that counts 3x3 kernels: the classic port upsamples with 4x4 transposed convolutions (16 weights per channel pair)")
    return fail(f"{answer:+,} is not it: for each removed skip, its parent's up-convolution loses the skip's channels "
                f"x its output channels x 16 weights")


@_verdict_never_raises
def check_drop_skip_channels(drop_skip_channels) -> bool:
    """Lesson 07: ``drop_skip_channels(weight, skip_channels, transposed) -> weight`` cuts a
    parent's up-convolution weight for a removed concatenated skip.

    Tried on the classic fixture (4x4 transposed convolutions) and on a concatenating
    PixelShuffle generator, removing the skips of levels 3 and 4: the surgered model built
    with your weights must give ``remove_skips``'s output, and the same gradients.
    """
    torch.manual_seed(0)
    classic = _upstream.load_generator(_upstream.EXAMPLE_CHECKPOINTS / "euphoria_classic" / "100_net_G.pth")
    pixelshuffle = UNetGenerator(num_downs=6, ngf=8, embedding_num=6, embedding_dim=16, upsample="pixelshuffle").eval()
    images, labels = torch.rand(2, 1, 64, 64) * 2 - 1, torch.tensor([1, 4])
    for name, model in (("the classic checkpoint", classic), ("a PixelShuffle generator", pixelshuffle)):
        reference, report = _remove_skips(model, (3, 4))
        state = reference.state_dict()
        for item in report:
            key = "model." + "submodule." * (item.parent - 1) + "up.1.weight"
            original = model.state_dict()[key]
            transposed = isinstance(list(model.blocks())[item.parent - 1].up_conv, nn.ConvTranspose2d)
            try:
                answer = drop_skip_channels(original.clone(), item.dropped[1], transposed)
            except NotImplementedError:
                return fail("not written yet: drop_skip_channels raises NotImplementedError")
            except Exception as error:
                return fail(f"drop_skip_channels raised {type(error).__name__}: {error} (level {item.parent}'s up-convolution of {name})")
            if _not_written(answer):
                return fail("not written yet: drop_skip_channels returns None")
            if not isinstance(answer, torch.Tensor):
                return fail(f"return a tensor, got {type(answer).__name__}")
            expected = state[key]
            if tuple(answer.shape) != tuple(expected.shape):
                layout = "(in, out, k, k)" if transposed else "(out, in, k, k)"
                return fail(f"level {item.parent}'s up-convolution of {name}: shape {tuple(answer.shape)}, expected "
                            f"{tuple(expected.shape)} from {tuple(original.shape)}: a "
                            f"{'ConvTranspose2d' if transposed else 'Conv2d'} stores {layout}; cut the input axis")
            if not torch.equal(answer, expected):
                axis = 0 if transposed else 1
                kept_skip = original.narrow(axis, 0, original.shape[axis] - item.dropped[1])
                if torch.equal(answer, kept_skip):
                    return fail("you kept the skip's channels and cut the up path's: cat([x, up]) puts x FIRST")
                return fail(f"level {item.parent}'s up-convolution of {name}: right shape, other values than the "
                            f"input channels {item.dropped[1]} and up")
            state[key] = answer
        # Forward and backward with the learner's weights, against the package's surgery.
        yours = UNetGenerator.from_config(reference.config).eval()
        yours.load_state_dict(state)
        outputs = []
        for network in (reference, yours):
            network.zero_grad()
            out = network(images, labels)
            out.square().mean().backward()
            outputs.append((out.detach(), [p.grad.clone() for p in network.parameters()]))
        (out_ref, grads_ref), (out_yours, grads_yours) = outputs
        if not torch.allclose(out_yours, out_ref, atol=1e-6) or not all(
                torch.allclose(a, b, atol=1e-6) for a, b in zip(grads_yours, grads_ref)):
            return fail(f"{name}: the surgered model with your weights computes something else than remove_skips")
    print("✓ right for transposed (in, out, k, k) and PixelShuffle (out, in, k, k) up-convolutions: "
          "forward and backward equal remove_skips")
    return True
