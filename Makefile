# `make run` starts the local stack; `make test` runs every test tier. Both install what they need first.
PYTHON ?= python3
PORT ?= 8000
STAGE ?= dev
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test bench soak fuzz clean deploy destroy

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(INSTALLED)
	$(BIN)/python -m devstack --port $(PORT)

test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy chalicelib app.py deploy
	cd sdk && ../$(BIN)/mypy parley_sdk && ../$(BIN)/python -m pytest
	$(BIN)/python -m pytest

bench: $(INSTALLED)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.heavy

# the long soak (docs/security.md): SOCKETS sockets, MESSAGES messages, two throttling storms, every delivery
# audited, sockets connecting over RAMP seconds; about 20 minutes here at the default, 85 at
# make soak SOCKETS=1000 MESSAGES=100000 RAMP=120
SOCKETS ?= 200
MESSAGES ?= 20000
RAMP ?= 30
soak: $(INSTALLED)
	$(BIN)/python -m bench.soak --sockets $(SOCKETS) --messages $(MESSAGES) --ramp-seconds $(RAMP)

# the long fuzz (docs/security.md): EXAMPLES per fuzz test from a random start, what they got back printed
EXAMPLES ?= 10000
fuzz: $(INSTALLED)
	POWERTOOLS_METRICS_DISABLED=true PARLEY_FUZZ_EXAMPLES=$(EXAMPLES) $(BIN)/python -m pytest tests/reliability/test_fuzz.py -s -q --timeout 0

# AWS (docs/deploy.md): make deploy STAGE=dev; make destroy STAGE=dev [PURGE=1]
deploy: $(INSTALLED)
	$(BIN)/python -m deploy up --stage $(STAGE)

destroy: $(INSTALLED)
	$(BIN)/python -m deploy down --stage $(STAGE) $(if $(PURGE),--purge)

clean:
	rm -rf $(VENV) .pytest_cache
