# The two commands a fresh machine needs: `make lab` (the series) and `make test` (everything checked).
VENV := .venv
BIN := $(VENV)/bin
# One kernel per notebook, several at a time (they mostly wait on the replay server's pacing):
# the strict pass runs both editions together, eight at a time (the editions write to separate
# output/ folders); nbval needs --dist loadscope so that a notebook's cells stay on one worker.
NBVAL := $(BIN)/pytest -p no:cacheprovider --nbval --nbval-current-env --nbval-cell-timeout=60 \
         --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:python --dist loadscope

.PHONY: setup lab run test lint unit notebooks-check notebooks nav bench clean i18n i18n-check site browser

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml tools/setup.sh
	bash tools/setup.sh

lab: setup  ## open the series in JupyterLab, trusted, on the embedded replay server (no key needed)
	$(BIN)/python tools/lab.py

run: setup  ## execute every notebook headless against the replay server, one line each
	$(BIN)/python tools/run_notebooks.py

test: setup lint i18n-check unit notebooks-check browser  ## static checks, unit + integration tests, nbval in both dialects, the Chinese edition, the browser test

lint: setup  ## ruff (rules and line length in pyproject.toml) and mypy over helpers/: both must find nothing
	$(BIN)/ruff check helpers tests bench tools
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q tests --ignore=tests/browser

browser: setup  ## JupyterLab and the website (both languages) in Debian's chromium; screenshots in build/browser/
	$(BIN)/pytest -q -p no:cacheprovider tests/browser

notebooks-check: setup  ## strict nbval over both editions (English and Chinese), then the English lax pass on the GA persona
	$(BIN)/python tools/nav.py --check
	REALTIME_PROVIDER=replay REALTIME_MODEL= REALTIME_DIALECT= $(NBVAL) -n 8 notebooks/*.ipynb notebooks/zh-CN/*.ipynb
	# the lax pass: every notebook against the OpenAI GA persona (the model picks the persona)
	REALTIME_PROVIDER=replay REALTIME_MODEL=$$($(BIN)/python -c 'from helpers.catalogue import default_model; print(default_model("openai"))') REALTIME_DIALECT= $(NBVAL) -n 4 --nbval-lax notebooks/*.ipynb

notebooks: nav  ## regenerate every notebook's outputs against the replay server
	$(BIN)/python tools/regenerate_notebooks.py

nav: setup  ## the generated cells (Colab badge, prev/next links, setup) and the README index, from the REPO setting
	$(BIN)/python tools/nav.py

site: setup  ## the website of the series, both languages, from the committed notebooks -> build/site/
	$(BIN)/python tools/build_site.py

i18n: setup  ## build the Chinese edition (notebooks/zh-CN) from the English notebooks and i18n/zh-CN/*.po
	$(BIN)/python tools/i18n.py build
	$(BIN)/python tools/nav.py

i18n-check: setup  ## translations present and current, code in step, the build up to date (nbval: notebooks-check)
	$(BIN)/python tools/i18n.py check

bench: setup
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
