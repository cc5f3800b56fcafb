# The two commands of the README:
#   make run   - the whole system on SQLite with demo data (http://127.0.0.1:8000)
#   make test  - every test layer (unit, service, integration, end-to-end)
.PHONY: run test lint bench clean

run:
	bash scripts/bootstrap.sh
	bash scripts/ensure-services.sh
	.venv/bin/hotline up --demo

test:
	bash scripts/test.sh

lint:
	.venv/bin/ruff check shared services hotline bench tests
	.venv/bin/mypy

bench:
	bash scripts/bootstrap.sh
	.venv/bin/hotline bench flow

clean:
	rm -rf var .venv
