#!/usr/bin/env bash
# Long seeded runs of the in-memory sync network (server/tests/sim).
# Usage: scripts/sim-long.sh [SEEDS] [STEPS] [SEED_BASE]
# A failure prints the seed and the command line that reproduces it.
set -euo pipefail
SEEDS="${1:-200}"
STEPS="${2:-2000}"
BASE="${3:-0}"
cd "$(dirname "$0")/.."
SIM_SEEDS="$SEEDS" SIM_STEPS="$STEPS" SIM_SEED_BASE="$BASE" \
  cargo test --release -p fieldwork-server --test sim_network -- --nocapture
