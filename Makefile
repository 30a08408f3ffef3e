# Common tasks. Everything runs in the project's virtualenv (.venv).
.PHONY: install test lint format demo bench accuracy docs model messages

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
	.venv/bin/python scripts/accuracy.py && .venv/bin/python scripts/accuracy.py --real && .venv/bin/python scripts/notice_accuracy.py --quiet tests/fixtures/notices/fresh_*.jsonl tests/fixtures/notices/unseen/*.jsonl

docs:
	.venv/bin/python -m crawler.settings > docs/SETTINGS.md

model:
	.venv/bin/pip install -q -e '.[train]' && .venv/bin/python scripts/train_notice_model.py

# Extract the messages of the code and templates, then merge them into the sv and en catalogs
# (new ones arrive empty: translate them in crawler/locale/sv/LC_MESSAGES/crawler.po).
messages:
	.venv/bin/pybabel extract -F babel.cfg --no-location --sort-output --add-comments TRANSLATORS: -k NP_:1,2 --project crawler \
		-o crawler/locale/crawler.pot .
	.venv/bin/pybabel update -i crawler/locale/crawler.pot -d crawler/locale -D crawler --no-fuzzy-matching \
		--ignore-obsolete --no-wrap
