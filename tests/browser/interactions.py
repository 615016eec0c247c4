"""What the browser test does with each widget notebook after Run All: a registry.

A hook takes the open notebook (labdriver.NotebookPage), operates the notebook's main
controls as a learner would, and checks the visible result against what the package
computes for the same settings. It may return a locator (e.g. the widget it used) so that
the screenshot shows it. The kernel going idle and the absence of errors are checked by
the caller afterwards.

    @interaction("03_unet_generator")
    def operate_explorer(notebook):
        explorer = notebook.cell("ArchitectureExplorer(")
        notebook.toggle("attention", True, within=explorer.locator(".explorer-level-row-4"))
        notebook.expect_text(explorer.locator(".explorer-total-value"), f"{expected:,}", "the new total")
        return explorer

A widget notebook without a hook fails its browser test, saying so: every widget a
learner meets is operated at least once.
"""

from __future__ import annotations

from typing import Callable

INTERACTIONS: dict[str, Callable] = {}


def interaction(notebook_stem: str):
    """Register the decorated function as the hook of notebooks/<notebook_stem>.ipynb."""

    def register(hook: Callable) -> Callable:
        if notebook_stem in INTERACTIONS:
            raise ValueError(f"notebook {notebook_stem!r} already has an interaction: {INTERACTIONS[notebook_stem].__name__}")
        INTERACTIONS[notebook_stem] = hook
        return hook

    return register
