"""The browser machinery checked on notebooks whose right answer is known.

fixtures/widget_fixture.ipynb is a committed, executed widget notebook that must pass the
whole check, interaction included; so must tqdm progress bars (closed ones included) and the
cells after a deliberate error. Broken notebooks, made and executed here, must fail it
with a message naming each problem: an error output, a cell that Run All never reached,
a widget that cannot be drawn, a widget callback that raises into the kernel.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import labdriver
from zi2zi_lessons.attention import self_attention_parameter_count

pytestmark = pytest.mark.browser

FIXTURE = Path(__file__).parent / "fixtures" / "widget_fixture.ipynb"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A folder served by its own JupyterLab: a copy of the fixture plus the broken notebooks."""
    folder = tmp_path_factory.mktemp("served")
    shutil.copy(FIXTURE, folder / FIXTURE.name)
    write_executed(folder / "broken_widgets.ipynb", [
        # a callback that raises once the slider passes 5
        "import ipywidgets as widgets\n"
        "size = widgets.IntSlider(value=3, min=1, max=20, description='size')\n"
        "def check(change):\n"
        "    if change['new'] > 5:\n"
        "        raise RuntimeError('callback broke at ' + str(change['new']))\n"
        "size.observe(check, 'value')\n"
        "size",
        # a widget whose JavaScript module does not exist
        "from traitlets import Unicode\n"
        "class Unloadable(widgets.DOMWidget):\n"
        "    _model_module = Unicode('no-such-widget-module').tag(sync=True)\n"
        "    _view_module = Unicode('no-such-widget-module').tag(sync=True)\n"
        "    _model_name = Unicode('NoModel').tag(sync=True)\n"
        "    _view_name = Unicode('NoView').tag(sync=True)\n"
        "Unloadable()",
        # marked for nbval by the comment only: JupyterLab's Run All stops here
        "# NBVAL_RAISES_EXCEPTION\nraise ValueError('on purpose')",
        "print('never reached by Run All')",
    ])
    write_executed(folder / "unexpected_error.ipynb", ["total = 1\n", "total / 0"])
    # tqdm's notebook bars, as a training loop shows them: the inner ones close when done
    write_executed(folder / "progress_bars.ipynb", [
        "from tqdm.auto import tqdm\n"
        "for epoch in tqdm(range(2), desc='epochs'):\n"
        "    for step in tqdm(range(3), desc=f'epoch {epoch}', leave=False):\n"
        "        pass",
    ])
    write_executed(folder / "raises_then_more.ipynb", [
        nbformat.v4.new_code_cell("raise ValueError('on purpose')", metadata={"tags": [labdriver.RAISES_TAG]}),
        "import time\ntime.sleep(2)",
        "print('after the pause')",
    ])
    return folder


