"""The learner edition (tools/learner_edition.py, `make learner`): its rules on a small notebook,
that the committed notebooks/learner/ is what a rebuild gives, that a rebuild never replaces
a learner's work, and (marker notebook_run, `make test-learner`) that every learner notebook
runs as a learner receives it: no error but on purpose, each checker judging its template.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("learner_edition", REPO / "tools" / "learner_edition.py")
learner_edition = sys.modules["learner_edition"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(learner_edition)

LEARNER_NOTEBOOKS = sorted(learner_edition.LEARNER.glob(learner_edition.LESSON_PATTERN))
CHECKER_CALL = re.compile(r"\bcheck_\w+\(")


def lesson(cells, widgets=False):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if widgets:
        notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    notebook.cells = cells
    return notebook


def code(source, tags=(), output="42"):
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output + "\n")]
    cell.execution_count = 3
    return cell


def markdown(source):
    return nbformat.v4.new_markdown_cell(source)


@pytest.fixture
def folders(tmp_path):
    complete = tmp_path / "notebooks"
    complete.mkdir()
    nbformat.write(lesson([
        markdown("# 01 · A lesson"),
        markdown("**Predict** the count. See [lesson 02](02_next.ipynb#top), [the data](../data/README.md), "
                 "<img src='figure.png'> and [a paper](https://arxiv.org/abs/1805.08318)."),
        code("# NBVAL_CHECK_OUTPUT\nprint(6 * 7)", tags=["prediction"]),
        markdown("### Exercise 1: the count"),
        code("count = ...", tags=["exercise"]),
        code("count = 42", tags=["solution"]),
        code("# NBVAL_CHECK_OUTPUT\nchecks.check_count(count);", output="✓ correct"),
        code("# NBVAL_RAISES_EXCEPTION\nraise ValueError('on purpose')", tags=["raises-exception"]),
        markdown("## Sources"),
    ], widgets=True), complete / "01_lesson.ipynb")
    nbformat.write(lesson([markdown("# 02 · Next")]), complete / "02_next.ipynb")
    return complete, complete / "learner"


def test_the_learner_edition_follows_the_rules(folders):
    complete, learner = folders
    outcomes = learner_edition.sync(complete=complete, learner=learner)
    assert [o.action for o in outcomes] == ["written", "written"]
    built = nbformat.read(learner / "01_lesson.ipynb", as_version=4)
    sources = [cell.source for cell in built.cells]

    assert "count = 42" not in sources, "the solution cell is still there"
    assert "count = ..." in sources, "the exercise template is gone"
    assert all(not cell.get("outputs") and cell.get("execution_count") is None
               for cell in built.cells if cell.cell_type == "code"), "an output or execution count survived"
    assert "widgets" not in built.metadata, "widget state survived (its views are gone)"
    assert not any("NBVAL" in source for source in sources), "an nbval comment is left for the learner to read"
    assert "raise ValueError('on purpose')" in sources
    raising = next(cell for cell in built.cells if "on purpose" in cell.source)
    assert raising.metadata["tags"] == ["raises-exception"], "the cell failing on purpose lost its tag"

    prediction = next(i for i, cell in enumerate(built.cells) if "prediction" in cell.metadata.get("tags", []))
    yours = built.cells[prediction - 1]
    assert yours.cell_type == "markdown" and "Your prediction" in yours.source
    assert "**Predict**" in built.cells[prediction - 2].source, "the place to write is not between prompt and cell"

    assert "Learner edition" in built.cells[1].source and "(../01_lesson.ipynb)" in built.cells[1].source
    prompt = built.cells[prediction - 2].source
    assert "(02_next.ipynb#top)" in prompt, "a link to another lesson must stay within the learner edition"
    assert "(../../data/README.md)" in prompt and "src='../figure.png'" in prompt
    assert "(https://arxiv.org/abs/1805.08318)" in prompt


def test_a_rebuild_changes_nothing_and_check_passes(folders):
    complete, learner = folders
    learner_edition.sync(complete=complete, learner=learner)
    before = {path.name: path.read_bytes() for path in learner.iterdir()}
    assert all(o.action == "unchanged" for o in learner_edition.sync(complete=complete, learner=learner))
    assert all(o.action == "unchanged" for o in learner_edition.sync(check=True, complete=complete, learner=learner))
    assert {path.name: path.read_bytes() for path in learner.iterdir()} == before


def test_check_reports_a_stale_a_missing_and_an_extra_notebook(folders):
    complete, learner = folders
    learner_edition.sync(complete=complete, learner=learner)
    changed = nbformat.read(complete / "01_lesson.ipynb", as_version=4)
    changed.cells.append(markdown("One more paragraph."))
    nbformat.write(changed, complete / "01_lesson.ipynb")
    (learner / "02_next.ipynb").unlink()
    (learner / "03_gone.ipynb").write_text("{}")
    actions = {o.path.name: o.action for o in learner_edition.sync(check=True, complete=complete, learner=learner)}
    assert actions["01_lesson.ipynb"] == "out of sync"
    assert actions["02_next.ipynb"] == "missing"
    assert actions["03_gone.ipynb"].startswith("extra")


def test_a_rebuild_updates_an_untouched_copy_and_keeps_a_learners_work(folders):
    complete, learner = folders
    learner_edition.sync(complete=complete, learner=learner)
    # the learner ran lesson 01 and saved it: an output appears
    worked = json.loads((learner / "01_lesson.ipynb").read_text())
    worked["cells"][2]["source"] = "My guess: 42"
    worked_text = json.dumps(worked, indent=1)
    (learner / "01_lesson.ipynb").write_text(worked_text)
    # then both lessons change upstream
    for name in ("01_lesson.ipynb", "02_next.ipynb"):
        changed = nbformat.read(complete / name, as_version=4)
        changed.cells.append(markdown("A new paragraph."))
        nbformat.write(changed, complete / name)

    actions = {o.path.name: o.action for o in learner_edition.sync(complete=complete, learner=learner)}
    assert actions["02_next.ipynb"] == "written"
    assert "A new paragraph." in (learner / "02_next.ipynb").read_text()
    assert actions["01_lesson.ipynb"].startswith("kept: it holds changes")
    assert (learner / "01_lesson.ipynb").read_text() == worked_text, "the learner's work was replaced"


def test_the_committed_learner_edition_is_in_sync():
    wrong = [str(o) for o in learner_edition.sync(check=True) if o.action != "unchanged"]
    assert not wrong, "notebooks/learner/ is not what `make learner` builds; run it and commit:\n  " + "\n  ".join(wrong)


# ---------------------------------------------------------------- running the learner edition

def stdout_of(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def run_problems(notebook) -> list[str]:
    """What a learner running the notebook top to bottom would trip over."""
    problems = []
    cells = notebook.cells
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        first_line = next((line for line in cell.source.splitlines() if line.strip()), "")[:60]
        errors = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
        cell_tags = cell.metadata.get("tags", [])
        if errors and "raises-exception" not in cell_tags:
            kind = "exercise template" if "exercise" in cell_tags else "cell"
            problems.append(f"{kind} {index} ({first_line!r}) raised {'; '.join(errors)}")
        if "exercise" in cell_tags:
            checker = next((c for c in cells[index + 1:] if c.cell_type == "code" and CHECKER_CALL.search(c.source)),
                           None)
            if checker is None:
                problems.append(f"exercise {index} ({first_line!r}) has no checker cell after it")
                continue
            verdicts = [line for line in stdout_of(checker).splitlines() if line.startswith(("✗", "✓"))]
            if not verdicts:
                problems.append(f"the checker after exercise {index} printed no verdict (a line starting "
                                f"with ✗ or ✓) on the template; it printed {stdout_of(checker)!r}")
            elif not verdicts[-1].startswith("✗"):
                problems.append(f"the checker after exercise {index} accepts the untouched template: {verdicts[-1]!r}")
    return problems


@pytest.mark.notebook_run
@pytest.mark.parametrize("path", LEARNER_NOTEBOOKS, ids=[p.stem for p in LEARNER_NOTEBOOKS])
def test_the_learner_notebook_runs_as_a_learner_gets_it(path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("CI", os.environ.get("CI", "true"))  # lesson 06 in quick mode
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, kernel_name="python3", allow_errors=True, timeout=1800,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    problems = run_problems(notebook)
    assert not problems, f"{path.relative_to(REPO)}:\n  " + "\n  ".join(problems)


def test_run_problems_names_each_problem():
    def ran(source, tags=(), outputs=()):
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)})
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        return cell

    error = {"output_type": "error", "ename": "NameError", "evalue": "name 'x' is not defined", "traceback": []}
    verdict = lambda text: {"output_type": "stream", "name": "stdout", "text": text}  # noqa: E731
    notebook = lesson([
        ran("x + 1", outputs=[error]),
        ran("raise ValueError()", tags=["raises-exception"], outputs=[error]),
        ran("def f():\n    ...", tags=["exercise"]),
        ran("check_f(f)", outputs=[verdict("✗ not written yet: f returns None\n")]),
        ran("g = ...", tags=["exercise"]),
        ran("check_g(g)", outputs=[verdict("✓ correct\n")]),
        ran("h = None", tags=["exercise"], outputs=[error]),
        ran("check_h(h)", outputs=[error]),
        ran("k = ...", tags=["exercise"]),
    ])
    problems = run_problems(notebook)
    assert problems == [
        "cell 0 ('x + 1') raised NameError: name 'x' is not defined",
        "the checker after exercise 4 accepts the untouched template: '✓ correct'",
        "exercise template 6 ('h = None') raised NameError: name 'x' is not defined",
        "the checker after exercise 6 printed no verdict (a line starting with ✗ or ✓) on the template; it printed ''",
        "cell 7 ('check_h(h)') raised NameError: name 'x' is not defined",
        "exercise 8 ('k = ...') has no checker cell after it",
    ]
