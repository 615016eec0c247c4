"""Sphinx configuration of the lessons' static site (`make site` builds it into _site/).

The source folder is the repository itself (``sphinx-build -c docs . _site``), so that every
link the notebooks and the README use on GitHub (``notebooks/02_skip_block.ipynb``,
``../data/README.md``) also works on the site. Only the pages listed in
``include_patterns`` are read. The notebooks are shown with the outputs they were committed
with (myst-nb, execution off: the site never runs them). Everything the pages need is
served from the site itself: MathJax from the sphinx-mathjax-offline package, no widget
JavaScript from a CDN (a widget shows its text form, which says to run the cell in
JupyterLab), so the site works offline.
"""

project = "zi2zi-lessons"
author = "the zi2zi-lessons authors"
copyright = "the zi2zi-lessons authors, MIT licence"

extensions = ["myst_nb", "sphinx-mathjax-offline"]

root_doc = "docs/index"
include_patterns = [
    "docs/index.md", "docs/questions.md", "docs/workshop.md", "docs/authoring.md", "docs/lesson_times.md",
    "notebooks/[0-9][0-9]_*.ipynb", "README.md", "data/README.md",
]
# pruned from the walk of the repository, so that it stays fast
exclude_patterns = [".venv", ".git", "_site", "_build", "build", "notebooks/learner",
                    "**/.ipynb_checkpoints", "tests", "zi2zi_lessons", "benchmarks", "tools"]

# ---------------------------------------------------------------- notebooks (myst-nb)
nb_execution_mode = "off"  # the committed outputs, never a re-run
nb_ipywidgets_js = {}  # no widget JavaScript (it would come from a CDN)
# a widget's view needs that JavaScript and a kernel: show its text form instead
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3  # links to a lesson's sections (#2-three-ways-to-join)
suppress_warnings = ["myst.header"]  # notebooks start at "#" and may skip a level, on purpose

# ---------------------------------------------------------------- HTML
html_theme = "furo"
html_title = "zi2zi-lessons"
html_static_path = ["_static"]
html_css_files = ["lessons.css"]
html_extra_path = ["_extra"]  # _site/index.html: a redirect to docs/index.html
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
