#!/usr/bin/env bash
# The test command: set-up on a fresh machine, then every test under node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node --test --test-concurrency=2 dist/test/
