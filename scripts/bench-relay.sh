#!/usr/bin/env bash
# Server CPU per delivered packet, direct vs through a relay: nats-server, one `potok signal` and
# two `potok mediad` processes on loopback, and `potok bench fanout` with N players (CPU summed
# over the three Potok processes). "direct": every player on the origin; "relay": the origin takes
# one player (--max-players-per-stream 1), the others are served by the second mediad through
# one relay. Usage: scripts/bench-relay.sh [N]   Environment: DURATION (default 20s).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20}"; duration="${DURATION:-20s}"
mkdir -p bin && go build -o bin/potok ./cmd/potok
run=$(mktemp -d)
pids=()
stop() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap 'stop; rm -rf "$run"' EXIT
wait_http() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }

bench() { # bench MAX_PLAYERS_PER_STREAM LABEL
  stop; pids=()
  nats-server -js -a 127.0.0.1 -p 14222 -sd "$run/js-$2" > "$run/nats-$2.log" 2>&1 & pids+=($!)
  sleep 0.5
  local common=(--nats nats://127.0.0.1:14222 --log-level warn)
  for i in 1 2; do
    ./bin/potok mediad "${common[@]}" --mediad-node-id "md-$i" --media-ip 127.0.0.1 --media-udp-port 0 \
      --media-tcp-port -1 --media-loopback-only --max-players-per-stream "$1" \
      --mediad-http-listen "127.0.0.1:1808$((4 + i))" > "$run/md$i-$2.log" 2>&1 & pids+=($!)
  done
  ./bin/potok signal "${common[@]}" --ws-listen 127.0.0.1:18080 --http-listen 127.0.0.1:18081 \
    --wss-listen "" --https-listen "" > "$run/signal-$2.log" 2>&1 & pids+=($!)
  wait_http http://127.0.0.1:18085/metrics && wait_http http://127.0.0.1:18086/metrics
  for _ in $(seq 100); do curl -sf http://127.0.0.1:18081/ready >/dev/null 2>&1 && break; sleep 0.1; done
  echo "== $2: $n players, $duration"
  ./bin/potok bench fanout --url ws://127.0.0.1:18080 --subscribers "$n" --duration "$duration" \
    --metrics-url http://127.0.0.1:18081/metrics,http://127.0.0.1:18085/metrics,http://127.0.0.1:18086/metrics
}
bench 0 direct
bench 1 relay
