"""Lesson 06's stored results: the reference runs read back, ranges over seeds, verdicts that
follow the numbers, and the recipe choices against the seed spread."""

import json
import shutil

import pytest

from zi2zi_lessons import results, training


def _evaluation(seed: int, l1s, shares, copy=(0.25, 0.3)):
    fonts = [{"name": name, "l1": l1, "copy_source_l1": c, "blank_l1": 0.4, "reduction": 1 - l1 / c, "ssim": 0.6,
              "copy_source_ssim": 0.5, "blank_ssim": 0.4, "beats_blank_share": share}
             for name, l1, c, share in zip(("Sans", "Kai"), l1s, copy, shares)]
    return {"checkpoint": "x.pt", "step": 10, "config": {"seed": seed}, "split": "held_out", "characters": 5,
            "fonts": fonts, "overall": {}}


def _write(folder, architecture, seed, l1s, shares):
    for split in results.SPLITS:
        (folder / f"{architecture}_seed{seed}.{split}.json").write_text(json.dumps(_evaluation(seed, l1s, shares)))


@pytest.fixture
def made_up(tmp_path):
    _write(tmp_path, "classic", 0, (0.160, 0.20), (1.0, 0.80))
    _write(tmp_path, "classic", 1, (0.170, 0.21), (1.0, 0.90))
    _write(tmp_path, "classic", 2, (0.165, 0.19), (1.0, 0.86))
    _write(tmp_path, "attention", 0, (0.100, 0.205), (1.0, 0.95))
    _write(tmp_path, "attention", 1, (0.105, 0.195), (1.0, 0.95))
    return tmp_path


def test_runs_are_read_by_architecture_and_seed(made_up):
    runs = results.reference_runs(made_up)
    assert list(runs) == [("attention", 0), ("attention", 1), ("classic", 0), ("classic", 1), ("classic", 2)]
    assert results.metric(runs, "classic", "unseen", "l1") == {"Sans": [0.160, 0.170, 0.165], "Kai": [0.20, 0.21, 0.19]}


def test_a_file_whose_name_and_seed_disagree_is_refused(made_up):
    (made_up / "classic_seed2.unseen.json").write_text(json.dumps(_evaluation(7, (0.1, 0.1), (1, 1))))
    with pytest.raises(ValueError, match="says seed 2.*seed 7"):
        results.reference_runs(made_up)


def test_a_run_without_both_splits_and_stray_files_are_refused(made_up, tmp_path_factory):
    (made_up / "classic_seed2.validation.json").unlink()
    with pytest.raises(ValueError, match="without both splits"):
        results.reference_runs(made_up)
    other = tmp_path_factory.mktemp("stray")
    (other / "notes.json").write_text("{}")
    with pytest.raises(ValueError, match="not a reference-run file"):
        results.reference_runs(other)
    with pytest.raises(ValueError, match="no reference-run files"):
        results.reference_runs(tmp_path_factory.mktemp("empty"))


def test_the_table_gives_median_and_range_and_every_seed(made_up):
    table = results.seed_table(results.reference_runs(made_up), "unseen")
    row = next(r for r in table.records() if r["architecture"] == "classic" and r["target font"] == "Sans")
    assert row["L1"] == "0.1650 [0.1600, 0.1700]"
    assert row["per seed"] == "36.0% / 32.0% / 34.0%"
    assert row["beats a blank page"] == "100.0% [100.0%, 100.0%]"


def test_the_verdict_follows_the_medians(made_up):
    runs = results.reference_runs(made_up)
    text = results.target_verdict(runs, "classic", "unseen", reduction=0.30, beats_blank=0.85)
    assert "target met for every font" in text  # Kai: median share 0.86, median reduction 1 - 0.2/0.3
    text = results.target_verdict(runs, "classic", "unseen", reduction=0.30, beats_blank=0.87)
    assert "target NOT met" in text and "misses 87%" in text


def test_a_difference_is_only_called_one_when_it_exceeds_the_seed_range(made_up):
    text = results.compare_architectures(results.reference_runs(made_up), "unseen", "classic", "attention")
    sans, kai = text.splitlines()[1:3]
    assert "attention lower, by more than the seed range" in sans  # 0.1025 vs 0.165, ranges 0.01
    assert "within the seed range: not separated" in kai           # 0.20 vs 0.20


def test_the_shipped_reference_runs_and_recipe_choices_are_complete_and_consistent():
    runs = results.reference_runs()
    assert sorted(runs) == [(a, s) for a in ("attention", "classic") for s in (0, 1, 2)]
    for (architecture, seed), splits in runs.items():
        assert splits["unseen"]["characters"] == 1003 and splits["validation"]["characters"] == 375
        assert splits["unseen"]["step"] == training.LESSON_STEPS
        config = training.TrainingConfig.from_dict(splits["unseen"]["config"])
        expected = training.TrainingConfig(generator=training.tiny_generator_config(architecture, 3), seed=seed)
        assert config == expected  # trained with the package's recipe, as data/README.md says
    table = results.recipe_choice_table(results.recipe_choices(), runs)
    assert table.column("L1 minus the lesson's recipe").count("the lesson's recipe") == 1


