#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# checkdns.sh -- `mailns check --dns` through a real unbound on loopback, which
# reaches a real NSD (the parents example.com, example.org, example.net) and
# the real mailnsd (the delegated _domainkey/_dmarc/_spf zones) by stub zones:
# a good domain prints nothing; a wrong apex SPF record, missing report
# authorizations, a missing delegation, changed and unpublished DKIM keys each
# print their diagnostic at its policy position; with dnssec, the parent's DS
# (good: nothing; a wrong one: error; none: warning); a dead resolver times
# out, bounded.  Everything on 127.0.0.1/::1; every daemon stopped by PID.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v nsd >/dev/null || skip_all "nsd is not installed"
command -v unbound >/dev/null || skip_all "unbound is not installed"
mn_tmpdir
NSD_PID=""
UB_PID=""
stop_all() {
	mn_stop_pids $UB_PID $NSD_PID
	UB_PID=""
	NSD_PID=""
	mn_cleanup
}
trap stop_all EXIT

# Key-store keys (the public halves, as `mailns keys` would publish them).
K1="wG/6wjlBTtfEnxMoVvbp/Nu+vl5JJzjtm1fwHZKArOs="
K2="EiDXjLXuoFQHeEPcRnsf44AfIe/Wk977a3k7td/NJFY="
K3="fxGTUU2QNW9ah2r0BTQq8cTgeA5Hv4wWDBByxF/SctA="
mkdir -p "$TMP/state/keys/example.com" "$TMP/state2/keys/example.com"
echo "mn20300101e active v=DKIM1; k=ed25519; p=$K2" > "$TMP/state/keys/example.com/published"
echo "mn20300101e active v=DKIM1; k=ed25519; p=$K3" > "$TMP/state2/keys/example.com/published"

mn_start "$top_srcdir/tests/integration/checkdns.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd serves the policy on port $MN_PORT"
is "$(mn_dig +short mn20300101e._domainkey.example.com TXT)" "\"v=DKIM1; k=ed25519; p=$K2\"" "mailnsd serves the key-store key"

NSD_PORT=$(mn_free_port "$MN_PORT")
UB_PORT=$(mn_free_port "$MN_PORT" "$NSD_PORT")
DEAD_PORT=$(mn_free_port "$MN_PORT" "$NSD_PORT" "$UB_PORT")

# --- the parents, in NSD ---------------------------------------------------------
mkdir -p "$TMP/nsd"
soa() { printf '$ORIGIN %s.\n$TTL 300\n@ SOA ns1.example.net. hostmaster.example.net. 1 3600 900 1209600 300\n@ NS ns1.example.net.\n' "$1"; }
deleg() { local l; for l in _domainkey _dmarc _spf; do printf '%s NS ns1.example.net.\n%s NS ns2.example.net.\n' "$l" "$l"; done; }
{ soa example.com; deleg; echo '@ TXT "v=spf1 include:_spf.example.com -all"'; } > "$TMP/nsd/example.com.zone"
{
	soa example.org; deleg
	echo '@ TXT "v=spf1 ip4:198.51.100.0/24 -all"'
	echo '@ TXT "site-verification=abc"'
	# undelegated.example.org: no NS for its zones; _spf.undelegated exists (NODATA)
	echo '_spf.undelegated TXT "v=spf1 -all"'
	echo 'spf1 TXT "not spf"'
	echo 'spf2 TXT "v=spf1 include:_spf.spf2.example.org ~all"'
	echo 'spf2 TXT "v=spf1 ip4:192.0.2.2 ~all"'
} > "$TMP/nsd/example.org.zone"
# other.example.org: _dmarc served by us and a stranger, _spf by the stranger only
{ soa _dmarc.other.example.org; echo '@ NS ns2.example.net.'; echo '@ NS ns9.example.org.'; } > "$TMP/nsd/_dmarc.other.example.org.zone"
{ soa _spf.other.example.org | sed 's/ ns1.example.net./ ns9.example.org./'; } > "$TMP/nsd/_spf.other.example.org.zone"
{
	soa example.net
	echo 'ns1 A 127.0.0.1'
	echo 'ns2 A 127.0.0.1'
	echo 'example.com._report._dmarc.reports TXT "v=DMARC1"'
	echo 'example.org._report._dmarc.reports TXT "not a dmarc record"'
} > "$TMP/nsd/example.net.zone"
{
	mn_nsd_server "$TMP/nsd" "$NSD_PORT"
	for z in example.com example.org example.net _dmarc.other.example.org _spf.other.example.org; do
		printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$z" "$z"
	done
} > "$TMP/nsd.conf"
mn_nsd_start "$TMP/nsd" "$TMP/nsd.conf"
mn_peer_up "$NSD_PORT" example.com "$NSD_PID" "nsd serves the parent zones on port $NSD_PORT" \
	"$TMP/nsd/nsd.out" "$TMP/nsd/nsd.log"

