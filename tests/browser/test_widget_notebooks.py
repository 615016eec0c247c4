"""Every lesson notebook in the project's JupyterLab in headless Chromium.

Widget notebooks are found, not listed (labdriver.widget_notebooks): a notebook whose code
imports ipywidgets, zi2zi_lessons.explorer or tqdm's notebook bars, or whose committed
outputs hold widget views. Each must have an interaction in interactions.py. Every other
notebook must run there too and show no widget at all: a widget appearing in one means
discovery missed it.
"""

from __future__ import annotations

import pytest

import labdriver
from interactions import INTERACTIONS

pytestmark = pytest.mark.browser

FOUND = labdriver.widget_notebooks()
WIDGET_NOTEBOOKS = [pytest.param(path, id=path.stem) for path in FOUND] or [
    pytest.param(None, id="none", marks=pytest.mark.skip(
        reason="no notebook in notebooks/ imports ipywidgets, zi2zi_lessons.explorer or tqdm.auto, "
               "or shows a widget view"))]


@pytest.mark.parametrize("notebook", WIDGET_NOTEBOOKS)
def test_widget_notebook_runs_renders_and_responds(notebook, lab_for, page, screenshot):
    hook = INTERACTIONS.get(notebook.stem)
    assert hook is not None, (f"{notebook.name} shows widgets but tests/browser/interactions.py registers no "
                              f"interaction for it: add one with @interaction({notebook.stem!r})")
    server = lab_for(labdriver.NOTEBOOKS)
    labdriver.run_and_check(page, server, notebook, interaction=hook, screenshot=screenshot(notebook.stem))


PLAIN_NOTEBOOKS = [pytest.param(path, id=path.stem) for path in sorted(labdriver.NOTEBOOKS.glob("*.ipynb"))
                   if path not in FOUND]


@pytest.mark.parametrize("notebook", PLAIN_NOTEBOOKS)
def test_notebook_without_widgets_runs_and_shows_none(notebook, lab_for, page, screenshot):
    # check_outputs compares each cell's widget views with the committed notebook's: none here
    server = lab_for(labdriver.NOTEBOOKS)
    labdriver.run_and_check(page, server, notebook, screenshot=screenshot(notebook.stem))
