#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# rotate.sh -- `mailns keys rotate` from a cron-like loop against a running
# mailnsd: --now moves in 12-hour steps through two full rotations of three
# domains (rsa-2048, ed25519, dual rsa-2048 + ed25519; rotate_every 10d,
# publish_ahead 1d, retire_after 2d, revoked_for 3d).  After every run:
# phases (`keys list`), private keys (0600, present exactly for unrevoked
# keys), signer tables (exactly the active keys), served records (kdig) and
# SOA serials (up when the zone changed: a key generated, revoked or removed;
# same otherwise: activating and retiring do not change what is served).  Then mailnsd is
# stopped: a pending key due for activation stays pending, exit 3.  Last, 1200
# keys confirmed at once with the default rate limit on: over TCP, one
# connection, not slowed down by the limit (as UDP from one address would be).
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v kdig >/dev/null || skip_all "kdig is not installed"
mn_tmpdir
MN_PROBE="_domainkey.rsa.example"
DOMS="dual.example ed.example rsa.example"
S="$TMP/state"
mkdir -p "$S"
mn_start "$top_srcdir/tests/integration/rotate.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd serves on port $MN_PORT"
P="$TMP/policy.yaml"

served() { # served DOMAIN SELECTOR: the TXT record served, strings joined
	mn_dig +short "$2._domainkey.$1" TXT 2>/dev/null | sed 's/" "//g; s/"//g'
}
serial() { mn_dig +short "_domainkey.$1" SOA 2>/dev/null | awk '{print $3}'; }
# expected DOMAIN: "SELECTOR RECORD" lines of the published state
expected() { grep -v '^#' "$S/keys/$1/published" 2>/dev/null | awk 'NF { s=$1; $1=""; $2=""; sub(/^  /, ""); print s " " $0 }'; }
# wait_served DOMAIN: every published record is served (bounded: 10 s)
wait_served() {
	local i sel rec all
	for i in $(seq 1 100); do
		all=0
		while read -r sel rec; do
			[ -n "$sel" ] || continue
			[ "$(served "$1" "$sel")" = "$rec" ] || { all=1; break; }
		done < <(expected "$1")
		[ $all -eq 0 ] && return 0
		sleep 0.1
	done
	return 1
}

NOW=$(date -u -d 2030-01-01T00:00:00Z +%s)
declare -A SER
for d in $DOMS; do SER[$d]=$(serial "$d"); done
ALL_OUT="$TMP/all.out"
: > "$ALL_OUT"
bad_served=0 bad_files=0 bad_tables=0 bad_serial=0 bad_phase=0 bad_rc=0 runs=0
LIST="$TMP/list"

check_state() { # after a run: files, tables, phases
	local d sel alg ph rest f mode
	"$MAILNS" keys list -c "$P" --now "@$NOW" > "$LIST" || bad_phase=$((bad_phase + 1))
	# exactly one active key per algorithm once a domain has been confirmed
	for d in $DOMS; do
		for alg in rsa-2048 ed25519; do
			n=$(awk -F'\t' -v d="$d" -v a="$alg" '$1 == d && $3 == a && $4 == "active"' "$LIST" | wc -l)
			[ "$n" -le 1 ] || { diag "$d: $n active $alg keys"; bad_phase=$((bad_phase + 1)); }
		done
	done
	# private keys: 0600 for every unrevoked key, none for revoked ones
	while IFS=$'\t' read -r d sel alg ph rest; do
		f="$S/keys/$d/$sel.pem"
		if [ "$ph" = revoked ]; then
			[ ! -e "$f" ] || { diag "$f: revoked but present"; bad_files=$((bad_files + 1)); }
		else
			mode=$(stat -c %a "$f" 2>/dev/null)
			[ "$mode" = 600 ] || { diag "$f: mode '$mode'"; bad_files=$((bad_files + 1)); }
		fi
	done < "$LIST"
	# tables: exactly the active keys
	local want got
	want=$(awk -F'\t' '$4 == "active" { print $2 "._domainkey." $1 " " $1 ":" $2 ":" S "/keys/" $1 "/" $2 ".pem" }' S="$S" "$LIST" | sort)
	got=$(sort "$S/opendkim/KeyTable")
	[ "$want" = "$got" ] || { diag "KeyTable: $got"; diag "want: $want"; bad_tables=$((bad_tables + 1)); }
	want=$(awk -F'\t' '$4 == "active" { print "*@" $1 " " $2 "._domainkey." $1 }' "$LIST" | sort)
	got=$(sort "$S/opendkim/SigningTable")
	[ "$want" = "$got" ] || { diag "SigningTable: $got"; bad_tables=$((bad_tables + 1)); }
}

