"""Every lesson notebook with a widget, in the project's JupyterLab in headless Chromium.

The notebooks are found, not listed (labdriver.widget_notebooks): a notebook whose code
imports ipywidgets or zi2zi_lessons.explorer, or whose committed outputs hold widget views.
"""

from __future__ import annotations

import pytest

import labdriver
from interactions import INTERACTIONS

pytestmark = pytest.mark.browser

WIDGET_NOTEBOOKS = labdriver.widget_notebooks()


@pytest.mark.parametrize("notebook", WIDGET_NOTEBOOKS, ids=[path.stem for path in WIDGET_NOTEBOOKS])
def test_widget_notebook_runs_renders_and_responds(notebook, lab_for, page, screenshot):
    hook = INTERACTIONS.get(notebook.stem)
    assert hook is not None, (f"{notebook.name} shows widgets but tests/browser/interactions.py registers no "
                              f"interaction for it: add one with @interaction({notebook.stem!r})")
    server = lab_for(labdriver.NOTEBOOKS)
    labdriver.run_and_check(page, server, notebook, interaction=hook, screenshot=screenshot(notebook.stem))
