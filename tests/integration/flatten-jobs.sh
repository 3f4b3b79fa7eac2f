#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# flatten-jobs.sh -- `mailns flatten` with several lookups in flight (--jobs 8)
# against a slow stand-in resolver on loopback (slowres.py: 20 ms an answer,
# constant TTLs, one thread per query): 30 domains, each with its own include
# two levels deep (include:, a: with A and AAAA) and one shared include, and a
# domain whose include gets SERVFAIL.  The SPF cache files, stdout, stderr and
# exit status are those of the one-at-a-time run (--jobs 1) byte for byte, each
# (name, type) is asked once in both, the resolver saw more than one and at
# most 8 queries in flight; under a pty (script) the progress line is
# well-formed and reaches its total; with stderr not a terminal, nothing.
. "${top_srcdir:?}/tests/tap/tap.sh"
/usr/bin/python3 -c 'import dns.message' 2>/dev/null || skip_all "python3-dnspython is not installed"
command -v script >/dev/null || skip_all "script (util-linux) is not installed"
mn_tmpdir
RES_PID=""
stop_res() {
	[ -n "$RES_PID" ] && { kill -TERM "$RES_PID" 2>/dev/null; wait "$RES_PID" 2>/dev/null; }
	mn_cleanup
}
trap stop_res EXIT
N=30
{
	for k in $(seq 1 $N); do
		printf 'i%d.prov.test TXT 3600 "v=spf1 ip4:10.%d.0.0/16 include:j%d.prov.test a:h%d.prov.test -all"\n' $k $k $k $k
		printf 'j%d.prov.test TXT 3600 "v=spf1 ip4:172.16.%d.0/24 -all"\n' $k $k
		printf 'h%d.prov.test A 600 192.0.2.%d\nh%d.prov.test AAAA 600 2001:db8::%x\n' $k $k $k $k
	done
	printf 'shared.prov.test TXT 300 "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:ff::/48 -all"\n'
} > "$TMP/table"
PORT=$(mn_free_port)
/usr/bin/python3 "$top_srcdir/tests/integration/slowres.py" "$PORT" "$TMP/table" 20 "$TMP/stats" 2> "$TMP/slowres.err" &
RES_PID=$!
for i in $(seq 1 50); do
	kdig @127.0.0.1 -p "$PORT" +time=1 +retry=0 +short shared.prov.test TXT 2>/dev/null | grep -q spf1 && break
	sleep 0.1
done
ok "$(kdig @127.0.0.1 -p "$PORT" +time=1 +retry=0 +short shared.prov.test TXT 2>/dev/null | grep -q spf1; echo $?)" \
	"the stand-in resolver answers on port $PORT"
policy() { # policy NAME: $TMP/NAME.yaml with state_dir $TMP/NAME
	{
		printf 'version: 1\nserver:\n  listen: ["127.0.0.1:53"]\n  nameservers: [ns1.example.net.]\n'
		printf '  hostmaster: hostmaster.example.net.\n  user: root\n  state_dir: %s\ndomains:\n' "$TMP/$1"
		for k in $(seq 1 $N); do
			printf '  d%d.example:\n    spf: { mode: flatten, include: [i%d.prov.test, shared.prov.test], all: fail }\n' $k $k
		done
		printf '  bad.example:\n    spf: { mode: flatten, include: [fail.prov.test], all: fail }\n'
	} > "$TMP/$1.yaml"
}
queries() { awk '{ print $2 }' "$TMP/stats"; }
reset() { # the most in flight counted anew from now (bounded: 5 s)
	local i
	rm -f "$TMP/stats"
	kill -HUP "$RES_PID"
	for i in $(seq 1 50); do [ -s "$TMP/stats" ] && return 0; sleep 0.1; done
	return 1
}
inflight() { awk '{ print $4 }' "$TMP/stats"; }
export MAILNS_NOW=2030-01-01T00:00:00Z
for s in one eight tty quiet; do policy $s; done

