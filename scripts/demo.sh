#!/usr/bin/env bash
# The main job: set-up on a fresh machine, then the walkthrough notebook end to end on the
# embedded model and data. Prints the output folder.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node dist/scripts/demo.js "$@"
