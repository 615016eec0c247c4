"""Drive the project's JupyterLab in headless Chromium: start a server, open a notebook,
run it, check what a learner would see, operate its widgets.

::

    LabServer(root_dir)                 jupyter lab on 127.0.0.1:<free port>, random token,
        .start() / .stop()              temporary settings/workspace/runtime directories,
                                        its own process group; stop() ends exactly what it started
    open_notebook(page, server, path)   -> NotebookPage
        .run_all()                      Run All, wait until every cell ran and the kernel is idle
        .check_outputs(expected)        no error output, every widget view rendered
        .cell(...), .control(...)       find a cell, a control by its description
        .select/.toggle/.set_number     operate Dropdowns, Checkboxes, sliders as a learner would
        .expect_text(...)               wait for the visible result
        .expect_value(read, expected)   wait until read() (e.g. of .shown_table/.shown_text) is expected
        .screenshot(path)
    run_and_check(page, server, path)   all of it for one notebook; shuts its kernel down after

Every wait has a timeout and fails saying what it was waiting for.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
RAISES_TAG = "raises-exception"
RAISES_COMMENT = "# NBVAL_RAISES_EXCEPTION"

# Debian's Chromium; ZI2ZI_CHROMIUM points the tests at another binary (or at nothing, to
# check that they skip cleanly). Nothing here ever downloads a browser.
CHROMIUM_ENV = "ZI2ZI_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]

# Seconds. The CPU is shared, so these are generous; ZI2ZI_BROWSER_TIMEOUT_SCALE multiplies them all.
TIMEOUT_SCALE = float(os.environ.get("ZI2ZI_BROWSER_TIMEOUT_SCALE", "1"))
SERVER_START_TIMEOUT = 120 * TIMEOUT_SCALE
KERNEL_READY_TIMEOUT = 120 * TIMEOUT_SCALE
RUN_ALL_TIMEOUT = 900 * TIMEOUT_SCALE
RENDER_TIMEOUT = 60 * TIMEOUT_SCALE
UPDATE_TIMEOUT = 60 * TIMEOUT_SCALE

# Settings a learner would otherwise meet as pop-ups, plus two that keep the test honest:
# no autosave (running a committed notebook must not rewrite it) and no windowing (every
# cell stays in the DOM, so its outputs can be checked).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def chromium_path() -> Path:
    return Path(os.environ.get(CHROMIUM_ENV, DEFAULT_CHROMIUM))


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    path = chromium_path()
    if path.is_file() and os.access(path, os.X_OK):
        return None
    return (f"no Chromium at {path}: browser tests skipped. Enable them with "
            f"`sudo apt-get install chromium` (Debian/Ubuntu), or set {CHROMIUM_ENV}=/path/to/chromium")


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(chromium_path()), args=CHROMIUM_FLAGS)


def new_lab_page(browser, viewport=(1400, 1000)):
    """A page in a fresh browser context that may reach this machine only.

    Lessons must work offline (nothing downloads at run time): any request to another host
    is refused and recorded in `page.outside_requests`, which the checks report.
    """
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    page.outside_requests = []

    def only_local(route):
        url = route.request.url
        if re.match(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/", url) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            page.outside_requests.append(url)
            route.abort()

    context.route("**/*", only_local)
    return page


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def root_flag() -> list[str]:
    """JupyterLab refuses to run as root unless told; the Makefile adds the flag the same way."""
    return ["--allow-root"] if os.geteuid() == 0 else []


def write_lab_settings(settings_dir: Path) -> None:
    for relative, values in LAB_SETTINGS.items():
        target = settings_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))


def isolated_jupyter_env(base: Path) -> dict[str, str]:
    """Environment for a server whose settings, workspaces and runtime files live under `base`."""
    env = dict(os.environ)
    for variable, name in (("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
                           ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_CONFIG_DIR", "config")):
        (base / name).mkdir(parents=True, exist_ok=True)
        env[variable] = str(base / name)
    write_lab_settings(base / "settings")
    return env


def http_get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    """Status and body of a GET; HTTP errors are answers too (403 is what we expect without a token)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def http_post(url: str, timeout: float = 10) -> int:
    return http_send(url, "POST", timeout)


