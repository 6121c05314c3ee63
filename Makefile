# `make test` is what CI runs (.ci/run); everything goes through uv.
UV ?= uv
RUN = $(UV) run --frozen

.PHONY: setup test test-clickhouse lint format bench chaos demo clean browse docs

setup:
	$(UV) sync --frozen

test: setup
	$(RUN) pytest -q -m "not chaos and not clickhouse"

# The ClickHouse store on the real engine (chdb, ~180 MB, the `clickhouse` extra).
test-clickhouse:
	$(UV) sync --frozen --extra clickhouse
	$(RUN) --extra clickhouse pytest -q -m clickhouse

# Fault injection (kill -9, locks, disk limits, garbage): a few minutes.
chaos: setup
	$(RUN) pytest -q -m chaos

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy blueskypipe

format: setup
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

# Not part of `make test`: a few minutes, and its rates mean little on a busy machine.
# bench.report then copies bench/out/results.json to docs/bench-results.json
# and rewrites the figures of docs/performance.md from it.
bench: setup
	$(RUN) python -m bench.run
	$(RUN) python -m bench.report

# Datasette on the live database: read-only (mode=ro), not --immutable, because
# handle-stream goes on writing in WAL mode. browse/serve.py applies
# browse/metadata.yml to whatever file DB names. Datasette comes from the dev group.
DB ?= bluesky.db
BROWSE_PORT ?= 8001
browse: setup
	$(RUN) python browse/serve.py $(DB) --port $(BROWSE_PORT)

# Rewrites the generated parts of docs/ (the options tables) from the code.
docs: setup
	$(RUN) python -m tests.docs

clean:
	rm -rf .pytest_cache .ruff_cache .mypy_cache .hypothesis bench/out

demo: setup
	./scripts/demo
