"""How lesson 06's recipe was chosen: each setting tried, on the validation split.

    .venv/bin/python benchmarks/recipe_choices.py [--only NAME[,NAME...]] [--steps N]

Trains the classic tiny generator (seed 0, one CPU thread, ``training.LESSON_STEPS``
steps) once per variant in ``VARIANTS`` and evaluates it on the **validation split**
(the 375 held-out characters of ``data/glyphs_64.npz``), never on the unseen characters
the lesson reports. Each variant changes a few fields of the ``TrainingConfig`` that the
package used before this choice; the results (L1, reduction against copying, share of
characters that beat a blank page, SSIM, per target font) are merged into
``benchmarks/recipe_choices.json``, which lesson 06 reads. One variant takes about
5 minutes of one core's time. One seed each: a difference smaller than the seed
spread (lesson 06 measures it on three seeds) shows nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from zi2zi_lessons import glyphs, training

OUTPUT = Path(__file__).resolve().parent / "recipe_choices.json"

# name -> (what it changes, TrainingConfig fields; "weights" are LossWeights fields)
VARIANTS = {
    "zi2zi": ("zi2zi's recipe exactly: L1 weight 100, enlarge-and-crop augmentation up to 20%",
              {"weights": {"l1": 100.0}, "augment": 0.2}),
    "l1 300, augment": ("L1 weight 300, zi2zi's augmentation", {"weights": {"l1": 300.0}, "augment": 0.2}),
    "l1 300": ("L1 weight 300, no augmentation", {"weights": {"l1": 300.0}}),
    "l1 1000": ("L1 weight 1000, no augmentation", {"weights": {"l1": 1000.0}}),
    "l1 3000": ("L1 weight 3000, no augmentation", {"weights": {"l1": 3000.0}}),
    "l1 3000 halving": ("L1 weight 3000, no augmentation, zi2zi's learning-rate halving every 700 steps "
                        "(the lesson's recipe)",
                                 {"weights": {"l1": 3000.0}, "lr_halve_every": 700}),
}


def config_of(fields: dict, num_fonts: int) -> training.TrainingConfig:
    fields = dict(fields)
    weights = {**training.LossWeights().__dict__, **fields.pop("weights", {})}
    generator = training.tiny_generator_config(fields.pop("architecture", "classic"), num_fonts, **fields.pop("generator", {}))
    # the fields not given take the values of zi2zi's recipe
    base = dict(generator_updates=2, category_loss="sigmoid", init="normal", augment=0.0, lr_halve_every=0)
    return training.TrainingConfig(generator=generator, weights=training.LossWeights(**weights), **{**base, **fields})


def run(name: str, steps: int) -> dict:
    change, fields = VARIANTS[name]
    data = glyphs.load_glyphs()
    config = config_of(fields, data.num_fonts)
    trainer = training.Trainer(data, config)
    cpu = time.process_time()
    trainer.train(steps, progress=False)
    cpu = time.process_time() - cpu
    return {"name": name, "change": change, "steps": steps, "cpu_seconds": round(cpu, 1),
            "config": config.as_dict(), "validation": training.evaluate(trainer.generator, data).to_json()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated variant names (default: all)")
    parser.add_argument("--steps", type=int, default=training.LESSON_STEPS)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    names = list(VARIANTS) if args.only is None else args.only.split(",")
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        parser.error(f"--only {','.join(unknown)}: unknown variant; use {', '.join(VARIANTS)}")
    torch.set_num_threads(1)  # results then do not depend on the machine's load
    results = json.loads(args.output.read_text()) if args.output.is_file() else {}
    for name in names:
        result = run(name, args.steps)
        results[name] = result
        fonts = result["validation"]["fonts"]
        print(f"{name:<28} " + "  ".join(f"{f['name']}: L1 {f['l1']:.4f} ({f['reduction']:.1%} below copy, "
                                          f"{f['beats_blank_share']:.1%} beat blank)" for f in fonts), flush=True)
        args.output.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
