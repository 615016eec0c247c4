"""Exercise checkers: run the learner's answer against the package's reference and
print a short, specific verdict (which shape, which count, which value was off).

Every checker returns ``True`` when the answer is right, ``False`` otherwise.
"""

from __future__ import annotations

# ---------------------------------------------------------------- lesson 01: self-attention


# ---------------------------------------------------------------- lesson 02: skip block


# ---------------------------------------------------------------- lesson 03: whole generator


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
)


def check_up_conv_rule(up_conv_in_channels) -> bool:
    """Lesson 04: ``up_conv_in_channels(config) -> {level: channels}`` must give every
    level's up-convolution input for several configurations, as the package builds them."""
    from .anatomy import build_meta
    from .unet import GeneratorConfig

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
    from .anatomy import build_meta, count_parameters

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
    from .cost import attention_matrix_bytes

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
    from .diffusion import channel_constraints

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
