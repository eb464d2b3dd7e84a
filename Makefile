# The two commands a fresh machine needs: `make lab` (the series) and `make test` (everything checked).
VENV := .venv
BIN := $(VENV)/bin
# One kernel per notebook, four at a time (they mostly wait on the replay server's pacing);
# nbval needs --dist loadscope so that a notebook's cells stay on one worker.
NBVAL := $(BIN)/pytest -p no:cacheprovider --nbval --nbval-current-env --nbval-cell-timeout=60 \
         --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:python -n 4 --dist loadscope

.PHONY: setup lab run test unit notebooks-check notebooks nav bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml tools/setup.sh
	bash tools/setup.sh

lab: setup  ## open the series in JupyterLab, on the embedded replay server (no key needed)
	$(BIN)/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

run: setup  ## execute every notebook headless against the replay server, one line each
	$(BIN)/python tools/run_notebooks.py

test: setup unit notebooks-check  ## unit + integration tests, then nbval in both dialects

unit: setup
	$(BIN)/pytest -q tests

notebooks-check: setup
	$(BIN)/python tools/nav.py --check
	REALTIME_PROVIDER=replay REALTIME_MODEL= REALTIME_DIALECT= $(NBVAL) notebooks/*.ipynb
	# the lax pass: every notebook against the OpenAI GA persona (the model picks the persona)
	REALTIME_PROVIDER=replay REALTIME_MODEL=gpt-realtime REALTIME_DIALECT= $(NBVAL) --nbval-lax notebooks/*.ipynb

notebooks: setup  ## regenerate every notebook's outputs against the replay server
	$(BIN)/python tools/nav.py
	$(BIN)/python tools/regenerate_notebooks.py

bench: setup
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
