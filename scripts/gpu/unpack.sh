#!/usr/bin/env bash
# On the GPU machine: restores node (/tmp/node) and the pruned node_modules packed by pack.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
xz -dc .gpu/node.xz > /tmp/node && chmod +x /tmp/node
xz -dc .gpu/node_modules.tar.xz | tar xf -
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