# --- the resolver: unbound, iterator only, stub zones on loopback -----------------
mkdir -p "$TMP/ub"
{
	mn_unbound_server "$TMP/ub" "$UB_PORT"
	printf '  interface: ::1\n  do-ip6: yes\n  access-control: ::1/128 allow\n  minimal-responses: yes\n'
	# the root and the parents go to NSD (nothing leaves loopback), our zones to mailnsd
	mn_stub . "$NSD_PORT"
	for z in example.com example.org example.net _dmarc.other.example.org _spf.other.example.org; do
		mn_stub "$z" "$NSD_PORT"
	done
	for d in example.com example.org other.example.org spf1.example.org spf2.example.org; do
		for l in _domainkey _dmarc _spf; do
			case $l.$d in _dmarc.other.* | _spf.other.*) ;; *) mn_stub "$l.$d" "$MN_PORT" ;; esac
		done
	done
} > "$TMP/ub/unbound.conf"
mn_unbound_start "$TMP/ub" "$TMP/ub/unbound.conf"
mn_peer_up "$UB_PORT" example.com "$UB_PID" "unbound resolves on port $UB_PORT" "$TMP/ub/unbound.out" "$TMP/ub/unbound.log"
is "$(kdig @127.0.0.1 -p "$UB_PORT" +time=2 +retry=0 +short _dmarc.example.com TXT)" \
	'"v=DMARC1; p=reject; rua=mailto:d@example.com,mailto:agg@reports.example.net,mailto:d@example.org"' \
	"unbound reaches mailnsd through the stub"

# check_dns POLICY ARGS...: runs mailns check --dns, sets OUT (stderr+stdout) and RC
check_dns() {
	local pol=$1; shift
	OUT=$("$MAILNS" check -c "$pol" --dns "$@" 2>&1)
	RC=$?
}
# lines_is GOT WANT DESCRIPTION: the same lines, in any order
lines_is() { is "$(printf '%s\n' "$1" | sort)" "$(printf '%s\n' "$2" | sort)" "$3"; }

