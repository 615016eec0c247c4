"""The package's SelfAttention against the plain matrix version (bmm + softmax, the
form the papers and the seeds use): time, peak memory and output difference.

The package stores the N x N weights itself on maps of at most 32x32 pixels (there
the two rows compute the same thing, and their ratio shows the run's noise) and uses
PyTorch's fused kernel on larger maps.

    .venv/bin/python benchmarks/attention_cost.py                      # the full grid
    .venv/bin/python benchmarks/attention_cost.py --threads 1 --output benchmarks/attention_cost.txt

Grid: maps of 16x16, 32x32 and 64x64 pixels with 64 and 256 channels, batch 4;
forward without autograd (inference) and forward+backward (training). Both versions
use the same weights. Times are the best of --repeats samples taken in turns (a sample of a
quick call times several calls in a row), so read the ratios (same run, same load),
not the milliseconds. Peak memory is measured with
torch.profiler's allocator events (see zi2zi_lessons/cost.py for why that and not
tracemalloc or the process size).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

from zi2zi_lessons.cost import compare_with_matrix_version, comparison_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[16, 32, 64], help="map sides (default: 16 32 64)")
    parser.add_argument("--channels", type=int, nargs="+", default=[64, 256], help="channels, multiples of 8 (default: 64 256)")
    parser.add_argument("--batch", type=int, default=4, help="batch size (default: 4)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per version, best kept (default: 3)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice); 1 keeps a busy machine's noise out of the ratios")
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads {args.threads} is not accepted: give at least 1")
        torch.set_num_threads(args.threads)
    for side in args.sides:
        if side < 1:
            parser.error(f"--sides {side} is not accepted: sides must be positive")
    for channels in args.channels:
        if channels < 8:
            parser.error(f"--channels {channels} is not accepted: SelfAttention needs at least 8 channels")

    started = time.strftime("%Y-%m-%d %H:%M")
    results = []
    for side in args.sides:
        for channels in args.channels:
            print(f"measuring {side}x{side}, {channels} channels ...", file=sys.stderr, flush=True)
            results.append(compare_with_matrix_version(channels, side, batch=args.batch, repeats=args.repeats))
    header = (
        f"SelfAttention (stores the N x N weights up to 32x32, fused kernel beyond) against bmm + softmax, "
        f"batch {args.batch}, best of {args.repeats}\n"
        f"run {started}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    text = f"{header}\n\n{comparison_table(results)}\n"
    print(text)
    if args.output is not None:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