# ---- 34 days, a run every 12 hours -----------------------------------------------
END=$((NOW + 34 * 86400))
while [ "$NOW" -le "$END" ]; do
	out=$("$MAILNS" keys rotate -c "$P" --now "@$NOW" 2>&1)
	rc=$?
	runs=$((runs + 1))
	echo "$out" >> "$ALL_OUT"
	# right after a generation the new key may not be served yet: 0; never 1
	[ $rc -eq 0 ] || { diag "run at @$NOW: rc $rc: $out"; bad_rc=$((bad_rc + 1)); }
	for d in $DOMS; do
		if printf '%s\n' "$out" | grep -qE "	$d	.*	(generate|revoke|remove)\$"; then
			# changed: the reload shows as a higher serial (bounded wait: 10 s)
			for i in $(seq 1 100); do
				s=$(serial "$d")
				[ -n "$s" ] && [ "$s" -gt "${SER[$d]:-0}" ] && break
				sleep 0.1
			done
			[ -n "$s" ] && [ "$s" -gt "${SER[$d]:-0}" ] || { diag "$d: serial $s not above ${SER[$d]}"; bad_serial=$((bad_serial + 1)); }
		fi
		wait_served "$d" || { diag "$d: not served after run at @$NOW"; bad_served=$((bad_served + 1)); }
		# a removed key is no longer served
		for sel in $(awk -F'\t' -v d="$d" '$2 == d && $5 == "remove" { print $3 }' <<< "$out"); do
			[ -z "$(served "$d" "$sel")" ] || { diag "$d: removed $sel still served"; bad_served=$((bad_served + 1)); }
		done
		s=$(serial "$d")
		if printf '%s\n' "$out" | grep -qE "	$d	.*	(generate|revoke|remove)\$"; then
			:
		else
			[ "$s" = "${SER[$d]}" ] || { diag "$d: serial $s changed from ${SER[$d]} without a change"; bad_serial=$((bad_serial + 1)); }
		fi
		SER[$d]=$s
	done
	check_state
	# a generated key has just been published: the next run (an hour later) confirms it
	if printf '%s\n' "$out" | grep -q '	generate$'; then
		NOW=$((NOW + 3600))
	else
		NOW=$((NOW + 43200))
	fi
