#!/usr/bin/env bash
# Starts a fresh all-in-one server on loopback, runs `potok bench fanout` against it for each
# subscriber count, and stops the server. Usage: scripts/bench-fanout.sh [N ...]
# Environment: BITRATE (default 1000000), DURATION (default 20s), BENCH_ARGS (more bench flags).
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@"); [ ${#counts[@]} -gt 0 ] || counts=(10 50)
bitrate="${BITRATE:-1000000}"; duration="${DURATION:-20s}"
run=$(mktemp -d)
./bin/potok --ws-listen 127.0.0.1:18080 --http-listen 127.0.0.1:18081 --media-ip 127.0.0.1 \
  --media-udp-port 0 --media-tcp-port 0 --media-loopback-only --log-level warn > "$run/server.log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$run"' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:18081/health >/dev/null 2>&1 && break; sleep 0.1; done
for n in "${counts[@]}"; do
  echo "== fanout: $n subscribers, $bitrate bit/s, $duration"
  ./bin/potok bench fanout --url ws://127.0.0.1:18080 --metrics-url http://127.0.0.1:18081/metrics \
    --subscribers "$n" --bitrate "$bitrate" --duration "$duration" ${BENCH_ARGS:-}
done
