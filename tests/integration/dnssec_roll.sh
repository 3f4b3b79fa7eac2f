#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec_roll.sh -- DNSSEC key rollovers by `mailns keys rotate` against a running
# mailnsd, a parent example.com signed by ldns-signzone and served by NSD (its DS
# records updated at each step from `mailns delegation`, as an operator would),
# and unbound validating from the parent's trust anchor: a full ZSK pre-publish
# rollover (example.com, KSK+ZSK) and a full double-DS CSK rollover
# (csk.example.com), time moved with --now; at every step unbound answers the
# zones' names with AD (a DMARC TXT, a DKIM TXT, an NXDOMAIN, from its cache of
# the step before and freshly started) and ldns-verify-zone accepts every zone
# `mailns zone` prints.  Negative: while
# the new DS is not at the parent the CSK rollover waits ("waiting for DS"),
# however much time passes, and the resolver stays happy.
# Everything on 127.0.0.1; every daemon stopped by PID.
. "${top_srcdir:?}/tests/tap/tap.sh"
. "$top_srcdir/tests/integration/dnssec_lib.sh"
for t in nsd unbound ldns-keygen ldns-signzone ldns-verify-zone kdig; do
	command -v "$t" >/dev/null || skip_all "$t is not installed"
done
mn_tmpdir
NSD_PID=""
UB_PID=""
stop_all() {
	local p
	for p in $UB_PID $NSD_PID; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	UB_PID=""
	NSD_PID=""
	mn_cleanup
}
trap stop_all EXIT

cat >"$TMP/roll.tmpl" <<'EOT'
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net., ns2.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  ttl: 300
  negative_ttl: 300
  state_dir: @TMP@/state
  dnssec: true
domains:
  example.com:
    dnssec: { keys: ksk+zsk }
    dkim:
      selectors:
        s1: "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    dmarc: { p: reject }
  csk.example.com:
    dkim:
      selectors:
        s2: "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    dmarc: { p: quarantine }
EOT
mn_start "$TMP/roll.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd serves the signed zones on port $MN_PORT"
POLICY=$TMP/policy.yaml
NSD_PORT=$(mn_free_port "$MN_PORT")
UB_PORT=$(mn_free_port "$MN_PORT" "$NSD_PORT")
KEY=$(cd "$TMP" && ldns-keygen -a ECDSAP256SHA256 -k example.com 2>/dev/null)
[ -n "$KEY" ] && [ -f "$TMP/$KEY.key" ]; ok $? "ldns-keygen: the parent's KSK ($KEY)"

# ---- the parent: its DS records as `mailns delegation` prints them (retired ones commented out) ----
mkdir -p "$TMP/nsd"
parent_sign() {
	{
		printf '$ORIGIN example.com.\n$TTL 300\n'
		printf '@ SOA ns1.example.net. hostmaster.example.net. %s 3600 900 1209600 300\n' "$1"
		printf '@ NS ns1.example.net.\n'
		for z in _domainkey _dmarc _spf _domainkey.csk _dmarc.csk _spf.csk; do
			printf '%s NS ns1.example.net.\n%s NS ns2.example.net.\n' "$z" "$z"
		done
		"$MAILNS" delegation -c "$POLICY" | awk '$4 == "DS"'
	} >"$TMP/example.com.zone"
	(cd "$TMP" && ldns-signzone -f "$TMP/nsd/example.com.zone" "$TMP/example.com.zone" "$KEY") >/dev/null 2>&1
}
mn_nsd_conf "$TMP/nsd.conf" "$TMP/nsd" "$NSD_PORT" example.com
SERIAL=1
nsd_start() { # the parent re-signed with the DS records of now, NSD (re)started
	[ -z "$NSD_PID" ] || { kill -TERM "$NSD_PID"; wait "$NSD_PID" 2>/dev/null; NSD_PID=""; }
	SERIAL=$((SERIAL + 1))
	parent_sign "$SERIAL" || return 1
	nsd -d -c "$TMP/nsd.conf" >>"$TMP/nsd.out" 2>&1 &
	NSD_PID=$!
	mn_wait_answer "$NSD_PORT" example.com $NSD_PID
}
nsd_start; up=$?
ok $up "nsd serves the signed parent with our DS records on port $NSD_PORT"
[ $up -eq 0 ] || { diag "$(cat "$TMP/nsd.out" "$TMP/nsd/nsd.log" 2>/dev/null | tail -20)"; done_testing; exit 1; }

