"""tools/jupyterlab_settings.py: the project's JupyterLab settings (what the browser tests
check in a real JupyterLab), merged into overrides.json without losing anything else."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("jupyterlab_settings", REPO / "tools" / "jupyterlab_settings.py")
settings = sys.modules["jupyterlab_settings"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(settings)

FOCUS = settings.COMMAND_MODE_FOCUS


def fake_lab(tmp_path: Path, shortcuts: list[dict]) -> Path:
    schema = tmp_path / settings.NOTEBOOK_SCHEMA
    schema.parent.mkdir(parents=True)
    schema.write_text(json.dumps({"jupyter.lab.shortcuts": shortcuts}))
    return tmp_path


def test_command_mode_shortcuts_are_moved_out_of_outputs_and_the_rest_kept(tmp_path):
    lab = fake_lab(tmp_path, [
        {"command": "notebook:insert-cell-above", "keys": ["A"], "selector": FOCUS},
        {"command": "notebook:move-cursor-down", "keys": ["ArrowDown"], "selector": FOCUS},
        {"command": "notebook:run-cell", "keys": ["Accel Enter"], "selector": ".jp-Notebook.jp-mod-editMode"},
    ])
    existing = {"some-plugin:x": {"y": 1},
                settings.SHORTCUTS_PLUGIN: {"shortcuts": [{"command": "mine", "keys": ["F5"], "selector": "body"}]}}
    target = lab / "settings" / "overrides.json"
    target.parent.mkdir()
    target.write_text(json.dumps(existing))

    settings.install(lab)
    written = json.loads(target.read_text())
    assert written["some-plugin:x"] == {"y": 1}, "another setting in overrides.json was lost"
    assert written[settings.WIDGETS_PLUGIN]["saveState"] is True
    assert written[settings.NOTIFICATION_PLUGIN] == {"fetchNews": "false", "checkForUpdates": False}
    shortcuts = written[settings.SHORTCUTS_PLUGIN]["shortcuts"]
    assert shortcuts[0] == {"command": "mine", "keys": ["F5"], "selector": "body"}
    assert shortcuts[1:] == [
        {"command": "notebook:insert-cell-above", "keys": ["A"], "selector": FOCUS, "disabled": True},
        {"command": "notebook:insert-cell-above", "keys": ["A"], "selector": FOCUS + ":not(.jp-OutputArea-output *)"},
        {"command": "notebook:move-cursor-down", "keys": ["ArrowDown"], "selector": FOCUS, "disabled": True},
        {"command": "notebook:move-cursor-down", "keys": ["ArrowDown"],
         "selector": FOCUS + ":not(.jp-OutputArea-output *)"},
    ]
    settings.install(lab)  # twice: nothing doubles
    assert json.loads(target.read_text()) == written


def test_the_installed_jupyterlab_has_the_shortcuts_this_refines():
    found = settings.command_mode_shortcuts(settings.app_dir())
    commands = {shortcut["command"] for shortcut in found}
    assert {"notebook:insert-cell-above", "notebook:move-cursor-down", "notebook:delete-cell"} <= commands
