"""Exercise checkers: run the learner's answer against the package's reference and
print a short, specific verdict (which shape, which count, which value was off).

Every checker returns ``True`` when the answer is right, ``False`` otherwise.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import anatomy
from .anatomy import build_meta, count_parameters
from .attention import SelfAttention, self_attention_parameter_count
from .cost import attention_matrix_bytes
from .diffusion import channel_constraints
from .training import tiny_generator_config
from .unet import SKIP_MODES, GeneratorConfig, UNetGenerator, UnetSkipConnectionBlock



def fail(message: str) -> bool:
    """Print a checker's verdict on a wrong answer and return ``False``."""
    print(f"✗ {message}")
    return False


# ---------------------------------------------------------------- lesson 01: self-attention

# (channels, input shape) pairs the self-attention checker tries: a non-square map
# catches transposed reshapes, 1x1 is the degenerate case, batch > 1 catches mixing
# samples.
_ATTENTION_CASES = ((64, (2, 64, 6, 8)), (64, (1, 64, 1, 1)), (16, (3, 16, 5, 5)), (32, (2, 32, 4, 3)))
_ATTENTION_TOLERANCE = 1e-4


def _shape(tensor) -> str:
    return "x".join(str(n) for n in tensor.shape)


def _sagan_variants(block: SelfAttention, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Outputs of typical wrong SAGAN blocks with ``block``'s weights, by diagnosis."""
    batch, channels, height, width = x.shape
    query = block.query(x).flatten(2).transpose(1, 2)  # (B, N, C/8)
    key = block.key(x).flatten(2)  # (B, C/8, N)
    value = block.value(x).flatten(2)  # (B, C, N)
    energy = torch.bmm(query, key)
    other_scale = 1.0 if block.scaled else (channels // 8) ** -0.5

    def join(weights, transpose=True):
        out = torch.bmm(value, weights.transpose(1, 2) if transpose else weights)
        return out.reshape(batch, channels, height, width)

    right = torch.softmax(energy * block.energy_scale, dim=-1)
    attended = join(right)
    scaled_hint = (
        "the energy is divided by sqrt(C/8), but this block should use the raw energy q.k (SAGAN does not scale)"
        if not block.scaled
        else "the energy is not divided by sqrt(C/8), but this (scaled) block should divide it"
    )
    return {
        "softmax runs over the queries (dim=1); it must run over the keys (the last dim), so that each pixel's weights sum to 1":
            block.gamma * join(torch.softmax(energy * block.energy_scale, dim=1)) + x,
        "the weighted sum uses the attention matrix untransposed: out[:, :, i] must be sum_j value[:, :, j] * weights[i, j], i.e. bmm(value, weights.transpose(1, 2))":
            block.gamma * join(right, transpose=False) + x,
        scaled_hint: block.gamma * join(torch.softmax(energy * other_scale, dim=-1)) + x,
        "the residual is missing: the block must return gamma * out + x, not gamma * out": block.gamma * attended,
        "gamma is not applied: the block must return gamma * out + x, not out + x": attended + x,
    }


def check_self_attention(make_block, scaled: bool = False) -> bool:
    """Judge a hand-written SAGAN block against ``SelfAttention(C, scaled)``.

    ``make_block(C)`` must return a module with 1x1 convolutions ``query`` and ``key``
    (C -> C/8), ``value`` (C -> C), and a one-element parameter ``gamma``. The checker
    builds it for several C, copies its weights into the reference block, sets gamma
    to 0.7 in both, and compares outputs on maps of several shapes (1x1 and non-square
    included). It prints one line saying what was off, or that everything matched.
    """
    with torch.random.fork_rng():  # the learner's random state stays as it was
        return _check_self_attention(make_block, scaled)


def _check_self_attention(make_block, scaled: bool) -> bool:
    maker = getattr(make_block, "__name__", "make_block")
    maker = "make_block" if maker == "<lambda>" else maker
    for channels, shape in _ATTENTION_CASES:
        label = f"{maker}({channels})"
        try:
            block = make_block(channels)
        except Exception as error:  # the learner's code: report, never crash
            return fail(f"{label} raised {type(error).__name__}: {error}")
        if not isinstance(block, nn.Module):
            return fail(f"{label} returned {type(block).__name__}, not an nn.Module")
        for name in ("query", "key", "value"):
            if not isinstance(getattr(block, name, None), nn.Module):
                return fail(f"{label} has no submodule {name!r}: name the three 1x1 convolutions query, key and value")
        gamma = getattr(block, "gamma", None)
        if not isinstance(gamma, nn.Parameter) or gamma.numel() != 1:
            return fail(f"{label}.gamma must be a one-element nn.Parameter (a learned scalar), got {type(gamma).__name__}")
        if gamma.item() != 0.0:
            return fail(f"{label}.gamma starts at {gamma.item():g}; it must start at 0 so that a new block is the identity")

        reference = SelfAttention(channels, scaled=scaled)
        expected_shapes = {name: tuple(p.shape) for name, p in reference.state_dict().items()}
        found = dict(block.state_dict())
        found["gamma"] = gamma.detach().reshape(1)  # a 0-d or (1,) scalar both work
        for name, shape_expected in expected_shapes.items():
            if name not in found:
                hint = " (the 1x1 convolutions need their biases)" if name.endswith(".bias") else ""
                return fail(f"{label} has no {name}{hint}")
            if tuple(found[name].shape) != shape_expected:
                width = {"query": "C/8", "key": "C/8", "value": "C"}.get(name.split(".")[0], "")
                return fail(
                    f"{label}: {name} has shape {tuple(found[name].shape)}, expected {shape_expected}"
                    + (f" ({name.split('.')[0]} maps C = {channels} channels to {width})" if width else "")
                )
        counted = sum(p.numel() for p in block.parameters())
        formula = self_attention_parameter_count(channels)
        if counted != formula:
            return fail(
                f"{label} has {counted:,} parameters, expected {formula:,} = 2(C*C/8 + C/8) + C^2 + C + 1: "
                f"remove the extra parameters ({counted - formula:+,})"
            )
        reference.load_state_dict(found)

        generator = torch.Generator().manual_seed(channels)
        x = torch.randn(*shape, generator=generator)
        with torch.no_grad():
            try:
                out = block(x.clone())
            except Exception as error:
                return fail(f"{label} on a {_shape(x)} map raised {type(error).__name__}: {error}")
            if not isinstance(out, torch.Tensor) or out.shape != x.shape:
                got = _shape(out) if isinstance(out, torch.Tensor) else type(out).__name__
                return fail(f"{label} on a {_shape(x)} map returned {got}; the block must keep the shape {_shape(x)}")
            if not torch.allclose(out, x, atol=1e-6):
                if torch.allclose(out, torch.zeros_like(out)):
                    return fail(f"{label} with gamma = 0 returns zeros: the residual + x is missing")
                return fail(
                    f"{label} with gamma = 0 must return its input unchanged (gamma * out + x), but differs by "
                    f"up to {(out - x).abs().max().item():.3g}: is gamma multiplying the attention output?"
                )

            block.gamma.fill_(0.7)
            reference.gamma.fill_(0.7)
            out = block(x.clone())
            expected = reference(x)
            if not torch.allclose(out, expected, atol=_ATTENTION_TOLERANCE, rtol=_ATTENTION_TOLERANCE):
                for diagnosis, wrong in _sagan_variants(reference, x).items():
                    if torch.allclose(out, wrong, atol=_ATTENTION_TOLERANCE, rtol=_ATTENTION_TOLERANCE):
                        return fail(f"{label} on a {_shape(x)} map: {diagnosis}")
                return fail(
                    f"{label} on a {_shape(x)} map with gamma = 0.7 differs from SelfAttention by up to "
                    f"{(out - expected).abs().max().item():.3g}; print the shape of every step and compare "
                    f"with the steps of this lesson"
                )
    kind = "scaled" if scaled else "unscaled"
    print(
        f"✓ correct: parameters match 2(C*C/8 + C/8) + C^2 + C + 1, gamma = 0 gives the identity, and the "
        f"output equals SelfAttention({kind}) on {len(_ATTENTION_CASES)} maps "
        f"({', '.join(_shape(torch.empty(s)) for _, s in _ATTENTION_CASES)})"
    )
    return True


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
            given = answer.get(field)
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


def _contains_stride_one_conv(module: nn.Module) -> bool:
    return any(
        isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and tuple(m.stride) == (1, 1)
        for m in module.modules()
    )


def check_innermost_up_fix(make_up, require_refinement: bool = True) -> bool:
    """Judge a replacement for the innermost up-convolution.

    ``make_up(in_channels, out_channels)`` must return a module mapping
    ``(B, in, h, w)`` to ``(B, out, 2h, 2w)`` for every ``h, w`` (the join needs
    the map back at the size the down path started from). With
    ``require_refinement`` it must also keep a stride-1 convolution (the change the
    author wanted). The checker runs it alone on several sizes, then inside the
    generator of ``STRIDE_EXERCISE`` at 64x64 and 128x128 (innermost maps 2x2 and 4x4).
    """
    with torch.random.fork_rng():  # the learner's random state stays as it was
        return _check_innermost_up_fix(make_up, require_refinement)


def _check_innermost_up_fix(make_up, require_refinement: bool) -> bool:
    in_channels, out_channels = 24, 16
    try:
        module = make_up(in_channels, out_channels)
    except Exception as error:
        return fail(f"make_up({in_channels}, {out_channels}) raised {type(error).__name__}: {error}")
    if not isinstance(module, nn.Module):
        return fail(f"make_up({in_channels}, {out_channels}) returned {type(module).__name__}, not an nn.Module")
    generator = torch.Generator().manual_seed(0)
    module.eval()
    for height, width in _STRIDE_INPUT_SIDES:
        x = torch.randn(2, in_channels, height, width, generator=generator)
        try:
            with torch.no_grad():
                out = module(x)
        except Exception as error:
            return fail(f"on a {height}x{width} map it raised {type(error).__name__}: {error}")
        expected = (2, out_channels, 2 * height, 2 * width)
        if tuple(out.shape) != expected:
            got_size, want_size = f"{out.shape[2]}x{out.shape[3]}", f"{2 * height}x{2 * width}"
            if tuple(out.shape[2:]) != expected[2:]:
                return fail(
                    f"a {height}x{width} map comes out {got_size}; the join needs {want_size} "
                    f"(twice the input, the size the down path started from)"
                )
            return fail(f"make_up({in_channels}, {out_channels}) hands back {out.shape[1]} channels, expected {out_channels}")
    if require_refinement and not _contains_stride_one_conv(module):
        return fail(
            "the map doubles correctly, but no stride-1 convolution is left: the author wanted one; "
            "add a same-size refinement after the stride-2 up-convolution"
        )

    for image_size in _STRIDE_IMAGE_SIZES:
        torch.manual_seed(0)
        model = UNetGenerator(**STRIDE_EXERCISE).eval()
        innermost = list(model.blocks())[-1]
        old = innermost.up_conv
        innermost.up[1] = make_up(old.in_channels, old.out_channels)
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
    print(
        f"✓ correct: every map doubles ({', '.join(f'{h}x{w}' for h, w in _STRIDE_INPUT_SIDES)}) and the generator "
        f"runs at {' and '.join(f'{s}x{s}' for s in _STRIDE_IMAGE_SIZES)}; for {in_channels} -> {out_channels} channels your "
        f"up path has {counted:,} parameters (a lone stride-2 ConvTranspose2d without bias: {stride_two:,})"
    )
    return True


# ---------------------------------------------------------------- lesson 03: whole generator
# Imports sit here, not at the top, so each lesson's section of this file stays self-contained.

BUDGET_FRACTION = 0.9
BUDGET_ATTENTION_LEVELS = (5, 6, 7)  # the 8x8, 4x4 and 2x2 maps of a 256x256 image
BUDGET_DETAIL_LEVELS = (2, 3, 4)  # their skips carry the strokes' fine detail: keep them concatenated
_BUDGET_FIXED = ("input_nc", "output_nc", "num_downs", "ngf", "embedding_num", "embedding_dim", "norm", "upsample")


def parameter_budget() -> int:
    """The exercise's budget: 90% of the classic 8-level generator, rounded down."""
    return int(BUDGET_FRACTION * anatomy.parameter_totals({})["total"])


def check_parameter_budget(answer) -> bool:
    """Lesson 03 exercise: attention on at least two of levels 5-7, concatenated skips
    on levels 2-4, everything else classic, and at most ``parameter_budget()`` parameters.

    ``answer`` is a dict of ``UNetGenerator`` arguments (e.g. ``attention_levels`` and
    ``level_skips``), a ``GeneratorConfig`` or a ``UNetGenerator``. Prints one line per
    rule that is broken, or the measured total when every rule holds.
    """
    try:
        config = anatomy.as_config(answer)
    except (TypeError, ValueError) as error:
        print(f"Not yet: the answer does not build a generator: {error}")
        return False
    classic = GeneratorConfig()
    problems = []
    for name in _BUDGET_FIXED:
        if getattr(config, name) != getattr(classic, name):
            problems.append(f"{name} is {getattr(config, name)!r}; the task keeps the classic {getattr(classic, name)!r} "
                            f"(shrinking the network is not the point: choose skips and attention)")
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
        print("Not yet:")
        for problem in problems:
            print(f"  - {problem}")
        return False
    changed = [level for level in range(2, config.num_downs + 1) if config.level_skip(level) != "concat"]
    print(f"Right: attention on levels {sorted(attention)}, skips changed on levels {changed}: "
          f"{total:,} parameters, {budget - total:,} under the budget of {budget:,}.")
    return True


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


def check_up_conv_rule(up_conv_in_channels) -> bool:
    """Lesson 04: ``up_conv_in_channels(config) -> {level: channels}`` must give every
    level's up-convolution input for several configurations, as the package builds them."""

    for case in _RULE_CASES:
        config = GeneratorConfig(**case)
        expected = {info.level: info.up_in_channels for info in build_meta(config).levels(None)}
        try:
            answer = up_conv_in_channels(config)
        except Exception as error:  # the learner's code: report, don't crash the notebook
            print(f"your function raised {type(error).__name__}: {error}\n  for {case or 'the default configuration'}")
            return False
        if not isinstance(answer, dict):
            print(f"return a dict {{level: channels}}, got {type(answer).__name__}")
            return False
        for level, channels in expected.items():
            if answer.get(level) != channels:
                print(
                    f"not yet: for {case or 'the default configuration'}, level {level} "
                    f"(skip {config.level_skip(level)!r}, child's skip "
                    f"{config.level_skip(level + 1) if level < config.num_downs else 'none: innermost'!r}) "
                    f"should read {channels} channels, your function says {answer.get(level)}"
                )
                return False
    print(f"correct for all {len(_RULE_CASES)} configurations: a level reads what its child hands back")
    return True


def check_parameter_change(answer, baseline, candidate) -> bool:
    """Lesson 04: the predicted change in total parameters from ``baseline`` to ``candidate``."""

    measured = count_parameters(build_meta(candidate)) - count_parameters(build_meta(baseline))
    if not isinstance(answer, int) or isinstance(answer, bool):
        print(f"give the change as an integer number of parameters (negative for fewer), got {answer!r}")
        return False
    if answer == measured:
        print(f"correct: {measured:+,} parameters")
        return True
    if answer == -measured:
        print("right size, wrong sign: the change is candidate minus baseline")
    else:
        print(f"not yet: {answer:+,} is off by {answer - measured:+,}; which up-convolutions change their input width?")
    return False


def check_matrix_bytes(matrix_bytes) -> bool:
    """Lesson 05: ``matrix_bytes(side, batch, bytes_per_entry)`` for a side x side map."""

    for side, batch, per_entry in ((1, 1, 4), (2, 3, 4), (16, 4, 4), (128, 16, 4), (64, 1, 2)):
        expected = attention_matrix_bytes(side, batch=batch, bytes_per_entry=per_entry)
        try:
            answer = matrix_bytes(side, batch, per_entry)
        except Exception as error:
            print(f"your function raised {type(error).__name__}: {error}")
            return False
        if answer != expected:
            print(f"not yet: a {side}x{side} map, batch {batch}, {per_entry} bytes per entry needs {expected:,} bytes; yours says {answer!r}")
            return False
    print("correct: batch x (side^2)^2 entries, times the bytes per entry")
    return True


def check_diffusion_levels(answer, ngf: int, num_downs: int = 8, num_heads: int = 8, num_groups: int = 32) -> bool:
    """Lesson 05: the set of levels whose width takes GroupNorm(num_groups) and num_heads heads."""

    table = channel_constraints(dict(ngf=ngf, num_downs=num_downs), num_heads=num_heads, num_groups=num_groups)
    expected = {row["level"] for row in table.records() if row["diffusion block fits"]}
    try:
        answer = set(answer)
    except TypeError:
        print(f"give a set of level numbers, got {answer!r}")
        return False
    if answer == expected:
        print(f"correct: levels {sorted(expected)}")
        return True
    missing, extra = sorted(expected - answer), sorted(answer - expected)
    print(f"not yet: missing {missing}, should not include {extra} (widths: level 1 = ngf, 2 = 2ngf, 3 = 4ngf, deeper = 8ngf)")
    return False


# ---------------------------------------------------------------- lesson 06: training
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
    try:
        value = float(value)
    except (TypeError, ValueError):
        return fail(f"not written yet: give the L1 as a number (got {type(value).__name__})")
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
    for wrong, hint in diagnoses:
        if abs(value - wrong) <= 1e-4 * max(1.0, abs(wrong)):
            return fail(f"{value:.4f}; {hint}")
    return fail(f"{value:.4f}, expected {right:.4f} (mean |source - target| over the {len(chars)} {split} characters, "
                "images in [-1, 1])")


def check_constant_loss(constant_loss) -> bool:
    """Judge ``constant_loss(generator, source, fake) -> scalar tensor``.

    The reference: the mean squared difference between the generator's bottleneck
    of the source glyphs and of the generated glyphs, ``MSE(encode(source), encode(fake))``.
    The learner's random state is left as it was.
    """


    state = torch.get_rng_state()
    try:
        torch.manual_seed(6)
        # train mode, as in training: BatchNorm normalises each batch by its own statistics
        generator = UNetGenerator.from_config(tiny_generator_config(num_fonts=3, ngf=8, embedding_dim=8)).train()
        source = torch.rand(4, 1, 64, 64) * 2 - 1
        fake = torch.rand(4, 1, 64, 64) * 2 - 1
        with torch.no_grad():
            code_source, code_fake = generator.encode(source), generator.encode(fake)
            right = F.mse_loss(code_fake, code_source)
            wrong = {
                "this is the L1 (mean absolute) difference of the bottlenecks: the constant loss squares it (MSE)":
                    F.l1_loss(code_fake, code_source),
                "this is the sum of the squared differences: take their mean": F.mse_loss(code_fake, code_source, reduction="sum"),
                "this compares the images, not their bottlenecks: encode both with generator.encode first":
                    F.mse_loss(fake, source),
            }
        try:
            answer = constant_loss(generator, source, fake)
        except Exception as error:  # the learner's code: report any failure as a verdict
            return fail(f"calling constant_loss(generator, source, fake) raised {type(error).__name__}: {error}")
    finally:
        torch.set_rng_state(state)
    if answer is None or answer is Ellipsis:
        return fail("not written yet: return the loss as a scalar tensor")
    if not isinstance(answer, torch.Tensor) or answer.numel() != 1:
        return fail(f"return one number as a tensor (got {type(answer).__name__}"
                    f"{' of shape ' + str(tuple(answer.shape)) if isinstance(answer, torch.Tensor) else ''})")
    if torch.allclose(answer.detach().float(), right, rtol=1e-4, atol=1e-7):
        print(f"✓ correct: the MSE between the 2x2 bottlenecks is {right.item():.4g}")
        return True
    for hint, value in wrong.items():
        if torch.allclose(answer.detach().float(), value, rtol=1e-4, atol=1e-7):
            return fail(hint)
    return fail(f"got {answer.item():.4g}, expected {right.item():.4g} = mean((encode(fake) - encode(source)) ** 2)")


def check_category_loss(category_loss) -> bool:
    """Judge ``category_loss(logits, labels) -> scalar tensor``: zi2zi's font-category loss.

    The reference: a sigmoid cross-entropy of every font logit against one-hot labels,
    averaged over the batch *and* the fonts (zi2zi's ``sigmoid_cross_entropy_with_logits``
    then ``reduce_mean``), checked forward and backward (the gradient on the logits).
    """
    state = torch.get_rng_state()
    try:
        torch.manual_seed(61)
        logits = torch.randn(6, 4) * 2
        labels = torch.tensor([0, 3, 1, 1, 2, 3])
        one_hot = F.one_hot(labels, 4).float()
    finally:
        torch.set_rng_state(state)

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
    try:
        answer = category_loss(x, labels.clone())
    except Exception as error:  # the learner's code: report any failure as a verdict
        return fail(f"calling category_loss(logits, labels) raised {type(error).__name__}: {error}")
    if answer is None or answer is Ellipsis:
        return fail("not written yet: return the loss as a scalar tensor")
    if not isinstance(answer, torch.Tensor) or answer.numel() != 1:
        return fail(f"return one number as a tensor (got {type(answer).__name__}"
                    f"{' of shape ' + str(tuple(answer.shape)) if isinstance(answer, torch.Tensor) else ''})")
    if not answer.requires_grad:
        return fail("the loss does not depend on the logits through autograd (no gradient would reach the "
                    "discriminator): compute it from the logits with torch operations")
    value = answer.detach().float().reshape(())
    if torch.allclose(value, right, rtol=1e-4, atol=1e-6):
        answer.backward()
        if x.grad is None or not torch.allclose(x.grad, right_grad, rtol=1e-3, atol=1e-6):
            return fail("the value is right but its gradient is not: compute it from the logits themselves")
        print(f"✓ correct: {right.item():.4f}, the mean over 6 glyphs x 4 fonts of the sigmoid cross-entropy, "
              "with the gradient zi2zi's discriminator gets")
        return True
    for hint, loss_function in wrong.items():
        if torch.allclose(value, loss_function(logits), rtol=1e-4, atol=1e-6):
            return fail(hint)
    return fail(f"got {value.item():.4g}, expected {right.item():.4g} = mean over batch and fonts of "
                "binary_cross_entropy_with_logits(logits, one_hot(labels))")


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


def check_surgery_parameter_change(answer) -> bool:
    """Lesson 07: the change in parameters when the classic fixture loses the skips of levels 3 and 4."""
    measured, parts = surgery_parameter_change_reference()
    if _not_written(answer):
        return fail("not written yet: give the change as an integer (negative for fewer parameters)")
    if isinstance(answer, bool) or not isinstance(answer, int):
        return fail(f"give the change as an integer number of parameters, got {answer!r}")
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
