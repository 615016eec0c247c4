"""`make lab`, the learner's command, comes up on 127.0.0.1 behind its token, serves the
lessons, and stops cleanly. The real target runs; LAB_ARGS only fixes the port and token
(and --no-browser), and `-o` keeps make from reinstalling the environment this test runs in.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
from pathlib import Path

import pytest

import labdriver

pytestmark = pytest.mark.browser


@pytest.fixture
def make_lab(tmp_path):
    """`make lab` started in its own process group; stopped at the end if the test did not."""
    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    venv = Path(sys.prefix)
    server = labdriver.LabServer(labdriver.NOTEBOOKS)
    lab_args = f"--port={server.port} --ServerApp.port_retries=0 --no-browser --IdentityProvider.token={server.token}"
    command = ["make", "--no-print-directory", f"VENV={venv}", "-o", f"{venv}/.installed", "lab", f"LAB_ARGS={lab_args}"]
    server.group = labdriver.ProcessGroup(command, cwd=labdriver.REPO, env=labdriver.isolated_jupyter_env(tmp_path),
                                          log_path=tmp_path / "make-lab.log")
    try:
        labdriver.wait_for_server(server, server.group)
        yield server
    finally:
        server.group.stop()


def refused(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(5)
        return sock.connect_ex((host, port)) != 0


def test_make_lab_serves_the_notebooks_behind_its_token_and_stops_cleanly(make_lab):
    server = make_lab
    status, body = labdriver.http_get(server.url("/api/contents"))
    assert status == 200, f"GET /api/contents with the token answered {status}"
    listed = {item["name"] for item in json.loads(body)["content"]}
    lessons = {path.name for path in labdriver.NOTEBOOKS.glob("*.ipynb")}
    assert lessons and lessons <= listed, f"make lab lists {sorted(listed)}, notebooks/ holds {sorted(lessons)}"

    for url in (server.url("/api/contents", token=False), f"{server.base_url}/api/contents?token=wrong{server.token}"):
        status, _ = labdriver.http_get(url)
        assert status == 403, f"GET {url.replace(server.token, '<token>')} answered {status}, not 403"
    status, _ = labdriver.http_get(server.url("/lab", token=False))
    assert status == 302, f"GET /lab without the token answered {status}, not a redirect to the login page"
    # Listening on 127.0.0.1 only: another loopback address of this machine gets no answer.
    assert refused("127.0.0.2", server.port), "make lab also listens beyond 127.0.0.1"

    spawned = server.group.descendants()
    assert spawned, "make lab started no JupyterLab process"
    forced = server.group.stop(graceful=lambda: labdriver.http_post(server.url("/api/shutdown")))
    assert forced == [], f"make lab did not stop cleanly: {forced}"
    assert server.group.process.returncode == 0, \
        f"make lab exited with {server.group.process.returncode}:\n{server.group.log_tail()}"
    assert not any(process.is_running() for process in spawned)
    assert refused("127.0.0.1", server.port), "the port still answers after make lab stopped"
