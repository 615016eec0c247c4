"""Load the repository's code that is not part of the package: a lesson's cells by tag (the
``solution`` cells, the very code learners are pointed to, and the ``exercise`` templates, run
after the lesson's imports) and the benchmarks (benchmarks/*.py), as modules."""

import importlib.util
import json
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BENCHMARKS = ROOT / "benchmarks"


def _load(folder: Path, name: str):
    path = folder / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no script {path}; there are: {sorted(p.name for p in folder.glob('*.py'))}")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_benchmark(name: str):
    return _load(BENCHMARKS, name)


def load_solution_cells(notebook: str) -> types.SimpleNamespace:
    """Run the code cells tagged ``solution`` of ``notebooks/<notebook>.ipynb``, in order, in one
    fresh namespace, and return that namespace. A solution cell must import what it uses."""
    return _run_cells(notebook, "solution", with_setup=False)


def notebook_cells(lesson: str, tag: str) -> list[str]:
    """Sources of the code cells of ``notebooks/<lesson>.ipynb`` tagged ``tag``, in order."""
    path = NOTEBOOKS / f"{lesson}.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code" and tag in c.get("metadata", {}).get("tags", [])]


def load_notebook_cells(lesson: str, tag: str) -> types.SimpleNamespace:
    """Run the lesson's first code cell (its imports; IPython ``%`` lines left out) and then its
    code cells tagged ``tag`` ("solution": the answers, "exercise": the empty templates) in one
    fresh namespace, as the notebook runs them; return that namespace.

    Cells print as they run (solutions may show their reasoning); tests capture it.
    """
    return _run_cells(lesson, tag, with_setup=True)


def _run_cells(lesson: str, tag: str, with_setup: bool) -> types.SimpleNamespace:
    path = NOTEBOOKS / f"{lesson}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"no notebook {path}; there are: {sorted(p.name for p in NOTEBOOKS.glob('*.ipynb'))}")
    tagged = notebook_cells(lesson, tag)
    if not tagged:
        raise LookupError(f"{path.name} has no code cell tagged {tag!r}")
    sources = tagged
    if with_setup:
        cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
        setup = "\n".join(line for line in "".join(cells[0]["source"]).splitlines() if not line.lstrip().startswith("%"))
        sources = [setup, *tagged]
    namespace: dict = {"__name__": f"{lesson}_{tag}"}
    for index, source in enumerate(sources):
        exec(compile(source, f"{path.name}[{tag} {index}]", "exec"), namespace)
    return types.SimpleNamespace(**{k: v for k, v in namespace.items() if not k.startswith("__")})
