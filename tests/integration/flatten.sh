#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# flatten.sh -- `mailns flatten` against a real NSD serving provider-like SPF zones
# (nested includes 3 deep, redirect=, ~all and -/? terms inside an include, a/mx
# with AAAA, exists: macros, a record over 255 bytes, a loop, a void include)
# through a real unbound; mailnsd serves the result and pyspf compares, through
# the real servers, the published apex D with the original at orig.D at sampled
# addresses (inside, outside, every network boundary +-1).  Then a provider
# changes its ranges (NSD reloaded by SIGHUP): the diff is printed and served;
# an outage exits 3 and changes nothing served.  Loopback only, PIDs stopped.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v nsd >/dev/null || skip_all "nsd is not installed"
command -v unbound >/dev/null || skip_all "unbound is not installed"
/usr/bin/python3 -c 'import spf, dns.resolver' 2>/dev/null || skip_all "python3-spf is not installed"
mn_tmpdir
NSD_PID=""
UB_PID=""
stop_all() {
	mn_stop_pids $UB_PID $NSD_PID
	mn_cleanup
}
trap stop_all EXIT


CASES="nested redirect soft amx macro big"
# The policy: one domain per case, each with the original terms.
cat > "$TMP/policy.tmpl" <<'YAML'
version: 1
server:
  listen: ["127.0.0.1:@PORT@"]
  nameservers: [ns1.example.net., ns2.example.net.]
  hostmaster: hostmaster.example.net.
  user: root                 # the tests run as root (see server.user in mailns-policy(5))
  ttl: 300
  state_dir: @TMP@/state
domains:
  nested.example.com:
    spf: { mode: flatten, ip4: [192.0.2.128/25], include: [_spf.prov.test], all: fail }
  redirect.example.com:
    spf: { mode: flatten, include: [redir.prov.test], all: fail }
  soft.example.com:
    spf: { mode: flatten, include: [soft.prov.test], all: softfail }
  amx.example.com:
    spf: { mode: flatten, a: [host.prov.test], mx: true, all: fail }
  macro.example.com:
    spf: { mode: auto, include: [macro.prov.test], ip6: ["2001:db8:99::/48"], all: fail }
  big.example.com:
    spf: { mode: flatten, include: [big.prov.test, _spf.prov.test], all: fail }
YAML
MN_PROBE="_spf.nested.example.com"
mn_start "$TMP/policy.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }
ok 0 "mailnsd serves the policy on port $MN_PORT"
P="$TMP/policy.yaml"
NSD_PORT=$(mn_free_port "$MN_PORT")
UB_PORT=$(mn_free_port "$MN_PORT" "$NSD_PORT")
DEAD_PORT=$(mn_free_port "$MN_PORT" "$NSD_PORT" "$UB_PORT")

