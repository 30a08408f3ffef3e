# Common tasks. Everything runs in the project's virtualenv (.venv).
.PHONY: install test lint format demo bench accuracy docs model

install:
	python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'

test:
	.venv/bin/pytest -q

lint:
	.venv/bin/ruff check crawler tests scripts

format:
	.venv/bin/ruff format crawler tests scripts

demo:
	.venv/bin/crawler demo

bench:
	.venv/bin/python scripts/bench.py --sizes 319,10000

accuracy:
	.venv/bin/python scripts/accuracy.py && .venv/bin/python scripts/accuracy.py --real && .venv/bin/python scripts/notice_accuracy.py --quiet tests/fixtures/notices/fresh_*.jsonl

docs:
	.venv/bin/python -m crawler.settings > docs/SETTINGS.md

model:
	.venv/bin/pip install -q -e '.[train]' && .venv/bin/python scripts/train_notice_model.py