def http_send(url: str, method: str, timeout: float = 10) -> int:
    """Status of a bodiless POST, DELETE, ... request."""
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class ProcessGroup:
    """A command started in its own process group, stopped with everything it spawned.

    Jupyter starts kernels in new sessions (so Ctrl-C in the terminal does not hit them);
    they are outside the group, so the descendants are recorded by pid before stopping and
    each is waited for, or killed, by that pid.
    """

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], log_path: Path):
        self.command = command
        self.log_path = log_path
        self.stopped: list[str] | None = None
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)

    def log_tail(self, lines: int = 40) -> str:
        if not self._log.closed:
            self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self, graceful=None, timeout: float = 30) -> list[str]:
        """Stop the command and all it spawned; returns what had to be killed (empty when clean).

        `graceful` is a callable asking the program to exit on its own (e.g. the server's
        shutdown API); without it, or when it does not work in time, SIGTERM goes to the group.
        """
        if self.stopped is not None:
            return self.stopped
        spawned = self.descendants()
        forced = []
        if self.process.poll() is None and graceful is not None:
            graceful()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                forced.append(f"{self.command[0]} ignored the graceful stop for {timeout:.0f} s")
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
                forced.append(f"{self.command[0]} needed SIGKILL")
        _, alive = psutil.wait_procs(spawned, timeout=timeout)
        for process in alive:
            forced.append(f"left-over process {process.pid} {process.name()} killed")
            process.kill()
        psutil.wait_procs(alive, timeout=timeout)
        self._log.close()
        self.stopped = forced
        return forced


@dataclass
class LabServer:
    """The project's JupyterLab (the same venv and flags as `make lab`) on a free port."""

    root_dir: Path
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    port: int = field(default_factory=free_port)
    group: ProcessGroup | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, token: bool = True) -> str:
        separator = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{separator}token={self.token}" if token else f"{self.base_url}{path}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", f"--ServerApp.root_dir={self.root_dir}",
                *root_flag(), f"--port={self.port}", "--ServerApp.port_retries=0", "--no-browser",
                f"--IdentityProvider.token={self.token}", "--LabApp.expose_app_in_browser=True"]

    def start(self) -> "LabServer":
        self._tmp = tempfile.TemporaryDirectory(prefix="zi2zi-lab-")
        base = Path(self._tmp.name)
        self.group = ProcessGroup(self.command(), cwd=REPO, env=isolated_jupyter_env(base),
                                  log_path=base / "jupyter.log")
        wait_for_server(self, self.group)
        return self

    def shut_down_sessions(self) -> list[str]:
        """Close every notebook session and its kernel, so that each test leaves the server as it
        found it; returns what could not be closed (empty when all went well)."""
        status, body = http_get(self.url("/api/sessions"))
        if status != 200:
            return [f"GET /api/sessions answered {status}"]
        problems = []
        for session in json.loads(body):
            status = http_send(self.url(f"/api/sessions/{session['id']}"), "DELETE")
            if status != 204:
                problems.append(f"DELETE /api/sessions/{session['id']} ({session['path']}) answered {status}")
        return problems

    def stop(self) -> list[str]:
        forced = self.group.stop(graceful=lambda: http_post(self.url("/api/shutdown")))
        self._tmp.cleanup()
        return forced


def wait_for_server(server: LabServer, group: ProcessGroup, timeout: float = SERVER_START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if group.process.poll() is not None:
            raise AssertionError(f"JupyterLab exited with code {group.process.returncode} before answering; "
                                 f"its log:\n{group.log_tail()}")
        try:
            status, _ = http_get(server.url("/api/status"), timeout=5)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer on {server.base_url}/api/status within {timeout:.0f} s; "
                         f"its log:\n{group.log_tail()}")


# ------------------------------------------------------------------ notebooks on disk