def write_executed(path: Path, cells: list) -> None:
    """Execute and save a notebook of `cells` (sources, or nbformat cells when they need tags)."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(cell) if isinstance(cell, str) else cell for cell in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(notebook, kernel_name="python3", allow_errors=True, timeout=120).execute()
    nbformat.write(notebook, path)


def operate_fixture(notebook: labdriver.NotebookPage):
    counter = notebook.cell("IntSlider(")
    notebook.set_number("channels", 128, within=counter)
    notebook.expect_text(counter.locator(".widget-label").last,
                         f"at C=128: {self_attention_parameter_count(128):,}", "the count for 128 channels")
    chooser = notebook.cell("Dropdown(")
    notebook.select("skip", "add", within=chooser)
    notebook.toggle("attention", True, within=chooser)
    notebook.expect_text(chooser.locator(".widget-html-content"), "skip=add, attention=True", "the new choice")
    return chooser


def test_fixture_notebook_passes_the_whole_check(served, lab_for, page, screenshot):
    shot = labdriver.run_and_check(page, lab_for(served), served / FIXTURE.name, interaction=operate_fixture,
                                   screenshot=screenshot("machinery-widget_fixture"))
    assert shot.stat().st_size > 10_000  # a real picture of the page, not an empty file


def test_discovery_finds_widget_notebooks_and_only_those(tmp_path):
    def write(name: str, source: str, outputs=()) -> Path:
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(source, outputs=list(outputs))]
        nbformat.write(notebook, tmp_path / name)
        return tmp_path / name

    write("plain.ipynb", "import torch\nwidgets_used = 0  # ipywidgets named in a comment only")
    write("text_progress_bars.ipynb", "from tqdm import tqdm")
    found = [
        write("imports_ipywidgets.ipynb", "import ipywidgets as widgets"),
        write("imports_explorer.ipynb", "from zi2zi_lessons import anatomy, explorer"),
        write("imports_tqdm_auto.ipynb", "import torch\nfrom tqdm.auto import tqdm"),
        write("imports_tqdm_notebook.ipynb", "import tqdm.notebook"),
        write("shows_a_view.ipynb", "progress_bar()", outputs=[nbformat.v4.new_output(
            "display_data", data={labdriver.WIDGET_VIEW_MIME: {"model_id": "1", "version_major": 2}})]),
    ]
    assert labdriver.widget_notebooks(tmp_path) == sorted(found)
    assert labdriver.stored_widget_views(labdriver.read_notebook(FIXTURE)) == [0, 1, 3, 0, 0]


def test_broken_widgets_are_reported(served, lab_for, page):
    with pytest.raises(AssertionError) as failure:
        labdriver.run_and_check(page, lab_for(served), served / "broken_widgets.ipynb",
                                interaction=lambda notebook: notebook.set_number("size", 7))
    message = str(failure.value)
    assert "a broken widget" in message
    assert "cell 3 (\"print('never reached by Run All')\") did not run" in message
    assert "metadata tag 'raises-exception'" in message
    assert "cell 2" not in message.replace("cell 2 (\"raise ValueError('on purpose')\") raised before it", "")


def test_callback_errors_are_reported(served, lab_for, page):
    notebook = labdriver.open_notebook(page, lab_for(served), "broken_widgets.ipynb")
    notebook.run_all()
    notebook.check_no_callback_errors()  # nothing raised yet
    notebook.set_number("size", 7)
    notebook.wait_idle()
    with pytest.raises(AssertionError, match=r"callback raised .*RuntimeError: callback broke at 7"):
        notebook.wait_until(lambda state: state["callbackErrors"], "the callback error", labdriver.UPDATE_TIMEOUT)
        notebook.check_no_callback_errors()


def test_closed_progress_bars_pass_and_finished_ones_show(served, lab_for, page):
    notebook = served / "progress_bars.ipynb"
    assert labdriver.stored_widget_views(labdriver.read_notebook(notebook)) == [3]  # the outer bar, two inner

    def finished(notebook_page):
        bar = notebook_page.cell("tqdm(").locator(".widget-hbox").filter(has_text="epochs")
        notebook_page.expect_text(bar, re.compile(r"epochs:\s*100%.*2/2", re.DOTALL), "the finished outer bar")
        assert bar.locator(".progress-bar-success").count() == 1, "the finished bar is not drawn as a success"

    labdriver.run_and_check(page, lab_for(served), notebook, interaction=finished)


def test_run_all_waits_for_the_cells_after_a_tagged_error(served, lab_for, page):
    notebook = labdriver.open_notebook(page, lab_for(served), "raises_then_more.ipynb")
    state = notebook.run_all()
    progress = notebook.run_all_progress
    # the case this test is for: JupyterLab settles Run All at the tagged error's reply
    assert progress["repliedWhenSettled"] < progress["sent"] == 3, \
        f"JupyterLab settled Run All after every reply ({progress}): the reply counting in run_all is no longer needed"
    assert [cell["executionCount"] for cell in state["cells"]] == [1, 2, 3]
    assert state["cells"][2]["outputs"][0]["text"] == "after the pause\n"


def test_unexpected_error_is_reported(served, lab_for, page):
    with pytest.raises(AssertionError, match=r"cell 1 \('total / 0'\) shows an error: ZeroDivisionError"):
        labdriver.run_and_check(page, lab_for(served), served / "unexpected_error.ipynb")
