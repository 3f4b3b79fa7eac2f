#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# secondaries.sh -- a real NSD and a real Knot on loopback as secondaries of
# mailnsd: every zone transfers, _mta-sts, _smtp._tls and _bimi included (NSD
# without TSIG, Knot with TSIG; NOTIFY signed with the key to both); both
# answer every probe exactly as mailnsd; a policy change (DMARC, an MTA-STS
# id) reaches both by NOTIFY + IXFR within a bounded wait; a
# journal miss falls back to a full transfer; a client outside allow, a wrong
# TSIG key and a bad MAC are refused, and mailnsd keeps serving.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v nsd >/dev/null || skip_all "nsd is not installed"
command -v knotd >/dev/null || skip_all "knotd is not installed"
mn_tmpdir
cp "$top_srcdir/examples/xfr1.key" "$TMP/xfr1.key"
SECRET=$(tr -d ' \n' < "$TMP/xfr1.key")

NSD_PORT=$(mn_free_port)
KNOT_PORT=$(mn_free_port "$NSD_PORT")
sed -e 's|@ALLOW@|127.0.0.1/32, "key:xfr1"|' \
    -e "s|@NOTIFY@|\"127.0.0.1:$NSD_PORT\", \"127.0.0.1:$KNOT_PORT\"|" \
    "$top_srcdir/tests/integration/secondaries.tmpl" > "$TMP/secondaries.tmpl"
mn_start "$TMP/secondaries.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd starts on port $MN_PORT"
POLICY=$TMP/policy.yaml
ZONES=$("$MAILNS" zone -c "$POLICY" | awk '$4 == "SOA" { sub(/\.$/, "", $1); print $1 }' | sort -u)
is "$(echo "$ZONES" | wc -l)" 12 "twelve zones to transfer (with _mta-sts, _smtp._tls and _bimi of example.com)"

# ---- NSD: transfers without TSIG, NOTIFY signed with xfr1 --------------------
mkdir -p "$TMP/nsd" "$TMP/knot"
{
	mn_nsd_server "$TMP/nsd" "$NSD_PORT" 2
	printf '  minimal-responses: yes\n  rrl-ratelimit: 0\n'
	printf 'key:\n  name: xfr1\n  algorithm: hmac-sha256\n  secret: "%s"\n' "$SECRET"
	for z in $ZONES; do
		printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$z" "$z"
		printf '  request-xfr: 127.0.0.1@%s NOKEY\n  allow-notify: 127.0.0.1 xfr1\n' "$MN_PORT"
	done
} > "$TMP/nsd.conf"
# ---- Knot: transfers with TSIG ------------------------------------------------
{
	mn_knot_server "$TMP/knot" "$KNOT_PORT"
	printf 'key:\n  - id: xfr1\n    algorithm: hmac-sha256\n    secret: %s\n' "$SECRET"
	printf 'remote:\n  - id: primary\n    address: 127.0.0.1@%s\n    key: xfr1\n' "$MN_PORT"
	printf 'acl:\n  - id: from_primary\n    address: 127.0.0.1\n    key: xfr1\n    action: notify\n'
	printf 'template:\n  - id: default\n    master: primary\n    acl: from_primary\n'
	printf '    storage: "%s"\n    zonefile-sync: -1\n    zonefile-load: none\n    journal-content: changes\n' "$TMP/knot"
	printf 'zone:\n'
	for z in $ZONES; do printf '  - domain: %s\n' "$z"; done
} > "$TMP/knot.conf"

mn_nsd_start "$TMP/nsd" "$TMP/nsd.conf"
mn_knot_start "$TMP/knot" "$TMP/knot.conf"
stop_peers() { mn_stop_pids $NSD_PID $KNOT_PID; }
trap 'stop_peers; mn_cleanup' EXIT

peer_logs() { diag "$(tail -n 15 "$TMP/nsd/nsd.log" "$TMP/knot/knot.log" "$TMP/nsd/nsd.out" "$TMP/knot/knot.out" 2>/dev/null)"; diag "$(tail -n 15 "$MN_LOG")"; }
mn_synced "$NSD_PORT" $ZONES; ok $? "NSD transferred every zone (no TSIG)" || peer_logs
mn_synced "$KNOT_PORT" $ZONES; ok $? "Knot transferred every zone (TSIG xfr1)" || peer_logs