# --- the providers and the parents, in NSD -----------------------------------------
mkdir -p "$TMP/nsd"
soa() { printf '$ORIGIN %s.\n$TTL 1\n@ SOA ns1.example.net. hostmaster.example.net. %s 3600 900 1209600 1\n@ NS ns1.example.net.\n' "$1" "${2:-1}"; }
prov_zone() { # prov_zone SERIAL N2-IPV4
	soa prov.test "$1"
	echo '_spf TXT "v=spf1 include:_n1.prov.test ip4:192.0.2.0/25 ~all"'
	echo '_n1 TXT "v=spf1 ip4:198.51.100.0/26 include:_n2.prov.test -all"'
	echo "_n2 TXT \"v=spf1 ip6:2001:db8:10::/48 ip4:$2 -all\""
	echo '_n3 TXT "v=spf1 ip4:203.0.113.200/29 -all"'
	echo 'redir TXT "v=spf1 ip4:192.0.2.200/29 redirect=_n3.prov.test"'
	echo 'soft TXT "v=spf1 -ip4:10.20.0.0/24 ?ip4:10.20.1.0/24 ip4:10.20.0.0/16 include:_n3.prov.test ~all"'
	echo 'host A 192.0.2.250'
	echo 'host AAAA 2001:db8:20::1'
	echo 'mx1 A 198.51.100.77'
	echo 'mx1 AAAA 2001:db8:21::25'
	echo 'mx2 AAAA 2001:db8:22::25'
	echo 'macro TXT "v=spf1 ip4:10.30.0.0/16 exists:%{i}._x.prov.test -all"'
	printf 'big TXT "v=spf1'
	for i in $(seq 1 14); do printf ' ip4:10.40.%d.0/24' $((i * 2)); done
	printf '" "'
	for i in $(seq 1 14); do printf ' ip4:10.41.%d.0/24' $((i * 2)); done
	printf ' -all"\n'
	echo 'loop TXT "v=spf1 ip4:10.50.0.0/16 include:loop2.prov.test -all"'
	echo 'loop2 TXT "v=spf1 include:loop.prov.test -all"'
}
prov_zone 1 203.0.113.64/27 > "$TMP/nsd/prov.test.zone"
{
	soa example.com
	for c in $CASES; do
		a=-all; [ "$c" = soft ] && a="~all"
		printf '%s TXT "v=spf1 include:_spf.%s.example.com %s"\n' "$c" "$c" "$a"
		printf '%s NS ns1.example.net.\n' "_spf.$c"
	done
	echo 'orig.nested TXT "v=spf1 ip4:192.0.2.128/25 include:_spf.prov.test -all"'
	echo 'orig.redirect TXT "v=spf1 include:redir.prov.test -all"'
	echo 'orig.soft TXT "v=spf1 include:soft.prov.test ~all"'
	echo 'orig.amx TXT "v=spf1 a:host.prov.test mx:amx.example.com -all"'
	echo 'orig.macro TXT "v=spf1 ip6:2001:db8:99::/48 include:macro.prov.test -all"'
	echo 'orig.big TXT "v=spf1 include:big.prov.test include:_spf.prov.test -all"'
	echo 'amx MX 10 mx1.prov.test.'
	echo 'amx MX 20 mx2.prov.test.'
} > "$TMP/nsd/example.com.zone"
{ soa example.net; echo 'ns1 A 127.0.0.1'; echo 'ns2 A 127.0.0.1'; } > "$TMP/nsd/example.net.zone"
ZONES="prov.test example.com example.net"
{
	mn_nsd_server "$TMP/nsd" "$NSD_PORT"
	for z in $ZONES; do printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$z" "$z"; done
} > "$TMP/nsd.conf"
mn_nsd_start "$TMP/nsd" "$TMP/nsd.conf"
mn_peer_up "$NSD_PORT" prov.test "$NSD_PID" "nsd serves the provider zones on port $NSD_PORT" \
	"$TMP/nsd/nsd.out" "$TMP/nsd/nsd.log"

# --- unbound: iterator only, no cache to speak of, stub zones on loopback ------------
mkdir -p "$TMP/ub"
{
	mn_unbound_server "$TMP/ub" "$UB_PORT"
	printf '  minimal-responses: yes\n  cache-max-ttl: 1\n  cache-max-negative-ttl: 1\n  local-zone: "test." nodefault\n'
	mn_stub . "$NSD_PORT"
	for z in $ZONES; do mn_stub "$z" "$NSD_PORT"; done
	for c in $CASES; do mn_stub "_spf.$c.example.com" "$MN_PORT"; done
} > "$TMP/ub/unbound.conf"
mn_unbound_start "$TMP/ub" "$TMP/ub/unbound.conf"
mn_peer_up "$UB_PORT" prov.test "$UB_PID" "unbound resolves on port $UB_PORT" "$TMP/ub/unbound.out" "$TMP/ub/unbound.log"
R="127.0.0.1:$UB_PORT"
CACHE="$TMP/state/spf"

# served TXT of a name, strings joined
served() { kdig @127.0.0.1 -p "$MN_PORT" +time=2 +retry=0 +short "$1" TXT | sed -e 's/" "//g' -e 's/"//g' | sort | tr '\n' '|'; }
# wait_served NAME PATTERN: bounded wait until mailnsd serves a TXT matching
wait_served() {
	local i
	for i in $(seq 1 50); do served "$1" | grep -qE -- "$2" && return 0; sleep 0.1; done
	return 1
}

# --- first run --------------------------------------------------------------------
OUT=$("$MAILNS" flatten -c "$P" --resolver "$R" 2>"$TMP/err"); RC=$?
is "$RC" 0 "first flatten exits 0"
[ "$RC" -eq 0 ] || diag "$(cat "$TMP/err")"
is "$(printf '%s\n' "$OUT" | grep '^nested.example.com:')" \
	"nested.example.com: +ip4:192.0.2.0/24 +ip4:198.51.100.0/26 +ip4:203.0.113.64/27 +ip6:2001:db8:10::/48" \
	"nested includes (3 levels), ~all inside: the pass set"
