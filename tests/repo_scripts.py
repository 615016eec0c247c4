"""Load the repository's scripts that are not part of the package, as modules: the lessons'
solutions (notebooks/solutions/lesson_NN_*.py, the very code learners are pointed to) and the
benchmarks (benchmarks/*.py)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "notebooks" / "solutions"
BENCHMARKS = ROOT / "benchmarks"


def _load(folder: Path, name: str):
    path = folder / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no script {path}; there are: {sorted(p.name for p in folder.glob('*.py'))}")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_solution(name: str):
    return _load(SOLUTIONS, name)


def load_benchmark(name: str):
    return _load(BENCHMARKS, name)
