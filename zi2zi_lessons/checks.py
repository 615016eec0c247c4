"""Exercise checkers: run the learner's answer against the package's reference and
print a short, specific verdict (which shape, which count, which value was off).

Every checker returns ``True`` when the answer is right, ``False`` otherwise.
"""

from __future__ import annotations

# ---------------------------------------------------------------- lesson 01: self-attention


# ---------------------------------------------------------------- lesson 02: skip block


# ---------------------------------------------------------------- lesson 03: whole generator
# Imports sit here, not at the top, so each lesson's section of this file stays self-contained.
from . import anatomy as _anatomy  # noqa: E402
from .unet import GeneratorConfig as _GeneratorConfig  # noqa: E402

BUDGET_FRACTION = 0.9
BUDGET_ATTENTION_LEVELS = (5, 6, 7)  # the 8x8, 4x4 and 2x2 maps of a 256x256 image
BUDGET_DETAIL_LEVELS = (2, 3, 4)  # their skips carry the strokes' fine detail: keep them concatenated
_BUDGET_FIXED = ("input_nc", "output_nc", "num_downs", "ngf", "embedding_num", "embedding_dim", "norm", "upsample")


def parameter_budget() -> int:
    """The exercise's budget: 90% of the classic 8-level generator, rounded down."""
    return int(BUDGET_FRACTION * _anatomy.parameter_totals({})["total"])


def check_parameter_budget(answer) -> bool:
    """Lesson 03 exercise: attention on at least two of levels 5-7, concatenated skips
    on levels 2-4, everything else classic, and at most ``parameter_budget()`` parameters.

    ``answer`` is a dict of ``UNetGenerator`` arguments (e.g. ``attention_levels`` and
    ``level_skips``), a ``GeneratorConfig`` or a ``UNetGenerator``. Prints one line per
    rule that is broken, or the measured total when every rule holds.
    """
    try:
        config = _anatomy.as_config(answer)
    except (TypeError, ValueError) as error:
        print(f"Not yet: the answer does not build a generator: {error}")
        return False
    classic = _GeneratorConfig()
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
    total, budget = _anatomy.parameter_totals(config)["total"], parameter_budget()
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