is "$(printf '%s\n' "$OUT" | grep '^redirect.example.com:')" \
	"redirect.example.com: +ip4:192.0.2.200/29 +ip4:203.0.113.200/29" "redirect= followed"
is "$(printf '%s\n' "$OUT" | grep '^amx.example.com:')" \
	"amx.example.com: +ip4:192.0.2.250 +ip4:198.51.100.77 +ip6:2001:db8:20::1 +ip6:2001:db8:21::25 +ip6:2001:db8:22::25" \
	"a and mx with A and AAAA"
is "$(printf '%s\n' "$OUT" | grep '^macro.example.com:')" \
	"macro.example.com: +ip4:10.30.0.0/16 +ip6:2001:db8:99::/48 +include:macro.prov.test" "exists: macro: the include kept"
is "$(grep -c '^net 10\.4[01]\.' "$CACHE/big.example.com")" 28 "a record split in strings: 28 networks"
is "$(grep -c '^net 10\.20\.' "$CACHE/soft.example.com")" 7 "-ip4 and ?ip4 before the wider pass take /24s away"
is "$(sed -n 1p "$CACHE/nested.example.com")" "mailns-spf-cache 1" "cache file header"
is "$(grep '^ttl ' "$CACHE/nested.example.com")" "ttl 1" "upstream TTL recorded"

for c in $CASES; do
	wait_served "_spf.$c.example.com" 'ip4:|exists:' || true
done
wait_served "_spf.nested.example.com" "ip4:198.51.100.0/26" ; is "$?" 0 "mailnsd reloads and serves the flattened record"
is "$(served _spf.nested.example.com)" "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/26 ip4:203.0.113.64/27 ip6:2001:db8:10::/48 -all|" \
	"the flattened record served"
is "$(served _spf.macro.example.com)" "v=spf1 ip4:10.30.0.0/16 ip6:2001:db8:99::/48 include:macro.prov.test -all|" \
	"auto: flattened, the macro include kept"
bigtxt=$(served _spf.big.example.com)
ok "$(case $bigtxt in *include:c1-*) echo 0;; *) echo 1;; esac)" "the big record is chained into parts"

CHECK=$(/usr/bin/python3 "$top_srcdir/tests/data/spf/spfcheck.py" "$UB_PORT" "$CACHE" $(for c in $CASES; do echo "$c.example.com"; done) 2>&1)
for c in $CASES; do
	line=$(printf '%s\n' "$CHECK" | grep "^$c.example.com:")
	ok "$(case $line in *"addresses agree") echo 0;; *) echo 1;; esac)" "pyspf: published = original for $c ($line)"
done

# --- a loop and a void include: refused, nothing written ---------------------------
sed -e 's|include: \[redir.prov.test\]|include: [loop.prov.test]|' -e 's|a: \[host.prov.test\], mx: true|include: [void.prov.test]|' "$P" > "$TMP/bad.yaml"
OUT=$("$MAILNS" flatten -c "$TMP/bad.yaml" --resolver "$R" --dry-run 2>&1); RC=$?
is "$RC" 1 "a loop and a void include: exit 1"
like() { case $1 in *"$2"*) ok 0 "$3";; *) ok 1 "$3"; diag "got: $1";; esac; }
like "$OUT" "redirect.example.com: cannot flatten: 0.0.0.0 gets permerror from 'include:loop.prov.test' (include loop at loop.prov.test)" "the loop is named"
like "$OUT" "amx.example.com: cannot flatten: 0.0.0.0 gets permerror from 'include:void.prov.test' (void.prov.test has no SPF record)" "the void include is named"

