#!/usr/bin/env bash
# Sets up everything ClickPhone needs on a fresh machine; safe to run again (it skips what is done).
#   scripts/bootstrap.sh          runtime: virtualenv, Python packages, the web build
#   scripts/bootstrap.sh --dev    also test tools and the third-party SIP peers / browser
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0
[ "${1:-}" = "--dev" ] && dev=1

say() { printf '[bootstrap] %s\n' "$*"; }

# System packages: espeak-ng (text-to-speech prompts of call flows) always; the SIP test
# peers and the browser for tests.
missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
if [ "$dev" = 1 ]; then
  command -v sipp >/dev/null || missing+=(sip-tester)
  command -v baresip >/dev/null || missing+=(baresip)
  command -v chromium >/dev/null || missing+=(chromium chromium-driver)
  command -v rtpengine >/dev/null || missing+=(rtpengine-daemon)
  command -v openssl >/dev/null || missing+=(openssl)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "WARNING: missing ${missing[*]} (need root + apt-get); text-to-speech prompts answer 503 and tests needing them skip or fail"
  fi
fi

py=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$py" -m venv .venv
fi
stamp=.venv/.clickphone-installed
want="$(sha256sum pyproject.toml | cut -c1-16)-$dev"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  if [ "$dev" = 1 ]; then
    .venv/bin/python -m pip install -q -e '.[dev]'
  else
    .venv/bin/python -m pip install -q -e .
  fi
  echo "$want" > "$stamp"
fi

if [ -f web/package.json ]; then
  if command -v npm >/dev/null; then
    if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
      say "installing web packages (npm ci)"
      (cd web && npm ci --no-audit --no-fund --loglevel=error)
    fi
    say "building the web cabinet"
    (cd web && npm run build --silent)
  else
    say "WARNING: npm not found; the web cabinet is not built"
  fi
fi