# view PORT NAME TYPE [ARGS]: rcode + AA, then the answer and authority sections, sorted
view() {
	local port=$1 n=$2 t=$3; shift 3
	local out
	out=$(kdig @127.0.0.1 -p "$port" +time=2 +retry=0 "$@" "$n" "$t" 2>/dev/null)
	echo "$out" | sed -n 's/^;; ->>HEADER<<- opcode: QUERY; status: \([A-Z]*\);.*/\1/p'
	echo "$out" | grep -q '^;; Flags: .*aa' && echo aa
	kdig @127.0.0.1 -p "$port" +time=2 +retry=0 "$@" +noall +answer +authority "$n" "$t" 2>/dev/null | sort
}
NAMES='_dmarc.example.com TXT
_dmarc.example.com SOA
_dmarc.example.com NS
_dmarc.example.com A
x.y._report._dmarc.example.com TXT
_report._dmarc.example.com TXT
big._domainkey.example.com TXT
small._domainkey.example.com TXT
Small._DomainKey.Example.Com TXT
nope._domainkey.example.com TXT
_domainkey.example.com TXT
_spf.example.com TXT
_spf.example.com A
a.b._spf.example.com TXT
_spf.example.org TXT
in-addr._spf.example.org A
ip6._spf.example.org A
113.0.203.in-addr._spf.example.org A
9.113.0.203.in-addr._spf.example.org A
9.113.0.203.in-addr._spf.example.org TXT
9.114.0.203.in-addr._spf.example.org A
1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.4.3.2.1.8.b.d.0.1.0.0.2.ip6._spf.example.org A
_dmarc.example.org TXT
_mta-sts.example.com TXT
_mta-sts.example.com SOA
_mta-sts.example.com NS
x._mta-sts.example.com TXT
_smtp._tls.example.com TXT
_smtp._tls.example.com SOA
default._bimi.example.com TXT
_bimi.example.com NS
_bimi.example.com TXT
x.default._bimi.example.com TXT'
while read -r name type; do
	a=$(view "$MN_PORT" "$name" "$type")
	is "$(view "$NSD_PORT" "$name" "$type")" "$a" "NSD answers $name $type as mailnsd"
	is "$(view "$KNOT_PORT" "$name" "$type")" "$a" "Knot answers $name $type as mailnsd"
done <<< "$NAMES"

# ---- a policy change reaches both by NOTIFY + IXFR ----------------------------
ms() { echo $(( $(date +%s%N) / 1000000 )); }
# served PORT NAME TYPE WANT: polls up to 10 s
ixfrs=$(grep -c 'info: ixfr of _dmarc.example.org' "$MN_LOG")
t0=$(ms)
sed -i 's/      p: none/      p: quarantine/' "$POLICY"
WANT='"v=DMARC1; p=quarantine"'
mn_served "$MN_PORT" _dmarc.example.org TXT "$WANT"; ok $? "mailnsd reloads the change"
mn_served "$NSD_PORT" _dmarc.example.org TXT "$WANT"; ok $? "NSD serves the change (NOTIFY)" || peer_logs
mn_served "$KNOT_PORT" _dmarc.example.org TXT "$WANT"; ok $? "Knot serves the change (NOTIFY)" || peer_logs
diag "change to both secondaries in $(( $(ms) - t0 )) ms"
is "$(( $(grep -c 'info: ixfr of _dmarc.example.org' "$MN_LOG") - ixfrs ))" 2 "both fetched it by IXFR from the journal"
test -s "$TMP/state/journal/_dmarc.example.org.jnl"; ok $? "the journal is on disk"
grep -q 'notify: 1 zones queued for 2 secondaries, key xfr1' "$MN_LOG"; ok $? "one zone notified to two secondaries, signed"
mn_synced "$NSD_PORT" $ZONES && mn_synced "$KNOT_PORT" $ZONES; ok $? "both at mailnsd's serials"
is "$(view "$KNOT_PORT" _dmarc.example.org TXT)" "$(view "$MN_PORT" _dmarc.example.org TXT)" "Knot answers the changed name as mailnsd"
is "$(view "$NSD_PORT" _dmarc.example.org TXT)" "$(view "$MN_PORT" _dmarc.example.org TXT)" "NSD answers the changed name as mailnsd"

