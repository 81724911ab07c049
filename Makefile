# LLMs from Dummies — two commands on a fresh machine:
#   make lab    set up .venv (first time only) and open the course in JupyterLab
#   make test   set up .venv (first time only) and run every test
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Jupyter looks in .venv before ~/.local, so the course kernel is this venv's Python.
export JUPYTER_PREFER_ENV_PATH := 1
# One BLAS/OpenMP thread per process unless you set OMP_NUM_THREADS: `make test` runs one
# process per core. Saved outputs do not depend on it (see "How outputs are compared" in README.md).
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= $(OMP_NUM_THREADS)
# The course plugin (tests/nbval_settings.py): strict nbval, the tolerance policy, no network.
NBVAL := -p tests.nbval_settings --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
# pytest-xdist workers for $(1) threads each: one core per thread. More threads than cores
# make OpenMP's threads spin in each other's way, and a notebook then runs many times slower.
workers = $(shell $(PY) -c "import os; print(max(1, os.cpu_count() // $(1)))")

.PHONY: lab test test-portable test-grading test-browser grade release execute data pretrain lora-sweep bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (LLMs from Dummies)" >/dev/null
	touch $(STAMP)

# An optional extra of pyproject.toml (grading: nbgrader; browser: Selenium), installed on first use.
$(VENV)/.installed-%: $(STAMP)
	$(PY) -m pip install --quiet -e ".[$*]"
	touch $@

# The course's JupyterLab settings: line wrap in code cells, no news pop-up, the kernel started on opening.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
$(LAB_SETTINGS): jupyter/overrides.json $(STAMP)
	mkdir -p $(dir $@)
	cp $< $@

# JupyterLab opens in notebooks/, and solutions/ is one folder up (jupyter/jupyter_server_config.py).
# (--allow-root only when run as root, e.g. in a container: JupyterLab refuses root otherwise.)
lab: $(STAMP) $(LAB_SETTINGS)
	$(PY) -m jupyter lab --config=jupyter/jupyter_server_config.py $(if $(filter 0,$(shell id -u)),--allow-root)

# Unit tests, notebook tests, and strict nbval on the solutions (saved outputs compared),
# spread over the cores by file (a notebook's cells stay in order on one worker).
test: $(STAMP)
	TQDM_DISABLE=1 $(PY) -m pytest -n $(call workers,$(OMP_NUM_THREADS)) --dist loadfile $(NBVAL) tests solutions

# Strict nbval on the solutions again, as another CPU runs them: PyTorch's plain (non-SIMD)
# kernels and two threads, so every float sum adds up in another order than in the saved
# outputs. (The saved outputs and the asserts are what differ between CPUs; the structure of
# the student notebooks, tested by make test, does not.)
test-portable: $(STAMP)
	ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 TQDM_DISABLE=1 \
		$(PY) -m pytest -n $(call workers,2) --dist loadfile $(NBVAL) solutions

# Grade a class: SUBMISSIONS holds one folder of notebooks per student (see README.md);
# writes $(GRADES).csv and $(GRADES).json.
GRADES ?= grades
JOBS   ?= $(shell $(PY) -c "import os; print(os.cpu_count())")
grade: $(STAMP)
	$(if $(SUBMISSIONS),,$(error name the class folder: make grade SUBMISSIONS=path/to/class))
	$(PY) tools/grade.py $(SUBMISSIONS) --csv $(GRADES).csv --json $(GRADES).json --jobs $(JOBS)

# The nbgrader export, through real nbgrader: generate_assignment on every notebook, autograde on one.
test-grading: $(VENV)/.installed-grading
	$(PY) -m pytest tests/grading

# The course in JupyterLab, driven by headless Chromium (Debian: apt-get install chromium chromium-driver).
test-browser: $(VENV)/.installed-browser $(LAB_SETTINGS)
	$(PY) -m pytest tests/browser

# Regenerate the student notebooks from the solutions.
release: $(STAMP)
	$(PY) tools/release.py

# Re-execute the solutions in place (fresh saved outputs), then regenerate the student notebooks.
execute: $(STAMP)
	$(PY) tools/execute.py
	$(PY) tools/release.py

# Regenerate the generated files in data/ (see data/README.md).
data: $(STAMP)
	$(PY) tools/make_data.py

# Pretrain the course's base model into data/base_model/ (about 50 minutes on 2 cores;
# `$(PY) tools/pretrain.py --device cuda` on a GPU).
pretrain: $(STAMP)
	$(PY) tools/pretrain.py --threads 2

# Notebook 14's rank sweep (about four minutes): writes data/lora_rank_sweep.json.
lora-sweep: $(STAMP)
	$(PY) tools/sweep_lora.py --threads 2

# Speed benchmarks: print ratios, never fail on a number.
bench: $(STAMP)
	for script in tools/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info
