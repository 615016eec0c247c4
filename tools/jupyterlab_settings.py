"""The project's JupyterLab settings, written into the environment's ``overrides.json``
(``<env>/share/jupyter/lab/settings/``: the defaults JupyterLab starts from; a learner's own
settings still win). ``make`` writes them when it sets up ``.venv``.

Three settings, each for something a learner met:

- **Widgets survive a save.** ``saveState``: JupyterLab stores the widgets' state in the
  notebook when it saves. Without it, a notebook run and saved keeps the stale state it was
  committed with, and on reopening its widgets show "Error displaying widget: model not found".
- **Keys pressed in a widget stay in the widget.** Notebook shortcuts of command mode ("a"
  inserts a cell, arrows move between cells, ...) fire on whatever element has focus, a
  widget's drop-down menu included, because a ``<select>`` is not an editable field. Each
  of those shortcuts is replaced by the same one with ``:not(.jp-OutputArea-output *)``
  added to its selector: it no longer fires on an element inside a cell's output, so typing
  "a" picks "add" in a menu and the arrows change the choice. They are read from the
  installed JupyterLab's own schema, so they follow its version.
- **No news pop-up**, and no check for updates: the lessons work offline.

Usage: ``python tools/jupyterlab_settings.py`` (the Python of the environment to configure).
Entries already in ``overrides.json`` for other settings are kept.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SHORTCUTS_PLUGIN = "@jupyterlab/shortcuts-extension:shortcuts"
WIDGETS_PLUGIN = "@jupyter-widgets/jupyterlab-manager:plugin"
NOTIFICATION_PLUGIN = "@jupyterlab/apputils-extension:notification"
NOTEBOOK_SCHEMA = Path("schemas") / "@jupyterlab" / "notebook-extension" / "tracker.json"
# the selector of the notebook's command-mode shortcuts that act on the focused element
COMMAND_MODE_FOCUS = ".jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus"
NOT_IN_OUTPUTS = ":not(.jp-OutputArea-output *)"


def app_dir() -> Path:
    from jupyterlab.commands import get_app_dir

    return Path(get_app_dir())


def command_mode_shortcuts(lab_dir: Path) -> list[dict]:
    """The installed notebook's shortcuts that fire on the focused element in command mode."""
    schema_path = lab_dir / NOTEBOOK_SCHEMA
    shortcuts = json.loads(schema_path.read_text(encoding="utf-8")).get("jupyter.lab.shortcuts", [])
    found = [shortcut for shortcut in shortcuts if shortcut.get("selector") == COMMAND_MODE_FOCUS]
    if not found:
        raise SystemExit(f"{schema_path} has no shortcut with the selector {COMMAND_MODE_FOCUS!r}: "
                         f"this JupyterLab names command mode differently; update {Path(__file__).name}")
    return found


def shortcut_overrides(lab_dir: Path) -> list[dict]:
    """Each command-mode shortcut disabled, and added again where focus is not in an output."""
    entries = []
    for shortcut in command_mode_shortcuts(lab_dir):
        entries.append({**shortcut, "disabled": True})
        entries.append({**shortcut, "selector": COMMAND_MODE_FOCUS + NOT_IN_OUTPUTS})
    return entries


def overrides(lab_dir: Path, existing: dict | None = None) -> dict:
    """``existing`` overrides with the project's settings merged in."""
    settings = json.loads(json.dumps(existing or {}))
    settings.setdefault(WIDGETS_PLUGIN, {})["saveState"] = True
    settings.setdefault(NOTIFICATION_PLUGIN, {}).update({"fetchNews": "false", "checkForUpdates": False})
    ours = shortcut_overrides(lab_dir)
    kept = [entry for entry in settings.get(SHORTCUTS_PLUGIN, {}).get("shortcuts", [])
            if entry.get("selector") not in (COMMAND_MODE_FOCUS, COMMAND_MODE_FOCUS + NOT_IN_OUTPUTS)]
    settings.setdefault(SHORTCUTS_PLUGIN, {})["shortcuts"] = kept + ours
    return settings


def install(lab_dir: Path | None = None) -> Path:
    lab_dir = lab_dir or app_dir()
    target = lab_dir / "settings" / "overrides.json"
    existing = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(overrides(lab_dir, existing), indent=2) + "\n", encoding="utf-8")
    return target


def main() -> int:
    target = install()
    print(f"JupyterLab settings written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