# ---- unbound: validating, the parent's key as trust anchor ----------------------------
mn_unbound_conf "$TMP/unbound.conf" "$TMP" "$UB_PORT" "$TMP/$KEY.key" "$NSD_PORT" example.com "$MN_PORT" \
	_domainkey.example.com _dmarc.example.com _spf.example.com \
	_domainkey.csk.example.com _dmarc.csk.example.com _spf.csk.example.com
# (re)started when the simulated time has passed the TTLs its cache holds
ub_start() {
	[ -z "$UB_PID" ] || { kill -TERM "$UB_PID"; wait "$UB_PID" 2>/dev/null; UB_PID=""; }
	unbound -d -c "$TMP/unbound.conf" >>"$TMP/unbound.out" 2>&1 &
	UB_PID=$!
	mn_wait_answer "$UB_PORT" example.com $UB_PID
}
ub_start; up=$?
ok $up "unbound validates on port $UB_PORT"
[ $up -eq 0 ] || { diag "$(cat "$TMP/unbound.out" "$TMP/unbound.log" 2>/dev/null | tail -20)"; done_testing; exit 1; }

# answers: the six answers of both domains, "RCODE ad|..."; the NXDOMAIN names new at
# each call (nx$NX), so that a warm unbound asks for them and validates them with the
# DNSKEY and DS records it has cached (aggressive-nsec off), not from its answer cache
NX=0
answers() {
	local got=""
	NX=$((NX + 1))
	got="$(mn_ub_status "$UB_PORT" _dmarc.example.com TXT)|$(mn_ub_status "$UB_PORT" s1._domainkey.example.com TXT)|"
	got="$got$(mn_ub_status "$UB_PORT" nx$NX._dmarc.example.com TXT)|"
	got="$got$(mn_ub_status "$UB_PORT" _dmarc.csk.example.com TXT)|$(mn_ub_status "$UB_PORT" s2._domainkey.csk.example.com TXT)|"
	echo "$got$(mn_ub_status "$UB_PORT" nx$NX._dmarc.csk.example.com TXT)|"
}
# validated LABEL: every name of both domains validates (AD), by unbound with what it
# has cached from the steps before, then by a fresh unbound (what any resolver sees
# once the TTLs the machine waited for have passed); and ldns-verify-zone accepts
# every zone `mailns zone` prints
validated() {
	local want="NOERROR ad|NOERROR ad|NXDOMAIN ad|NOERROR ad|NOERROR ad|NXDOMAIN ad|"
	is "$(answers)" "$want" "$1: unbound validates DMARC TXT, DKIM TXT and NXDOMAIN of both domains (AD)" ||
		diag "$(grep -iE 'validat|bogus|fail' "$TMP/unbound.log" | tail -6)"
	ub_start || diag "unbound did not restart"
	is "$(answers)" "$want" "$1: and so does a fresh unbound" ||
		diag "$(grep -iE 'validat|bogus|fail' "$TMP/unbound.log" | tail -6)"
	is "$(mn_verify_zones "$POLICY" "$TMP/dz" _domainkey.example.com _dmarc.example.com _spf.example.com \
		_domainkey.csk.example.com _dmarc.csk.example.com _spf.csk.example.com)" "" \
		"$1: ldns-verify-zone accepts every zone mailns zone prints"
}
# key tags of the DNSKEY RRset mailnsd serves for zone, sorted
served_tags() {
	kdig @127.0.0.1 -p "$MN_PORT" +time=3 +retry=1 +multiline +noall +answer "$1" DNSKEY 2>/dev/null |
		sed -n 's/.*id = \([0-9]*\).*/\1/p' | sort -n | tr '\n' ' '
}
rrsig_tags() { # key tags of the RRSIGs over zone's TXT at name
	kdig @127.0.0.1 -p "$MN_PORT" +time=3 +retry=1 +dnssec +noall +answer "$1" TXT 2>/dev/null |
		awk '$4 == "RRSIG" { print $11 }' | sort -n | tr '\n' ' '
}
list_tags() { # list_tags ZONE [STATE]: the tags of its key files (in that state)
	grep -l "${2:+^state $2\$}" "$TMP/state/dnssec/$1"/*.key 2>/dev/null | sed 's|.*/0*\([0-9][0-9]*\)-[0-9]*\.key|\1|' |
		sort -n | tr '\n' ' '
}
reload() { # SIGHUP, then the reload it started done
	local before i
	before=$(grep -c 'reloaded: ' "$MN_LOG")
	kill -HUP "$MN_PID"
	for i in $(seq 1 300); do
		[ "$(grep -c 'reloaded: ' "$MN_LOG")" -gt "$before" ] && return 0
		sleep 0.1
	done
	return 1
}
soa_serial() { kdig @127.0.0.1 -p "$MN_PORT" +time=3 +retry=1 +short "$1" SOA 2>/dev/null | awk '{ print $3 }'; }
declare -A SERIAL_OF
# serial ZONE grew|same LABEL: after a reload (what the watcher may not have picked up
# yet is loaded; NORELOAD=1: none), the SOA serial mailnsd serves for ZONE, against the one seen last:
# it grew (RFC 1982, a step of less than 2^31) or it stayed
serial() {
	local z=$1 how=$2 before=${SERIAL_OF[$1]} now d
	[ -n "$NORELOAD" ] || reload || diag "mailnsd did not reload"
	now=$(soa_serial "$z")
	SERIAL_OF[$z]=$now
	d=$(( (now - before + 4294967296) % 4294967296 ))
	case $how in
	grew) [ -n "$now" ] && [ "$d" -gt 0 ] && [ "$d" -lt 2147483648 ] ;;
	same) [ -n "$now" ] && [ "$now" = "$before" ] ;;
	esac
	ok $? "$3: the SOA serial of $z $how ($before -> $now)"
}
rotate() { # rotate SECONDS-FROM-START [ARGS]: keys rotate at that time; output in $OUT, status in $RC
	local at=$1
	shift
	OUT=$("$MAILNS" keys rotate -c "$POLICY" --quiet --now "@$((T0 + at))" --resolver "127.0.0.1:$NSD_PORT" "$@" 2>&1)
	RC=$?
}

