#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short time each (default 8s): the parsers of client
# input (WebSocket frames, SDP, codec bitstreams) must never panic. Usage: scripts/fuzz.sh [duration]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-8s}"
targets=0
while IFS=: read -r file func; do
  pkg="./$(dirname "$file")"
  echo "== fuzz $pkg $func ($fuzztime)"
  go test -run '^$' -fuzz "^${func}\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s "$pkg"
  targets=$((targets + 1))
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' . | sed -E 's/func //' | sort -u)
echo "fuzz: $targets targets, $fuzztime each"
[ "$targets" -gt 0 ] || { echo "fuzz: no targets found" >&2; exit 1; }