def test_the_recipe_table_needs_exactly_one_variant_with_the_lessons_recipe(tmp_path):
    choices = results.recipe_choices()
    without = {name: choice for name, choice in choices.items() if name != "l1 3000 halving"}
    with pytest.raises(ValueError, match="exactly one variant"):
        results.recipe_choice_table(without, results.reference_runs())
    # the first column names the variants' seeds as the file records them (one seed each)
    seeds = sorted({choice["config"]["seed"] for choice in choices.values()})
    assert results.recipe_choice_table(choices, results.reference_runs()).columns[0] == \
        f"variant (seed {', '.join(map(str, seeds))})"
    path = tmp_path / "choices.json"
    shutil.copy(results.RECIPE_CHOICES, path)
    assert results.recipe_choices(path) == choices
    with pytest.raises(ValueError, match="does not exist"):
        results.recipe_choices(tmp_path / "none.json")


# ------------------------------------------------------------------ loss curves
def made_up_history(steps=200):
    import numpy as np

    l1 = [1.0] * 10 + [0.05] * 5 + [0.0] * (steps - 15)     # falls at step 11
    adversarial = [2.0] * steps
    for step in (1, 50, 120):                                # 3 steps at or below log 2 (0.6931...)
        adversarial[step - 1] = 0.5 if step != 120 else float(np.log(2))
    category = [0.4] * 50 + [0.02] * 50 + [0.01] * (steps - 100)
    return {"l1": l1, "adversarial": adversarial, "category": category, "constant": [0.0] * steps}


def test_loss_curve_facts_measure_the_fall_the_adversarial_share_and_the_category_windows():
    facts = results.loss_curve_facts(made_up_history(), smooth=10, window=50)
    # the 90% threshold is 1.0 - 0.9 * (1.0 - 0.0) = 0.1; the mean of the 10 steps ending at
    # step 19 is (1.0 + 5 x 0.05) / 10 = 0.125, ending at step 20 it is 5 x 0.05 / 10 = 0.025
    assert (facts.steps, facts.l1_start, facts.l1_end) == (200, 1.0, 0.0)
    assert facts.l1_90_step == 20
    assert facts.adversarial_not_above == (1, 50, 120)        # log 2 itself is not above it
    assert facts.adversarial_above_share == pytest.approx(197 / 200)
    assert facts.category_medians == ((1, 50, 0.4), (51, 100, 0.02), (101, 150, 0.01), (151, 200, 0.01))
    text = str(facts)
    assert "90% of that fall made by step 20" in text and "on 98.5% of the steps" in text
    assert "not above on 3 steps: 1, 50, 120" in text and "1-50: 0.4000, 51-100: 0.0200" in text


def test_loss_curve_facts_of_a_run_that_does_not_stop_at_a_whole_window():
    facts = results.loss_curve_facts(made_up_history(130), smooth=10, window=50)
    assert facts.category_medians[-1] == (101, 130, 0.01)
    assert len(results.loss_curve_facts(made_up_history(400), window=50).category_medians) == 8
    assert ", ..., 351-400: 0.0100" in str(results.loss_curve_facts(made_up_history(400), window=50))


def test_loss_curve_facts_of_the_shipped_reference_run_agree_with_its_history():
    import math

    history = training.load_generator(training.REFERENCE_CHECKPOINTS["classic"])[1]["history"]
    facts = results.loss_curve_facts(history)
    assert facts.steps == len(history["l1"]) and facts.l1_start == history["l1"][0]
    assert all(history["adversarial"][step - 1] <= math.log(2) for step in facts.adversarial_not_above)
    assert round(facts.adversarial_above_share * facts.steps) == facts.steps - len(facts.adversarial_not_above)
    assert 25 <= facts.l1_90_step <= facts.steps


@pytest.mark.parametrize("history, kwargs, message", [
    ([0.1] * 100, {}, "history must be a dict with 'l1', 'adversarial' and 'category' lists"),
    ({"l1": [0.1] * 100}, {}, r"got \['l1'\]"),
    ({"l1": [0.1] * 100, "adversarial": [1.0] * 99, "category": [0.1] * 100}, {}, "adversarial 99"),
    ({"l1": [0.1] * 30, "adversarial": [1.0] * 30, "category": [0.1] * 30}, {}, "history has 30 steps"),
    ({"l1": [0.1] * 100, "adversarial": [1.0] * 100, "category": [0.1] * 100}, {"smooth": 0}, "smooth=0 is not accepted"),
    ({"l1": [0.1] * 100, "adversarial": [1.0] * 100, "category": [0.1] * 100}, {"window": 2.5}, "window=2.5 is not accepted"),
])
def test_loss_curve_facts_refuse_what_is_not_a_history(history, kwargs, message):
    with pytest.raises(ValueError, match=message):
        results.loss_curve_facts(history, **kwargs)
