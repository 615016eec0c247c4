"""Skip surgery on lesson 06's trained attention run, measured over seeds (lesson 07, part 3).

    python benchmarks/skip_surgery.py [--steps N] [--seeds 0 1 2] [--threads N]
                                      [--reference data/tiny_attention.pt] [--data FILE]
                                      [--eval-data FILE] [--split held_out]
                                      [--output benchmarks/skip_surgery.json]

Removes the skips of the reference's attention levels (``zi2zi_lessons.surgery``), then
measures the L1 on ``--split`` of ``--eval-data`` (default: the training data's held-out
characters; or a file of unseen characters drawn in the same fonts) of: the reference, the
surgered model untrained, the surgered model fine-tuned ``--steps`` steps, the
reference fine-tuned the same steps without surgery (the control), and the
skip-removed architecture trained from scratch for ``--steps`` steps; one run per seed.
Writes the results (and this command) as JSON; lesson 07 reads that file. On 2
cores, expect a few minutes per 1,000 training steps.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from zi2zi_lessons import glyphs, surgery, training
from zi2zi_lessons.environment import REPOSITORY_ROOT

DEFAULT_OUTPUT = REPOSITORY_ROOT / "benchmarks" / "skip_surgery.json"


def _shown(path) -> str:
    """A path as the results show it: relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(REPOSITORY_ROOT)) if path.is_relative_to(REPOSITORY_ROOT) else str(path)


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300, help="training steps of every run (default 300)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one run per seed (default 0 1 2)")
    parser.add_argument("--split", default="held_out", help="characters to evaluate on (default held_out)")
    parser.add_argument("--reference", type=Path, default=training.REFERENCE_CHECKPOINTS["attention"])
    parser.add_argument("--data", type=Path, help="training data (default: the shipped data/glyphs_64.npz)")
    parser.add_argument("--eval-data", type=Path, help="data to evaluate on (default: --data)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.steps <= 0:
        parser.error(f"--steps {args.steps}: give a positive number of steps")
    if args.threads is not None:
        if args.threads <= 0:
            parser.error(f"--threads {args.threads}: give a positive number")
        torch.set_num_threads(args.threads)
    if not args.output.parent.is_dir():
        parser.error(f"--output {args.output}: the folder {args.output.parent} does not exist")

    dataset = glyphs.load_glyphs(args.data)
    evaluation_data = dataset if args.eval_data is None else glyphs.load_glyphs(args.eval_data)
    started = time.perf_counter()
    results = surgery.surgery_experiment(args.reference, dataset, args.steps, args.seeds, split=args.split,
                                         evaluation_data=evaluation_data)
    results["evaluation_data"] = _shown(args.eval_data or args.data or glyphs.DEFAULT_DATA)
    results["reference"] = _shown(args.reference)
    results["command"] = "python benchmarks/skip_surgery.py " + " ".join(argv)
    results["machine"] = f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}, Python {platform.python_version()}"
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    glyphs.write_atomically(args.output, lambda temporary: Path(temporary).write_text(json.dumps(results, indent=1) + "\n"))
    print(f"wrote {args.output}")
    return results


if __name__ == "__main__":
    main()