T0=$(date +%s)
Z=_dmarc.example.com
C=_dmarc.csk.example.com
validated "start"
ZSK0=$(list_tags $Z) KSK=""
CSK0=$(list_tags $C | tr -d " ")
is "$(echo $CSK0 | wc -w)" 1 "csk.example.com: one CSK ($CSK0)"
is "$(echo $ZSK0 | wc -w)" 2 "example.com: a KSK and a ZSK ($ZSK0)"
is "$(served_tags $C)" "$CSK0 " "its DNSKEY RRset: the CSK"
SERIAL_OF[$Z]=$(soa_serial $Z)
SERIAL_OF[$C]=$(soa_serial $C)
[ -n "${SERIAL_OF[$Z]}" ] && [ -n "${SERIAL_OF[$C]}" ]; ok $? "SOA serials served (${SERIAL_OF[$Z]}, ${SERIAL_OF[$C]})"
rotate 0
serial $Z same "a run with nothing to do"
serial $C same "a run with nothing to do"

# ---- 1. the rollovers start ---------------------------------------------------------------
rotate 0 --dnssec-roll "$Z" --zsk
is "$RC" 0 "rotate --dnssec-roll $Z --zsk: exit 0"
grep -q "	$Z	[0-9]*	zsk	ecdsap256sha256	generate published" <<<"$OUT"; ok $? "a new ZSK generated, published" || diag "$OUT"
rotate 0 --dnssec-roll "$C" --dry-run
grep -q "^plan .*	$C	new	csk	ecdsap256sha256	generate published" <<<"$OUT"; ok $? "--dry-run: the plan says a new CSK" || diag "$OUT"
is "$(list_tags $C)" "$CSK0 " "--dry-run writes nothing"
rotate 0 --dnssec-roll "$C"
is "$RC" 0 "rotate --dnssec-roll $C: exit 0"
CSK1=$(list_tags $C published | tr -d ' ')
ZSK1=$(list_tags $Z published | tr -d ' ')
[ -n "$CSK1" ] && [ -n "$ZSK1" ]; ok $? "the new CSK $CSK1 and ZSK $ZSK1 published"
want="$(echo $CSK0 $CSK1 | tr ' ' '\n' | sort -n | tr '\n' ' ')"
for i in $(seq 1 100); do [ "$(served_tags $C)" = "$want" ] && break; sleep 0.1; done
is "$(served_tags $C)" "$want" "both CSKs in DNSKEY, without SIGHUP (mailnsd watches the key states)"
NORELOAD=1 serial $C grew "the new CSK served without SIGHUP"
reload; ok $? "mailnsd reloads"
is "$(rrsig_tags $C)" "$CSK0 " "the TXT still signed by the old CSK alone"
is "$("$MAILNS" delegation -c "$POLICY" csk.example.com | awk -v z="$C." '$1 == z && $4 == "DS"' | wc -l)" 2 \
	"mailns delegation: both DS of $C (double-DS)"