# an MTA-STS policy edit: the new id reaches both
old_id=$(kdig @127.0.0.1 -p "$MN_PORT" +time=2 +retry=0 +short _mta-sts.example.com TXT)
sed -i 's/mta_sts: { mode: testing,/mta_sts: { mode: enforce,/' "$POLICY"
for i in $(seq 1 100); do
	new_id=$(kdig @127.0.0.1 -p "$MN_PORT" +time=1 +retry=0 +short _mta-sts.example.com TXT)
	[ -n "$new_id" ] && [ "$new_id" != "$old_id" ] && break
	sleep 0.1
done
case $new_id in '"v=STSv1; id='*) [ "$new_id" != "$old_id" ] ;; *) false ;; esac
ok $? "mailnsd serves the new MTA-STS id ($old_id -> $new_id)"
mn_served "$NSD_PORT" _mta-sts.example.com TXT "$new_id"; ok $? "NSD serves the new id (NOTIFY)" || peer_logs
mn_served "$KNOT_PORT" _mta-sts.example.com TXT "$new_id"; ok $? "Knot serves the new id (NOTIFY)" || peer_logs

# IXFR by hand: from the old serial (journal) and from one it never had (full)
cur=$(mn_serial "$MN_PORT" _dmarc.example.org)
out=$(kdig @127.0.0.1 -p "$MN_PORT" +time=2 +retry=0 IXFR=$((cur - 1)) _dmarc.example.org)
is "$(echo "$out" | awk '$4 == "SOA" {print $7}' | tr '\n' ' ')" "$cur $((cur - 1)) $cur $cur " "IXFR from the previous serial: the difference"
out=$(kdig @127.0.0.1 -p "$MN_PORT" +time=2 +retry=0 IXFR=1000 _dmarc.example.org)
is "$(echo "$out" | awk '$4 == "SOA"' | wc -l)" 2 "IXFR from an unknown serial: a full transfer"
is "$(kdig @127.0.0.1 -p "$MN_PORT" +time=2 +retry=0 +notcp +noall +answer IXFR=$((cur - 1)) _dmarc.example.org | awk '{print $4, $7}')" "SOA $cur" "IXFR over UDP: the SOA alone"

# ---- journal miss: no journal for the next change, so a full transfer ---------
rm -rf "$TMP/state/journal"
touch "$TMP/state/journal"	# a file where the directory should be: not written
full=$(grep -c 'info: ixfr (full) of _dmarc.example.org' "$MN_LOG")
sed -i 's/      p: quarantine/      p: reject/' "$POLICY"
WANT='"v=DMARC1; p=reject"'
mn_served "$NSD_PORT" _dmarc.example.org TXT "$WANT"; ok $? "NSD serves the next change" || peer_logs
mn_served "$KNOT_PORT" _dmarc.example.org TXT "$WANT"; ok $? "Knot serves the next change" || peer_logs
grep -q 'cannot write the transfer journal' "$MN_LOG"; ok $? "the journal could not be written (logged)"
is "$(( $(grep -c 'info: ixfr (full) of _dmarc.example.org' "$MN_LOG") - full ))" 2 "both fell back to a full transfer"
mn_synced "$NSD_PORT" $ZONES && mn_synced "$KNOT_PORT" $ZONES; ok $? "both at mailnsd's serials after the full transfer"
rm -f "$TMP/state/journal"
cur=$(mn_serial "$MN_PORT" _dmarc.example.org)
out=$(kdig @127.0.0.1 -p "$MN_PORT" +time=2 +retry=0 IXFR=$((cur - 1)) _dmarc.example.org)
is "$(echo "$out" | awk '$4 == "SOA"' | wc -l)" 2 "no journal: IXFR answered with a full transfer"

