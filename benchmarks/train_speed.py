"""Training steps per second on this CPU: lesson 06's tiny models and the default zi2zi.

    python benchmarks/train_speed.py [--steps N] [--threads N] [--skip-default]

Each configuration trains a few warm-up steps, then times ``--steps`` steps of the
real training step (one discriminator update + two generator updates, all four
losses, the package's default recipe). The tiny models train on the shipped 64x64
glyphs; the default zi2zi (256x256, eight levels, ngf=64, ndf=64, batch 16) trains on
random 256x256 "glyphs", since the time of a step does not depend on what the pixels
show.

Lesson 06's budget is ``training.LESSON_STEPS`` steps per model, which must take at
most 5 minutes on 2 idle cores. The last column says how long those steps take at the
measured speed. Wall-clock speed depends on whatever else the machine runs, so the
script prints the load average before and after (idle 2 cores: well under 1) and the
CPU time per step, which other processes inflate much less: compare the rows of one
run, and trust the minutes only when the load was low.
"""

from __future__ import annotations

import argparse
import os
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


def steps_per_second(dataset: GlyphDataset, config: training.TrainingConfig, steps: int,
                     warmup: int = 2) -> tuple[float, float, int]:
    """``(steps per wall-clock second, CPU seconds per step, generator parameters)``."""
    trainer = training.Trainer(dataset, config)
    trainer.train(warmup, progress=False)
    started, cpu_started = time.perf_counter(), time.process_time()
    trainer.train(steps, progress=False)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return steps / wall, cpu / steps, count_parameters(trainer.generator)


def load() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="timed steps for the tiny models (default 20)")
    parser.add_argument("--default-steps", type=int, default=2, help="timed steps for the default zi2zi (default 2)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--skip-default", action="store_true", help="time only the tiny models")
    args = parser.parse_args(argv)
    if args.steps <= 0 or args.default_steps <= 0:
        parser.error("--steps and --default-steps must be positive")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    shipped = glyphs.load_glyphs()
    runs = [(f"tiny {name} (lesson 06)", shipped,
             training.TrainingConfig(generator=training.tiny_generator_config(name, shipped.num_fonts)), args.steps, 2)
            for name in training.ARCHITECTURES]
    if not args.skip_default:
        runs.append(("default zi2zi (256 px)", random_glyphs(256),
                     training.TrainingConfig(generator=GeneratorConfig(embedding_num=40), ndf=64, batch_size=16),
                     args.default_steps, 1))
    budget = training.LESSON_STEPS
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; "
          f"load average (1/5/15 min) before: {load()}")
    print(f"{'configuration':<28} {'image':>7} {'batch':>5} {'G params':>11} {'steps/s':>8} {'images/s':>9} "
          f"{'CPU s/step':>10} {f'{budget:,} steps':>11}")
    for name, dataset, config, steps, warmup in runs:
        rate, cpu, parameters = steps_per_second(dataset, config, steps, warmup)
        size = dataset.image_size
        print(f"{name:<28} {f'{size}x{size}':>7} {config.batch_size:>5} {parameters:>11,} {rate:>8.2f} "
              f"{rate * config.batch_size:>9.1f} {cpu:>10.3f} {budget / rate / 60:>9.1f} min", flush=True)
    print(f"load average after: {load()}; lesson 06's budget: {budget:,} steps per model, at most 5 min on 2 idle cores")


if __name__ == "__main__":
    main()
