# The two commands: `make run` and `make test`. Both set everything up themselves.
SHELL := /bin/bash
PY := .venv/bin/python
# Rasa would otherwise try to send usage telemetry to an outside service.
export RASA_TELEMETRY_ENABLED := false

.PHONY: run test setup train bench lock clean

setup:
	@bash scripts/bootstrap.sh
	@bash scripts/webchat.sh

train: setup
	@$(PY) -m bot.cli train

run: train
	@$(PY) -m bot.cli run

test: train
	@bash scripts/browser.sh
	@$(PY) -m pytest $(PYTEST_ARGS)

bench: train
	@$(PY) -m bench.run

# Re-resolve requirements.in into requirements.lock (needs python3.10 and the registry).
lock:
	@bash scripts/lock.sh

clean:
	rm -rf .venv models var results
