#!/usr/bin/env bash
# potok-cluster.sh: the load-balanced deployment of README "Load-balanced deployment" (3 NATS +
# 2 signal + 2 mediad, nginx in front of the signal nodes) as plain processes on this machine,
# on loopback, with the files of deploy/ (nats-authorization.conf, nginx/potok.conf). For
# development and demos: where systemd runs the same tiers, see deploy/systemd.
#
# Usage:
#   deploy/local/potok-cluster.sh up   [DIR]   start everything, wait until it is ready, print the URLs
#   deploy/local/potok-cluster.sh down [DIR]   SIGTERM every process it started (nginx, signal, mediad, NATS)
#   deploy/local/potok-cluster.sh status [DIR]
# DIR (default ./potok-local) holds the configurations, passwords (nats.env, 0600), logs and pids.
# Environment: POTOK_BIN (default: potok on PATH, else bin/potok), NATS_SERVER (nats-server),
# NGINX (nginx, else /usr/sbin/nginx), PORT_BASE (default 14000; the ports used are
# PORT_BASE+1..+81, listed below). Needs bash, curl and Debian's nats-server and nginx.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
deploy="$(dirname "$here")"
root="$(dirname "$deploy")"

cmd="${1:-}"
dir="${2:-${POTOK_LOCAL_DIR:-./potok-local}}"
base="${PORT_BASE:-14000}"

log() { printf 'potok-cluster: %s\n' "$*"; }
die() { printf 'potok-cluster: ERROR: %s\n' "$*" >&2; exit 1; }

# Ports: NATS client/route/monitor, signal ws/http, mediad media (UDP and ICE-TCP)/http, nginx.
nats_port() { echo $((base + $1)); }         # n1..n3: base+1..3
route_port() { echo $((base + 10 + $1)); }   # base+11..13
mon_port() { echo $((base + 20 + $1)); }     # base+21..23
sig_ws_port() { echo $((base + 30 + $1)); }  # a=1, b=2: base+31, base+32
sig_http_port() { echo $((base + 40 + $1)); }
md_media_port() { echo $((base + 50 + $1)); }
md_http_port() { echo $((base + 60 + $1)); }
lb_ws_port=$((base + 80))
lb_http_port=$((base + 81))

find_tools() {
	potok="${POTOK_BIN:-}"
	if [ -z "$potok" ]; then
		potok="$(command -v potok || true)"
		[ -n "$potok" ] || potok="$root/bin/potok"
	fi
	[ -x "$potok" ] || die "no potok binary (make build, or set POTOK_BIN)"
	nats="${NATS_SERVER:-$(command -v nats-server || true)}"
	[ -n "$nats" ] || die "nats-server not found (apt-get install nats-server)"
	nginx="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
	[ -x "$nginx" ] || die "nginx not found (apt-get install nginx)"
	command -v curl >/dev/null || die "curl not found"
}

# start NAME CMD...: runs CMD in the background with its output in logs/NAME.log, pid in pids/.
start() {
	local name="$1"
	shift
	"$@" >"$dir/logs/$name.log" 2>&1 &
	echo $! >"$dir/pids/$name.pid"
}

# wait_http NAME URL: until URL answers 200 (30 s), failing early if NAME exited.
wait_http() {
	local name="$1" url="$2" i
	for i in $(seq 300); do
		if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
			return 0
		fi
		kill -0 "$(cat "$dir/pids/$name.pid")" 2>/dev/null || { tail -20 "$dir/logs/$name.log" >&2; die "$name exited"; }
		sleep 0.1
	done
	tail -20 "$dir/logs/$name.log" >&2
	die "$name: $url not ready after 30 s"
}

