"""Lesson 06's exercise 4, ``check_recipe_comparison``: the right comparison passes, and each
usual wrong one gets its own hint (evaluated on the unseen characters, one seed for every run,
one recipe for both, keys or seeds missing, a model never trained). Every answer trains tiny
models for a few steps: the check takes seconds."""

import re

import numpy as np
import pytest
import torch

from zi2zi_lessons import glyphs, training
from zi2zi_lessons.checks import RECIPE_CHECK_SEEDS, RECIPE_CHECK_STEPS, check_recipe_comparison


def verdict(capsys, answer):
    passed = check_recipe_comparison(answer)
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1 and out.startswith("✓" if passed else "✗"), out
    return passed, out


def comparison(data, steps, seeds, recipes=None, seed_of=lambda seed: seed, steps_of=lambda steps: steps,
               evaluate=training.evaluate, keys=lambda recipe, seed: (recipe, seed)):
    """The lesson's solution, with one of its parts replaceable by a wrong one."""
    generator = training.tiny_generator_config("classic", data.num_fonts)
    recipes = recipes or {"zi2zi": lambda seed: training.zi2zi_recipe(generator=generator, seed=seed),
                          "lesson": lambda seed: training.TrainingConfig(generator=generator, seed=seed)}
    evaluations = {}
    for seed in seeds:
        for name, make in recipes.items():
            trainer = training.Trainer(data, make(seed_of(seed)))
            trainer.train(steps_of(steps), progress=False)
            evaluations[keys(name, seed)] = evaluate(trainer.generator, data)
            print(f"{name} seed {seed}: {evaluations[keys(name, seed)].generated_l1}")  # the check hides this
    return evaluations


def test_the_right_comparison_passes_says_what_it_ran_and_leaves_the_random_state(capsys):
    assert RECIPE_CHECK_SEEDS == (0, 1)  # the hints below name seeds 0 and 1
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    passed, out = verdict(capsys, comparison)
    assert torch.equal(torch.rand(3), expected), "the check moved the learner's random state"
    assert passed, out
    assert f"({RECIPE_CHECK_STEPS} steps, 40 validation characters) match the reference" in out, out
    assert re.search(r"seeds 0 / 1: zi2zi \d\.\d{4} / \d\.\d{4}; lesson \d\.\d{4} / \d\.\d{4}$", out.strip()), out


def test_the_template_is_not_written_yet(capsys):
    def template(data, steps, seeds=(0,)):
        ...

    passed, out = verdict(capsys, template)
    assert not passed and "not written yet" in out, out


def both_with(make):
    def answer(data, steps, seeds):
        generator = training.tiny_generator_config("classic", data.num_fonts)
        return comparison(data, steps, seeds, recipes={name: (lambda seed: make(generator, seed))
                                                       for name in ("zi2zi", "lesson")})
    return answer


def swapped_names(data, steps, seeds):
    return comparison(data, steps, seeds, keys=lambda recipe, seed: ({"zi2zi": "lesson", "lesson": "zi2zi"}[recipe], seed))


def attention_generator(data, steps, seeds):
    generator = training.tiny_generator_config("attention", data.num_fonts)
    return comparison(data, steps, seeds, recipes={
        "zi2zi": lambda seed: training.zi2zi_recipe(generator=generator, seed=seed),
        "lesson": lambda seed: training.TrainingConfig(generator=generator, seed=seed)})


@pytest.mark.parametrize("answer, expected_words", [
    (lambda data, steps, seeds: comparison(data, steps, seeds, seed_of=lambda seed: 0),
     "run ('zi2zi', 1) is the run of seed 0: each run must be trained with its own seed"),
    (both_with(lambda generator, seed: training.TrainingConfig(generator=generator, seed=seed)),
     "run ('zi2zi', 0) is the 'lesson' recipe's run: both recipes were trained with the same config; "
     "train the 'zi2zi' runs with training.zi2zi_recipe"),
    (both_with(lambda generator, seed: training.zi2zi_recipe(generator=generator, seed=seed)),
     "run ('lesson', 0) is the 'zi2zi' recipe's run"),
    (swapped_names, "the 'zi2zi' and 'lesson' runs are swapped"),
    (lambda data, steps, seeds: comparison(data, steps, seeds, keys=lambda recipe, seed: (recipe.upper(), seed)),
     "returned the keys [('ZI2ZI', 0), ('LESSON', 0), ('ZI2ZI', 1), ('LESSON', 1)]; expected one per recipe and seed"),
    (lambda data, steps, seeds: comparison(data, steps, seeds[:1]),
     "has no run for seed 1: train both recipes once per seed in seeds"),
    (lambda data, steps, seeds: comparison(data, steps, seeds, steps_of=lambda steps: 0),
     "has the L1 of the untrained generator: train it for the given steps"),
    (lambda data, steps, seeds: {key: e.overall_generated_l1 for key, e in comparison(data, steps, seeds).items()},
     "returned a float for a run; give each run's Evaluation"),
    (attention_generator, "train the classic tiny generator (training.tiny_generator_config('classic', data.num_fonts))"),
], ids=["one seed for all", "lesson recipe for both", "zi2zi recipe for both", "names swapped", "other keys",
        "one seed only", "steps ignored", "numbers, not evaluations", "attention generator"])
def test_each_wrong_comparison_gets_its_hint(capsys, answer, expected_words):
    passed, out = verdict(capsys, answer)
    assert not passed and expected_words in out, out


@pytest.fixture
def no_ssim(monkeypatch):
    """``evaluate`` without its SSIM (zeros): these verdicts read only which characters a run was
    evaluated on, and SSIM over the 3,009 unseen glyphs, four times, takes over a minute."""
    monkeypatch.setattr(training, "ssim", lambda images, references, batch_size=None: np.zeros(len(images)))


@pytest.mark.parametrize("evaluate, expected_words", [
    (lambda generator, data: training.evaluate(generator, glyphs.load_glyphs(glyphs.UNSEEN_DATA)),
     "was evaluated on 1,003 characters, the unseen characters (glyphs.UNSEEN_DATA): they are kept for the final report"),
    (lambda generator, data: training.evaluate(generator, glyphs.load_glyphs()), "the validation split of glyphs.load_glyphs(), not of the data given to your function"),
    (lambda generator, data: training.evaluate(generator, data, "train"), "the training characters of the data"),
], ids=["unseen", "the whole shipped data's validation", "training characters"])
def test_a_run_evaluated_on_other_characters_is_named(capsys, no_ssim, evaluate, expected_words):
    passed, out = verdict(capsys, lambda data, steps, seeds: comparison(data, steps, seeds, evaluate=evaluate))
    assert not passed and expected_words in out, out
