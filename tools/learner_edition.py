"""Build the learner edition, notebooks/learner/NN_*.ipynb, from the complete edition,
notebooks/NN_*.ipynb (the rules are in docs/authoring.md).

::

    complete edition (committed with outputs)        learner edition
    ----------------------------------------         ----------------------------------------
    # 01 · Self-attention                      ->    # 01 · Self-attention
                                                     (a note: this is the learner edition)
    **Predict** how many parameters ...        ->    **Predict** how many parameters ...
                                                     Your prediction: ... (a cell to write in)
    [prediction] print(count)  -> 8,321        ->    print(count)                (no output)
    [exercise]   def block(C): ...             ->    def block(C): ...           (the template)
    [solution]   def block(C): <the answer>    ->    (removed)
    checks.check_block(block) -> ✓ correct     ->    checks.check_block(block)   (judges yours)

Every output, execution count and widget state is dropped, ``# NBVAL_...`` comments (for
nbval, not for learners) are taken out of the code, and relative links to anything but
another lesson get a ``../`` so they still reach the same file from notebooks/learner/.

A learner works in the learner edition and saves it, so a rebuild must never replace
their work: each built notebook records a digest of the cells it was built with
(metadata ``zi2zi_learner_edition``). A file whose cells no longer match that digest
has been changed by someone; it is kept as it is and reported, never overwritten.

Usage (``make learner`` and ``make lab`` run it)::

    python tools/learner_edition.py           # write what is missing or out of date
    python tools/learner_edition.py --check   # exit 1 when the committed copy is out of sync
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
COMPLETE = REPO / "notebooks"
LEARNER = COMPLETE / "learner"
LESSON_PATTERN = "[0-9][0-9]_*.ipynb"
METADATA_KEY = "zi2zi_learner_edition"

PREDICTION_TAG = "prediction"
SOLUTION_TAG = "solution"
YOUR_PREDICTION_TAG = "your-prediction"
NBVAL_COMMENT = re.compile(r"^[ \t]*# NBVAL_[A-Z_]+[ \t]*(\n|$)", re.MULTILINE)

YOUR_PREDICTION = (
    "**Your prediction** (double-click this cell, write it down, then run the cell below):\n"
    "\n"
    "..."
)


def learner_note(lesson_name: str) -> str:
    return (
        "> **Learner edition.** Outputs are cleared and the solutions removed. Before each cell that "
        "answers a **Predict** prompt, write your prediction in the *Your prediction* cell above it; "
        "fill in each exercise template and run the checker below it, which tells you what is right "
        "or wrong. The complete edition, with every output and the solutions, is "
        f"[../{lesson_name}](../{lesson_name}).\n"
    )


@dataclass(frozen=True)
class Outcome:
    path: Path
    action: str  # "unchanged", "written", "kept: ...", "out of sync", "missing", "extra"

    def __str__(self) -> str:
        shown = self.path.relative_to(REPO) if self.path.is_relative_to(REPO) else self.path
        return f"{shown}: {self.action}"


def lessons(folder: Path = COMPLETE) -> list[Path]:
    return sorted(folder.glob(LESSON_PATTERN))


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def relink(markdown: str, lesson_names: set[str]) -> str:
    """Rewrite relative link and image targets so they work one folder deeper.

    Links to another lesson stay as they are: that lesson's learner edition sits beside
    this one. Absolute URLs, in-page anchors and mail links are left alone.
    """

    def fix(target: str) -> str:
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target, re.IGNORECASE):
            return target
        if target.split("#", 1)[0] in lesson_names:
            return target
        return "../" + target

    markdown = re.sub(r"(\]\()([^)\s]+)", lambda m: m.group(1) + fix(m.group(2)), markdown)
    return re.sub(r"""(\b(?:href|src)=["'])([^"']+)""", lambda m: m.group(1) + fix(m.group(2)), markdown)


def cells_digest(cells) -> str:
    """What the learner can change: each cell's type, source and outputs."""
    plain = [{"cell_type": c["cell_type"], "source": c["source"], "outputs": c.get("outputs", [])} for c in cells]
    return hashlib.sha256(json.dumps(plain, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def build(lesson: Path, lesson_names: set[str]) -> nbformat.NotebookNode:
    """The learner edition of one lesson notebook, in memory."""
    complete = nbformat.read(lesson, as_version=4)
    notebook = nbformat.v4.new_notebook()
    notebook.nbformat, notebook.nbformat_minor = complete.nbformat, complete.nbformat_minor
    notebook.metadata = {key: copy.deepcopy(complete.metadata[key])
                         for key in ("kernelspec", "language_info") if key in complete.metadata}
    cells = []
    for index, cell in enumerate(complete.cells):
        cell_tags = tags(cell)
        if SOLUTION_TAG in cell_tags:
            continue
        cell_id = cell.get("id") or f"cell-{index}"
        if PREDICTION_TAG in cell_tags:
            cells.append(nbformat.v4.new_markdown_cell(
                YOUR_PREDICTION, id=f"{cell_id}-yours"[:64], metadata={"tags": [YOUR_PREDICTION_TAG]}))
        metadata = {"tags": cell_tags} if cell_tags else {}
        if cell.cell_type == "code":
            source = NBVAL_COMMENT.sub("", cell.source)
            cells.append(nbformat.v4.new_code_cell(source, id=cell_id, metadata=metadata))
        elif cell.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(relink(cell.source, lesson_names), id=cell_id,
                                                       metadata=metadata))
        else:
            cells.append(nbformat.v4.new_raw_cell(cell.source, id=cell_id, metadata=metadata))
        if index == 0:
            cells.append(nbformat.v4.new_markdown_cell(learner_note(lesson.name), id=f"{cell_id}-learner-note"[:64]))
    notebook.cells = cells
    notebook.metadata[METADATA_KEY] = {
        "built_from": f"../{lesson.name}",
        "by": "tools/learner_edition.py (make learner); do not edit by hand",
        "cells_sha256": cells_digest(cells),
    }
    nbformat.validate(notebook)
    return notebook


def serialise(notebook) -> str:
    return nbformat.writes(notebook) + "\n"


def changed_by_someone(path: Path) -> bool:
    """True when a learner edition file on disk no longer holds the cells it was built with."""
    try:
        existing = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)  # sources joined, as built
    except (OSError, ValueError, nbformat.reader.NotJSONError):
        return True
    recorded = existing.get("metadata", {}).get(METADATA_KEY, {}).get("cells_sha256")
    return recorded is None or recorded != cells_digest(existing.get("cells", []))


def sync(check: bool = False, complete: Path = COMPLETE, learner: Path = LEARNER) -> list[Outcome]:
    """Build every lesson's learner edition; write it (or, with ``check``, only compare)."""
    sources = lessons(complete)
    if not sources:
        raise SystemExit(f"no lesson notebooks ({LESSON_PATTERN}) in {complete}")
    names = {path.name for path in sources}
    outcomes = []
    if not check:
        learner.mkdir(exist_ok=True)
    for lesson in sources:
        target = learner / lesson.name
        text = serialise(build(lesson, names))
        if target.exists() and target.read_text(encoding="utf-8") == text:
            outcomes.append(Outcome(target, "unchanged"))
        elif check:
            outcomes.append(Outcome(target, "out of sync" if target.exists() else "missing"))
        elif target.exists() and changed_by_someone(target):
            outcomes.append(Outcome(target, f"kept: it holds changes (your work?) and is not the build of "
                                            f"{lesson.name}; move it aside to get the new version"))
        else:
            target.write_text(text, encoding="utf-8")
            outcomes.append(Outcome(target, "written"))
    for extra in sorted(set(learner.glob("*.ipynb")) - {learner / name for name in names}):
        outcomes.append(Outcome(extra, "extra: no lesson of that name in notebooks/"))
    return outcomes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when notebooks/learner/ differs from a fresh build")
    args = parser.parse_args(argv)
    outcomes = sync(check=args.check)
    for outcome in outcomes:
        if outcome.action != "unchanged":
            print(outcome)
    if args.check:
        wrong = [o for o in outcomes if o.action != "unchanged"]
        if wrong:
            print("notebooks/learner/ is out of sync with notebooks/: run `make learner` and commit it")
            return 1
        print(f"notebooks/learner/ is in sync ({len(outcomes)} lessons)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
