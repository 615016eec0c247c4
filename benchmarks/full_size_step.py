"""What one training step of the full-size zi2zi costs here: time and memory.

    python benchmarks/full_size_step.py GLYPHS_256.npz [--steps 3] [--threads N] [TRAIN OPTIONS...]

The trainer is built as ``python -m zi2zi_lessons train`` builds it for the documented
full-size command (256x256 glyphs made by ``build-data --size 256``)::

    --data GLYPHS_256.npz --num-downs 8 --ngf 64 --embedding-dim 128 --ndf 64 --batch-size 16

(more ``train`` options after the file are passed on). It takes one warm-up step
(Adam allocates its moments then), then times ``--steps`` steps: wall-clock and CPU
seconds per step, and the peak resident memory of the process before and after the
steps (the data file itself, 256x256 glyphs in memory, counts in both). Another job
on the machine stretches the wall clock, not the CPU time: read both.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import torch

from zi2zi_lessons import glyphs, training
from zi2zi_lessons.__main__ import build_parser, training_config
from zi2zi_lessons.anatomy import count_parameters

FULL_SIZE = ["--num-downs", "8", "--ngf", "64", "--embedding-dim", "128", "--ndf", "64", "--batch-size", "16"]


def peak_megabytes() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", metavar="GLYPHS_256.npz")
    parser.add_argument("--steps", type=int, default=3, help="timed steps (default 3)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args, more = parser.parse_known_args(argv)
    if args.steps <= 0:
        parser.error(f"--steps {args.steps}: give a positive number")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    options = build_parser().parse_args(["train", "--data", args.data, "--steps", "1", "--output", "unused.pt",
                                         *FULL_SIZE, *more])
    dataset = glyphs.load_glyphs(args.data)
    trainer = training.Trainer(dataset, training_config(options, dataset.num_fonts))
    loaded = peak_megabytes()
    trainer.train(1, progress=False)
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.train(args.steps, progress=False)
    wall, cpu = (time.perf_counter() - wall) / args.steps, (time.process_time() - cpu) / args.steps
    result = {
        "image_size": dataset.image_size,
        "batch_size": trainer.config.batch_size,
        "generator_parameters": count_parameters(trainer.generator),
        "discriminator_parameters": count_parameters(trainer.discriminator),
        "seconds_per_step": wall,
        "cpu_seconds_per_step": cpu,
        "peak_mb_before_steps": loaded,
        "peak_mb_after_steps": peak_megabytes(),
    }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; python benchmarks/full_size_step.py "
          + " ".join([args.data, "--steps", str(args.steps), *(["--threads", str(args.threads)] if args.threads else []), *more]))
    print(f"{dataset.image_size}x{dataset.image_size} glyphs, batch {trainer.config.batch_size}, "
          f"generator {result['generator_parameters']:,} parameters, discriminator {result['discriminator_parameters']:,}")
    print(f"one step: {wall:.2f} s wall clock, {cpu:.2f} s of CPU time (mean of {args.steps} after 1 warm-up step)")
    print(f"peak resident memory: {loaded:,.0f} MB with the data loaded and the networks built, "
          f"{result['peak_mb_after_steps']:,.0f} MB after the steps")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
