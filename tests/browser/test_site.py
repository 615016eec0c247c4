"""The static site (`make site`): built by the real target into a fresh folder, served on
127.0.0.1, and every page opened in headless Chromium: no console error, no failed or
outside request (the site must work offline), every image drawn, every local link and
anchor pointing at something that exists, math typeset by the local MathJax, every lesson
on the index, and each widget replaced by its note.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

import labdriver

pytestmark = pytest.mark.browser

LESSONS = sorted(labdriver.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
WIDGET_NOTE = re.compile(r"\[(architecture explorer|block widget): run this cell in JupyterLab")

_PAGE_CHECK_JS = """
() => ({
  brokenImages: Array.from(document.images).filter(img => !img.complete || img.naturalWidth === 0)
                     .map(img => img.getAttribute('src')),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  mathSource: document.querySelectorAll('.math').length,
  mathTypeset: document.querySelectorAll('mjx-container').length,
  text: document.body.innerText,
})
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """`make site` into a temporary folder (the environment this test runs in, not reinstalled)."""
    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    folder = tmp_path_factory.mktemp("site") / "_site"
    venv = Path(sys.prefix)
    result = subprocess.run(["make", "--no-print-directory", f"VENV={venv}", "-o", f"{venv}/.installed", "site",
                             f"SITE={folder}"], cwd=labdriver.REPO, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"make site failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return folder


@pytest.fixture(scope="module")
def served(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def pages(site: Path) -> list[Path]:
    skip = {"_static", "_downloads", "_sources", "_images"}
    return sorted(path for path in site.rglob("*.html") if not skip & set(path.relative_to(site).parts))


def target_problem(site: Path, href: str, anchors: dict) -> str | None:
    """Why a local link is broken (None when it is fine)."""
    url, fragment = urldefrag(href)
    path = site / unquote(urlparse(url).path).lstrip("/")
    if path.is_dir():
        path = path / "index.html"
    if not path.is_file():
        return f"{href} points to a missing file"
    if fragment and path.suffix == ".html":
        if path not in anchors:
            anchors[path] = set(re.findall(r'\sid="([^"]+)"', path.read_text(encoding="utf-8")))
        if unquote(fragment) not in anchors[path]:
            return f"{href} points to a missing anchor #{fragment}"
    return None


def test_every_page_opens_cleanly_offline(site, served, chromium):
    assert (site / "index.html").is_file(), "no index.html at the top of the site"
    anchors: dict = {}
    problems = []
    context = chromium.new_context()
    outside: list[str] = []

    def only_local(route):
        if route.request.url.startswith((served + "/", "data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    for path in pages(site):
        name = path.relative_to(site).as_posix()
        events: list[str] = []
        page.on("console", lambda message, events=events: message.type == "error"
                and events.append(f"console error: {message.text[:300]}"))
        page.on("pageerror", lambda error, events=events: events.append(f"page error: {error}"))
        page.on("response", lambda response, events=events: response.status >= 400
                and events.append(f"{response.status} for {response.url}"))
        page.on("requestfailed", lambda request, events=events: events.append(
            f"request failed: {request.url} ({request.failure})"))
        page.goto(f"{served}/{name}", wait_until="load")
        page.wait_for_load_state("networkidle")  # the top index.html redirects at once
        found = page.evaluate(_PAGE_CHECK_JS)
        if found["mathSource"]:
            try:
                page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 0", timeout=30_000)
            except Exception:
                events.append(f"{found['mathSource']} formulas but none typeset by MathJax")
        events += [f"image not drawn: {src}" for src in found["brokenImages"]]
        for href in found["links"]:
            if href.startswith(served):
                problem = target_problem(site, href, anchors)
                if problem:
                    events.append(problem)
        problems += [f"{name}: {event}" for event in events]
        page.close()
        page = context.new_page()
    context.close()
    problems += [f"a page asked for {url} (refused: the site must work offline)" for url in sorted(set(outside))]
    assert not problems, "\n".join(problems)


def test_the_index_lists_every_lesson_and_the_lessons_show_their_outputs(site):
    index = (site / "docs" / "index.html").read_text(encoding="utf-8")
    for lesson in LESSONS:
        page = site / "notebooks" / f"{lesson.stem}.html"
        assert page.is_file(), f"no page for {lesson.name}"
        assert f'href="../notebooks/{lesson.stem}.html"' in index, f"the index does not link {lesson.stem}"
    assert 'href="questions.html"' in index and 'href="workshop.html"' in index
    for lesson in LESSONS:
        text = (site / "notebooks" / f"{lesson.stem}.html").read_text(encoding="utf-8")
        assert "<img" in text or "<table" in text, f"{lesson.stem}'s page shows no figure or table"
        assert 'href="../docs/questions.html"' in text, f"{lesson.stem}'s page has no link to the questions"
    for stem in ("02_skip_block", "03_unet_generator"):
        text = (site / "notebooks" / f"{stem}.html").read_text(encoding="utf-8")
        assert WIDGET_NOTE.search(text), f"{stem}'s page shows no note where its widget is"
        assert "Error displaying widget" not in text
