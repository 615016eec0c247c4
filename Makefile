# zi2zi-lessons: `make lab` opens the lessons, `make test` runs every check.
# Both create .venv from nothing when it is missing and install the pinned versions.

PYTHON ?= python3
VENV   := .venv
# e.g. TORCH_PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu" for the small CPU build
# on Linux (PyPI's Linux torch is the CUDA build; 2.13.0+cpu counts as newer than 2.13.0, so pip takes it
# while torch's own dependencies still come from PyPI at the versions in constraints.txt)
TORCH_PIP_ARGS ?=
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# JupyterLab refuses to run as root unless told; only add the flag when we are root.
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
# More arguments for jupyter lab, e.g. make lab LAB_ARGS="--port=8890 --no-browser"
LAB_ARGS ?=
# The browser tests drive this Chromium (Debian's package); nothing downloads a browser.
ZI2ZI_CHROMIUM ?= /usr/bin/chromium
# The project's JupyterLab settings (tools/jupyterlab_settings.py says which and why)
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json

.PHONY: lab learner site test test-unit test-notebooks test-learner test-browser notebooks clean-venv

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "zi2zi-lessons needs Python >= 3.11; run make PYTHON=python3.11 ...")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first, on its own, so that TORCH_PIP_ARGS applies to torch only.
	$(PY) -m pip install --quiet -c constraints.txt torch==2.13.0 $(TORCH_PIP_ARGS)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[lab,test,docs]"
	touch $(STAMP)

$(LAB_SETTINGS): tools/jupyterlab_settings.py $(STAMP)
	$(PY) tools/jupyterlab_settings.py

## lab: open JupyterLab on notebooks/ (127.0.0.1, token authentication on), at the learner
# edition's first lesson; builds notebooks/learner/ first when a lesson is missing or out of date
lab: $(STAMP) $(LAB_SETTINGS) learner
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --ServerApp.root_dir=notebooks \
		--LabApp.default_url=/lab/tree/learner/00_start_here.ipynb $(ROOT_FLAG) $(LAB_ARGS)

## site: the static site of the complete edition, built from the committed outputs (nothing is
# executed) into _site/ (SITE=folder for another); open _site/index.html. Works offline.
SITE ?= _site
site: $(STAMP)
	@case "$(SITE)" in ""|/|.|..) echo "SITE=$(SITE) is not accepted: name a folder for the site"; exit 2;; esac
	rm -rf "$(SITE)" "$(SITE)/../jupyter_execute"
	$(VENV)/bin/sphinx-build -q -b html -W --keep-going -c docs -d "$(SITE)/.doctrees" . "$(SITE)"
	rm -rf "$(SITE)/../jupyter_execute"  # myst-nb's copies of the outputs, beside the site

## learner: build the learner edition notebooks/learner/ from the lessons (outputs cleared,
# solutions removed); writes only what is missing or out of date, never over a learner's changes
learner: $(STAMP)
	$(PY) tools/learner_edition.py

## test: unit tests, every notebook under nbval, the learner edition run as a learner gets it,
# then the browser tests (the site among them) when Chromium is here
test: test-unit test-notebooks test-learner
	@if [ -x "$(ZI2ZI_CHROMIUM)" ]; then \
		$(MAKE) --no-print-directory test-browser; \
	else \
		echo "SKIPPED the browser tests: no Chromium at $(ZI2ZI_CHROMIUM)."; \
		echo "  Enable them: sudo apt-get install chromium (Debian/Ubuntu),"; \
		echo "  or make test ZI2ZI_CHROMIUM=/path/to/chromium"; \
	fi

test-unit: $(STAMP)
	$(PY) -m pytest -m "not browser and not notebook_run" tests

## test-learner: every learner notebook executed as a learner gets it (lesson 06 in quick mode):
# no error but on purpose, every checker judging its template with a verdict
test-learner: $(STAMP)
	CI=$${CI:-true} $(PY) -m pytest -m notebook_run tests

## test-browser: every notebook in JupyterLab in headless Chromium, and make lab itself
# (CI as for test-notebooks: the lab's kernels inherit it, so lesson 06 runs in quick mode)
test-browser: $(STAMP) $(LAB_SETTINGS)
	CI=$${CI:-true} ZI2ZI_CHROMIUM=$(ZI2ZI_CHROMIUM) $(PY) -m pytest -m browser tests/browser

# CI set (to true unless given) puts lesson 06 in quick mode: seconds instead of minutes of training.
test-notebooks: $(STAMP)
	CI=$${CI:-true} $(PY) -m pytest --nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg notebooks

## notebooks: re-execute every notebook in place, in order, each in a fresh kernel
notebooks: $(STAMP)
	for nb in notebooks/[0-9][0-9]_*.ipynb; do \
		echo "executing $$nb"; \
		$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.timeout=1800 "$$nb" || exit 1; \
	done

clean-venv:
	rm -rf $(VENV)