serial $Z grew "a new ZSK published"
serial $C same "a reload after the watcher's (nothing more changed)"
validated "new keys published"

# ---- 2. DNSKEY TTL + propagation later (300 + 3600 s) -------------------------------------
rotate 3900
is "$RC" 3 "after 3900 s: exit 3 (a DS to publish at the parent)"
grep -q "^$C: key $CSK1 (csk) waiting for DS at the parent: publish $C. IN DS $CSK1 13 2 " <<<"$OUT"
ok $? "it says it waits for the DS of $CSK1" || diag "$OUT"
grep -q "	$Z	$ZSK1	zsk	ecdsap256sha256	active" <<<"$OUT"; ok $? "the new ZSK active" || diag "$OUT"
reload; ok $? "mailnsd reloads"
is "$(rrsig_tags $Z)" "$ZSK1 " "example.com's TXT signed by the new ZSK"
is "$(echo "$(served_tags $Z)" | wc -w)" 3 "the old ZSK still in DNSKEY (retired)"
serial $Z grew "the new ZSK active, the old one retired"
serial $C same "the new CSK ready (nothing served changes)"
validated "ZSK active, CSK ready"
# negative: the DS not at the parent, 30 days on: nothing withdrawn
rotate $((30 * 86400))
is "$RC" 3 "30 days later, no new DS at the parent: exit 3"
grep -q "waiting for DS at the parent" <<<"$OUT"; ok $? "still waiting for DS"
is "$(list_tags $C active)" "$CSK0 " "the old CSK still active"
is "$(list_tags $C ready)" "$CSK1 " "the new one ready, not active"
reload
is "$(rrsig_tags $C)" "$CSK0 " "the old CSK still signs"
"$MAILNS" check -c "$POLICY" --dns --resolver "127.0.0.1:$UB_PORT" >"$TMP/check.out" 2>&1
grep -q "warning: a key rollover of $C waits for the DS of key $CSK1 at the parent" "$TMP/check.out"
ok $? "mailns check --dns warns that the rollover waits for the DS" || diag "$(grep -i ds "$TMP/check.out")"
is "$(grep -c 'no DS of the parent matches' "$TMP/check.out")" 0 "and finds the old DS matching"
OLDZSK=$(list_tags $Z removed | tr -d ' ')
[ -n "$OLDZSK" ] && [ "$OLDZSK" != "$ZSK1" ]; ok $? "the old ZSK ($OLDZSK) removed once the zone's TTL + propagation passed"
is "$(ls "$TMP/state/dnssec/$Z" | grep -c "^0*$OLDZSK-.*\.pem$")" 0 "its private key destroyed"
is "$(echo "$(served_tags $Z)" | wc -w)" 2 "example.com's DNSKEY: the KSK and the new ZSK"
serial $Z grew "the old ZSK removed"
serial $C same "the CSK rollover waits for its DS"
validated "ZSK rollover done; CSK waits for its DS"

