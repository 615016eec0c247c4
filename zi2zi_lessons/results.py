"""Lesson 06's stored results: the reference runs over seeds, and how the recipe was chosen.

The reference runs are three seeds of each tiny architecture, trained by the command
line with the lesson's recipe and evaluated by ``python -m zi2zi_lessons evaluate
... --json``; their JSON outputs live in ``data/reference_runs/`` as
``<architecture>_seed<N>.<split>.json`` (``validation``: the 375 held-out characters
of ``data/glyphs_64.npz``; ``unseen``: ``data/unseen_64.npz``). The recipe choices are
``benchmarks/recipe_choices.py``'s output. This module reads them and states results
the way the lesson must: medians and ranges over seeds, verdicts computed from them,
differences set against the seed spread::

    runs = reference_runs()                      # {(architecture, seed): {split: evaluation JSON}}
    seed_table(runs, "unseen")                   # per architecture and font: median [min, max]
    target_verdict(runs, "classic", "unseen", reduction=0.35, beats_blank=0.85)
    compare_architectures(runs, "unseen", "classic", "attention")
    loss_curve_facts(history)                    # what the loss curves of a run say, measured
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .anatomy import Table
from .glyphs import DATA_DIR

__all__ = [
    "REFERENCE_RUNS_DIR",
    "RECIPE_CHOICES",
    "SPLITS",
    "reference_runs",
    "metric",
    "seed_table",
    "target_verdict",
    "compare_architectures",
    "recipe_choices",
    "recipe_choice_table",
    "LossCurveFacts",
    "loss_curve_facts",
]

REFERENCE_RUNS_DIR = DATA_DIR / "reference_runs"
RECIPE_CHOICES = DATA_DIR.parent / "benchmarks" / "recipe_choices.json"
SPLITS = ("validation", "unseen")
_RUN_FILE = re.compile(r"(?P<architecture>[a-z]+)_seed(?P<seed>\d+)\.(?P<split>[a-z]+)\.json")


def reference_runs(folder: str | os.PathLike = REFERENCE_RUNS_DIR) -> dict[tuple[str, int], dict[str, dict]]:
    """``{(architecture, seed): {"validation": evaluation, "unseen": evaluation}}`` from the JSON files.

    Each file is what ``evaluate --json`` printed; its recorded training seed must match
    the seed in its name, and every run must have both splits.
    """
    folder = Path(folder)
    runs: dict[tuple[str, int], dict[str, dict]] = {}
    for path in sorted(folder.glob("*.json")):
        match = _RUN_FILE.fullmatch(path.name)
        if match is None or match["split"] not in SPLITS:
            raise ValueError(f"{path}: not a reference-run file (<architecture>_seed<N>.<validation|unseen>.json)")
        evaluation = json.loads(path.read_text(encoding="utf-8"))
        seed = int(match["seed"])
        if evaluation.get("config", {}).get("seed") != seed:
            raise ValueError(f"{path}: the file name says seed {seed}, its checkpoint was trained with seed "
                             f"{evaluation.get('config', {}).get('seed')!r}")
        runs.setdefault((match["architecture"], seed), {})[match["split"]] = evaluation
    if not runs:
        raise ValueError(f"no reference-run files in {folder}")
    incomplete = [key for key, splits in runs.items() if set(splits) != set(SPLITS)]
    if incomplete:
        raise ValueError(f"runs without both splits ({', '.join(SPLITS)}): {incomplete}")
    return dict(sorted(runs.items()))


def metric(runs: dict, architecture: str, split: str, key: str) -> dict[str, list[float]]:
    """``{font: [value of each seed, in seed order]}`` of one number of the evaluations."""
    chosen = [runs[k][split] for k in sorted(runs) if k[0] == architecture]
    if not chosen:
        raise ValueError(f"architecture={architecture!r} has no runs: there are {sorted({k[0] for k in runs})}")
    fonts = [font["name"] for font in chosen[0]["fonts"]]
    return {name: [run["fonts"][f][key] for run in chosen] for f, name in enumerate(fonts)}


def _seeds(runs: dict, architecture: str) -> list[int]:
    return [seed for name, seed in sorted(runs) if name == architecture]


def _range(values, percent: bool) -> str:
    values = np.asarray(values, dtype=float)
    fmt = (lambda v: f"{v:.1%}") if percent else (lambda v: f"{v:.4f}")
    return f"{fmt(np.median(values))} [{fmt(values.min())}, {fmt(values.max())}]"


def seed_table(runs: dict, split: str) -> Table:
    """Per architecture and target font: L1, reduction against copying, share beating a
    blank page and SSIM, each as ``median [min, max]`` over the seeds, and the reduction
    of every seed."""
    rows = []
    for architecture in sorted({name for name, _ in runs}):
        l1, reduction, share, ssim = (metric(runs, architecture, split, key)
                                      for key in ("l1", "reduction", "beats_blank_share", "ssim"))
        for font in l1:
            rows.append((architecture, font, _range(l1[font], False), _range(reduction[font], True),
                         " / ".join(f"{v:.1%}" for v in reduction[font]), _range(share[font], True),
                         _range(ssim[font], False)))
    seeds = ", ".join(str(s) for s in sorted({seed for _, seed in runs}))
    return Table(
        columns=("architecture", "target font", "L1", "below copying", "per seed", "beats a blank page", "SSIM"),
        rows=tuple(rows),
        title=f"{split} characters, seeds {seeds}: median [min, max] over the seeds",
    )


def target_verdict(runs: dict, architecture: str, split: str, reduction: float, beats_blank: float) -> str:
    """Whether the median over seeds meets both targets for every font, font by font."""
    reductions = metric(runs, architecture, split, "reduction")
    shares = metric(runs, architecture, split, "beats_blank_share")
    lines, met = [], True
    for font in reductions:
        r, s = float(np.median(reductions[font])), float(np.median(shares[font]))
        ok_r, ok_s = r >= reduction, s >= beats_blank
        met = met and ok_r and ok_s
        lines.append(f"  {font:<17} median {r:.1%} below copying ({'meets' if ok_r else 'misses'} {reduction:.0%}), "
                     f"{s:.1%} beat a blank page ({'meets' if ok_s else 'misses'} {beats_blank:.0%})")
    head = (f"{architecture}, {split} characters, median of {len(_seeds(runs, architecture))} seeds: target "
            f"{'met' if met else 'NOT met'} for every font")
    return "\n".join([head, *lines])


def compare_architectures(runs: dict, split: str, first: str, second: str) -> str:
    """Difference of the median L1 of two architectures per font, against their seed ranges."""
    a, b = metric(runs, first, split, "l1"), metric(runs, second, split, "l1")
    lines = [f"{'target font':<17} {first + ' L1':>14} {second + ' L1':>14} {'difference':>10} "
             f"{'seed range':>12}  verdict"]
    for font in a:
        median_a, median_b = float(np.median(a[font])), float(np.median(b[font]))
        spread = max(np.ptp(a[font]), np.ptp(b[font]))
        difference = median_b - median_a
        if min(len(a[font]), len(b[font])) < 2:
            verdict = "one seed: no spread to compare with"
        elif abs(difference) > spread:
            verdict = f"{second if difference < 0 else first} lower, by more than the seed range"
        else:
            verdict = "within the seed range: not separated"
        lines.append(f"{font:<17} {median_a:>14.4f} {median_b:>14.4f} {difference:>+10.4f} {spread:>12.4f}  {verdict}")
    lines.append("(medians over seeds; seed range: the larger max - min of the two architectures)")
    return "\n".join(lines)


def recipe_choices(path: str | os.PathLike = RECIPE_CHOICES) -> dict[str, dict]:
    """``benchmarks/recipe_choices.py``'s results: ``{variant: {"change", "config", "validation", ...}}``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} does not exist: run benchmarks/recipe_choices.py")
    return json.loads(path.read_text(encoding="utf-8"))


