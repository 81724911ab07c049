# LLMs from Dummies — two commands on a fresh machine:
#   make lab    set up .venv (first time only) and open the course in JupyterLab
#   make test   set up .venv (first time only) and run every test
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Jupyter looks in .venv before ~/.local, so the course kernel is this venv's Python.
export JUPYTER_PREFER_ENV_PATH := 1
# Saved outputs are made and checked with one thread per process: float sums then add up
# in the same order on every machine, whatever its number of cores.
SINGLE_THREAD := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

.PHONY: lab test release execute data bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (LLMs from Dummies)" >/dev/null
	touch $(STAMP)

# (--allow-root only when run as root, e.g. in a container: JupyterLab refuses root otherwise.)
lab: $(STAMP)
	$(PY) -m jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# Unit tests, notebook tests, and strict nbval on the solutions (saved outputs compared),
# spread over all cores by file (a notebook's cells stay in order on one worker).
test: $(STAMP)
	$(SINGLE_THREAD) TQDM_DISABLE=1 $(PY) -m pytest -n auto --dist loadfile -p tests.nbval_settings \
		--nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg tests solutions

# Regenerate the student notebooks from the solutions.
release: $(STAMP)
	$(PY) tools/release.py

# Re-execute the solutions in place (fresh saved outputs), then regenerate the student notebooks.
execute: $(STAMP)
	$(SINGLE_THREAD) $(PY) tools/execute.py
	$(PY) tools/release.py

# Regenerate the generated files in data/ (see data/README.md).
data: $(STAMP)
	$(PY) tools/make_data.py

# Speed benchmarks: print ratios, never fail on a number.
bench: $(STAMP)
	for script in tools/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info
