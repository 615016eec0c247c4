"""Measure how long each lesson takes to run top to bottom on this machine, count what it
asks of a learner, and write the table docs/workshop.md quotes (docs/lesson_times.md).

Each lesson notebook of the complete edition (its solution cells included: what a learner's
right answers run) is executed in a fresh kernel with nbclient, in order, one at a time;
the wall time from the first cell to the last is recorded, with the machine's load average
before and after, since timings on a shared machine are only as good as its idleness.
Lesson 06 runs twice: as a learner gets it (full training) and in quick mode (``CI`` set).
The notebooks on disk are not changed.

The time a learner needs cannot be measured here; the table gives the workshop plan's
*allowance*, computed from the lesson's content by a stated rule (``allowance``): reading
its prose at 120 words a minute, 2 minutes per prediction, 10 per exercise, plus the run
time, rounded up to 5 minutes.

Usage: ``.venv/bin/python tools/time_lessons.py [--output docs/lesson_times.md] [NN ...]``
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
QUICK_MODE_LESSON = "06"  # the lesson with a quick mode (CI set): timed both ways
WORDS_PER_MINUTE = 120  # technical prose read with care, next to code
MINUTES_PER_PREDICTION = 2
MINUTES_PER_EXERCISE = 10


def content(path: Path) -> dict:
    """What the lesson asks of a learner: its words of prose, predictions and exercises."""
    cells = nbformat.read(path, as_version=4).cells
    prose = " ".join(cell.source for cell in cells if cell.cell_type == "markdown")
    return {
        "words": len(re.findall(r"[A-Za-z0-9][\w'.-]*", prose)),
        "predictions": sum("prediction" in cell.metadata.get("tags", []) for cell in cells),
        "exercises": sum("exercise" in cell.metadata.get("tags", []) for cell in cells),
    }


def allowance(counts: dict, run_seconds: float) -> int:
    """Minutes the plan gives a learner for the lesson (see the module docstring)."""
    minutes = (counts["words"] / WORDS_PER_MINUTE + MINUTES_PER_PREDICTION * counts["predictions"]
               + MINUTES_PER_EXERCISE * counts["exercises"] + run_seconds / 60)
    return 5 * math.ceil(minutes / 5)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_once(path: Path, quick: bool, timeout: float) -> tuple[float | None, int, tuple, tuple]:
    """Seconds to execute `path` in a fresh kernel (None when a cell ran past `timeout`), its
    code cells, and the load before and after."""
    notebook = nbformat.read(path, as_version=4)
    previous = os.environ.get("CI")
    if quick:
        os.environ["CI"] = "true"
    else:
        os.environ.pop("CI", None)
    try:
        client = NotebookClient(notebook, kernel_name="python3", timeout=timeout, allow_errors=False,
                                resources={"metadata": {"path": str(path.parent)}})
        load_before = os.getloadavg()
        with client.setup_kernel():
            start = time.perf_counter()
            try:
                for index, cell in enumerate(notebook.cells):
                    client.execute_cell(cell, index)
                seconds = time.perf_counter() - start
            except CellTimeoutError:
                seconds = None
        load_after = os.getloadavg()
    finally:
        if previous is None:
            os.environ.pop("CI", None)
        else:
            os.environ["CI"] = previous
    return seconds, sum(cell.cell_type == "code" for cell in notebook.cells), load_before, load_after


def lessons(selected: list[str]) -> list[Path]:
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if selected:
        unknown = set(selected) - {path.name[:2] for path in paths}
        if unknown:
            raise SystemExit(f"lessons {sorted(unknown)} are not accepted: use "
                             f"{', '.join(path.name[:2] for path in paths)}")
        paths = [path for path in paths if path.name[:2] in selected]
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lessons", nargs="*", help="two-digit lesson numbers (default: all)")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "lesson_times.md",
                        help="markdown file to write (default: docs/lesson_times.md); '-' prints only")
    parser.add_argument("--quick-only", action="store_true",
                        help=f"lesson {QUICK_MODE_LESSON} in quick mode only (its full training takes longest)")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds one cell may run before the lesson counts as not finished (default 3600)")
    args = parser.parse_args(argv)
    import torch  # for the thread count the kernels will use

    rows = []
    for path in lessons(args.lessons):
        modes = [False, True] if path.name.startswith(QUICK_MODE_LESSON) else [False]
        if args.quick_only:
            modes = [True] if path.name.startswith(QUICK_MODE_LESSON) else modes
        for quick in modes:
            print(f"running {path.name}{' (quick mode)' if quick else ''} ...", file=sys.stderr, flush=True)
            seconds, cells, before, after = run_once(path, quick, args.timeout)
            print(f"  {'did not finish' if seconds is None else f'{seconds:.0f} s'}, load {before[0]:.1f} -> "
                  f"{after[0]:.1f}", file=sys.stderr, flush=True)
            rows.append((path.stem + (" (quick mode, `CI` set)" if quick else ""), cells, seconds, before, after,
                         content(path)))
    lines = [
        "# Measured run times of the lessons",
        "",
        f"Measured by `tools/time_lessons.py` on {datetime.date.today().isoformat()}: each lesson of the complete "
        "edition (solution cells included) executed top to bottom in a fresh kernel, one after the other, "
        f"on {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, torch "
        f"{torch.__version__} with {torch.get_num_threads()} threads. The load average is the machine's "
        f"(1 minute) just before and after each run: with a load above {os.cpu_count()} other work "
        "shared the cores and the times are longer than on an idle machine.",
        "",
        "The learner's allowance is not measured (it cannot be, here): it is the workshop plan's time for the "
        f"lesson, from its content: prose read at {WORDS_PER_MINUTE} words a minute, {MINUTES_PER_PREDICTION} "
        f"minutes per prediction, {MINUTES_PER_EXERCISE} per exercise, plus the run time, rounded up to 5 minutes.",
        "",
        "| lesson | code cells | run time | load before | load after | words | predictions | exercises | allowance |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, cells, seconds, before, after, counts in rows:
        if seconds is None:
            shown, minutes = f"not finished: a cell ran past {args.timeout:.0f} s", ""
        else:
            shown = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
            minutes = "" if "quick mode" in name else f"{allowance(counts, seconds)} min"
        lines.append(f"| {name} | {cells} | {shown} | {before[0]:.1f} | {after[0]:.1f} | {counts['words']:,} | "
                     f"{counts['predictions']} | {counts['exercises']} | {minutes} |")
    full = [(seconds, counts) for name, _, seconds, _, _, counts in rows
            if "quick mode" not in name and seconds is not None]
    lines += ["", f"The lessons that finished, as a learner runs them: {sum(s for s, _ in full) / 60:.1f} min of "
              f"computing; allowance {sum(allowance(counts, s) for s, counts in full)} min.", ""]
    text = "\n".join(lines)
    print(text)
    if str(args.output) != "-":
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
