"""The rules of docs/authoring.md as checks on a notebook's cells: each **Predict** prompt is
followed by a cell tagged `prediction`; at least two exercises, each a template
(`exercise`), its solution (`solution`, so that the learner edition drops it) and a checked
checker cell; cells that fail on purpose carry both the tag and the nbval comment;
`## Sources` closes the lesson. Each rule names every problem it finds; they are tried on
notebooks with known faults, then applied to every lesson (notebooks/NN_*.ipynb)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

PREDICT = re.compile(r"\*\*Predict\b")
EXERCISE_HEADING = re.compile(r"^###\s+Exercise\s+(\d+)\b", re.MULTILINE)
CHECKER_CALL = re.compile(r"\bcheck_\w+\(")
SOURCES_HEADING = re.compile(r"^##\s+(\d+\.\s+)?Sources\s*$", re.MULTILINE)
RAISES_COMMENT = "# NBVAL_RAISES_EXCEPTION"


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def describe(index: int, cell) -> str:
    first = next((line for line in cell.source.splitlines() if line.strip() and not line.startswith("# NBVAL")), "")
    return f"cell {index} ({first[:50]!r})"


def prediction_problems(cells) -> list[str]:
    problems = []
    for index, cell in enumerate(cells):
        if cell.cell_type == "markdown" and PREDICT.search(cell.source):
            following = next(((i, c) for i, c in enumerate(cells[index + 1:], index + 1) if c.cell_type == "code"), None)
            if following is None:
                problems.append(f"the Predict prompt in {describe(index, cell)} has no code cell after it")
            elif "prediction" not in tags(following[1]):
                problems.append(f"the Predict prompt in {describe(index, cell)} is answered by "
                                f"{describe(*following)}, which is not tagged 'prediction'")
        if "prediction" in tags(cell):
            prompt = next((c for c in reversed(cells[:index]) if c.cell_type == "markdown"), None)
            if prompt is None or not PREDICT.search(prompt.source):
                problems.append(f"{describe(index, cell)} is tagged 'prediction' but the markdown above it has "
                                f"no **Predict** prompt")
    return problems


def exercise_problems(cells) -> list[str]:
    """Each exercise: heading, template, solution(s), checker; solutions only inside exercises."""
    problems, exercises, claimed = [], 0, set()
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown" or not EXERCISE_HEADING.search(cell.source):
            continue
        number = EXERCISE_HEADING.search(cell.source).group(1)
        exercises += 1
        code = []
        for later_index, later in enumerate(cells[index + 1:], index + 1):
            if later.cell_type == "markdown" and (EXERCISE_HEADING.search(later.source)
                                                  or re.match(r"^##\s", later.source)):
                break
            if later.cell_type == "code":
                code.append((later_index, later))
        template = next(((i, c) for i, c in code if "exercise" in tags(c)), None)
        if template is None:
            problems.append(f"exercise {number}: no cell tagged 'exercise' (the template) after its heading")
            continue
        checker = next(((i, c) for i, c in code if i > template[0] and CHECKER_CALL.search(c.source)
                        and "solution" not in tags(c)), None)
        if checker is None:
            problems.append(f"exercise {number}: no checker cell (calling a check_... function) after the template")
            continue
        if "# NBVAL_CHECK_OUTPUT" not in checker[1].source:
            problems.append(f"exercise {number}: the checker {describe(*checker)} lacks # NBVAL_CHECK_OUTPUT")
        between = [(i, c) for i, c in code if template[0] < i < checker[0]]
        if not between:
            problems.append(f"exercise {number}: no solution cell between the template and the checker")
        for i, c in between:
            claimed.add(i)
            if "solution" not in tags(c):
                problems.append(f"exercise {number}: {describe(i, c)} sits between the template and the checker "
                                f"but is not tagged 'solution' (the learner edition would keep it)")
    if exercises < 2:
        problems.append(f"{exercises} exercise(s) with a '### Exercise N' heading; a lesson has at least two")
    for index, cell in enumerate(cells):
        if "solution" in tags(cell) and index not in claimed:
            problems.append(f"{describe(index, cell)} is tagged 'solution' outside an exercise's template and checker")
    return problems


def raises_problems(cells) -> list[str]:
    problems = []
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        tagged = "raises-exception" in tags(cell)
        commented = any(line.strip() == RAISES_COMMENT for line in cell.source.splitlines())
        if tagged != commented:
            problems.append(f"{describe(index, cell)} has {'the tag' if tagged else 'the comment'} but not "
                            f"{'the comment' if tagged else 'the tag'}: a cell that fails on purpose needs both "
                            f"(nbval reads the comment, JupyterLab's Run All the tag)")
    return problems


def sources_problems(cells) -> list[str]:
    last = cells[-1]
    if last.cell_type != "markdown" or not SOURCES_HEADING.search(last.source):
        return [f"the last cell is not the '## Sources' section: {describe(len(cells) - 1, last)}"]
    if not re.search(r"https?://", last.source):
        return ["the Sources section links to nothing"]
    return []


RULES = {"predictions": prediction_problems, "exercises": exercise_problems,
         "raises": raises_problems, "sources": sources_problems}


# ---------------------------------------------------------------- the rules on notebooks with known faults

def md(source):
    return nbformat.v4.new_markdown_cell(source)


def code(source, *cell_tags):
    return nbformat.v4.new_code_cell(source, metadata={"tags": list(cell_tags)} if cell_tags else {})


def exercise(number, template=("x = ...", "exercise"), solutions=(("x = 1", "solution"),),
             checker="# NBVAL_CHECK_OUTPUT\npassed = check_x(x)"):
    return [md(f"### Exercise {number}: x"), code(*template), *[code(*s) for s in solutions], code(checker)]


GOOD = [md("# 99 · A lesson"), md("**Predict:** the count."), code("print(1)", "prediction"),
        *exercise(1), *exercise(2), code("# NBVAL_RAISES_EXCEPTION\nraise ValueError()", "raises-exception"),
        md("## 9. Sources\n\n- SAGAN: https://arxiv.org/abs/1805.08318")]


def test_a_notebook_that_follows_every_rule_passes():
    assert all(not check(GOOD) for check in RULES.values())


@pytest.mark.parametrize("cells, rule, expected", [
    ([md("**Predict** x"), code("print(1)")] + GOOD[3:], "predictions", "which is not tagged 'prediction'"),
    ([md("Some text"), code("print(1)", "prediction")] + GOOD[3:], "predictions", "no **Predict** prompt"),
    (GOOD[:3] + exercise(1) + GOOD[-2:], "exercises", "1 exercise(s)"),
    (GOOD[:3] + exercise(1, solutions=(("x = 1",),)) + exercise(2) + GOOD[-2:], "exercises",
     "is not tagged 'solution'"),
    (GOOD[:3] + exercise(1, solutions=()) + exercise(2) + GOOD[-2:], "exercises", "no solution cell"),
    (GOOD[:3] + exercise(1, checker="passed = check_x(x)") + exercise(2) + GOOD[-2:], "exercises",
     "lacks # NBVAL_CHECK_OUTPUT"),
    (GOOD[:3] + exercise(1, checker="print(x)") + exercise(2) + GOOD[-2:], "exercises", "no checker cell"),
    (GOOD[:3] + exercise(1, template=("x = ...",)) + exercise(2) + GOOD[-2:], "exercises", "no cell tagged 'exercise'"),
    (GOOD[:-1] + [code("y = 2", "solution"), GOOD[-1]], "exercises", "outside an exercise"),
    (GOOD[:-2] + [code("raise ValueError()", "raises-exception"), GOOD[-1]], "raises", "has the tag but not the comment"),
    (GOOD[:-1], "sources", "the last cell is not the '## Sources' section"),
    (GOOD[:-1] + [md("## Sources\n\nSAGAN")], "sources", "links to nothing"),
])
def test_each_broken_rule_is_named(cells, rule, expected):
    problems = RULES[rule](cells)
    assert any(expected in problem for problem in problems), problems


# ---------------------------------------------------------------- the rules on the lessons themselves

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_lessons_are_found():
    assert LESSONS, f"no lesson notebooks matched notebooks/[0-9][0-9]_*.ipynb under {REPO}"


@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_lesson_follows_every_rule(path, rule):
    cells = nbformat.read(path, as_version=4).cells
    problems = RULES[rule](cells)
    assert not problems, f"notebooks/{path.name} breaks the {rule!r} rule:\n  " + "\n  ".join(problems)
