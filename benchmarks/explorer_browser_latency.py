"""How long the architecture explorer takes, in a real browser, from a click to the new chart.

The explorer of lesson 03 runs in the project's JupyterLab in headless Chromium (the browser
tests' machinery, tests/browser/labdriver.py), alone in a small notebook so that nothing
else runs. The "level 6 attention" checkbox is clicked again and again; the page itself
records, with performance.now(), the click, the moment the total shows its new number and
the moment the chart's new PNG is decoded and can be painted. Those two intervals are
what a learner waits for; their medians are printed, with the load of the machine before
and after, since the kernel, the server and the browser share its cores.

Usage: ``.venv/bin/python benchmarks/explorer_browser_latency.py [clicks] | tee benchmarks/explorer_browser_latency.txt``
(needs Chromium, as the browser tests do). Nothing asserts these times: they are printed.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))
import labdriver  # noqa: E402  (the browser tests' machinery)

NOTEBOOK = "explorer_alone.ipynb"
SETTLE_SECONDS = 0.4  # between clicks: each measurement starts from an idle kernel and page

# Installed once: stamps for every click on the checkbox, every new total, every decoded chart.
_INSTRUMENT_JS = """
() => {
  const root = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .explorer');
  const box = root.querySelector('.explorer-attention-level-6 input[type=checkbox]');
  const total = root.querySelector('.explorer-total-value').parentElement;
  const chart = root.querySelector('.explorer-chart');
  const log = window.__latency = {clicks: [], totals: [], charts: []};
  box.addEventListener('click', () => log.clicks.push(performance.now()), true);
  new MutationObserver(() => log.totals.push(performance.now()))
    .observe(total, {subtree: true, childList: true, characterData: true});
  // the chart is an HTML widget: each update replaces its <img>
  new MutationObserver(() => chart.querySelector('img').decode().then(() => log.charts.push(performance.now()),
                                                                     () => log.charts.push(null)))
    .observe(chart, {subtree: true, childList: true});
}
"""


def write_notebook(folder: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("from zi2zi_lessons.explorer import ArchitectureExplorer\n"
                                                "ArchitectureExplorer()")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / NOTEBOOK)


def wait_for(page, expression: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        time.sleep(0.02)
    raise SystemExit(f"waited {timeout:.0f} s for {expression}")


def measure(clicks: int) -> dict:
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="zi2zi-latency-"))
    write_notebook(folder)
    server = labdriver.LabServer(folder).start()
    try:
        with sync_playwright() as playwright:
            browser = labdriver.launch_chromium(playwright)
            page = labdriver.new_lab_page(browser)
            notebook = labdriver.open_notebook(page, server, NOTEBOOK)
            notebook.run_all()
            notebook.check_outputs([1], [False])
            page.evaluate(_INSTRUMENT_JS)
            box = page.get_by_role("checkbox", name="level 6 attention")
            for index in range(clicks + 1):  # the first click warms up and is not counted
                box.click()
                wait_for(page, f"window.__latency.charts.length > {index} && window.__latency.totals.length > {index}")
                notebook.wait_idle()
                time.sleep(SETTLE_SECONDS)
            log = page.evaluate("window.__latency")
            browser.close()
    finally:
        server.shut_down_sessions()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    if None in log["charts"]:
        raise SystemExit("a new chart could not be decoded")
    # one total change and one chart per click (the total's text node is replaced once)
    return {name: [log[key][i] - log["clicks"][i] for i in range(1, clicks + 1)]  # performance.now(): ms
            for name, key in (("total", "totals"), ("chart", "charts"))}


def main(clicks: int = 20) -> None:
    if clicks < 1:
        raise SystemExit(f"clicks={clicks} is not accepted: give a positive number of clicks")
    reason = labdriver.chromium_missing_reason()
    if reason:
        raise SystemExit(reason)
    load_before = os.getloadavg()
    times = measure(clicks)
    load_after = os.getloadavg()
    print(f"architecture explorer in JupyterLab (headless Chromium), {clicks} clicks on 'level 6 attention', "
          f"{os.cpu_count()} cores")
    print(f"load average (1, 5, 15 min) before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print(f"{'from the click to':<40}{'median ms':>12}{'min ms':>10}{'max ms':>10}")
    for name, label in (("total", "the new total shown"), ("chart", "the new chart decoded")):
        values = times[name]
        print(f"{label:<40}{statistics.median(values):>12.0f}{min(values):>10.0f}{max(values):>10.0f}")
    print(f"target: the chart within 150 ms (median, idle machine) -> "
          f"{'met' if statistics.median(times['chart']) <= 150 else 'not met'} at this load")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
