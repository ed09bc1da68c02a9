#!/usr/bin/env bash
# Install everything on a fresh Debian 12 machine (as root), then run the whole test suite:
# unit tests, parsers on real captured output, and integration tests against the namespace lab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
python3 -m pytest -q -p no:cacheprovider --durations=25 tests "$@"
