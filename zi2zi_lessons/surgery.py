"""Skip surgery on a trained generator: remove skips, keep every weight that still fits.

Removing level L's skip changes what level L hands to its parent (level L-1)::

    concat:  level L hands back cat([x, up])  (input + outer channels)  ->  up  (outer channels)
    add:     level L hands back x + up        (outer channels)          ->  up  (outer channels)

With concatenation the parent's up-convolution must lose the input channels that
carried ``x``. ``UnetSkipConnectionBlock`` joins ``cat([x, up])`` (and so do both
upstream ports), so they are the **first** ``input_channels`` of what the parent
reads; the rest, the child's up path, keep their weights. With an added skip ``x`` is
summed into ``up`` and there is nothing to cut: no weight changes, only the function.

Either way the surgered network computes exactly what the original computes when the
removed skips carry zeros (``tests/test_surgery.py`` checks it); what it has lost is
everything training had put through those skips. ``surgery_experiment`` measures how
much of that a short fine-tune wins back, against training the skip-removed
architecture from scratch for the same number of steps, over several seeds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch

from . import training
from .anatomy import Table, count_parameters
from .glyphs import GlyphDataset
from .unet import GeneratorConfig, UNetGenerator

__all__ = ["DroppedChannels", "skip_removed_config", "remove_skips", "zeroed_skips", "dropped_channels_table",
           "l1_per_font", "surgery_experiment", "seed_range"]


@dataclass(frozen=True)
class DroppedChannels:
    """What removing one level's skip did to its parent's up-convolution."""

    level: int
    skip_before: str
    parent: int
    up_in_before: int
    up_in_after: int
    dropped: tuple[int, int]  # input channels [start, stop) of the parent's up-convolution; (0, 0): none

    @property
    def why(self) -> str:
        if self.dropped == (0, 0):
            return "x was summed into the up path: nothing to cut, only the sum goes"
        return f"cat([x, up]) puts level {self.level}'s input x ({self.dropped[1]} channels) first"


def skip_removed_config(config: GeneratorConfig, levels) -> GeneratorConfig:
    """``config`` with the skips of ``levels`` set to "none" (everything else unchanged)."""
    levels = tuple(levels)
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, int) or not 2 <= level <= config.num_downs:
            raise ValueError(f"levels={levels!r} is not accepted: level {level!r} has no skip to remove "
                             f"(skips exist on levels 2..{config.num_downs})")
    return dataclasses.replace(config, level_skips={**dict(config.level_skips), **{level: "none" for level in levels}})


def remove_skips(model: UNetGenerator, levels) -> tuple[UNetGenerator, tuple[DroppedChannels, ...]]:
    """A new generator without the skips of ``levels``, carrying ``model``'s weights.

    Every tensor keeps its value; the up-convolution of each concatenating level's
    parent loses the input channels that carried the skip. ``model`` is not changed.
    Returns the new model (in ``model``'s train/eval mode) and what was dropped.
    """
    if not isinstance(model, UNetGenerator):
        raise ValueError(f"model must be a UNetGenerator, got {type(model).__name__}")
    config = skip_removed_config(model.config, levels)
    blocks = {block.level: block for block in model.blocks()}
    state = {key: tensor.detach().clone() for key, tensor in model.state_dict().items()}
    report = []
    for level in sorted(set(levels)):
        child, parent = blocks[level], blocks[level - 1]
        before = parent.up_in_channels
        dropped = (0, child.input_channels) if child.skip == "concat" else (0, 0)
        if dropped[1]:
            prefix = "model." + "submodule." * (level - 2) + "up.1."
            weight = state[prefix + "weight"]
            # ConvTranspose2d stores (in, out, k, k); Conv2d (before PixelShuffle) stores (out, in, k, k).
            axis = 0 if isinstance(parent.up_conv, torch.nn.ConvTranspose2d) else 1
            state[prefix + "weight"] = weight.narrow(axis, dropped[1], weight.shape[axis] - dropped[1]).clone()
        report.append(DroppedChannels(level, child.skip, level - 1, before, before - dropped[1], dropped))
    surgered = UNetGenerator.from_config(config)
    surgered.load_state_dict(state, strict=True)
    return surgered.train(model.training), tuple(report)


@contextlib.contextmanager
def zeroed_skips(model: UNetGenerator, levels):
    """Inside this block, ``model``'s levels ``levels`` join zeros instead of their input ``x``
    (the down path still reads ``x``): what ``remove_skips`` makes permanent."""
    blocks = [block for block in model.blocks() if block.level in set(levels)]
    for block in blocks:
        join = block._join
        block._join = lambda x, up, join=join: join(torch.zeros_like(x), up)
    try:
        yield model
    finally:
        for block in blocks:
            del block._join  # back to the class's method


def dropped_channels_table(report) -> Table:
    rows = tuple(
        (item.level, item.skip_before, item.parent, f"{item.up_in_before} -> {item.up_in_after}",
         f"{item.dropped[0]}..{item.dropped[1] - 1}" if item.dropped[1] else "none", item.why)
        for item in report
    )
    return Table(columns=("skip removed at level", "was", "parent level", "parent up-conv input", "channels dropped", "why"),
                 rows=rows, title="What the surgery cuts")


# ------------------------------------------------------------------ the experiment
def l1_per_font(generator: UNetGenerator, dataset: GlyphDataset, split: str = "held_out") -> tuple[float, ...]:
    """Mean L1 of the generated glyphs per target font over ``split`` (uint8 glyphs scaled to
    [-1, 1]): the L1 of ``training.evaluate``, without its other measures (cheaper)."""
    chars = dataset.indices(split)
    if len(chars) == 0:
        raise ValueError(f"the data has no {split!r} characters to evaluate on")
    values = []
    for font_id in range(dataset.num_fonts):
        generated = training.generate(generator, dataset, chars, font_id).astype(np.float32) / 127.5
        target = dataset.targets[font_id, chars].astype(np.float32) / 127.5
        values.append(float(np.abs(generated - target).mean()))
    return tuple(values)


def _l1(generator: UNetGenerator, dataset: GlyphDataset, split: str) -> dict:
    per_font = l1_per_font(generator, dataset, split)
    return {"per_font": [round(v, 6) for v in per_font], "overall": round(float(np.mean(per_font)), 6)}


def _train(dataset, config, steps: int, start_from: dict | None) -> UNetGenerator:
    trainer = training.Trainer(dataset, config)
    if start_from is not None:
        trainer.generator.load_state_dict(start_from, strict=True)
    trainer.train(steps, progress=False)
    return trainer.generator.eval()


def surgery_experiment(reference, dataset: GlyphDataset, steps: int, seeds, split: str = "held_out",
                       levels=None, evaluation_data: GlyphDataset | None = None, log=print) -> dict:
    """Remove skips from a trained generator and measure its L1 on ``split`` of
    ``evaluation_data`` (default: ``dataset``, the training data, whose held-out split no
    run trains on; or a separate set of unseen characters in the same fonts):

    * ``reference``: the trained generator as it is;
    * ``after_surgery``: right after the surgery (no training: one number, no seed);
    * ``fine_tuned``: the surgered model trained ``steps`` more steps, one run per seed;
    * ``reference_fine_tuned``: the reference trained the same ``steps`` without surgery
      (the control: how much do ``steps`` more steps give on their own?);
    * ``scratch``: the skip-removed architecture trained from new weights for ``steps``.

    ``reference`` is a zi2zi-lessons checkpoint path; its configuration (generator and
    recipe) is read from it, and every run uses that recipe with the run's seed (which
    decides the new discriminator, new weights where there are any, and the batch
    order; the checkpoint holds no discriminator, so every run starts a new one).
    ``levels`` defaults to the reference's attention levels (the seed-000 request).
    Returns plain values (JSON-ready), including the wall time of each kind of run.
    """
    evaluation_data = dataset if evaluation_data is None else evaluation_data
    if evaluation_data.fingerprint() != dataset.fingerprint():
        raise ValueError(f"the evaluation data differ from the training data: {evaluation_data.fingerprint()} "
                         f"vs {dataset.fingerprint()} (same image size, fonts and drawing needed)")
    seeds = tuple(int(seed) for seed in seeds)
    if not seeds or isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"need steps > 0 and at least one seed, got steps={steps!r}, seeds={seeds!r}")
    generator, payload = training.load_generator(reference)
    if payload.get("data") != dataset.fingerprint():
        raise ValueError(f"{reference} was trained on other data: {payload.get('data')} vs {dataset.fingerprint()}")
    recipe = training.TrainingConfig.from_dict(payload["config"])
    levels = tuple(generator.config.attention_levels if levels is None else levels)
    if not levels:
        raise ValueError("the reference has no attention levels: give levels=(...) to remove")
    surgered, report = remove_skips(generator, levels)
    removed_config = surgered.config
    results = {
        "reference": str(reference),
        "reference_step": payload.get("step"),
        "generator": dataclasses.asdict(generator.config),
        "levels": list(levels),
        "split": split,
        "characters": int(len(evaluation_data.indices(split))),
        "fonts": list(dataset.font_labels),
        "steps": steps,
        "seeds": list(seeds),
        "parameters": {"before": count_parameters(generator), "after": count_parameters(surgered)},
        "dropped": [dataclasses.asdict(item) for item in report],
    }
    log(f"reference {reference} (step {payload.get('step')}), removing the skips of levels {levels}")
    results["reference_l1"] = _l1(generator, evaluation_data, split)
    results["after_surgery_l1"] = _l1(surgered, evaluation_data, split)
    log(f"L1 reference {results['reference_l1']['overall']:.4f}, after surgery {results['after_surgery_l1']['overall']:.4f}")
    surgered_state = surgered.state_dict()
    reference_state = generator.state_dict()
    arms = {
        "fine_tuned": (removed_config, surgered_state),
        "reference_fine_tuned": (generator.config, reference_state),
        "scratch": (removed_config, None),
    }
    for arm, (generator_config, start) in arms.items():
        runs, seconds = [], 0.0
        for seed in seeds:
            started = time.perf_counter()
            config = dataclasses.replace(recipe, generator=generator_config, seed=seed)
            trained = _train(dataset, config, steps, start)
            seconds += time.perf_counter() - started
            runs.append({"seed": seed, **_l1(trained, evaluation_data, split)})
            log(f"{arm:<22} seed {seed}: L1 {runs[-1]['overall']:.4f}")
        results[arm] = runs
        results.setdefault("seconds", {})[arm] = round(seconds, 1)
    return results


def evaluation_set(training_data: GlyphDataset, evaluation_data: GlyphDataset, split: str = "held_out") -> tuple[str, int]:
    """What the lessons call the characters ``split`` of ``evaluation_data`` is, seen from the
    data a model trained on, and how many of them are training characters of ``training_data``.

    ``"unseen"``: none of them is in ``training_data`` at all (lesson 06's ``data/unseen_64.npz``);
    ``"validation"``: they are ``training_data``'s held-out split or part of it;
    ``"validation and unseen"``: some of each; ``"<split> (N trained on)"`` when any of
    them is a training character, so that such a set is never called unseen.
    """
    evaluated = set(evaluation_data.split_characters(split))
    if not evaluated:
        raise ValueError(f"split={split!r}: the evaluation data have no such characters to evaluate on")
    trained = evaluated & set(training_data.split_characters("train"))
    if trained:
        return f"{split} ({len(trained):,} trained on)", len(trained)
    if not evaluated & set(training_data.characters):
        return "unseen", 0
    if evaluated <= set(training_data.characters):
        return "validation", 0
    return "validation and unseen", 0


def seed_range(runs) -> tuple[float, float, float]:
    """``(min, median, max)`` of the runs' overall L1."""
    values = np.array([run["overall"] for run in runs])
    return float(values.min()), float(np.median(values)), float(values.max())