# ipywidgets, the explorer, and tqdm's notebook bars (tqdm.auto picks them in a kernel; plain
# `from tqdm import tqdm` writes text to stderr and is no widget).
_WIDGET_IMPORT = re.compile(r"^\s*(import\s+ipywidgets|from\s+ipywidgets\s+import"
                            r"|import\s+zi2zi_lessons\.explorer|from\s+zi2zi_lessons\.explorer\s+import"
                            r"|from\s+zi2zi_lessons\s+import\s+[^#\n]*\bexplorer\b"
                            r"|(from|import)\s+tqdm\.(auto|notebook|autonotebook)\b)", re.MULTILINE)


def read_notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def stored_widget_views(notebook: dict) -> list[int]:
    """Widget views in each cell's stored outputs (what the committed run displayed)."""
    return [sum(WIDGET_VIEW_MIME in output.get("data", {}) for output in cell.get("outputs", []))
            for cell in notebook["cells"]]


def has_widgets(path: Path) -> bool:
    """A notebook whose code imports ipywidgets, the explorer or tqdm's notebook bars, or whose
    outputs hold widget views."""
    notebook = read_notebook(path)
    code = "\n".join(cell_source(cell) for cell in notebook["cells"] if cell["cell_type"] == "code")
    return bool(_WIDGET_IMPORT.search(code)) or any(stored_widget_views(notebook))


def widget_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    return sorted(path for path in folder.glob("*.ipynb") if has_widgets(path))


def marked_to_raise(cell: dict) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return RAISES_TAG in tags or any(line.strip() == RAISES_COMMENT for line in cell_source(cell).splitlines())


# ------------------------------------------------------------------ the notebook in the browser

# Everything the checks need about the open notebook, read from JupyterLab's own models
# (cells, outputs, execution counts, kernel status) and from the DOM (what is drawn).
_NOTEBOOK_STATE_JS = """
(path) => {
  const app = window.jupyterapp;
  const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
  if (!panel) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.map((cell, index) => {
    const model = cell.model;
    const outputs = [];
    if (model.type === 'code') {
      for (let i = 0; i < model.outputs.length; i++) {
        const output = model.outputs.get(i).toJSON();
        outputs.push({type: output.output_type, mimes: Object.keys(output.data || {}),
                      ename: output.ename || null, evalue: output.evalue || null,
                      text: output.output_type === 'stream' ? String(output.text).slice(0, 300) : null});
      }
    }
    // The output area draws one child per model output; a widget view is drawn in the child
    // of an output carrying the widget-view MIME type (views nested in an Output widget are not counted).
    const area = cell.node.querySelector('.jp-Cell-outputArea');
    const children = area ? Array.from(area.children).filter(node => node.classList.contains('jp-OutputArea-child')) : [];
    const views = outputs.map((output, i) => output.mimes.includes('application/vnd.jupyter.widget-view+json') ? children[i] : null)
                         .filter(node => node !== null);
    return {
      index, type: model.type,
      source: model.sharedModel.getSource(),
      tags: model.getMetadata('tags') || [],
      executionCount: model.type === 'code' ? model.executionCount : null,
      running: model.type === 'code' && (model.executionState === 'running'
                                          || /\\[\\*\\]/.test(cell.node.querySelector('.jp-InputPrompt')?.textContent || '')),
      outputs,
      widgetViews: views.length,
      drawnOutputs: children.length,
      renderedViews: views.filter(node => node !== undefined && node.querySelector('.jp-OutputArea-output > .jupyter-widgets')
                                          && !node.querySelector('.jupyter-widgets-error-widget')
                                          && !/Error displaying widget|Loading widget/.test(node.textContent)
                                          && node.getBoundingClientRect().height > 0).length,
      // A widget the kernel closed (e.g. a tqdm bar with leave=False) leaves its output hidden and empty.
      closedViews: views.filter(node => node !== undefined && Array.from(node.children).some(
                                  child => child.classList.contains('jp-OutputArea-output')
                                           && child.classList.contains('lm-mod-hidden') && child.children.length === 0)).length,
      // The innermost outputs showing the widget manager's error (a view nested in an Output widget too).
      // The widget manager's own error messages, and the broken-page placeholder it draws
      // when a view cannot be created (e.g. its JavaScript module is missing).
      widgetErrors: [
        ...Array.from(cell.node.querySelectorAll('.jp-Cell-outputArea .jp-OutputArea-output'))
          .filter(node => /Error displaying widget/.test(node.textContent)
                          && !Array.from(node.querySelectorAll('.jp-OutputArea-output'))
                                   .some(inner => /Error displaying widget/.test(inner.textContent)))
          .map(node => node.textContent.trim().slice(0, 200)),
        ...Array.from(cell.node.querySelectorAll('.jp-Cell-outputArea .jupyter-widgets-error-widget'))
          .map(node => 'a broken widget: ' + (node.textContent.trim() || 'no view') ),
      ],
    };
  });
  return {kernelStatus: kernel ? kernel.status : 'no kernel', cells,
          callbackErrors: (window.__zi2ziCallbackErrors || {})[path] || []};
}
"""

