#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec.sh -- time `mailns zone` for N domains (default 2000) with dnssec on: the
# first run (every key made, every RRset signed), a second run (every signature
# reused from state_dir) and a run 8 days later (every signature made anew, keys
# kept); prints signatures per second of the first and last runs.
# Usage: bench/dnssec.sh [BUILDDIR] [N] [ALGORITHM]     No network, no daemon.
set -u
B=${1:-.}
N=${2:-2000}
ALG=${3:-ecdsap256sha256}
MAILNS="$B/tools/mailns"
[ -x "$MAILNS" ] || { echo "no $MAILNS (give the build dir)"; exit 2; }
TMP=$(mktemp -d /tmp/mailns-bench-dnssec.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
{
	printf 'version: 1\nserver:\n  nameservers: [ns1.example.net]\n  hostmaster: h.example.net\n'
	printf '  state_dir: %s/state\n  dnssec: { algorithm: %s }\ndomains:\n' "$TMP" "$ALG"
	for i in $(seq 1 "$N"); do
		printf '  d%d.example:\n    spf: { mode: macro, ip4: [192.0.2.0/24] }\n    dmarc: { p: reject }\n' "$i"
	done
} >"$TMP/policy.yaml"
run() { # run LABEL [MAILNS_NOW]
	local t0 t1 n
	t0=$(date +%s.%N)
	MAILNS_NOW=${2:-} "$MAILNS" zone -c "$TMP/policy.yaml" >"$TMP/out.zone" || { echo "mailns zone failed"; exit 1; }
	t1=$(date +%s.%N)
	n=$(grep -c 'IN	RRSIG' "$TMP/out.zone")
	printf '%-34s %6.2f s  %d RRSIGs in %d zones\n' "$1" "$(echo "$t1 - $t0" | bc)" "$n" \
		"$(grep -c 'IN	SOA' "$TMP/out.zone")"
}
run "first (keys made, all signed)"
run "second (all signatures reused)"
run "8 days later (all signed anew)" "@$(($(date +%s) + 8 * 86400))"
