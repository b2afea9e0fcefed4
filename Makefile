# Two entry points for a fresh machine: `make demo` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
# nbgrader calls `alembic` and `jupyter` from PATH: put the environment's bin/ first.
RUN     := PATH="$(abspath $(VENV))/bin:$$PATH"
STAMP   := $(VENV)/.installed

.PHONY: install demo test test-slow release bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	# The CPU wheel of torch lies on disk; install it before anything can ask for torch.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,grading]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(RUN) xai-course demo

# Two pytest workers on two cores: one BLAS/OpenMP thread each (also in the kernels they start).
test: $(STAMP)
	tools/install_system_packages.sh
	$(PY) -m ruff check .
	$(RUN) OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadgroup -q --durations=25

test-slow: $(STAMP)
	$(RUN) $(PY) -m pytest -q -m slow

release: $(STAMP)
	$(RUN) xai-course release

clean:
	rm -rf build $(VENV)