# --- nothing changed: quiet ----------------------------------------------------------
before=$(cat "$CACHE"/*.example.com | md5sum)
OUT=$("$MAILNS" flatten -c "$P" --resolver "$R" 2>&1); RC=$?
is "$RC" 0 "second run exits 0"
is "$OUT" "" "nothing changed: quiet"
is "$(cat "$CACHE"/*.example.com | md5sum)" "$before" "and nothing written"

# --- a provider changes its ranges ---------------------------------------------------
oldroot=$(served _spf.big.example.com)
prov_zone 2 203.0.113.96/27 > "$TMP/nsd/prov.test.zone"
kill -HUP "$NSD_PID"
for i in $(seq 1 50); do
	kdig @127.0.0.1 -p "$UB_PORT" +time=1 +retry=0 +short _n2.prov.test TXT | grep -q 203.0.113.96 && break
	sleep 0.1
done
OUT=$("$MAILNS" flatten -c "$P" --resolver "$R" --dry-run 2>&1); RC=$?
like "$OUT" "nested.example.com: +ip4:203.0.113.96/27 -ip4:203.0.113.64/27" "--dry-run prints the change"
is "$(cat "$CACHE"/*.example.com | md5sum)" "$before" "--dry-run writes nothing"
OUT=$("$MAILNS" flatten -c "$P" --resolver "$R" 2>&1); RC=$?
is "$RC" 0 "flatten after the change exits 0"
is "$(printf '%s\n' "$OUT" | grep '^nested.example.com:')" "nested.example.com: +ip4:203.0.113.96/27 -ip4:203.0.113.64/27" "the change is printed"
wait_served _spf.nested.example.com "203.0.113.96/27"; is "$?" 0 "and served after the reload"
oldpart=$(grep '^old ' "$CACHE/big.example.com" | head -1 | cut -d' ' -f3)
ok "$([ -n "$oldpart" ] && echo 0 || echo 1)" "the previous generation's parts are kept in the cache ($oldpart)"
ok "$(served "$oldpart" | grep -q 'v=spf1' && echo 0 || echo 1)" "and still served for their TTL"
for n in _spf.nested.example.com _spf.big.example.com; do
	want=$(served "$n")
	for i in $(seq 1 100); do	# the resolver's copy expires too
		got=$(kdig @127.0.0.1 -p "$UB_PORT" +time=1 +retry=0 +short "$n" TXT | sed -e 's/" "//g' -e 's/"//g' | sort | tr '\n' '|')
		[ "$got" = "$want" ] && break
		sleep 0.1
	done
done
CHECK=$(/usr/bin/python3 "$top_srcdir/tests/data/spf/spfcheck.py" "$UB_PORT" "$CACHE" nested.example.com big.example.com 2>&1)
is "$(printf '%s\n' "$CHECK" | grep -c 'addresses agree')" 2 "pyspf: the new generation is equivalent ($CHECK)"

# --- an outage: exit 3, nothing served changes -----------------------------------------
before=$(cat "$CACHE"/*.example.com | md5sum)
served_before=$(served _spf.nested.example.com)
sed -e '/^  redirect/,$d' "$P" > "$TMP/one.yaml"
t0=$(date +%s)
OUT=$("$MAILNS" flatten -c "$TMP/one.yaml" --resolver "127.0.0.1:$DEAD_PORT" 2>&1); RC=$?
is "$RC" 3 "a resolver that does not answer: exit 3"
like "$OUT" "nested.example.com: resolution failed, keeping the last good set" "the kept set is named"
ok "$(( $(date +%s) - t0 <= 20 ? 0 : 1 ))" "bounded"
is "$(cat "$CACHE"/*.example.com | md5sum)" "$before" "the cache is unchanged"
is "$(served _spf.nested.example.com)" "$served_before" "what is served is unchanged"

# --- a set that shrinks by more than half ----------------------------------------------
prov_zone 3 203.0.113.96/32 | sed -e 's|ip4:198.51.100.0/26|ip4:198.51.100.0/32|' -e 's|ip4:192.0.2.0/25|ip4:192.0.2.0/32|' > "$TMP/nsd/prov.test.zone"
kill -HUP "$NSD_PID"
for i in $(seq 1 50); do
	kdig @127.0.0.1 -p "$UB_PORT" +time=1 +retry=0 +short _n2.prov.test TXT | grep -q '203.0.113.96 ' && break
	sleep 0.1
done
OUT=$("$MAILNS" flatten -c "$TMP/one.yaml" --resolver "$R" 2>&1); RC=$?
like "$OUT" "nested.example.com: warning: the IPv4 set shrinks by more than half; not written" "a shrinking set: warning"
is "$RC" 1 "and exit 1"
is "$(cat "$CACHE"/*.example.com | md5sum)" "$before" "not written"
OUT=$("$MAILNS" flatten -c "$TMP/one.yaml" --resolver "$R" --force 2>&1); RC=$?
is "$RC" 0 "--force writes it"
ok "$(grep -q '^net 203.0.113.96$' "$CACHE/nested.example.com" && echo 0 || echo 1)" "the shrunk set is in the cache"
done_testing
