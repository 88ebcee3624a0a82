#!/usr/bin/env bash
# Runs the shared side-by-side benchmark (../shared/bench/peer.sh) against this project's
# bridge, from the project root. A benchmark, not a test: see docs/performance.md.
#   tests/benchmarks/peer.sh                 # full run, about 3 minutes
#   DURATION=3 WARMUP=1 KAFKA_SECONDS=1 tests/benchmarks/peer.sh   # smoke run
# Ports default below the ephemeral range and away from the harness defaults, so that
# runs by other people on the same machine do not collide; override as usual.
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH=${BENCH:-$(cd .. && pwd)/shared/bench}
[[ -x $BENCH/peer.sh ]] || BENCH=$(cd ../.. && pwd)/shared/bench  # from a git worktree
export BROKER_PORT=${BROKER_PORT:-27192} BASE_PORT=${BASE_PORT:-27180}
export BRIDGE_CMD='REGBRIDGE_KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS REGBRIDGE_AUTH_TOKENS=$AUTH_TOKEN exec .venv/bin/registry-bridge serve --host 127.0.0.1 --port $PORT'
exec "$BENCH/peer.sh"
