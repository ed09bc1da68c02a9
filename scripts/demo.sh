#!/usr/bin/env bash
# The demo: install everything, bring the built-in lab up with a documented fault, diagnose it.
# Usage (as root): bash scripts/demo.sh [FAULT]   (default: nat-rewrites-bgp-source; list: bgpdoctor lab faults)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
fault=${1:-nat-rewrites-bgp-source}
inventory=$(python3 -m bgpdoctor lab up --fault "$fault" | sed -n 's/^inventory: //p' | tail -n 1)
echo "== lab is up with fault '$fault'; inventory: $inventory" >&2
set +e
python3 -m bgpdoctor run --inventory "$inventory" --node yuuko-k8s
code=$?
set -e
echo "== bgpdoctor run exited $code (0 no findings, 1 findings, 2 usage, 3 could not check)" >&2
echo "== the lab stays up; remove it with: python3 -m bgpdoctor lab down" >&2
[ "$code" -le 1 ]
