"""How long one architecture-explorer update takes, against building the model for real.

Default 8-level generator at 256x256. Three things are timed, interleaved in rounds so
that a busy machine slows them alike:

- explorer update: what every control change computes (``explorer.explore``): the
  generator rebuilt on the ``meta`` device, its level table and the per-level
  comparison with the baseline (built once and cached, as in the widget);
- widget numbers: the update plus the widget's totals and HTML tables, which the widget
  sends to the page before it draws the chart;
- widget refresh: all of that plus the bar chart rendered to PNG (matplotlib's drawing,
  most of the time), triggered by ticking an attention checkbox;
- real build: ``UNetGenerator(...)`` of the same configuration with real weights.

Absolute times depend on the machine and its load; compare the ratios, which are
measured in the same run. Usage: ``.venv/bin/python benchmarks/explorer_latency.py [rounds] | tee benchmarks/explorer_latency.txt``
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

from zi2zi_lessons import UNetGenerator
from zi2zi_lessons.explorer import ArchitectureExplorer, explore


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main(rounds: int = 7) -> None:
    if rounds < 1:
        raise SystemExit(f"rounds={rounds} is not accepted: give a positive number of rounds")
    widget = ArchitectureExplorer()
    explore()  # warm-up: imports, caches, the baseline
    UNetGenerator()
    updates, numbers, refreshes, builds = [], [], [], []
    for round_number in range(rounds):
        # alternate the attention at level 6 so every update builds a different generator
        for step in range(5):
            attention = (6,) if (round_number + step) % 2 else ()
            updates.append(timed(lambda: explore(attention_levels=attention)))
        for step in range(2):
            attention = (6,) if (round_number + step) % 2 else ()
            numbers.append(timed(lambda: widget.show_numbers(explore(**{**widget.values(), "attention_levels": attention},
                                                                     baseline=widget.baseline))))
        for _ in range(2):
            box = widget.attention_boxes[6]
            refreshes.append(timed(lambda: setattr(box, "value", not box.value)))
        builds.append(timed(lambda: UNetGenerator()))

    update, shown, refresh, build = (statistics.median(times) for times in (updates, numbers, refreshes, builds))
    print(f"default generator (8 levels, ngf 64, 256x256), {rounds} rounds, torch threads {torch.get_num_threads()}")
    print(f"{'what':<60}{'runs':>6}{'median ms':>12}{'real build / this':>20}")
    for name, runs, median in (
        ("explorer update (meta rebuild + level table + comparison)", len(updates), update),
        ("widget numbers (update + totals + HTML tables)", len(numbers), shown),
        ("widget refresh (numbers, then the PNG chart)", len(refreshes), refresh),
        ("real build (UNetGenerator with weights)", len(builds), build),
    ):
        print(f"{name:<60}{runs:>6}{1000 * median:>12.1f}{build / median:>20.1f}")
    print(f"target: update well under 100 ms and at least 20x faster than the real build -> "
          f"{'met' if update < 0.1 and build / update >= 20 else 'NOT met'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
