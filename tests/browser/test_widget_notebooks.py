"""Every lesson notebook with a widget, in the project's JupyterLab in headless Chromium.

The notebooks are found, not listed (labdriver.widget_notebooks): a notebook whose code
imports ipywidgets or zi2zi_lessons.explorer, or whose committed outputs hold widget views.
"""

from __future__ import annotations

import pytest

import labdriver
from interactions import INTERACTIONS

pytestmark = pytest.mark.browser

WIDGET_NOTEBOOKS = [pytest.param(path, id=path.stem) for path in labdriver.widget_notebooks()] or [
    pytest.param(None, id="none", marks=pytest.mark.skip(
        reason="no notebook in notebooks/ imports ipywidgets or zi2zi_lessons.explorer or shows a widget view"))]


@pytest.mark.parametrize("notebook", WIDGET_NOTEBOOKS)
def test_widget_notebook_runs_renders_and_responds(notebook, lab_for, page, screenshot):
    hook = INTERACTIONS.get(notebook.stem)
    assert hook is not None, (f"{notebook.name} shows widgets but tests/browser/interactions.py registers no "
                              f"interaction for it: add one with @interaction({notebook.stem!r})")
    server = lab_for(labdriver.NOTEBOOKS)
    labdriver.run_and_check(page, server, notebook, interaction=hook, screenshot=screenshot(notebook.stem))
