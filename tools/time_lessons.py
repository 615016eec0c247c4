"""Measure how long each lesson takes to run top to bottom on this machine, and write the
table docs/workshop.md quotes (docs/lesson_times.md).

Each lesson notebook of the complete edition (its solution cells included: what a learner's
right answers run) is executed in a fresh kernel with nbclient, in order, one at a time;
the wall time from the first cell to the last is recorded, with the machine's load average
before and after, since timings on a shared machine are only as good as its idleness.
Lesson 06 runs twice: as a learner gets it (full training) and in quick mode (``CI`` set).
The notebooks on disk are not changed.

Usage: ``.venv/bin/python tools/time_lessons.py [--output docs/lesson_times.md] [NN ...]``
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
QUICK_MODE_LESSON = "06"  # the lesson with a quick mode (CI set): timed both ways


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_once(path: Path, quick: bool) -> tuple[float, int, tuple, tuple]:
    """Seconds to execute `path` in a fresh kernel, its code cells, and the load before and after."""
    notebook = nbformat.read(path, as_version=4)
    previous = os.environ.get("CI")
    if quick:
        os.environ["CI"] = "true"
    else:
        os.environ.pop("CI", None)
    try:
        client = NotebookClient(notebook, kernel_name="python3", timeout=3600, allow_errors=False,
                                resources={"metadata": {"path": str(path.parent)}})
        load_before = os.getloadavg()
        with client.setup_kernel():
            start = time.perf_counter()
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
            seconds = time.perf_counter() - start
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
    args = parser.parse_args(argv)
    import torch  # for the thread count the kernels will use

    rows = []
    for path in lessons(args.lessons):
        modes = [False, True] if path.name.startswith(QUICK_MODE_LESSON) else [False]
        for quick in modes:
            print(f"running {path.name}{' (quick mode)' if quick else ''} ...", file=sys.stderr, flush=True)
            seconds, cells, before, after = run_once(path, quick)
            rows.append((path.stem + (" (quick mode, `CI` set)" if quick else ""), cells, seconds, before, after))
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
        "| lesson | code cells | run time | load before | load after |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, cells, seconds, before, after in rows:
        shown = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
        lines.append(f"| {name} | {cells} | {shown} | {before[0]:.1f} | {after[0]:.1f} |")
    full = [seconds for name, _, seconds, _, _ in rows if "quick mode" not in name]
    lines += ["", f"All lessons as a learner runs them: {sum(full) / 60:.1f} min.", ""]
    text = "\n".join(lines)
    print(text)
    if str(args.output) != "-":
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