_OPEN_JS = """
async (path) => {
  const app = window.jupyterapp;
  await app.restored;
  const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await panel.context.ready;
  app.shell.activateById(panel.id);
  app.shell.collapseLeft();  // the file browser would take a fifth of every screenshot
  // An exception raised in a widget callback reaches no cell (JupyterLab only counts it in the
  // log console): record every error the kernel reports for anything but a cell's execution.
  const errors = (window.__zi2ziCallbackErrors = window.__zi2ziCallbackErrors || {})[path] = [];
  panel.sessionContext.iopubMessage.connect((_, message) => {
    if (message.header.msg_type === 'error' && message.parent_header.msg_type !== 'execute_request') {
      errors.push(`${message.content.ename}: ${message.content.evalue} (while handling ${message.parent_header.msg_type})`);
    }
  });
  return panel.id;
}
"""

# Started without awaiting, so that Python polls with its own timeout and can say what is stuck.
# The command's promise is no sign that the cells ran: JupyterLab sends every cell to the kernel
# at once and settles the promise at the first error reply, even from a cell tagged
# raises-exception, while the kernel goes on with the cells after it (their [*] prompts are
# cleared all the same). So the execute requests sent and the replies received are counted.
_RUN_ALL_JS = """
(path) => {
  const app = window.jupyterapp;
  const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
  const kernel = panel.sessionContext.session.kernel;
  const previous = window.__zi2ziRunAll;
  if (previous) previous.kernel.anyMessage.disconnect(previous.count);
  const state = window.__zi2ziRunAll = {done: false, error: null, sent: 0, replied: 0, kernel,
                                        count: (_, {msg, direction}) => {
    if (direction === 'send' && msg.header.msg_type === 'execute_request') state.sent += 1;
    if (direction === 'recv' && msg.header.msg_type === 'execute_reply') state.replied += 1;
  }};
  kernel.anyMessage.connect(state.count);
  app.commands.execute('notebook:run-all-cells').then(
    () => { state.done = true; state.repliedWhenSettled = state.replied; },
    error => { state.done = true; state.repliedWhenSettled = state.replied; state.error = String(error); });
}
"""

_RUN_ALL_PROGRESS_JS = """
() => { const {done, error, sent, replied, repliedWhenSettled} = window.__zi2ziRunAll;
        return {done, error, sent, replied, repliedWhenSettled}; }
"""


_TABLE_JS = """
(table) => {
  const texts = cells => Array.from(cells).map(cell => cell.innerText.trim());
  return {caption: table.caption ? table.caption.innerText.trim() : '',
          header: table.tHead && table.tHead.rows.length ? texts(table.tHead.rows[0].cells) : [],
          rows: Array.from(table.tBodies).flatMap(body => Array.from(body.rows)).map(row => texts(row.cells))};
}
"""


