#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec-reload.sh -- what a one-domain reload of a signed policy costs mailnsd: the
# instructions of every thread (valgrind --tool=callgrind), counted from after the
# start-up and its follow-up reloads (the key directories watched anew) have settled,
# over REPS edits of one domain's DMARC rua (its included file renamed over it, then
# SIGHUP, the new answer awaited, a settling pause), per reload and for the functions of
# the key-directory state (sign_keys_state, the compile cache's reuse check, keydirs,
# lstat) and of the watch plan; then the same REPS edits without valgrind: CPU seconds
# of the process a change (user + system, /proc/PID/stat).  For each mailnsd given.
# Usage: bench/dnssec-reload.sh BUILDDIR N [MAILNSD...]   (env: REPS=5, DATA=DIR)
#   The signed data is bench/dnssec.sh start's (DATA=DIR, made there when absent: the
#   first signed start of N domains takes minutes); MAILNSD defaults to BUILDDIR's.
# Needs python3 and valgrind.  Loopback only; mailnsd is stopped by its PID.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
B=$1 N=$2
shift 2
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=("$B/server/mailnsd")
REPS=${REPS:-5}
DATA=${DATA:-/tmp/mailns-bench-dnssec-reload-$N}
if [ ! -f "$DATA/s/signed" ]; then
	DATA=$DATA bash "$top/bench/dnssec.sh" start "$B" "$N" || exit 1
fi
dir=$DATA/s
ch=$((N / 2))
f=$(grep -l "^  d$ch.example:" "$dir"/domains.d/*.yaml)
pid=""
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; wait 2>/dev/null' EXIT
# settle: until the log is still for 3 s with every reload ended (at most 6 min)
settle() {
	local i n last=-1
	for i in $(seq 1 120); do
		n=$(wc -c <"$dir/dr-mailnsd.log")
		[ "$n" = "$last" ] && [ "$(grep -c 'reloading /' "$dir/dr-mailnsd.log")" -le \
			"$(grep -cE 'reloaded: |reload failed' "$dir/dr-mailnsd.log")" ] && return
		last=$n
		sleep 3
	done
}
# start BIN [valgrind...]: mailnsd on a free port, answering, its reloads settled, then one
# SIGHUP reload with nothing changed (the first with every key directory watched: each is
# looked at once) settled too
start() {
	local bin=$1 i r0
	shift
	port=$(( 30000 + RANDOM % 20000 ))
	sed -i "s|^  listen: .*|  listen: [\"127.0.0.1:$port\"]|" "$dir/policy.yaml"
	"$@" "$bin" -f -c "$dir/policy.yaml" >"$dir/dr-mailnsd.log" 2>&1 &
	pid=$!
	python3 "$top/bench/wait-answer.py" "$port" "_dmarc.d$((N - 1)).example" DMARC1 3600 "$pid" ||
		{ echo "dnssec-reload.sh: no answer"; exit 1; }
	settle
	r0=$(grep -c 'notice: reloaded' "$dir/dr-mailnsd.log")
	kill -HUP "$pid"
	for i in $(seq 1 600); do
		[ "$(grep -c 'notice: reloaded' "$dir/dr-mailnsd.log")" -gt "$r0" ] && break
		sleep 0.5
	done
	settle
}
edits() {
	local i tag
	for i in $(seq 1 "$REPS"); do
		sed "s|rua: \[\"mailto:[a-z0-9]*@d$ch.example\"\]|rua: [\"mailto:r$i$RANDOM@d$ch.example\"]|" "$f" >"$f.new"
		tag=$(grep -o "mailto:r$i[0-9]*@d$ch.example" "$f.new" | head -1)
		python3 "$top/bench/reload-poll.py" "$port" "_dmarc.d$ch.example" "${tag%@*}@" 300 "$f.new" "$f" hup "$pid" >/dev/null
		sleep 2
	done
}
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/"$pid"/stat; }
echo "bench/dnssec-reload.sh: $N signed domains, $REPS one-domain reloads, $(nproc) cores, $(uptime | sed 's/.*load/load/')"
for bin in "${bins[@]}"; do
	rm -f "$dir"/dr.cg.*
	start "$bin" valgrind --tool=callgrind --callgrind-out-file="$dir/dr.cg.%p"
	callgrind_control -z "$pid" >/dev/null
	r0=$(grep -c 'notice: reloaded' "$dir/dr-mailnsd.log")
	edits
	reloads=$(( $(grep -c 'notice: reloaded' "$dir/dr-mailnsd.log") - r0 ))
	callgrind_control -d "$pid" >/dev/null
	kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=""
	cg=$(ls -S "$dir"/dr.cg.* | head -1)
	callgrind_annotate --inclusive=yes "$cg" 2>/dev/null | awk -v r="$reloads" -v b="$bin" '
		/PROGRAM TOTALS/ { gsub(/,/, "", $1); printf "%s: %d reloads, %.1f Minstr a reload\n", b, r, $1 / r / 1e6 }
		/:(sign_keys_state|sign_keys_unchanged|reusable|srv_watch_plan|srv_watch_apply|keydirs_[a-z]*|dir_state) / ||
		/ lstat / || /lstat64 / {
			gsub(/,/, "", $1); n = $0; sub(/ \[.*$/, "", n); sub(/^.*:/, "", n)
			if (!(n in seen)) { seen[n] = 1; printf "  %-28s %8.2f Minstr a reload\n", n, $1 / r / 1e6 } }'
	start "$bin"
	c0=$(ticks)
	edits
	c1=$(ticks)
	kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=""
	awk -v c0="$c0" -v c1="$c1" -v r="$REPS" -v hz="$(getconf CLK_TCK)" -v b="$bin" \
		'BEGIN { printf "%s: %.3f CPU s a change (no valgrind)\n", b, (c1 - c0) / hz / r }'
done
echo "after: $(uptime | sed 's/.*load/load/')"
