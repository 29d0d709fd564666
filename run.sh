#!/usr/bin/env bash
# Installs what is missing and starts ClickPhone on its embedded default (SQLite in ./var).
# Extra arguments go to `clickphone serve`, e.g. ./run.sh --http 127.0.0.1:8081 --sip 0.0.0.0:5070
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
exec .venv/bin/clickphone serve "$@"