def recipe_choice_table(choices: dict, runs: dict, architecture: str = "classic") -> Table:
    """Validation results of each variant, per font, and its L1 difference from the lesson's
    recipe (the variant whose configuration is ``TrainingConfig()``'s) against the seed range."""
    from .training import TrainingConfig, tiny_generator_config

    l1 = metric(runs, architecture, "validation", "l1")
    spread = [float(np.ptp(values)) for values in l1.values()]
    first = next(iter(choices.values()))
    lesson = json.loads(json.dumps(TrainingConfig(generator=tiny_generator_config(architecture, len(first["validation"]["fonts"]))).as_dict()))
    chosen = [name for name, choice in choices.items() if choice["config"] == lesson]
    if len(chosen) != 1:
        raise ValueError(f"exactly one variant must be the lesson's recipe, found {chosen}")
    chosen_l1 = [f["l1"] for f in choices[chosen[0]]["validation"]["fonts"]]
    rows = []
    for name, choice in choices.items():
        fonts = choice["validation"]["fonts"]
        differences = [f["l1"] - c for f, c in zip(fonts, chosen_l1)]
        beyond = sum(abs(d) > r for d, r in zip(differences, spread))
        against = ("the lesson's recipe" if name == chosen[0] else
                   " / ".join(f"{d:+.4f}" for d in differences) + f" ({beyond} of {len(fonts)} beyond the seed range)")
        rows.append((name, *(f"{f['l1']:.4f} ({f['reduction']:.1%}, {f['beats_blank_share']:.0%})" for f in fonts), against))
    rows.append((f"seed range of the lesson's recipe ({len(_seeds(runs, architecture))} seeds)",
                 *(f"{r:.4f}" for r in spread), ""))
    seeds = ", ".join(str(seed) for seed in sorted({choice["config"]["seed"] for choice in choices.values()}))
    return Table(
        columns=(f"variant (seed {seeds})", *(f["name"] for f in first["validation"]["fonts"]), "L1 minus the lesson's recipe"),
        rows=tuple(rows),
        title="validation split: L1 (below copying, share beating a blank page) per target font",
        footer="A variant whose L1 differs from another's by less than the seed range is not shown to differ.",
    )


