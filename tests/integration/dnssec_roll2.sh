#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# dnssec_roll2.sh -- DNSSEC rollovers started by a policy change, against a running
# mailnsd, a parent example.com signed by ldns-signzone and served by NSD (its DS
# records set at each step from `mailns delegation`, as an operator would) and
# unbound validating from the parent's trust anchor: ALGORITHM rollovers
# (ECDSAP256SHA256 -> ED25519, RFC 6781 §4.1.4) of a CSK (alg.example.com) and
# of a KSK and a ZSK (algz.example.com), and the
# SHAPE changes csk -> ksk+zsk (split.example.com) and ksk+zsk -> csk
# (join.example.com), all four at once, time moved with --now.  At every step:
# unbound answers a DMARC TXT, a DKIM TXT and an NXDOMAIN of each domain with AD,
# from its cache of the step before and freshly started, and ldns-verify-zone
# accepts every zone `mailns zone` prints.  In the end each zone has the keys the
# new policy asks for, active, and nothing else.
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

DOMAINS="alg.example.com algz.example.com split.example.com join.example.com"
ZONES=""
for d in $DOMAINS; do ZONES="$ZONES _domainkey.$d _dmarc.$d _spf.$d"; done
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
  alg.example.com:
    dnssec: { algorithm: ECDSAP256SHA256 }
    dkim:
      selectors:
        s1: "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    dmarc: { p: reject }
  algz.example.com:
    dnssec: { keys: ksk+zsk, algorithm: ECDSAP256SHA256 }
    dkim:
      selectors:
        s1: "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    dmarc: { p: reject }
  split.example.com:
    dnssec: { keys: csk }
    dkim:
      selectors:
        s1: "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    dmarc: { p: reject }
  join.example.com:
    dnssec: { keys: ksk+zsk }
    dkim:
      selectors:
        s1: "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    dmarc: { p: reject }
EOT
MN_PROBE=_dmarc.alg.example.com
mn_start "$TMP/roll.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd serves the signed zones on port $MN_PORT"
POLICY=$TMP/policy.yaml
NSD_PORT=$(mn_free_port "$MN_PORT")
UB_PORT=$(mn_free_port "$MN_PORT" "$NSD_PORT")
KEY=$(cd "$TMP" && ldns-keygen -a ECDSAP256SHA256 -k example.com 2>/dev/null)
[ -n "$KEY" ] && [ -f "$TMP/$KEY.key" ]; ok $? "ldns-keygen: the parent's KSK ($KEY)"

# ---- the parent: its DS records as `mailns delegation` prints them (retired ones commented out) ----
mkdir -p "$TMP/nsd"
delegation_ds() { "$MAILNS" delegation -c "$POLICY" | awk '$4 == "DS"' | sort; }
parent_sign() {
	{
		printf '$ORIGIN example.com.\n$TTL 300\n'
		printf '@ SOA ns1.example.net. hostmaster.example.net. %s 3600 900 1209600 300\n' "$1"
		printf '@ NS ns1.example.net.\n'
		for z in $ZONES; do
			printf '%s. NS ns1.example.net.\n%s. NS ns2.example.net.\n' "$z" "$z"
		done
		delegation_ds
	} >"$TMP/example.com.zone"
	(cd "$TMP" && ldns-signzone -f "$TMP/nsd/example.com.zone" "$TMP/example.com.zone" "$KEY") >/dev/null 2>&1
}
mn_nsd_conf "$TMP/nsd.conf" "$TMP/nsd" "$NSD_PORT" example.com
SERIAL=1
PARENT_DS=""
nsd_start() { # the parent re-signed with the DS records of now, NSD (re)started
	[ -z "$NSD_PID" ] || { kill -TERM "$NSD_PID"; wait "$NSD_PID" 2>/dev/null; NSD_PID=""; }
	SERIAL=$((SERIAL + 1))
	PARENT_DS=$(delegation_ds)
	parent_sign "$SERIAL" || return 1
	nsd -d -c "$TMP/nsd.conf" >>"$TMP/nsd.out" 2>&1 &
	NSD_PID=$!
	mn_wait_answer "$NSD_PORT" example.com $NSD_PID
}
nsd_start; up=$?
ok $up "nsd serves the signed parent with our DS records on port $NSD_PORT"
[ $up -eq 0 ] || { diag "$(cat "$TMP/nsd.out" "$TMP/nsd/nsd.log" 2>/dev/null | tail -20)"; done_testing; exit 1; }