def describe_cell(cell: dict) -> str:
    first_line = next((line for line in cell["source"].splitlines() if line.strip()
                       and not line.strip().startswith("# NBVAL")), "")
    return f"cell {cell['index']} ({first_line[:60]!r})"


@dataclass
class NotebookPage:
    """An open notebook in a Playwright page, with the checks and controls the tests use."""

    page: object
    path: str
    run_all_progress: dict | None = None  # the last Run All: cells sent, replies received, replies when it settled

    # -------------------------------------------------------------- state and waiting

    def state(self) -> dict:
        state = self.page.evaluate(_NOTEBOOK_STATE_JS, self.path)
        if state is None:
            raise AssertionError(f"{self.path} is no longer the current JupyterLab tab")
        return state

    def wait_until(self, condition, what: str, timeout: float) -> dict:
        """Poll the notebook state until `condition(state)` holds; fail naming `what` was awaited."""
        deadline = time.monotonic() + timeout
        state = self.state()
        while not condition(state):
            if time.monotonic() > deadline:
                running = [describe_cell(c) for c in state["cells"] if c["running"]]
                raise AssertionError(f"{self.path}: waited {timeout:.0f} s for {what}; kernel {state['kernelStatus']}, "
                                     f"cells still running: {running or 'none'}")
            time.sleep(0.5)
            state = self.state()
        return state

    def wait_idle(self, what: str = "the kernel to go idle", timeout: float = UPDATE_TIMEOUT) -> dict:
        return self.wait_until(lambda s: s["kernelStatus"] == "idle" and not any(c["running"] for c in s["cells"]),
                               what, timeout)

    # -------------------------------------------------------------- running and checking

    def run_all(self, timeout: float = RUN_ALL_TIMEOUT) -> dict:
        """Run All, as a learner would from the Run menu; returns the state once everything ran:
        the command settled, the kernel answered every cell it was sent, the kernel is idle."""
        self.page.evaluate(_RUN_ALL_JS, self.path)
        deadline = time.monotonic() + timeout
        progress = self.page.evaluate(_RUN_ALL_PROGRESS_JS)
        while not (progress["done"] and progress["replied"] >= progress["sent"]):
            if time.monotonic() > deadline:
                self.wait_until(lambda s: False, f"Run All to finish (the kernel answered {progress['replied']} "
                                                 f"of the {progress['sent']} cells sent)", 0)
            time.sleep(0.5)
            progress = self.page.evaluate(_RUN_ALL_PROGRESS_JS)
        if progress["error"]:
            raise AssertionError(f"{self.path}: JupyterLab's Run All failed: {progress['error']}")
        self.run_all_progress = progress
        return self.wait_idle("the kernel to go idle after Run All", timeout=max(deadline - time.monotonic(), 30))

    def check_outputs(self, expected_views: list[int], raising: list[bool], timeout: float = RENDER_TIMEOUT) -> dict:
        """Every code cell ran; no error output except in cells marked to raise; every widget drawn
        (or closed by the kernel, as tqdm closes a finished bar made with leave=False).

        `expected_views[i]` is the number of widget views cell i displayed in the committed run,
        `raising[i]` whether cell i is marked to raise. Waits up to `timeout` for the widgets
        to render, then fails with one message listing every problem.
        """

        def widgets_settled(state):
            return all(c["renderedViews"] + c["closedViews"] >= expected
                       for c, expected in zip(state["cells"], expected_views)) \
                or any(c["widgetErrors"] for c in state["cells"])

        try:
            state = self.wait_until(widgets_settled, "every widget view to render", timeout)
        except AssertionError:
            state = self.state()  # report every problem below, not just the timeout
        problems = []
        if len(state["cells"]) != len(expected_views):
            problems.append(f"JupyterLab shows {len(state['cells'])} cells, the file holds {len(expected_views)}")
        for cell, expected, raises in zip(state["cells"], expected_views, raising):
            if cell["type"] != "code":
                continue
            name = describe_cell(cell)
            if cell["executionCount"] is None:
                raised_before = [c for c in state["cells"][:cell["index"]]
                                 if any(o["type"] == "error" for o in c["outputs"])]
                hint = ""
                if raised_before:
                    culprit = raised_before[-1]
                    hint = (f": {describe_cell(culprit)} raised before it, and Run All stops at an error "
                            f"unless the cell carries the metadata tag '{RAISES_TAG}' "
                            f"(nbval honours that tag as it does {RAISES_COMMENT})")
                problems.append(f"{name} did not run{hint}")
                continue
            errors = [f"{o['ename']}: {o['evalue']}" for o in cell["outputs"] if o["type"] == "error"]
            if errors and not raises:
                problems.append(f"{name} shows an error: {'; '.join(errors)}")
            if raises and not errors:
                problems.append(f"{name} is marked to raise but shows no error")
            for message in cell["widgetErrors"]:
                problems.append(f"{name} shows {message!r}")
            if cell["drawnOutputs"] != len(cell["outputs"]):
                problems.append(f"{name} holds {len(cell['outputs'])} outputs but draws {cell['drawnOutputs']}")
            if cell["widgetViews"] != expected:
                problems.append(f"{name} shows {cell['widgetViews']} widget views, the committed notebook {expected}")
            elif cell["renderedViews"] + cell["closedViews"] != expected:
                closed = f" ({cell['closedViews']} more closed by the kernel)" if cell["closedViews"] else ""
                problems.append(f"{name}: only {cell['renderedViews']} of {expected} widget views rendered{closed} "
                                f"within {timeout:.0f} s")
        problems += self.callback_problems(state)
        problems += [f"the page tried to fetch {url} (refused: the lessons must work offline)"
                     for url in getattr(self.page, "outside_requests", [])]
        if problems:
            raise AssertionError(f"{self.path}:\n  " + "\n  ".join(problems))
        return state

    def callback_problems(self, state: dict | None = None) -> list[str]:
        state = state or self.state()
        return [f"a widget callback raised into the kernel (the widget should show the message instead): {error}"
                for error in state["callbackErrors"]]

    def check_no_callback_errors(self) -> None:
        problems = self.callback_problems()
        if problems:
            raise AssertionError(f"{self.path}:\n  " + "\n  ".join(problems))

    # -------------------------------------------------------------- finding things

    def cell(self, containing: str):
        """The first cell whose source contains `containing` (a Playwright locator)."""
        for cell in self.state()["cells"]:
            if containing in cell["source"]:
                return self.page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell").nth(cell["index"])
        raise AssertionError(f"{self.path}: no cell contains {containing!r}")

    def control(self, description: str, within=None):
        """The ipywidgets control whose description label reads `description`."""
        scope = within if within is not None else self.page.locator(".jp-NotebookPanel:visible")
        label = re.compile(rf"^\s*{re.escape(description)}\s*$")
        matches = scope.locator(".widget-inline-hbox, .widget-checkbox, .widget-inline-vbox").filter(
            has=self.page.locator(".widget-label, .widget-label-basic span").filter(has_text=label))
        count = matches.count()
        if count != 1:
            raise AssertionError(f"{self.path}: expected one control labelled {description!r}, found {count}")
        return matches

    # -------------------------------------------------------------- operating controls

    def select(self, description: str, option: str, within=None) -> None:
        """Pick `option` (its visible label) in a Dropdown or Select."""
        self.control(description, within).locator("select").select_option(label=option)

    def toggle(self, description: str, checked: bool, within=None) -> None:
        self.control(description, within).locator("input[type=checkbox]").set_checked(checked)

    def set_number(self, description: str, value, within=None) -> None:
        """Type `value` into a slider's read-out or a number/text box, then Enter."""
        control = self.control(description, within)
        field = control.locator(".widget-readout, input[type=number], input[type=text], textarea").first
        field.click()
        field.press("Control+A")
        field.type(str(value))
        field.press("Enter")

    def expect_text(self, locator, pattern: str | re.Pattern, what: str, timeout: float = UPDATE_TIMEOUT) -> str:
        """Wait until `locator` shows text matching `pattern` (a plain string must appear in it)."""
        wanted = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            if locator.count() == 1:
                text = locator.inner_text()
                if wanted.search(text):
                    return text
            time.sleep(0.25)
        raise AssertionError(f"{self.path}: waited {timeout:.0f} s for {what}: wanted {wanted.pattern!r}, "
                             f"the page shows {text!r} ({locator.count()} matching elements)")

    def expect_value(self, read, expected, what: str, timeout: float = UPDATE_TIMEOUT):
        """Poll `read()` until it returns `expected`; fail showing both.

        One widget change can update several widget models in turn: polling, rather than
        reading once, never takes a value shown on the way for the final one.
        """
        deadline = time.monotonic() + timeout
        value = read()
        while value != expected:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.path}: waited {timeout:.0f} s for {what}:\n"
                                     f"  wanted {expected!r}\n  shown  {value!r}")
            time.sleep(0.25)
            value = read()
        return value

    @staticmethod
    def shown_text(locator) -> str | None:
        """The visible text of the one element `locator` finds, None while there is not exactly one."""
        return locator.inner_text().strip() if locator.count() == 1 else None

    @staticmethod
    def shown_table(locator) -> dict | None:
        """The one table `locator` finds, as shown: caption, header cells, body rows (texts);
        None while there is not exactly one."""
        if locator.count() != 1:
            return None
        return locator.evaluate(_TABLE_JS)

    def screenshot(self, path: Path, focus=None) -> Path:
        """The notebook as the learner sees it, scrolled to `focus` (a locator) when given."""
        if focus is not None:
            focus.scroll_into_view_if_needed()
        self.page.screenshot(path=str(path))
        return path


