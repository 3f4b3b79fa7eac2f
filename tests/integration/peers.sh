#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# peers.sh -- the zones of `mailns zone --dir`, loaded into a real NSD on
# loopback, answer every probe name exactly as mailnsd does (rcode, answer and
# authority sections): positive, NXDOMAIN, NODATA, ENT, wildcard, chained SPF.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v nsd >/dev/null || skip_all "nsd is not installed"
mn_tmpdir
mn_start "$top_srcdir/tests/integration/server.tmpl" || { ok 1 "mailnsd starts"; done_testing; exit 1; }

# The same zones (same serials: same state_dir) as master files for NSD.
"$MAILNS" zone -c "$TMP/policy.yaml" --dir "$TMP/zones"; ok $? "mailns zone --dir"

nsd_port=$(mn_free_port "$MN_PORT")
{
	printf 'server:\n  ip-address: 127.0.0.1\n  port: %s\n  username: ""\n  chroot: ""\n' "$nsd_port"
	printf '  zonesdir: "%s"\n  pidfile: "%s"\n  database: ""\n' "$TMP/zones" "$TMP/nsd.pid"
	printf '  xfrdfile: "%s"\n  zonelistfile: "%s"\n  xfrdir: "%s"\n' "$TMP/xfrd.state" "$TMP/zone.list" "$TMP"
	printf '  logfile: "%s"\n  server-count: 1\n  verbosity: 1\n' "$TMP/nsd.log"
	# like mailnsd (and Knot): no NS in the authority section of positive answers
	printf '  minimal-responses: yes\n'
	printf 'remote-control:\n  control-enable: no\n'
	for f in "$TMP/zones"/*.zone; do
		printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "$(basename "$f" .zone)" "$(basename "$f")"
	done
} > "$TMP/nsd.conf"
nsd -d -c "$TMP/nsd.conf" >"$TMP/nsd.out" 2>&1 &
NSD_PID=$!
trap 'kill -TERM $NSD_PID 2>/dev/null; wait $NSD_PID 2>/dev/null; mn_cleanup' EXIT
mn_wait_answer "$nsd_port" _dmarc.example.com $NSD_PID; up=$?
ok $up "nsd serves the zone files on port $nsd_port"
[ $up -eq 0 ] || { diag "$(cat "$TMP/nsd.out" "$TMP/nsd.log" 2>/dev/null | tail -20)"; done_testing; exit 1; }

# view PORT NAME TYPE [ARGS]: rcode + AA, then the answer and authority sections, sorted
view() {
	local port=$1 n=$2 t=$3; shift 3
	local out
	out=$(kdig @127.0.0.1 -p "$port" +time=2 +retry=0 "$@" "$n" "$t")
	echo "$out" | sed -n 's/^;; ->>HEADER<<- opcode: QUERY; status: \([A-Z]*\);.*/\1/p'
	echo "$out" | grep -q '^;; Flags: .*aa' && echo aa
	kdig @127.0.0.1 -p "$port" +time=2 +retry=0 "$@" +noall +answer +authority "$n" "$t" | sort
}

while read -r name type; do
	[ -n "$name" ] || continue
	a=$(view "$MN_PORT" "$name" "$type")
	b=$(view "$nsd_port" "$name" "$type")
	is "$a" "$b" "mailnsd answers $name $type as NSD does"
done <<'NAMES'
_dmarc.example.com TXT
_dmarc.example.com SOA
_dmarc.example.com NS
_dmarc.example.com A
x.y._report._dmarc.example.com TXT
*._report._dmarc.example.com TXT
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
1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.3.2.1.8.b.d.0.1.0.0.2.ip6._spf.example.org A
_dmarc.example.org TXT
NAMES

# Over TCP too (large answers complete)
is "$(view "$MN_PORT" big._domainkey.example.com TXT +tcp)" "$(view "$nsd_port" big._domainkey.example.com TXT +tcp)" "the 4096-bit key over TCP, as NSD"
done_testing
