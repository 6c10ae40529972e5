#!/usr/bin/env bash
# deps.sh installs what Potok's tests need beyond Go modules, and nothing when it is already there:
#   - Debian packages: chromium (browser end-to-end tests in e2e/, driven by chromedp), ffmpeg (test
#     media and decoding checks), nats-server (the separate-process tests against an external NATS)
#     and nginx (the load-balanced deployment test runs deploy/nginx in front of the signal nodes,
#     as its own unprivileged foreground process: the system's nginx service is never started) and
#     prometheus (promtool checks /metrics and dashboards/rules.yml; the dashboards test scrapes a live
#     cluster with it, as its own foreground process), and the SIP fixtures of testkit/sipfix:
#     kamailio (registrar and proxy), sip-tester (sipp, the test phones), baresip (a phone with real
#     audio), sipsak and sipvicious (malformed SIP and scans), each run by the tests themselves;
#   - npm packages of e2e/ (the official Flashphoner WebSDK, mocha, chai) from the committed lockfile,
#     and of dashboards/schema/ (Grafana's published dashboard types and TypeScript, to check the
#     dashboards offline) from its own.
# It never downloads a browser build of its own: Chromium comes from Debian (docs/protocol.md §P.9).
# Usage: scripts/deps.sh   (root, or sudo available, for apt-get)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
e2e="$root/e2e"

log() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: ERROR: %s\n' "$*" >&2; exit 1; }

installed() { # installed PKG: true when dpkg says the package is fully installed
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

apt_packages() {
	local missing=() p
	for p in chromium ffmpeg nats-server nginx prometheus kamailio sip-tester baresip sipsak sipvicious; do
		if installed "$p"; then
			log "apt: $p already installed"
		else
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0

	command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || die "need root (or sudo) to install ${missing[*]}"
		sudo=(sudo)
	fi
	log "apt: installing ${missing[*]}"
	# Wait for a dpkg lock held by another apt run instead of failing at once.
	local wait=(-o DPkg::Lock::Timeout=300)
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${wait[@]}" update -qq ||
		die "apt-get update failed"
	# The tests run nginx, nats-server, prometheus and kamailio themselves: keep apt from starting them as services (on
	# their default ports) where the image has no policy-rc.d of its own saying so.
	local policy=/usr/sbin/policy-rc.d added=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# scripts/deps.sh: no service starts while it installs\nexit 101\n' |
			"${sudo[@]}" tee "$policy" >/dev/null && "${sudo[@]}" chmod 755 "$policy" && added=1
	fi
	local rc=0
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${wait[@]}" install -y -qq --no-install-recommends \
		"${missing[@]}" || rc=$?
	[ -z "$added" ] || "${sudo[@]}" rm -f "$policy"
	[ "$rc" -eq 0 ] || die "apt-get install ${missing[*]} failed"
	for p in "${missing[@]}"; do
		installed "$p" || die "apt: $p still not installed after apt-get install"
	done
	log "apt: installed ${missing[*]}"
}

npm_packages() {
	[ -f "$e2e/package-lock.json" ] || die "$e2e/package-lock.json missing"
	local mod="$e2e/node_modules"
	# npm ci writes node_modules/.package-lock.json last; its absence means an earlier install was cut short.
	if [ -f "$mod/.package-lock.json" ] && [ ! "$e2e/package-lock.json" -nt "$mod/.package-lock.json" ]; then
		log "npm: e2e/node_modules up to date"
		return 0
	fi
	command -v npm >/dev/null || die "npm not found (Node.js and npm are needed for e2e/)"
	log "npm: npm ci --prefix e2e"
	npm ci --prefix "$e2e" --no-audit --no-fund --loglevel=error ||
		die "npm ci --prefix e2e failed"
	[ -f "$mod/@flashphoner/websdk/flashphoner.js" ] || die "npm: @flashphoner/websdk not installed"
	touch "$mod/.package-lock.json" # mark as newer than the lockfile even if npm kept old mtimes
	log "npm: installed e2e/node_modules"
}

# dashboard_schema: dashboards/schema/node_modules from its lockfile, as npm_packages does for e2e/.
dashboard_schema() {
	local dir="$root/dashboards/schema" mod="$root/dashboards/schema/node_modules"
	[ -f "$dir/package-lock.json" ] || die "$dir/package-lock.json missing"
	if [ -f "$mod/.package-lock.json" ] && [ ! "$dir/package-lock.json" -nt "$mod/.package-lock.json" ]; then
		log "npm: dashboards/schema/node_modules up to date"
		return 0
	fi
	command -v npm >/dev/null || die "npm not found (Node.js and npm check the dashboards)"
	log "npm: npm ci --prefix dashboards/schema"
	npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error ||
		die "npm ci --prefix dashboards/schema failed"
	[ -f "$mod/@grafana/schema/package.json" ] || die "npm: @grafana/schema not installed"
	touch "$mod/.package-lock.json"
	log "npm: installed dashboards/schema/node_modules"
}

apt_packages
npm_packages
dashboard_schema
log "ok"
