"""Training steps per second on this CPU: lesson 06's tiny models and the default zi2zi.

    python benchmarks/train_speed.py [--steps N] [--threads N]

Each configuration trains a few warm-up steps, then times ``--steps`` steps of the
real training step (discriminator update + generator update, all four losses).
The tiny models train on the shipped 64x64 glyphs; the default zi2zi (256x256,
eight levels, ngf=64, ndf=64, batch 16) trains on random 256x256 "glyphs", since
the time of a step does not depend on what the pixels show. Timings vary with the
machine and with whatever else it is running: compare the rows of one run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from zi2zi_lessons import glyphs, training
from zi2zi_lessons.anatomy import count_parameters
from zi2zi_lessons.glyphs import FontInfo, GlyphDataset
from zi2zi_lessons.unet import GeneratorConfig


def random_glyphs(size: int, characters: int = 64, fonts: int = 3) -> GlyphDataset:
    rng = np.random.default_rng(0)
    font = FontInfo("random", "random", "", "", "", 0, "")
    return GlyphDataset(
        characters="".join(chr(0x4E00 + i) for i in range(characters)),
        source=rng.integers(0, 256, (characters, size, size), dtype=np.uint8),
        targets=rng.integers(0, 256, (fonts, characters, size, size), dtype=np.uint8),
        held_out=np.zeros(characters, dtype=bool),
        source_font=font,
        target_fonts=(font,) * fonts,
    )


def steps_per_second(dataset: GlyphDataset, config: training.TrainingConfig, steps: int, warmup: int = 2) -> tuple[float, int]:
    trainer = training.Trainer(dataset, config)
    trainer.train(warmup, progress=False)
    started = time.perf_counter()
    trainer.train(steps, progress=False)
    return steps / (time.perf_counter() - started), count_parameters(trainer.generator)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="timed steps for the tiny models (default 20)")
    parser.add_argument("--default-steps", type=int, default=2, help="timed steps for the default zi2zi (default 2)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.steps <= 0 or args.default_steps <= 0:
        parser.error("--steps and --default-steps must be positive")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    shipped = glyphs.load_glyphs()
    tiny = training.TrainingConfig()  # the lesson 06 defaults
    runs = [
        ("tiny classic (lesson 06)", shipped, tiny, args.steps),
        ("tiny attention (lesson 06)", shipped,
         training.TrainingConfig(generator=training.tiny_generator_config("attention", shipped.num_fonts)), args.steps),
        ("default zi2zi (256 px)", random_glyphs(256),
         training.TrainingConfig(generator=GeneratorConfig(embedding_num=40), ndf=64, batch_size=16), args.default_steps),
    ]
    warmups = (2, 2, 1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'configuration':<28} {'image':>7} {'batch':>5} {'G params':>11} {'steps/s':>8} {'images/s':>9}")
    for (name, dataset, config, steps), warmup in zip(runs, warmups):
        rate, parameters = steps_per_second(dataset, config, steps, warmup)
        size = dataset.image_size
        print(f"{name:<28} {f'{size}x{size}':>7} {config.batch_size:>5} {parameters:>11,} {rate:>8.2f} {rate * config.batch_size:>9.1f}",
              flush=True)


if __name__ == "__main__":
    main()