password() { printf 'p%s' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"; }

up() {
	find_tools
	[ ! -e "$dir/pids" ] || [ -z "$(ls -A "$dir/pids")" ] || die "$dir has running processes: $0 down $dir first"
	mkdir -p "$dir/nats" "$dir/nginx/potok.d" "$dir/nginx/tmp" "$dir/logs" "$dir/pids"
	dir="$(cd "$dir" && pwd)"

	# The control plane's passwords, made once and kept (the same shape as deploy/systemd/nats.env).
	if [ ! -f "$dir/nats.env" ]; then
		(umask 077 && printf 'SIGNAL_PASSWORD=%s\nMEDIAD_PASSWORD=%s\n' "$(password)" "$(password)" >"$dir/nats.env")
	fi
	# shellcheck disable=SC1091
	. "$dir/nats.env"
	export SIGNAL_PASSWORD MEDIAD_PASSWORD

	# Three nats-server as one JetStream cluster, each including the shipped users and
	# permissions (nats-server resolves an include beside the including file: a link).
	ln -sfn "$deploy/nats/nats-authorization.conf" "$dir/nats/nats-authorization.conf"
	local routes="" i urls=""
	for i in 1 2 3; do
		routes="$routes${routes:+, }nats-route://127.0.0.1:$(route_port $i)"
		urls="$urls${urls:+,}nats://127.0.0.1:$(nats_port $i)"
	done
	for i in 1 2 3; do
		cat >"$dir/nats/n$i.conf" <<EOF
server_name: n$i
listen: 127.0.0.1:$(nats_port $i)
http: 127.0.0.1:$(mon_port $i)
jetstream { store_dir: "$dir/nats/n$i" }
cluster {
  name: potok-local
  listen: 127.0.0.1:$(route_port $i)
  routes: [$routes]
}
include nats-authorization.conf
EOF
		start "nats-n$i" "$nats" -c "$dir/nats/n$i.conf"
	done
	for i in 1 2 3; do
		wait_http "nats-n$i" "http://127.0.0.1:$(mon_port $i)/healthz"
	done

	local common=(--nats "$urls" --nats-kv-storage file --nats-kv-replicas 3 --wss-listen "" --https-listen "")
	local n id
	for n in 1 2; do
		id="mediad-$(printf '%b' "\\x$(printf %x $((96 + n)))")"
		POTOK_NATS_PASSWORD="$MEDIAD_PASSWORD" start "$id" "$potok" mediad --mediad-node-id "$id" --nats-user mediad \
			"${common[@]}" --media-ip 127.0.0.1 --media-loopback-only \
			--media-udp-port "$(md_media_port $n)" --media-tcp-port "$(md_media_port $n)" \
			--mediad-http-listen "127.0.0.1:$(md_http_port $n)"
	done
	wait_http mediad-a "http://127.0.0.1:$(md_http_port 1)/ready"
	wait_http mediad-b "http://127.0.0.1:$(md_http_port 2)/ready"
	# One signal node after the other: two started at once on a fresh cluster may race to create
	# the application registry's bucket, and the loser exits (systemd's Restart= would retry it).
	for n in 1 2; do
		id="signal-$(printf '%b' "\\x$(printf %x $((96 + n)))")"
		POTOK_NATS_PASSWORD="$SIGNAL_PASSWORD" start "$id" "$potok" signal --signal-node-id "$id" --nats-user signal \
			"${common[@]}" --max-sessions-per-ip 0 --ws-listen "127.0.0.1:$(sig_ws_port $n)" --http-listen "127.0.0.1:$(sig_http_port $n)"
		wait_http "$id" "http://127.0.0.1:$(sig_http_port $n)/ready"
	done

	# nginx with the shipped potok.conf; only its site part (potok.d/) is written here.
	cat >"$dir/nginx/potok.d/upstreams.conf" <<EOF
upstream potok_ws {
    least_conn;
    server 127.0.0.1:$(sig_ws_port 1) max_fails=2 fail_timeout=10s;
    server 127.0.0.1:$(sig_ws_port 2) max_fails=2 fail_timeout=10s;
}
upstream potok_rest {
    server 127.0.0.1:$(sig_http_port 1) max_fails=2 fail_timeout=10s;
    server 127.0.0.1:$(sig_http_port 2) max_fails=2 fail_timeout=10s;
    keepalive 16;
}
EOF
	echo "listen 127.0.0.1:$lb_ws_port;" >"$dir/nginx/potok.d/listen-ws.conf"
	echo "listen 127.0.0.1:$lb_http_port;" >"$dir/nginx/potok.d/listen-http.conf"
	cat >"$dir/nginx/nginx.conf" <<EOF
worker_processes 1;
worker_shutdown_timeout 5s;
pid nginx.pid;
error_log stderr notice;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    include $deploy/nginx/potok.conf;
}
EOF
	start nginx "$nginx" -p "$dir/nginx/" -c "$dir/nginx/nginx.conf" -e stderr -g 'daemon off;'
	wait_http nginx "http://127.0.0.1:$lb_http_port/ready"

	log "up in $dir"
	log "  WebSocket (WebSDK urlServer): ws://127.0.0.1:$lb_ws_port   (signal-a ws://127.0.0.1:$(sig_ws_port 1), signal-b ws://127.0.0.1:$(sig_ws_port 2))"
	log "  REST API: http://127.0.0.1:$lb_http_port/rest-api/   stats: http://127.0.0.1:$lb_http_port/?action=stat"
	log "  NATS: $urls (users signal and mediad, passwords in $dir/nats.env)"
	log "  logs: $dir/logs/   stop: $0 down $dir"
}

# stop NAME: SIGTERM, then SIGKILL after 20 s.
stop() {
	local name="$1" f="$dir/pids/$1.pid" pid i
	[ -f "$f" ] || return 0
	pid="$(cat "$f")"
	if kill -TERM "$pid" 2>/dev/null; then
		for i in $(seq 200); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$name did not stop in 20 s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$f"
}

down() {
	[ -d "$dir/pids" ] || die "$dir: nothing started there"
	local name
	stop nginx
	for name in signal-a signal-b mediad-a mediad-b; do stop "$name" & done
	wait
	for name in nats-n1 nats-n2 nats-n3; do stop "$name" & done
	wait
	log "down ($dir)"
}

status() {
	[ -d "$dir/pids" ] || die "$dir: nothing started there"
	local f name
	for f in "$dir"/pids/*.pid; do
		[ -e "$f" ] || continue
		name="$(basename "$f" .pid)"
		if kill -0 "$(cat "$f")" 2>/dev/null; then echo "$name running (pid $(cat "$f"))"; else echo "$name exited"; fi
	done
}

case "$cmd" in
up) up ;;
down) down ;;
status) status ;;
*) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
