"""The widgets as a keyboard user, a screen reader user and a learner who saves meet them,
in the project's JupyterLab (its settings from tools/jupyterlab_settings.py):

- keys pressed on a focused widget menu or checkbox act on the widget, not on the notebook
  ("a" picks "add" instead of inserting a cell; the arrows change the choice instead of
  moving between cells), while the notebook's shortcuts still work on a focused cell;
- every control of the explorer and the block widget has its own accessible name, and the
  explorer's chart has a text equivalent;
- lessons 02 and 03, run, saved and reopened with a new kernel, show their widgets from the
  saved state, never "Error displaying widget: model not found".
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest

import labdriver
from zi2zi_lessons import explorer

pytestmark = pytest.mark.browser

WIDGETS_NOTEBOOK = "widgets_alone.ipynb"


@pytest.fixture(scope="module")
def widgets_folder(tmp_path_factory):
    """A notebook holding only the two widgets (and a note between them), served on its own."""
    folder = tmp_path_factory.mktemp("widgets")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("from zi2zi_lessons import explorer\nexplorer.block_widget()"),
        nbformat.v4.new_markdown_cell("Between the widgets."),
        nbformat.v4.new_code_cell("explorer.ArchitectureExplorer()"),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / WIDGETS_NOTEBOOK)
    return folder


def settings_installed() -> None:
    from jupyterlab.commands import get_app_dir

    path = Path(get_app_dir()) / "settings" / "overrides.json"
    overrides = json.loads(path.read_text()) if path.exists() else {}
    assert overrides.get("@jupyter-widgets/jupyterlab-manager:plugin", {}).get("saveState") is True, \
        "the project's JupyterLab settings are not installed in this environment: run `make lab` or " \
        "`make test-browser` (or .venv/bin/python tools/jupyterlab_settings.py)"


@pytest.fixture
def widgets_page(widgets_folder, lab_for, page):
    settings_installed()
    server = lab_for(widgets_folder)
    notebook = labdriver.open_notebook(page, server, WIDGETS_NOTEBOOK)
    notebook.run_all()
    notebook.check_outputs([1, 0, 1], [False, False, False])
    yield notebook
    assert not server.shut_down_sessions()


def cell_count(notebook) -> int:
    return len(notebook.state()["cells"])


def active_cell(notebook) -> int:
    return notebook.page.evaluate("window.jupyterapp.shell.currentWidget.content.activeCellIndex")


def test_keys_on_a_focused_widget_stay_in_the_widget(widgets_page, screenshot):
    notebook = widgets_page
    page = notebook.page
    explorer_box = page.locator(".explorer")
    total = explorer_box.locator(".explorer-total-value")
    cells = cell_count(notebook)

    menu = page.get_by_role("combobox", name="level 6 skip")
    menu.focus()
    before = active_cell(notebook)
    page.keyboard.press("a")
    notebook.expect_value(menu.input_value, "add", "'a' typed on the focused menu to pick 'add'")
    page.keyboard.press("ArrowDown")
    notebook.expect_value(menu.input_value, "none", "ArrowDown on the focused menu to pick the next choice")
    page.keyboard.press("ArrowUp")
    notebook.expect_value(menu.input_value, "add", "ArrowUp on the focused menu to pick the choice before")
    assert cell_count(notebook) == cells, "a key typed on a widget menu inserted or deleted a cell"
    assert active_cell(notebook) == before, "the arrow keys on a widget menu moved to another cell"
    expected = explorer.explore(level_skips={6: "add"})
    notebook.expect_text(total, f"{expected.total:,}", "the explorer to follow the menu changed by keyboard")

    box = page.get_by_role("checkbox", name="level 6 attention")
    box.focus()
    page.keyboard.press("Space")
    notebook.expect_value(box.is_checked, True, "Space on the focused checkbox to tick it")
    for key in ("ArrowDown", "ArrowUp", "b", "x", "m"):
        page.keyboard.press(key)
    assert cell_count(notebook) == cells, "a key pressed on a widget checkbox inserted, cut or changed a cell"
    assert active_cell(notebook) == before, "the arrow keys on a widget checkbox moved to another cell"
    expected = explorer.explore(attention_levels=(6,), level_skips={6: "add"})
    notebook.expect_text(total, f"{expected.total:,}", "the explorer to follow the checkbox ticked by keyboard")
    notebook.wait_idle()
    notebook.screenshot(screenshot("keyboard-explorer"), focus=box)

    # the same keys on a focused cell are the notebook's shortcuts, as before
    page.locator(".jp-Notebook .jp-Cell").nth(1).click()  # the markdown cell: command mode, cell focused
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    notebook.wait_until(lambda state: len(state["cells"]) == cells + 1, "'b' on a focused cell to insert one",
                        labdriver.UPDATE_TIMEOUT)


def aria_names(locator) -> dict[str, list[str]]:
    """The accessible names Chromium gives the controls and images in `locator`, by role."""
    names: dict[str, list[str]] = {}
    for line in locator.aria_snapshot().splitlines():
        # YAML: a line holding ": " is quoted whole, e.g.  - 'img "Bar chart, ...: ..."'
        line = re.sub(r"^(\s*- )'(.*)'(:?)$", lambda m: m.group(1) + m.group(2).replace("''", "'") + m.group(3), line)
        match = re.match(r'\s*- (checkbox|combobox|slider|spinbutton|textbox|img|button)(?: "((?:[^"\\]|\\.)*)")?', line)
        if match:
            names.setdefault(match.group(1), []).append(match.group(2) or "")
    return names


def test_every_control_has_its_own_accessible_name_and_the_chart_a_text(widgets_page):
    page = widgets_page.page
    found = aria_names(page.locator(".explorer"))
    controls = [name for role in ("checkbox", "combobox") for name in found.get(role, [])]
    assert len(controls) == len(set(controls)), f"explorer controls share a name: {sorted(controls)}"
    levels = explorer.explore().config.num_downs
    assert found["checkbox"] == [f"level {level} attention" for level in range(1, levels + 1)]
    assert found["combobox"] == ["num_downs", "ngf", "image size", "upsample"] + \
        [f"level {level} skip" for level in range(1, levels + 1)]
    assert found.get("img") == [explorer.chart_description(explorer.explore())], \
        "the chart's accessible name is not its text equivalent"

    block = aria_names(page.locator(".block-widget"))
    block_controls = [name for names in block.values() for name in names]
    assert sorted(block_controls) == sorted(["level", "skip", "child skip", "upsample", "attention"]), block


def stored_views(path) -> list[int]:
    return labdriver.stored_widget_views(labdriver.read_notebook(path))


@pytest.mark.parametrize("lesson", ["02_skip_block", "03_unet_generator"])
def test_a_lesson_run_saved_and_reopened_shows_its_widgets(lesson, tmp_path, lab_for, page, screenshot):
    settings_installed()
    name = f"{lesson}.ipynb"
    shutil.copy(labdriver.NOTEBOOKS / name, tmp_path / name)
    if (labdriver.NOTEBOOKS / "solutions").is_dir():  # for lessons that still import from there
        shutil.copytree(labdriver.NOTEBOOKS / "solutions", tmp_path / "solutions")
    server = lab_for(tmp_path)
    notebook = labdriver.open_notebook(page, server, name)
    notebook.run_all()
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.monotonic() + labdriver.UPDATE_TIMEOUT
    while not page.evaluate("!window.jupyterapp.shell.currentWidget.context.model.dirty"):
        assert time.monotonic() < deadline, f"{name} was not saved"
        time.sleep(0.25)
    assert not server.shut_down_sessions()  # the kernel and its widget models are gone

    saved = labdriver.read_notebook(tmp_path / name)
    state = saved["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    views = stored_views(tmp_path / name)
    shown_models = {output["data"][labdriver.WIDGET_VIEW_MIME]["model_id"]
                    for cell in saved["cells"] for output in cell.get("outputs", [])
                    if labdriver.WIDGET_VIEW_MIME in output.get("data", {})}
    assert sum(views) > 0, f"{name} shows no widget after Run All"
    assert shown_models <= set(state), f"{name} was saved without the state of the widgets it shows"

    reopened = labdriver.open_notebook(page, server, name)  # a fresh page and a new kernel
    reopened.check_outputs(views, [labdriver.marked_to_raise(cell) for cell in saved["cells"]])
    text = page.locator(".jp-NotebookPanel:visible").inner_text()
    assert "Error displaying widget" not in text and "model not found" not in text
    reopened.screenshot(screenshot(f"reopened-{lesson}"))
    assert not server.shut_down_sessions()