# ---- a key rotation waits for a lagging secondary ---------------------------
# Knot is stopped; `mailns keys rotate` publishes a first key for rot.example,
# mailnsd and NSD serve it, Knot does not: the key stays pending.  Knot comes
# back, catches up (IXFR), and the next run activates the key.
mn_stop_pids $KNOT_PID
out=$("$MAILNS" keys rotate -c "$POLICY" 2>&1); rc=$?
sel=$("$MAILNS" keys list -c "$POLICY" 2>/dev/null | awk -F'\t' '$1 == "rot.example" && $4 == "pending" { print $2; exit }')
ok $(( rc != 0 && rc != 3 )) "keys rotate publishes a first key (exit $rc)" || diag "$out"
[ -n "$sel" ]; ok $? "rot.example has a pending key ($sel)"
key_served() { # key_served PORT: the selector answers (polls up to 10 s)
	local i
	for i in $(seq 1 100); do
		kdig @127.0.0.1 -p "$1" +time=1 +retry=0 +short TXT "$sel._domainkey.rot.example" 2>/dev/null | grep -q 'v=DKIM1' && return 0
		sleep 0.1
	done
	return 1
}
key_served "$MN_PORT"; ok $? "mailnsd serves $sel"
key_served "$NSD_PORT"; ok $? "NSD serves $sel (NOTIFY + IXFR)" || peer_logs
out=$("$MAILNS" keys rotate -c "$POLICY" 2>&1)
echo "$out" | grep -q "$sel stays pending"; ok $? "with Knot down, $sel stays pending" || diag "$out"
is "$("$MAILNS" keys list -c "$POLICY" | awk -F'\t' -v s="$sel" '$2 == s { print $4 }')" pending "keys list: pending"
mn_knot_start "$TMP/knot" "$TMP/knot.conf"
key_served "$KNOT_PORT"; ok $? "Knot restarted catches up and serves $sel" || peer_logs
# as cron would: a run that could not confirm (exit 3, e.g. a query timed out on a
# loaded machine) is followed by another; at most 3 runs
for try in 1 2 3; do
	out=$("$MAILNS" keys rotate -c "$POLICY" 2>&1); rc=$?
	[ "$rc" -ne 3 ] && break
	sleep 1
done
is "$("$MAILNS" keys list -c "$POLICY" | awk -F'\t' -v s="$sel" '$2 == s { print $4 }')" active "every secondary serves it: $sel is active (exit $rc after $try runs)"
[ "$rc" -eq 0 ] || diag "$out"

# ---- refusals ----------------------------------------------------------------
axfr_status() { # axfr_status [KDIG ARGS]: the error kdig reports, or "ok"
	local out
	out=$(kdig @127.0.0.1 -p "$MN_PORT" +time=2 +retry=0 "$@" AXFR _dmarc.example.com 2>&1)
	if echo "$out" | grep -q "replied with error"; then
		echo "$out" | sed -n "s/.*replied with error '\([A-Z]*\)'.*/\1/p" | head -1
	elif echo "$out" | grep -q 'IN.SOA'; then
		echo ok
	else
		echo "$out" | head -3
	fi
}
is "$(axfr_status)" ok "127.0.0.1 is in allow: AXFR without TSIG"
BAD=$(printf '%s' "$SECRET" | sed 's/^..../BBBB/')
is "$(axfr_status -y "hmac-sha256:xfr2:$SECRET")" BADKEY "an unknown TSIG key: NOTAUTH/BADKEY"
is "$(axfr_status -y "hmac-sha256:xfr1:$BAD")" BADSIG "a bad MAC: NOTAUTH/BADSIG"
is "$(axfr_status -y "hmac-sha512:xfr1:$SECRET")" BADKEY "the wrong algorithm: NOTAUTH/BADKEY"
# allow only the key: 127.0.0.1 without TSIG is outside allow
sed -i 's|allow: \[127.0.0.1/32, "key:xfr1"\]|allow: ["key:xfr1"]|' "$POLICY"
for i in $(seq 1 100); do [ "$(axfr_status)" = REFUSED ] && break; sleep 0.1; done
is "$(axfr_status)" REFUSED "allow without 127.0.0.1: AXFR without TSIG is REFUSED"
is "$(axfr_status -y "hmac-sha256:xfr1:$SECRET")" ok "the same with TSIG xfr1: transferred"
is "$(axfr_status -y "hmac-sha256:xfr1:$BAD")" BADSIG "and with a bad MAC: BADSIG"
is "$(mn_dig +short TXT _dmarc.example.org)" "$WANT" "mailnsd keeps serving"
kill -0 "$MN_PID"; ok $? "mailnsd is running"

stop_peers
mn_stop; ok $? "mailnsd stops cleanly (every handle closed)"
done_testing