# The offline findings (a foreign rua may be warned about without --dns):
# --dns prints them and its own, and nothing else.
P="$TMP/policy.yaml"
OFF=$("$MAILNS" check -c "$P" 2>&1)
is "$?" 0 "the policy passes the offline checks"
check_dns "$P" --resolver "127.0.0.1:$UB_PORT"
want="$P:23:3: error: the SPF record of example.org does not include _spf.example.org
$P:34:11: warning: elsewhere.example.net does not authorize DMARC reports for example.org (example.org._report._dmarc.elsewhere.example.net: NXDOMAIN)
$P:36:11: warning: reports.example.net does not authorize DMARC reports for example.org (example.org._report._dmarc.reports.example.net: no v=DMARC1 record)
$P:37:3: error: _domainkey.undelegated.example.org is not delegated to this server (NS: none; expected ns1.example.net, ns2.example.net)
$P:37:3: error: _dmarc.undelegated.example.org is not delegated to this server (NS: none; expected ns1.example.net, ns2.example.net)
$P:37:3: error: _spf.undelegated.example.org is not delegated to this server (NS: none; expected ns1.example.net, ns2.example.net)
$P:40:3: warning: the NS records of _dmarc.other.example.org differ from server.nameservers (NS: ns1.example.net, ns2.example.net, ns9.example.org; expected ns1.example.net, ns2.example.net)
$P:40:3: error: _spf.other.example.org is not delegated to this server (NS: ns9.example.org; expected ns1.example.net, ns2.example.net)
$P:43:3: error: spf1.example.org has no SPF record (publish \"v=spf1 include:_spf.spf1.example.org -all\")
$P:45:3: error: spf2.example.org has 2 SPF records (RFC 7208 allows one)"
lines_is "$OUT" "$(printf '%s\n%s' "$OFF" "$want" | grep .)" "check --dns: each finding at its position; nothing about the good domain"
is "$RC" 1 "check --dns exits 1 on errors"
is "$(printf '%s\n' "$OUT" | grep -F -- "$want" | tr '\n' '|')" "$(printf '%s\n' "$want" | tr '\n' '|')" "findings sorted by position"

# The same through IPv6 loopback.
check_dns "$P" --resolver "[::1]:$UB_PORT"
lines_is "$OUT" "$(printf '%s\n%s' "$OFF" "$want" | grep .)" "check --dns --resolver [::1]:PORT: the same findings"

# Only the good domain: no output, exit 0.
sed -e '/^  example.org:/,$d' "$P" > "$TMP/good.yaml"
OFF=$("$MAILNS" check -c "$TMP/good.yaml" 2>&1)
check_dns "$TMP/good.yaml" --resolver "127.0.0.1:$UB_PORT"
is "$OUT" "$OFF" "a correctly published domain adds nothing to the offline output"
is "$RC" 0 "and check --dns exits 0"

# The policy edited but not yet served: a changed key, a new selector, and a
# key store whose key differs from the served one.
sed -e "s|p=$K2\"|p=$K3\"|" -e "s|^        old: .*|&\n        new: \"v=DKIM1; k=ed25519; p=$K1\"|" \
	-e "s|$TMP/state\$|$TMP/state2|" -e '/^  undelegated/,$d' "$P" > "$TMP/edited.yaml"
E="$TMP/edited.yaml"
OFF=$("$MAILNS" check -c "$E" 2>&1)
is "$?" 0 "the edited policy passes the offline checks"
check_dns "$E" --resolver "127.0.0.1:$UB_PORT"
want="error: the DKIM key published at mn20300101e._domainkey.example.com (key store) differs from the local one (p=)
$E:23:3: error: the SPF record of example.org does not include _spf.example.org
$E:30:9: error: the DKIM key published at old._domainkey.example.org differs from the local one (p=)
$E:31:9: error: the DKIM key new._domainkey.example.org is not published (NXDOMAIN)
$E:35:11: warning: elsewhere.example.net does not authorize DMARC reports for example.org (example.org._report._dmarc.elsewhere.example.net: NXDOMAIN)
$E:37:11: warning: reports.example.net does not authorize DMARC reports for example.org (example.org._report._dmarc.reports.example.net: no v=DMARC1 record)"
lines_is "$OUT" "$(printf '%s\n%s' "$OFF" "$want" | grep .)" "check --dns: changed and unpublished DKIM keys, at the selector (key store: named)"
is "$RC" 1 "exits 1"

# A resolver that does not answer: the first query times out (3 s, 2 tries), the
# checks stop there; bounded.
t0=$(date +%s)
check_dns "$P" --resolver "127.0.0.1:$DEAD_PORT"
t1=$(date +%s)
want="error: DNS checks stopped: the resolver 127.0.0.1#$DEAD_PORT does not answer
$P:9:3: error: cannot resolve _domainkey.example.com NS (timeout)"
is "$(printf '%s\n' "$OUT" | grep -v ': warning: ')" "$want" "dead resolver: the timeout names the query, then the checks stop"
is "$RC" 1 "dead resolver: exit 1"
[ $((t1 - t0)) -le 15 ]; ok $? "dead resolver: done in $((t1 - t0)) s (<= 15)"

# --- DNSSEC: the parent's DS against the zone's keys --------------------------------
# example.com signed (keys made by mailns zone in a state_dir of its own); NSD, the
# parent, publishes the DS records, reloaded on SIGHUP, and unbound is restarted (an
# empty cache): first the three good ones, then a wrong one and none.
sed -e "s|state_dir: $TMP/state\$|state_dir: $TMP/state3\n  dnssec: true|" "$TMP/good.yaml" >"$TMP/signed.yaml"
S="$TMP/signed.yaml"
cp -a "$TMP/state" "$TMP/state3"
"$MAILNS" zone -c "$S" --dir "$TMP/signed" >/dev/null; ok $? "mailns zone makes the keys of the signed example.com"
DS=$("$MAILNS" delegation -c "$S" | awk '$4 == "DS"')
is "$(echo "$DS" | grep -c .)" 3 "mailns delegation: a DS for each of the three zones"
# parent_ds SERIAL LINES: example.com again with these DS records, NSD reloaded and serving them
parent_ds() {
	{ soa example.com | sed "s/ 1 3600 / $1 3600 /"; deleg; echo '@ TXT "v=spf1 include:_spf.example.com -all"'
	  printf '%s\n' "$2"; } >"$TMP/nsd/example.com.zone"
	kill -HUP "$NSD_PID"
	local i
	for i in $(seq 1 100); do
		[ "$(kdig @127.0.0.1 -p "$NSD_PORT" +time=1 +retry=0 +short example.com SOA | awk '{print $3}')" = "$1" ] && break
		sleep 0.1
	done
	[ "$i" -lt 100 ] || return 1
	mn_stop_pids "$UB_PID"
	mn_unbound_start "$TMP/ub" "$TMP/ub/unbound.conf"
	mn_wait_answer "$UB_PORT" example.com "$UB_PID"
}
parent_ds 2 "$DS"; ok $? "NSD publishes the three good DS records"
is "$(kdig @127.0.0.1 -p "$UB_PORT" +time=2 +retry=0 +short _dmarc.example.com DS | wc -l)" 1 "unbound asks the parent for the DS"
OFF=$("$MAILNS" check -c "$S" 2>&1)
check_dns "$S" --resolver "127.0.0.1:$UB_PORT"
is "$OUT" "$OFF" "the parent's DS match the keys: check --dns adds nothing"
is "$RC" 0 "and exits 0"

# _domainkey: its DS and a stale one (a double-DS rollover's); _dmarc: a DS with another
# digest; _spf: none
bad=$(echo "$DS" | awk '$1 == "_dmarc.example.com." { d = $NF; c = substr(d, 1, 1); $NF = (c == "A" ? "B" : "A") substr(d, 2) } $1 != "_spf.example.com." { print }')
bad=$(printf '%s\n_domainkey.example.com. 0 IN DS 1 13 2 %s' "$bad" "$(printf '0%.0s' $(seq 64))")
parent_ds 3 "$bad"; ok $? "NSD publishes a wrong DS for _dmarc, none for _spf"
check_dns "$S" --resolver "127.0.0.1:$UB_PORT"
dmarc_key=$(echo "$DS" | awk '$1 == "_dmarc.example.com." { print $5, $6, $7 }')
want="$S:10:3: error: no DS of the parent matches a key of _dmarc.example.com (DS: $dmarc_key; keys: $dmarc_key): validation fails, SERVFAIL for every validating resolver
$S:10:3: warning: the parent has no DS for _spf.example.com: the zone is not validated (publish the DS that mailns delegation prints)"
lines_is "$OUT" "$(printf '%s\n%s' "$OFF" "$want" | grep .)" "check --dns: a wrong DS is an error, none a warning, a stale one beside the good one nothing"
is "$RC" 1 "exits 1 on the wrong DS"

# Usage
"$MAILNS" check -c "$P" --resolver "127.0.0.1:$UB_PORT" >/dev/null 2>&1
is "$?" 2 "--resolver without --dns: usage error"
is "$("$MAILNS" check -c "$P" --dns --resolver "nonsense:x" 2>&1)" "mailns: bad resolver address 'nonsense:x' (ADDR[:PORT] or [ADDR]:PORT)" "a bad --resolver is named"
"$MAILNS" check -c "$P" --dns --resolver "nonsense:x" >/dev/null 2>&1
is "$?" 2 "a bad --resolver: exit 2"

# Without --dns nothing is asked.
is "$("$MAILNS" check -c "$P" 2>&1 | grep -c -e 'delegated' -e 'does not authorize' -e 'SPF record' -e 'cannot resolve')" 0 "check without --dns prints no DNS finding"

mn_stop_pids $UB_PID $NSD_PID
UB_PID=""; NSD_PID=""
mn_stop; ok $? "mailnsd stops cleanly"
done_testing