reset
q0=$(queries)
"$MAILNS" flatten -c "$TMP/one.yaml" --resolver "127.0.0.1:$PORT" --jobs 1 > "$TMP/one.out" 2> "$TMP/one.err"
rc1=$?
q1=$(( $(queries) - q0 ))
is "$rc1" 3 "--jobs 1: exit 3 (bad.example's include failed)"
is "$(inflight)" 1 "--jobs 1: one query in flight at a time"
is "$(ls "$TMP/one/spf" | wc -l)" $N "--jobs 1: $N cache files"
reset
"$MAILNS" flatten -c "$TMP/eight.yaml" --resolver "127.0.0.1:$PORT" --jobs 8 > "$TMP/eight.out" 2> "$TMP/eight.err"
rc8=$?
q8=$(( $(queries) - q0 - q1 ))
is "$rc8" "$rc1" "--jobs 8: the same exit status"
check "--jobs 8: the same SPF cache files, byte for byte" -- diff -r "$TMP/one/spf" "$TMP/eight/spf"
check "the same stdout (what changed per domain)" -- cmp -s "$TMP/one.out" "$TMP/eight.out"
sed "s|$TMP/one|STATE|g" "$TMP/one.err" > "$TMP/one.err.s"
sed "s|$TMP/eight|STATE|g" "$TMP/eight.err" > "$TMP/eight.err.s"
check "the same stderr (the failed resolution named)" -- cmp -s "$TMP/one.err.s" "$TMP/eight.err.s"
ok "$(grep -q 'bad.example: resolution failed, keeping the last good set (fail.prov.test: TXT lookup failed)' "$TMP/eight.err"; echo $?)" \
	"bad.example's failure is the one on stderr" || diag "$(cat "$TMP/eight.err")"
is "$q8" "$q1" "each (name, type) asked once in both runs ($q1 queries)"
m=$(inflight)
ok "$([ "$m" -ge 2 ] && [ "$m" -le 8 ]; echo $?)" "--jobs 8: several queries in flight, at most 8 ($m)"
is "$(grep -c 'flatten: \|'$'\r' "$TMP/eight.err")" 0 "stderr not a terminal: no progress line"

# under a pseudo-terminal
script -qec "'$MAILNS' flatten -c '$TMP/tty.yaml' --resolver 127.0.0.1:$PORT --jobs 8" /dev/null > "$TMP/tty.raw" < /dev/null
is "$?" 3 "flatten on a terminal: exit 3 as well"
tr '\r' '\n' < "$TMP/tty.raw" | grep -a 'flatten: [0-9]' > "$TMP/tty.lines"
T=$(( N + 1 + q1 ))
ok "$(grep -qaE "^flatten: $T/$T \(100\.0%\), [0-9]+\.[0-9]/s, 0s left *$" "$TMP/tty.lines"; echo $?)" \
	"the line reaches $T/$T (31 domains and $q1 lookups)" || diag "$(cat -A "$TMP/tty.raw" | head -c 2000)"
bad=$(grep -avxE "flatten: [0-9]+/[0-9]+ \([0-9]+\.[0-9]%\)(, [0-9]+\.[0-9]/s, ([0-9]+h[0-9]{2}m|[0-9]+m[0-9]{2}s|[0-9]+s) left)? *" "$TMP/tty.lines")
is "$bad" "" "every progress line is well-formed"
is "$(tr '\r' '\n' < "$TMP/tty.raw" | grep -a '^d[0-9]*\.example: ' | wc -l)" $N "every domain's change line reaches the terminal"
is "$(tr '\r' '\n' < "$TMP/tty.raw" | grep -a 'example: ' | grep -avcE '^(d[0-9]+\.example: \+|mailns: bad\.example: resolution failed)')" 0 \
	"no output line has the progress line mixed into it"
check "the same SPF cache files as without a terminal" -- diff -r "$TMP/one/spf" "$TMP/tty/spf"
script -qec "'$MAILNS' flatten -c '$TMP/quiet.yaml' --resolver 127.0.0.1:$PORT -q" /dev/null > "$TMP/quiet.raw" < /dev/null
is "$(grep -ac 'flatten: [0-9]' "$TMP/quiet.raw")" 0 "--quiet: no progress line"
"$MAILNS" flatten -c "$TMP/one.yaml" --resolver "127.0.0.1:$PORT" --jobs 65 > /dev/null 2> "$TMP/err"
is "$?" 2 "--jobs 65 is a usage error"
is "$(head -1 "$TMP/err")" "mailns: bad --jobs '65' (1 to 64)" "it says why"
done_testing