# ---- 3. the operator publishes the new DS at the parent ----------------------------------
nsd_start; ok $? "the parent re-signed with both DS of $C"
rotate $((30 * 86400 + 60))
grep -q "	$C	$CSK1	csk	ecdsap256sha256	ds seen" <<<"$OUT"; ok $? "the new DS seen at the parent" || diag "$OUT"
is "$(list_tags $C active)" "$CSK0 " "not active before the DS TTL"
serial $C same "the new DS seen (nothing served changes)"
validated "both DS at the parent"
# the DS TTL (300 s) passes: resolvers' caches hold both DS now
rotate $((30 * 86400 + 400))
grep -q "	$C	$CSK1	csk	ecdsap256sha256	active" <<<"$OUT"; ok $? "the new CSK active after the DS TTL" || diag "$OUT"
grep -q "	$C	$CSK0	csk	ecdsap256sha256	retired" <<<"$OUT"; ok $? "the old one retired"
grep -q "^$C: key $CSK0 (csk) retired, waiting for its DS to leave the parent" <<<"$OUT"; ok $? "which waits for its DS to leave" || diag "$OUT"
is "$RC" 3 "exit 3"
reload; ok $? "mailnsd reloads"
is "$(rrsig_tags $C)" "$CSK1 " "the TXT signed by the new CSK"
serial $C grew "the new CSK active, the old one retired"
"$MAILNS" delegation -c "$POLICY" csk.example.com >"$TMP/deleg.out"
grep -q "^; key $CSK0 is retired" "$TMP/deleg.out"; ok $? "mailns delegation: the old DS to remove, commented out"
validated "new CSK signs, old DS still at the parent"
"$MAILNS" check -c "$POLICY" --dns --resolver "127.0.0.1:$UB_PORT" >"$TMP/check.out" 2>&1
is "$(grep -cE 'no DS of the parent matches|waits for the DS' "$TMP/check.out")" 0 \
	"mailns check --dns: both DS at the parent match published keys, nothing waits"

# ---- 4. the operator removes the old DS ---------------------------------------------------
nsd_start; ok $? "the parent re-signed without the old DS"
rotate $((30 * 86400 + 500))
grep -q "	$C	$CSK0	csk	ecdsap256sha256	ds gone" <<<"$OUT"; ok $? "the old DS seen gone" || diag "$OUT"
is "$(list_tags $C removed)" "" "the old DNSKEY stays for the DS TTL"
serial $C same "the old DS seen gone (nothing served changes)"
validated "old DS gone"
rotate $((30 * 86400 + 8000))
is "$RC" 0 "then: exit 0"
grep -q "	$C	$CSK0	csk	ecdsap256sha256	removed" <<<"$OUT"; ok $? "the old CSK removed" || diag "$OUT"
reload; ok $? "mailnsd reloads"
is "$(served_tags $C)" "$CSK1 " "the DNSKEY RRset: the new CSK alone"
serial $C grew "the old CSK removed"
validated "CSK rollover done"
rotate $((31 * 86400))
is "$RC" 0 "a later run: nothing to do, exit 0"
is "$(grep -c dnssec <<<"$OUT")" 0 "and nothing done"
serial $Z same "nothing changed"
serial $C same "nothing changed"

for p in $UB_PID $NSD_PID; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
UB_PID=""; NSD_PID=""
mn_stop; ok $? "mailnsd stops cleanly"
done_testing
