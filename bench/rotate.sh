#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# rotate.sh -- `mailns keys rotate` over many domains: the time of a run when
# nothing is due (goal: under 1 s for 10,000 domains), of the first run
# (a key generated for every domain), of the activation run (each key
# confirmed over DNS against a running mailnsd on loopback, default rate limit
# on: one TCP connection), and the time per
# key generated (Ed25519 over all domains; RSA-2048 over R domains, default 20,
# first with --jobs 1, then with --jobs 2 and the default, every CPU).
# Usage: bench/rotate.sh [N] [R]   (from the build dir, or with top_builddir set)
set -u
N=${1:-10000}
R=${2:-20}
B=${top_builddir:-.}
MAILNS="$B/tools/mailns"
MAILNSD="$B/server/mailnsd"
[ -x "$MAILNS" ] && [ -x "$MAILNSD" ] || { echo "run from the build dir (tools/mailns, server/mailnsd)" >&2; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/mailns-bench-rotate.XXXXXX")
PID=""
trap '[ -n "$PID" ] && kill -TERM $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
PORT=$(( 20000 + (RANDOM + $$) % 40000 ))
policy() { # policy FILE N ALGORITHM STATE
	{
		printf 'version: 1\nserver:\n  listen: ["127.0.0.1:%s"]\n' "$PORT"
		printf '  nameservers: [ns1.example.net.]\n  hostmaster: hostmaster.example.net.\n'
		printf '  user: root\n'	# the default rate limit: confirmations go over TCP, never limited
		printf '  state_dir: %s\n' "$4"
		printf 'defaults:\n  dkim: { algorithm: %s, rotate_every: 90d, publish_ahead: 3d }\n' "$3"
		printf 'domains:\n'
		awk -v n="$2" 'BEGIN { for (i = 1; i <= n; i++) printf "  d%d.example:\n    dmarc: { p: none }\n", i }'
	} > "$1"
}
secs() { # secs CMD...: wall seconds of CMD in t, 3 decimals; its exit status in RC
	local a b
	a=$(date +%s.%N)
	"$@" > "$T/out" 2>&1
	RC=$?
	b=$(date +%s.%N)
	t=$(echo "$a $b" | awk '{ printf "%.3f", $2 - $1 }')
}
NOW=$(date -u -d 2030-01-01T00:00:00Z +%s)
policy "$T/p.yaml" "$N" ed25519 "$T/state"
echo "mailns keys rotate over $N domains (ed25519, one key each)"
secs "$MAILNS" keys rotate -c "$T/p.yaml" --now "@$NOW"
echo "  first run, $N keys generated and written:  ${t} s  ($(echo "$t $N" | awk '{ printf "%.3f", $1 * 1000 / $2 }') ms per key, exit $RC)"
"$MAILNSD" -f -c "$T/p.yaml" > "$T/mailnsd.log" 2>&1 &
PID=$!
for i in $(seq 1 300); do
	kdig @127.0.0.1 -p "$PORT" +time=1 +retry=0 +short SOA "_domainkey.d$N.example" 2>/dev/null | grep -q . && break
	sleep 0.1
done
secs "$MAILNS" keys rotate -c "$T/p.yaml" --now "@$((NOW + 3600))"
echo "  activation run, $N keys confirmed over DNS: ${t} s  (exit $RC, $(grep -c '	activate$' "$T/out") activated)"
best=""
for r in 1 2 3; do
	secs "$MAILNS" keys rotate -c "$T/p.yaml" --now "@$((NOW + 7200 + r))"
	[ "$RC" -eq 0 ] && [ ! -s "$T/out" ] || echo "  (run $r: exit $RC, output: $(head -c 200 "$T/out"))"
	echo "  nothing due, run $r:                         ${t} s"
	if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; fi
done
echo "  nothing due, best of 3: ${best} s (goal < 1 s): $(echo "$best" | awk '{ print ($1 < 1) ? "met" : "NOT met" }')"
secs "$MAILNS" keys list -c "$T/p.yaml" --now "@$((NOW + 7200))"
echo "  keys list ($(wc -l < "$T/out") keys):                  ${t} s"
kill -TERM $PID; wait $PID 2>/dev/null; PID=""

for jobs in 1 2 default; do
	rm -rf "$T/state-rsa"
	policy "$T/r.yaml" "$R" rsa-2048 "$T/state-rsa"
	j=(); [ "$jobs" = default ] || j=(--jobs "$jobs")
	# the CPU used beside the wall time: on a machine others load, the wall time
	# shows only the share the scheduler gave
	cpu=""
	if [ -x /usr/bin/time ]; then
		secs /usr/bin/time -f "cpu %U %S %P" -o "$T/cpu" "$MAILNS" keys rotate -c "$T/r.yaml" --now "@$NOW" "${j[@]}"
		cpu=$(awk '{ printf ", %.1f s CPU (%s of a CPU)", $2 + $3, $4 }' "$T/cpu")
	else
		secs "$MAILNS" keys rotate -c "$T/r.yaml" --now "@$NOW" "${j[@]}"
	fi
	echo "rsa-2048, --jobs $jobs: $R keys generated in ${t} s$cpu: $(echo "$t $R" | awk '{ printf "%.1f", $1 * 1000 / $2 }') ms per key (exit $RC, $(grep -c '	generate$' "$T/out") generated)"
done