done
diag "$runs runs"
is "$bad_rc" 0 "every run exits 0"
is "$bad_served" 0 "every published record served by mailnsd after each run, removed ones gone"
is "$bad_serial" 0 "SOA serials rise exactly when a domain's keys change"
is "$bad_files" 0 "private keys 0600 for unrevoked keys, destroyed for revoked ones"
is "$bad_tables" 0 "KeyTable and SigningTable name exactly the active keys"
is "$bad_phase" 0 "at most one active key per algorithm"
cnt() { awk -F'\t' -v d="$1" -v a="$2" -v o="$3" '$2 == d && $4 == a && $5 == o' "$ALL_OUT" | wc -l; }
for d in rsa.example:rsa-2048 ed.example:ed25519 dual.example:rsa-2048 dual.example:ed25519; do
	n=$(cnt "${d%%:*}" "${d#*:}" activate)
	ok $([ "$n" -ge 3 ]; echo $?) "${d%%:*} ${d#*:}: first key and at least two rotations activated ($n)"
	ok $([ "$(cnt "${d%%:*}" "${d#*:}" remove)" -ge 1 ]; echo $?) "${d%%:*} ${d#*:}: a key went through retired and revoked to removed"
done
# selectors: never reused, r/e letters on the dual domain
sels=$(awk -F'\t' '$5 == "generate" { print $2 " " $3 }' "$ALL_OUT")
is "$(echo "$sels" | sort | uniq -d)" "" "no selector generated twice"
is "$(echo "$sels" | awk '$1 == "dual.example" { print substr($2, 11) }' | sort -u | tr -d '\n')" "er" "dual.example: letters r (rsa) and e (ed25519)"
is "$(echo "$sels" | awk '$1 != "dual.example" { print substr($2, 11) }' | sort -u | tr -d '\n')" "a" "single-algorithm domains: letter a"
ok $([ -s "$TMP/on_change.log" ]; echo $?) "on_change ran"
is "$(wc -l < "$TMP/on_change.log")" "$(grep -c '^signer tables updated' "$ALL_OUT")" "on_change ran once per run that changed the tables"
is "$(awk '{print $1}' "$S/rspamd/dkim_selectors.map" | tr '\n' ' ')" "dual.example ed.example rsa.example " "rspamd selector map: one line per domain"
ok $(grep -q "^dual.example [^ ]*r$" "$S/rspamd/dkim_selectors.map"; echo $?) "rspamd map: the dual domain's RSA key"
is "$(stat -c %a "$S/keys/rsa.example")" 750 "key directory 0750 (the server group reads published)"

# revoked keys are served as p=: find one in the current state, if any
rev=$(awk -F'\t' '$4 == "revoked" { print $1 " " $2; exit }' "$LIST")
if [ -n "$rev" ]; then
	is "$(served ${rev% *} ${rev#* })" "v=DKIM1; p=" "revoked ${rev#* } served as p="
fi

"$MAILNS" keys list -c "$P" --now "@$NOW" --json > "$TMP/list.json"
check "keys list --json parses, same keys as the text list" -- \
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); n=sum(1 for l in open(sys.argv[2]) if l.strip()); sys.exit(0 if len(j)==n and all(set(x)=={"domain","selector","algorithm","phase","created","next_change"} for x in j) else 1)' "$TMP/list.json" "$LIST"

# ---- the server is down: a due pending key stays pending, exit 3 ------------------
mn_stop
i=0
rc=0
while [ $i -lt 40 ]; do
	out=$("$MAILNS" keys rotate -c "$P" --now "@$NOW" 2>&1)
	rc=$?
	[ $rc -ne 0 ] && break
	NOW=$((NOW + 43200))
	i=$((i + 1))
done
is "$rc" 3 "server stopped: the run exits 3"
ok $(echo "$out" | grep -q 'stays pending: not confirmed over DNS'; echo $?) "the run says which key stays pending"
pend=$(echo "$out" | sed -n 's/^\([^:]*\): \([^ ]*\) stays pending.*/\1 \2/p' | head -1)
is "$(awk -F'\t' -v d="${pend% *}" -v s="${pend#* }" '$1 == d && $2 == s { print $4 }' <("$MAILNS" keys list -c "$P" --now "@$NOW"))" pending "${pend#* } is still pending"
mn_start "$top_srcdir/tests/integration/rotate.tmpl" || ok 1 "mailnsd restarts"
wait_served "${pend% *}"
"$MAILNS" keys rotate -c "$P" --now "@$NOW" >/dev/null 2>&1
is "$?" 0 "server back: the run exits 0"
is "$(awk -F'\t' -v d="${pend% *}" -v s="${pend#* }" '$1 == d && $2 == s { print $4 }' <("$MAILNS" keys list -c "$P" --now "@$NOW"))" active "${pend#* } is active"

# ---- concurrent runs serialize on state_dir/keys/.lock ------------------------------
command -v flock >/dev/null && {
	flock "$S/keys/.lock" sleep 2 &
	FL=$!
	sleep 0.3
	a=$(date +%s%N)
	"$MAILNS" keys rotate -c "$P" --now "@$NOW" > /dev/null 2>&1
	rc=$?
	b=$(date +%s%N)
	wait $FL
	is "$rc" 0 "a run while another holds the lock completes"
	ok $([ $(( (b - a) / 1000000 )) -ge 1000 ]; echo $?) "after waiting for the lock ($(( (b - a) / 1000000 )) ms)"
}
# two runs at once when keys are due: each key generated once
NOW=$((NOW + 40 * 86400))
"$MAILNS" keys rotate -c "$P" --now "@$NOW" > "$TMP/c1.out" 2>&1 &
C1=$!
"$MAILNS" keys rotate -c "$P" --now "@$NOW" > "$TMP/c2.out" 2>&1
rc2=$?
wait $C1
rc1=$?
ok $([ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]; echo $?) "two concurrent runs exit 0 ($rc1, $rc2)"
is "$(cat "$TMP/c1.out" "$TMP/c2.out" | grep -c '	generate$')" 4 "4 keys due, 4 generated between them"
is "$("$MAILNS" keys list -c "$P" --now "@$NOW" | awk -F'\t' '$4 == "pending"' | wc -l)" 4 "4 pending keys"

# ---- 1200 keys confirmed at once, default rate limit (200/s per prefix) ---------------
# Over UDP from 127.0.0.1 (the old way) the limit drops a few of the queries and
# each drop waits for the 3 s retry: 11-14 s here; over one TCP connection, never
# limited, 0.1 s here with the state on tmpfs (when there is one: 2 fsyncs per key
# took up to 10 s on a loaded disk, whatever the transport).
mn_stop
ND=1200
SHM=$(mktemp -d /dev/shm/mailns-test.XXXXXX 2>/dev/null) || SHM="$TMP"
[ "$SHM" = "$TMP" ] || trap 'mn_cleanup; rm -rf "$SHM"' EXIT
MPORT=$(mn_free_port) || { ok 1 "a free port for metrics"; done_testing; exit 1; }
TM="$TMP/many.tmpl"
{
	printf 'version: 1\nserver:\n  listen: ["127.0.0.1:@PORT@"]\n  metrics: "127.0.0.1:%s"\n' "$MPORT"
	printf '  nameservers: [ns1.example.net.]\n  hostmaster: hostmaster.example.net.\n'
	printf '  user: root\n  state_dir: %s/state-many\n' "$SHM"	# no rate_limit: the default
	printf 'defaults:\n  dkim: { algorithm: ed25519, rotate_every: 90d, publish_ahead: 1d }\n'
	printf 'domains:\n'
	awk -v n="$ND" 'BEGIN { for (i = 1; i <= n; i++) printf "  d%d.example:\n    dmarc: { p: none }\n", i }'
} > "$TM"
# the keys are generated before mailnsd starts (that run asks no server: any port)
sed -e "s|@PORT@|1|g" -e "s|@TMP@|$TMP|g" "$TM" > "$TMP/many.yaml"
mkdir -p "$SHM/state-many"
NOW=$(date -u -d 2030-01-01T00:00:00Z +%s)
"$MAILNS" keys rotate -c "$TMP/many.yaml" --now "@$NOW" > "$TMP/m1.out" 2>&1
is "$?/$(grep -c '	generate$' "$TMP/m1.out")" "0/$ND" "$ND domains: a key generated for each"
MN_PROBE="_domainkey.d$ND.example"
mn_start "$TM" || { ok 1 "mailnsd serves $ND domains"; done_testing; exit 1; }
ok 0 "mailnsd serves $ND domains, rate limit on by default, metrics on port $MPORT"
metric() { curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
tcp0=$(metric 'mailns_queries_total{transport="tcp"}')
udp0=$(metric 'mailns_queries_total{transport="udp"}')
rl() { curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" | awk '$1 ~ /^mailns_ratelimited_total/ { n += $2 } END { print n + 0 }'; }
rl0=$(rl)
conns() { ss -Htan "( dport = :$MN_PORT )" 2>/dev/null | wc -l; }	# client ends, TIME_WAIT too
c0=$(conns)
a=$(date +%s%N)
"$MAILNS" keys rotate -c "$P" --now "@$((NOW + 3600))" > "$TMP/m2.out" 2>&1
rc=$?
b=$(date +%s%N)
ms=$(( (b - a) / 1000000 ))
diag "$ND keys confirmed in $ms ms (a figure, not a test: bench/rotate.sh measures it)"
is "$rc/$(grep -c '	activate$' "$TMP/m2.out")" "0/$ND" "every key confirmed and activated in one run"
is "$(( $(rl) - rl0 ))" 0 "no response rate-limited"
tcp1=$(metric 'mailns_queries_total{transport="tcp"}')
udp1=$(metric 'mailns_queries_total{transport="udp"}')
ok $([ -n "$tcp1" ] && [ $((tcp1 - tcp0)) -ge $ND ]; echo $?) "the $ND confirmation queries came over TCP ($((tcp1 - tcp0)))"
ok $([ -n "$udp1" ] && [ $((udp1 - udp0)) -lt 10 ]; echo $?) "none over UDP ($((udp1 - udp0)))"
c1=$(conns)
ok $([ $((c1 - c0)) -ge 1 ] && [ $((c1 - c0)) -le 2 ]; echo $?) "over one connection, not one per query ($((c1 - c0)))"

# ---- a server that closes the connection: the run reconnects and goes on -----------
# A secondary (server.transfer.notify) behind a relay that closes the client's
# connection after every 50 answers, as a server's idle timeout or its own limit
# would: 300 keys are confirmed over 6 connections to it.
mn_stop
command -v python3 >/dev/null || { done_testing; exit $?; }
ND=300
PPORT=$(mn_free_port "$MPORT") || { ok 1 "a free port for the relay"; done_testing; exit 1; }
TR="$TMP/closing.tmpl"
{
	printf 'version: 1\nserver:\n  listen: ["127.0.0.1:@PORT@"]\n'
	printf '  nameservers: [ns1.example.net.]\n  hostmaster: hostmaster.example.net.\n'
	printf '  user: root\n  state_dir: @TMP@/state-closing\n'
	printf '  transfer: { notify: ["127.0.0.1:%s"] }\n' "$PPORT"
	printf 'defaults:\n  dkim: { algorithm: ed25519, rotate_every: 90d, publish_ahead: 1d }\n'
	printf 'domains:\n'
	awk -v n="$ND" 'BEGIN { for (i = 1; i <= n; i++) printf "  d%d.example:\n    dmarc: { p: none }\n", i }'
} > "$TR"
sed -e "s|@PORT@|1|g" -e "s|@TMP@|$TMP|g" "$TR" > "$TMP/closing.yaml"
mkdir -p "$TMP/state-closing"
"$MAILNS" keys rotate -c "$TMP/closing.yaml" --now "@$NOW" > "$TMP/r1.out" 2>&1
is "$?/$(grep -c '	generate$' "$TMP/r1.out")" "0/$ND" "$ND domains: a key generated for each"
MN_PROBE="_domainkey.d$ND.example"
mn_start "$TR" || { ok 1 "mailnsd serves $ND domains"; done_testing; exit 1; }
cat > "$TMP/relay.py" <<'PY'
# relay.py LPORT UPORT EVERY COUNTFILE: DNS over TCP from 127.0.0.1#LPORT to
# 127.0.0.1#UPORT, one client at a time; closes each client after EVERY answers
# and writes the number of clients accepted so far in COUNTFILE.  Bounded: 120 s.
import signal, socket, sys
lport, uport, every, countfile = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
signal.alarm(120)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport))
ls.listen(8)
open(countfile, "w").write("0")
def recvn(s, k):
    b = b""
    while len(b) < k:
        c = s.recv(k - len(b))
        if not c:
            return None
        b += c
    return b
def msg(s):
    h = recvn(s, 2)
    m = h and recvn(s, int.from_bytes(h, "big"))
    return h + m if m else None
n = 0
while True:
    c, _ = ls.accept()
    n += 1
    open(countfile, "w").write(str(n))
    c.settimeout(10)
    u = socket.create_connection(("127.0.0.1", uport), timeout=10)
    try:
        for i in range(every):
            q = msg(c)
            if q is None:
                break
            u.sendall(q)
            a = msg(u)
            if a is None:
                break
            c.sendall(a)
    except OSError:
        pass
    c.close()
    u.close()
PY
python3 "$TMP/relay.py" "$PPORT" "$MN_PORT" 50 "$TMP/relay.count" &
RELAY=$!
for i in $(seq 1 50); do [ -s "$TMP/relay.count" ] && break; sleep 0.1; done
"$MAILNS" keys rotate -c "$P" --now "@$((NOW + 3600))" > "$TMP/r2.out" 2>&1
rc=$?
kill "$RELAY" 2>/dev/null
wait "$RELAY" 2>/dev/null
is "$rc/$(grep -c '	activate$' "$TMP/r2.out")" "0/$ND" "every key confirmed by a server that closes connections"
n=$(cat "$TMP/relay.count")
ok $([ "$n" -ge 6 ] && [ "$n" -le 7 ]; echo $?) "a new connection each time it closed one: $n for $ND queries (6)"
done_testing
