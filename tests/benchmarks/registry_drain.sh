#!/usr/bin/env bash
# How fast a real registry (Debian docker-registry 2.8.2) empties its notification queue into
# each receiver, side by side: the shared harness's registry_drain.py, run with this project's
# venv, then the table and the goals of docs/performance.md. A benchmark, not a test.
#   tests/benchmarks/registry_drain.sh            # all targets, 4,000-event backlog, 2-3 minutes
#   tests/benchmarks/registry_drain.sh 2000       # a smaller backlog
#   TARGETS="null bridge" tests/benchmarks/registry_drain.sh
# Needs ../shared/bench/setup.sh once (kafka-hooks through npm, the bench venv). The raw JSON
# lines are kept in var/bench/.
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH=${BENCH:-$(cd .. && pwd)/shared/bench}
[[ -f $BENCH/registry_drain.py ]] || BENCH=$(cd ../.. && pwd)/shared/bench  # from a git worktree
[[ -f $BENCH/registry_drain.py ]] || { echo "registry_drain.py not found; set BENCH=path/to/shared/bench" >&2; exit 2; }
out=var/bench/registry-drain-$(date -u +%Y%m%dT%H%M%SZ).jsonl
mkdir -p var/bench
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
.venv/bin/python "$BENCH/registry_drain.py" "$PWD/.venv" "${1:-4000}" | tee "$out" >&2
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); raw lines in $out" >&2
exec .venv/bin/python -m tests.benchmarks.drain_report "$out"