def open_notebook(page, server: LabServer, path: str) -> NotebookPage:
    """Open `path` (relative to the server's root) in JupyterLab and wait for its kernel."""
    # ?reset: a fresh workspace, so the notebooks earlier tests opened are not restored beside it
    page.goto(server.url("/lab?reset"), timeout=SERVER_START_TIMEOUT * 1000)
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=SERVER_START_TIMEOUT * 1000)
    page.evaluate(_OPEN_JS, path)
    notebook = NotebookPage(page, path)
    notebook.wait_until(lambda s: s["kernelStatus"] == "idle", "the kernel to start", KERNEL_READY_TIMEOUT)
    return notebook


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_and_check(page, server: LabServer, notebook: Path, interaction=None, screenshot: Path | None = None) -> Path | None:
    """The whole browser check of one notebook, as a learner meets it.

    Open it, Run All, wait for the kernel to go idle, check every cell ran without an
    unexpected error and every widget view rendered (as many as the committed notebook
    shows), then call `interaction(notebook_page)` (it operates the controls, checks the
    visible result and may return a locator to scroll into view), check again, save a
    screenshot. The file on disk must be left as it was. Returns the screenshot path.
    """
    relative = notebook.resolve().relative_to(server.root_dir.resolve()).as_posix()
    before = file_digest(notebook)
    stored = read_notebook(notebook)
    expected_views = stored_widget_views(stored)
    raising = [marked_to_raise(cell) for cell in stored["cells"]]
    try:
        page_notebook = open_notebook(page, server, relative)
        page_notebook.run_all()
        page_notebook.check_outputs(expected_views, raising)
        focus = None
        if interaction is not None:
            focus = interaction(page_notebook)
            page_notebook.wait_idle("the kernel to go idle after the interaction")
            page_notebook.check_outputs(expected_views, raising)
        if screenshot is not None:
            page_notebook.screenshot(screenshot, focus=focus)
    finally:
        unclosed = server.shut_down_sessions()  # also after a failure, which it must not hide
    assert not unclosed, f"{relative}: the kernel could not be shut down: {unclosed}"
    assert file_digest(notebook) == before, f"{relative} was modified on disk by the browser run"
    return screenshot
