#!/usr/bin/env bash
# Installs what is missing (virtualenv, test tools, sipp/baresip/chromium when root) and runs
# the whole suite: lint, type checks, web unit tests, Python tests (unit, db on SQLite and
# PostgreSQL, SIP interop, browser e2e). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh --dev
echo "== ruff";  .venv/bin/ruff check src tests bench && .venv/bin/ruff format --check src tests bench
echo "== mypy";  .venv/bin/mypy
if [ -f web/package.json ]; then echo "== vitest"; (cd web && npm test --silent); fi
echo "== pytest"
exec .venv/bin/pytest "$@"