@dataclass(frozen=True)
class LossCurveFacts:
    """Three things the loss curves of a run show, measured on its ``history``.

    - ``l1_start``: the L1 of step 1; ``l1_end``: the mean L1 of the last ``smooth`` steps;
      ``l1_90_step``: the first step at which the mean L1 of the ``smooth`` steps ending
      there has made 90% of the fall from ``l1_start`` to ``l1_end``.
    - ``adversarial_above_share``: the share of steps on which the generator's adversarial
      loss is above log 2 (the discriminator tells its glyphs from real ones better than a
      coin); ``adversarial_not_above``: the steps (1-based) on which it is not.
    - ``category_medians``: ``(first step, last step, median)`` of the generator's category
      loss over consecutive windows of ``window`` steps.
    """

    steps: int
    smooth: int
    l1_start: float
    l1_end: float
    l1_90_step: int
    adversarial_above_share: float
    adversarial_not_above: tuple[int, ...]
    category_medians: tuple[tuple[int, int, float], ...]

    def __str__(self) -> str:
        not_above = ", ".join(str(step) for step in self.adversarial_not_above[:12])
        if len(self.adversarial_not_above) > 12:
            not_above += ", ..."
        shown = self.category_medians if len(self.category_medians) <= 5 else (
            *self.category_medians[:4], None, self.category_medians[-1])
        medians = ", ".join("..." if window is None else f"{window[0]}-{window[1]}: {window[2]:.4f}" for window in shown)
        return "\n".join([
            f"{self.steps:,} steps",
            f"L1: {self.l1_start:.4f} at step 1, {self.l1_end:.4f} over the last {self.smooth} steps; "
            f"90% of that fall made by step {self.l1_90_step} (mean of the {self.smooth} steps ending there)",
            f"adversarial (generator): above log 2 = {math.log(2):.4f} on {self.adversarial_above_share:.1%} of the steps; "
            f"not above on {len(self.adversarial_not_above)} steps" + (f": {not_above}" if not_above else ""),
            f"category (generator), median per {self.category_medians[0][1] - self.category_medians[0][0] + 1} steps: {medians}",
        ])


def loss_curve_facts(history: dict, smooth: int = 25, window: int = 50) -> LossCurveFacts:
    """Measure a run's loss curves (``trainer.history`` or a checkpoint's ``"history"``):
    see ``LossCurveFacts``. ``smooth`` steps for the running mean of L1 (``plots.loss_curves``
    draws the same), ``window`` steps per median of the category loss."""
    for name, value in (("smooth", smooth), ("window", window)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} is not accepted: give a whole number of steps >= 1")
    if not isinstance(history, dict) or not {"l1", "adversarial", "category"} <= set(history):
        keys = sorted(history) if isinstance(history, dict) else type(history).__name__
        raise ValueError(f"history must be a dict with 'l1', 'adversarial' and 'category' lists "
                         f"(trainer.history), got {keys}")
    l1, adversarial, category = (np.asarray(history[key], dtype=float) for key in ("l1", "adversarial", "category"))
    steps = len(l1)
    if len(adversarial) != steps or len(category) != steps:
        raise ValueError(f"history's lists differ in length: l1 {steps}, adversarial {len(adversarial)}, "
                         f"category {len(category)}")
    if steps < 2 * smooth or steps < window:
        raise ValueError(f"history has {steps} steps: measuring its curves needs at least 2 x smooth = {2 * smooth} "
                         f"and window = {window} steps")
    running = np.convolve(l1, np.ones(smooth) / smooth, mode="valid")  # running[i]: steps i+1 .. i+smooth
    start, end = float(l1[0]), float(running[-1])
    reached = np.flatnonzero(running <= start - 0.9 * (start - end))
    above = adversarial > math.log(2)
    return LossCurveFacts(
        steps=steps,
        smooth=smooth,
        l1_start=start,
        l1_end=end,
        l1_90_step=int(reached[0]) + smooth,
        adversarial_above_share=float(above.mean()),
        adversarial_not_above=tuple(int(step) + 1 for step in np.flatnonzero(~above)),
        category_medians=tuple((first + 1, min(first + window, steps), float(np.median(category[first:first + window])))
                               for first in range(0, steps, window)),
    )
