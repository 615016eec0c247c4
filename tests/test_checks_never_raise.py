"""Every exercise checker prints a verdict and never raises, whatever the answer is, and leaves
the learner's random state as it was. The answers here are the ones that used to escape as a
traceback (a list of NaNs or of arrays as map sizes, an array where a string was due, an object
whose conversions fail) and that drew the global random state forward (lesson 07's checkers)."""

import math

import numpy as np
import pytest
import torch

from zi2zi_lessons import checks
from zi2zi_lessons.glyphs import load_glyphs


class Hostile:
    """An answer whose every comparison and conversion fails."""

    def __eq__(self, other):
        raise RuntimeError("no comparison")

    __hash__ = object.__hash__

    def __iter__(self):
        raise RuntimeError("no iteration")

    def __float__(self):
        raise RuntimeError("no float")

    def __int__(self):
        raise RuntimeError("no int")


ODD_VALUES = {
    "NaN sides": [math.nan] * 8,
    "arrays as sides": [np.array([1, 2])] * 8,
    "a 2-element array": np.array([1, 2]),
    "a 2x2 array": np.array([[1, 2], [3, 4]]),
    "a hostile object": Hostile(),
    "infinity": math.inf,
}


@pytest.fixture(scope="module")
def data():
    return load_glyphs()


def checkers(data):
    """Each checker as a function of one answer (the answer a function returns, or the value)."""
    return {
        "encoded_sizes": lambda value: checks.check_encoded_sizes(lambda size, levels: value),
        "up_in_channels": lambda value: checks.check_up_in_channels(lambda level, skip, levels: value),
        "attention_predictions": lambda value: checks.check_attention_predictions(
            dict.fromkeys(checks.ATTENTION_PREDICTION_FIELDS, value)),
        "block_channels": lambda value: checks.check_block_channels(
            {mode: dict.fromkeys(checks.CHANNEL_FIELDS, value) for mode in ("concat", "add", "none")}),
        "parameter_budget": lambda value: checks.check_parameter_budget(value),
        "multiply_adds": lambda value: checks.check_multiply_adds(dict.fromkeys(checks.MULTIPLY_ADDS_FIELDS, value)),
        "up_conv_rule": lambda value: checks.check_up_conv_rule(lambda config: value),
        "parameter_change": lambda value: checks.check_parameter_change(value),
        "matrix_bytes": lambda value: checks.check_matrix_bytes(lambda side, batch, per_entry: value),
        "diffusion_levels": lambda value: checks.check_diffusion_levels(value, ngf=16),
        "seed002_parameters": lambda value: checks.check_seed002_parameters(value),
        "copy_baseline": lambda value: checks.check_copy_baseline(value, data, 1),
        "constant_loss": lambda value: checks.check_constant_loss(lambda generator, source, fake: value),
        "category_loss": lambda value: checks.check_category_loss(lambda logits, labels: value),
        "recipe_comparison": lambda value: checks.check_recipe_comparison(lambda data, steps, seeds: value),
        "skip_reader": lambda value: checks.check_skip_reader(lambda state_dict, level: value),
        "surgery_parameter_change": lambda value: checks.check_surgery_parameter_change(value),
        "drop_skip_channels": lambda value: checks.check_drop_skip_channels(lambda weight, channels, transposed: value),
    }


CHECKERS = list(checkers(None))


@pytest.mark.parametrize("checker", CHECKERS)
@pytest.mark.parametrize("value", list(ODD_VALUES), ids=list(ODD_VALUES))
def test_an_odd_answer_gets_a_verdict_not_a_traceback(capsys, data, checker, value):
    assert checkers(data)[checker](ODD_VALUES[value]) is False
    out = capsys.readouterr().out
    assert out.startswith("✗"), out


@pytest.mark.parametrize("checker", CHECKERS)
def test_a_checker_leaves_the_random_state_alone(capsys, data, checker):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checkers(data)[checker](None)
    assert torch.equal(torch.rand(3), expected), f"check_{checker} moved the learner's random state"
