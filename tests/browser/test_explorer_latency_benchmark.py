"""benchmarks/explorer_browser_latency.py runs and says what it measured (never how fast)."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "explorer_browser_latency.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("explorer_browser_latency", BENCHMARK)
    module = sys.modules["explorer_browser_latency"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

pytestmark = pytest.mark.browser


def test_the_browser_latency_benchmark_prints_both_intervals_and_the_load(capsys):
    benchmark = load_benchmark()
    benchmark.main(2)
    out = capsys.readouterr().out
    assert "2 clicks on 'level 6 attention'" in out
    assert "load average (1, 5, 15 min) before" in out
    for row in ("the new total shown", "the new chart decoded"):
        assert row in out
    assert "target: the chart within 150 ms (median, idle machine) -> " in out
    with pytest.raises(SystemExit, match="clicks=0 is not accepted"):
        benchmark.main(0)
