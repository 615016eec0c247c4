"""Load a lesson's solutions file (notebooks/solutions/lesson_NN_*.py) as a module, the way a
notebook next to it imports it, so tests check the very code learners are pointed to."""

import importlib.util
from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parents[1] / "notebooks" / "solutions"


def load_solution(name: str):
    path = SOLUTIONS / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no solutions file {path}; there are: {sorted(p.name for p in SOLUTIONS.glob('*.py'))}")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