# ---- unbound: validating, the parent's key as trust anchor ----------------------------
# shellcheck disable=SC2086
mn_unbound_conf "$TMP/unbound.conf" "$TMP" "$UB_PORT" "$TMP/$KEY.key" "$NSD_PORT" example.com "$MN_PORT" $ZONES
# strict about algorithms: every algorithm of the DS RRset must sign (RFC 4035 §2.2, §5.2)
printf 'server:\n  harden-algo-downgrade: yes\n' >>"$TMP/unbound.conf"
ub_start() {
	[ -z "$UB_PID" ] || { kill -TERM "$UB_PID"; wait "$UB_PID" 2>/dev/null; UB_PID=""; }
	unbound -d -c "$TMP/unbound.conf" >>"$TMP/unbound.out" 2>&1 &
	UB_PID=$!
	mn_wait_answer "$UB_PORT" example.com $UB_PID
}
ub_start; up=$?
ok $up "unbound validates on port $UB_PORT"
[ $up -eq 0 ] || { diag "$(cat "$TMP/unbound.out" "$TMP/unbound.log" 2>/dev/null | tail -20)"; done_testing; exit 1; }

# answers: a DMARC TXT, a DKIM TXT and two NXDOMAIN of every domain, "RCODE ad|..."; the
# NXDOMAIN names are new at each call (nx$NX), so that a warm unbound fetches them and
# validates them with the DNSKEY and DS records it cached before (aggressive-nsec off)
NX=0
answers() {
	local d got=""
	NX=$((NX + 1))
	for d in $DOMAINS; do
		got="$got$(mn_ub_status "$UB_PORT" "_dmarc.$d" TXT)|$(mn_ub_status "$UB_PORT" "s1._domainkey.$d" TXT)|"
		got="$got$(mn_ub_status "$UB_PORT" "nx$NX._dmarc.$d" TXT)|$(mn_ub_status "$UB_PORT" "nx$NX._domainkey.$d" TXT)|"
	done
	echo "$got"
}
WANT=""
for d in $DOMAINS; do WANT="${WANT}NOERROR ad|NOERROR ad|NXDOMAIN ad|NXDOMAIN ad|"; done
# validated LABEL: by unbound with what it cached at the step before, then by a fresh one
validated() {
	is "$(answers)" "$WANT" "$1: unbound validates DMARC TXT, DKIM TXT and NXDOMAIN of every domain (AD)" ||
		diag "$(grep -iE 'validat|bogus|fail' "$TMP/unbound.log" | tail -6)"
	ub_start || diag "unbound did not restart"
	is "$(answers)" "$WANT" "$1: and so does a fresh unbound" ||
		diag "$(grep -iE 'validat|bogus|fail' "$TMP/unbound.log" | tail -6)"
}
# verified LABEL: ldns-verify-zone accepts every zone `mailns zone` prints (its stderr in $TMP/dz.out)
verified() {
	# shellcheck disable=SC2086
	is "$(mn_verify_zones "$POLICY" "$TMP/dz" $ZONES)" "" "$1: ldns-verify-zone accepts the 12 zones mailns zone prints"
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
# keys ZONE: "role/alg/state" of each key not removed, sorted
keys() {
	local f
	for f in "$TMP/state/dnssec/$1"/*.key; do
		grep -q '^state removed$' "$f" && continue
		printf '%s/%s/%s\n' "$(sed -n 's/^role //p' "$f")" "$(sed -n 's/^algorithm //p' "$f")" \
			"$(sed -n 's/^state //p' "$f")"
	done | sort | tr '\n' ' '
}
# the keys each zone ends with, by domain
final() {
	case $1 in
	alg.*) echo "csk/15/active " ;;
	algz.*) echo "ksk/15/active zsk/15/active " ;;
	split.*) echo "ksk/13/active zsk/13/active " ;;
	join.*) echo "csk/13/active " ;;
	esac
}
all_final() {
	local d z
	for d in $DOMAINS; do
		for z in _domainkey.$d _dmarc.$d _spf.$d; do [ "$(keys "$z")" = "$(final "$d")" ] || return 1; done
	done
}
state_line() { # the keys of the _dmarc zone of every domain, one line
	local d
	for d in $DOMAINS; do printf '%s: %s; ' "$d" "$(keys "_dmarc.$d")"; done
}

# mailns keys list at the simulated time: the DNSSEC rows of zone (ZONE TAG ALGORITHM STATE
# CREATED NEXT ROLE DS) without the zone, tag and created columns, sorted
list_rows() {
	"$MAILNS" keys list -c "$POLICY" --now "@$((T0 + t))" | awk -F'\t' -v z="$1" 'NF == 8 && $1 == z {
		print $3, $4, $6, $7, $8 }' | sort
}
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
list_step1() { # the new ED25519 CSK presigns, due to be published at max_ttl + propagation
	is "$(list_rows _dmarc.alg.example.com | tr '\n' '|')" \
		"ecdsap256sha256 active - csk none|ed25519 presign $(iso $((T0 + t + 3900))) csk none|" \
		"keys list: the old CSK active, the new ED25519 one presigning, its next step due in 3900 s"
	"$MAILNS" keys list -c "$POLICY" --now "@$((T0 + t))" --json >"$TMP/list.json"
	check "keys list --json: the same DNSSEC keys as the text list" -- python3 - "$TMP/list.json" \
		"$("$MAILNS" keys list -c "$POLICY" --now "@$((T0 + t))" | awk -F'\t' 'NF == 8' | wc -l)" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
d = [o for o in v if "zone" in o]
k = [o for o in d if o["zone"] == "_dmarc.alg.example.com" and o["state"] == "presign"]
sys.exit(0 if len(d) == int(sys.argv[2]) and len(k) == 1 and k[0]["algorithm"] == "ed25519" and
         k[0]["role"] == "csk" and k[0]["ds"] == "none" and k[0]["next_change"] and k[0]["waits_for"] is None and
         isinstance(k[0]["key_tag"], int) and all("selector" in o for o in v if "zone" not in o) else 1)
PY
}
list_step3() { # the old KSK of join retired, its DS still at the parent (the operator a step behind)
	is "$(list_rows _dmarc.join.example.com | tr '\n' '|')" \
		"ecdsap256sha256 active - csk seen|ecdsap256sha256 retired $(iso $((T0 + t + 300 + 3600))) zsk none|ecdsap256sha256 retired wait-ds-gone ksk withdrawn|" \
		"keys list: join's new CSK active, the old KSK waiting for its DS to leave, the old ZSK removed after the zone's TTL"
}

T0=$(date +%s)
validated "start"
verified "start"
is "$(keys _dmarc.alg.example.com)" "csk/13/active " "alg.example.com: an ECDSAP256SHA256 CSK"
is "$(keys _dmarc.algz.example.com)" "ksk/13/active zsk/13/active " "algz.example.com: an ECDSAP256SHA256 KSK and ZSK"
is "$(keys _dmarc.split.example.com)" "csk/13/active " "split.example.com: a CSK"
is "$(keys _dmarc.join.example.com)" "ksk/13/active zsk/13/active " "join.example.com: a KSK and a ZSK"

# ---- the policy changes: ED25519 for alg, ksk+zsk for split, csk for join -----------------
sed -i -e 's/algorithm: ECDSAP256SHA256/algorithm: ED25519/' -e '/join.example.com:/,/dmarc:/s/keys: ksk+zsk/keys: csk/' \
	-e '/split.example.com:/,/dmarc:/s/keys: csk/keys: ksk+zsk/' "$POLICY"
[ "$(grep -c 'algorithm: ED25519' "$POLICY")" = 2 ] && [ "$(grep -c 'keys: ksk+zsk' "$POLICY")" = 2 ] &&
	[ "$(grep -c 'keys: csk' "$POLICY")" = 1 ]; ok $? "the policy asks for the new algorithm and shapes"
reload; ok $? "mailnsd reloads the new policy"
validated "policy changed, nothing rolled"
verified "policy changed, nothing rolled"
is "$(grep -c "are not those dnssec asks for" "$TMP/dz.out")" 12 \
	"mailns zone warns that the keys of the 12 zones are not those asked for (until rolled)"

# ---- the rollovers, one `mailns keys rotate` per step, each step 3900 s later ---------------
# (DNSKEY TTL / zone TTL 300 + propagation 3600).  The operator is a step behind: before
# each, the parent publishes what `mailns delegation` printed after the one before, so
# what a step changes must validate with the parent's DS records of before it; after
# each, mailnsd reloads
t=0
steps=0
declare -A seen_presign seen_postsign seen_both_alg
for step in $(seq 1 12); do
	t=$((t + 3900))
	[ "$(delegation_ds)" = "$PARENT_DS" ] || nsd_start || diag "nsd did not restart"
	OUT=$("$MAILNS" keys rotate -c "$POLICY" --quiet --now "@$((T0 + t))" --resolver "127.0.0.1:$NSD_PORT" 2>&1)
	RC=$?
	[ "$RC" = 0 ] || [ "$RC" = 3 ] || { ok 1 "step $step: keys rotate exits $RC"; diag "$OUT"; break; }
	for a in alg algz; do # the algorithm rollovers' phases, as seen in the keys of their _dmarc zone
		k=$TMP/state/dnssec/_dmarc.$a.example.com
		grep -q "^state presign$" "$k"/*.key && seen_presign[$a]=1
		grep -q "^state postsign$" "$k"/*.key && seen_postsign[$a]=1
		[ "$(grep -l '^state \(published\|ready\|active\|retired\)$' "$k"/*.key |
			xargs grep -h '^algorithm ' | sort -u | wc -l)" = 2 ] && seen_both_alg[$a]=1
	done
	reload || diag "mailnsd did not reload"
	diag "step $step (+$t s, rotate exit $RC): $(state_line)"
	validated "step $step"
	verified "step $step"
	[ "$step" = 1 ] && list_step1
	[ "$step" = 3 ] && list_step3
	steps=$step
	all_final && break
done
all_final; ok $? "after $steps steps every zone has the keys the policy asks for, and only those: $(state_line)"
for d in alg algz; do
	is "${seen_presign[$d]}${seen_both_alg[$d]}${seen_postsign[$d]}" 111 \
		"$d.example.com: the algorithm rollover went through presign, both algorithms in DNSKEY, postsign"
	is "$(delegation_ds | awk -v d="$d" '$1 ~ "\\." d "\\.example\\.com\\.$" { print $6 }' | sort -u | tr '\n' ' ')" "15 " \
		"mailns delegation: the DS of $d.example.com's zones are ED25519 ones alone"
done
for z in _dmarc.alg.example.com _dmarc.algz.example.com _dmarc.split.example.com _dmarc.join.example.com; do
	is "$(kdig @127.0.0.1 -p "$MN_PORT" +time=3 +retry=1 +dnssec +noall +answer "$z" TXT 2>/dev/null |
		awk '$4 == "RRSIG" { print $6 }' | sort -u | tr '\n' ' ')" \
		"$(case $z in *.alg*) echo "15 " ;; *) echo "13 " ;; esac)" "$z's TXT signed by the new keys' algorithm alone"
done
is "$(grep -c "are not those dnssec asks for" "$TMP/dz.out")" 0 "mailns zone: no more warning that the keys differ"
OUT=$("$MAILNS" keys rotate -c "$POLICY" --quiet --now "@$((T0 + t + 86400))" --resolver "127.0.0.1:$NSD_PORT" 2>&1)
is "$?" 0 "a later run: nothing to do, exit 0"
is "$(grep -c dnssec <<<"$OUT")" 0 "and nothing done" || diag "$OUT"

for p in $UB_PID $NSD_PID; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
UB_PID=""; NSD_PID=""
mn_stop; ok $? "mailnsd stops cleanly"
done_testing
