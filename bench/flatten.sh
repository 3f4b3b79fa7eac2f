#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# flatten.sh -- time `mailns flatten` for N domains (default 10000) sharing 20
# provider includes, against a local NSD (the providers) through a local unbound:
# the first run (everything written) and a run where nothing changed (goal < 2 s).
# Then S domains (default 500) each with its own include two levels deep (4
# lookups a domain) through a resolver with latency (tests/integration/slowres.py,
# 20 ms an answer): the first run at --jobs 1 (one lookup at a time) and at the
# default (16 in flight), both at one MAILNS_NOW so that their files compare.
# Usage: bench/flatten.sh [BUILDDIR] [N] [S]      Loopback only; daemons stopped by PID.
set -u
B=${1:-.}
N=${2:-10000}
S=${3:-500}
SRC=$(cd "$(dirname "$0")/.." && pwd)
MAILNS="$B/tools/mailns"
[ -x "$MAILNS" ] || { echo "no $MAILNS (give the build dir)"; exit 2; }
TMP=$(mktemp -d /tmp/mailns-bench-flatten.XXXXXX)
NSD_PID=""; UB_PID=""; SLOW_PID=""
cleanup() { for p in $SLOW_PID $UB_PID $NSD_PID; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT
port() { local p; while :; do p=$((20000 + RANDOM % 40000)); ss -Hlnut | awk '{print $5}' | grep -qE "[:.]$p\$" || { echo $p; return; }; done; }
NSD_PORT=$(port); UB_PORT=$(port)

mkdir -p "$TMP/nsd"
{
	printf '$ORIGIN prov.test.\n$TTL 3600\n@ SOA ns.prov.test. h.prov.test. 1 3600 900 1209600 300\n@ NS ns.prov.test.\nns A 127.0.0.1\n'
	for p in $(seq 1 20); do
		printf 'p%d TXT "v=spf1 ip4:10.%d.0.0/16 ip6:2001:db8:%x::/48 include:q%d.prov.test ~all"\n' $p $p $p $p
		printf 'q%d TXT "v=spf1 ip4:172.16.%d.0/24 a:h%d.prov.test -all"\n' $p $p $p
		printf 'h%d A 192.0.2.%d\nh%d AAAA 2001:db8:ff::%x\n' $p $p $p $p
	done
} > "$TMP/nsd/prov.test.zone"
cat > "$TMP/nsd.conf" <<NSD
server:
  ip-address: 127.0.0.1
  port: $NSD_PORT
  username: ""
  chroot: ""
  zonesdir: "$TMP/nsd"
  pidfile: "$TMP/nsd.pid"
  database: ""
  xfrdfile: "$TMP/xfrd.state"
  zonelistfile: "$TMP/zone.list"
  xfrdir: "$TMP"
  logfile: "$TMP/nsd.log"
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: "prov.test"
  zonefile: "prov.test.zone"
NSD
nsd -d -c "$TMP/nsd.conf" >/dev/null 2>&1 & NSD_PID=$!
cat > "$TMP/unbound.conf" <<UB
server:
  interface: 127.0.0.1
  port: $UB_PORT
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  username: ""
  chroot: ""
  directory: "$TMP"
  pidfile: "$TMP/unbound.pid"
  use-syslog: no
  logfile: "$TMP/unbound.log"
  num-threads: 1
  so-reuseport: no
  outgoing-interface: 127.0.0.1
  do-not-query-localhost: no
  module-config: "iterator"
  qname-minimisation: no
  local-zone: "test." nodefault
remote-control:
  control-enable: no
stub-zone:
  name: "prov.test"
  stub-addr: 127.0.0.1@$NSD_PORT
UB
unbound -d -c "$TMP/unbound.conf" >/dev/null 2>&1 & UB_PID=$!
for i in $(seq 1 100); do
	kdig @127.0.0.1 -p "$UB_PORT" +time=1 +retry=0 +short p1.prov.test TXT 2>/dev/null | grep -q spf1 && break
	sleep 0.1
done
{
	printf 'version: 1\nserver:\n  listen: ["127.0.0.1:5399"]\n  nameservers: [ns1.example.net.]\n'
	printf '  hostmaster: hostmaster.example.net.\n  state_dir: %s/state\ndomains:\n' "$TMP"
	for i in $(seq 1 "$N"); do
		a=$(( i % 20 + 1 )); b=$(( (i * 7) % 20 + 1 ))
		printf '  d%d.example:\n    spf: { ip4: [198.51.%d.%d], include: [p%d.prov.test, p%d.prov.test] }\n' \
			"$i" $(( i / 256 % 256 )) $(( i % 256 )) "$a" "$b"
	done
} > "$TMP/policy.yaml"
run() { # run VAR: times one flatten run into VAR, exits on failure
	local s e rc
	s=$(date +%s.%N)
	"$MAILNS" flatten -c "$TMP/policy.yaml" --resolver "127.0.0.1:$UB_PORT" >/dev/null 2>"$TMP/err"
	rc=$?
	e=$(date +%s.%N)
	[ "$rc" -eq 0 ] || { echo "flatten failed ($rc):"; head "$TMP/err"; exit 1; }
	printf -v "$1" '%s' "$(echo "$e - $s" | bc)"
}
run T1
run T2
printf 'mailns flatten, %d domains sharing 20 provider includes (3 levels, a with AAAA):\n' "$N"
printf '  first run (all written):   %6.2f s  (%d cache files)\n' "$T1" "$(ls "$TMP/state/spf" | wc -l)"
printf '  no-change run:             %6.2f s  (goal < 2 s)\n' "$T2"

# with latency: every domain its own names
SLOW_PORT=$(port)
{
	for k in $(seq 1 "$S"); do
		printf 'i%d.prov.test TXT 3600 "v=spf1 ip4:10.%d.%d.0/24 include:j%d.prov.test a:h%d.prov.test -all"\n' \
			$k $((k / 256 % 256)) $((k % 256)) $k $k
		printf 'j%d.prov.test TXT 3600 "v=spf1 ip4:172.16.%d.%d/32 -all"\n' $k $((k / 256 % 256)) $((k % 256))
		printf 'h%d.prov.test A 600 192.0.%d.%d\nh%d.prov.test AAAA 600 2001:db8::%x\n' $k $((k / 256 % 256)) $((k % 256)) $k $k
	done
} > "$TMP/slow.table"
/usr/bin/python3 "$SRC/tests/integration/slowres.py" "$SLOW_PORT" "$TMP/slow.table" 20 "$TMP/slow.stats" 2>/dev/null & SLOW_PID=$!
for i in $(seq 1 100); do
	kdig @127.0.0.1 -p "$SLOW_PORT" +time=1 +retry=0 +short i1.prov.test TXT 2>/dev/null | grep -q spf1 && break
	sleep 0.1
done
slow() { # slow JOBS VAR: a first run over S domains at --jobs JOBS, its seconds into VAR
	local s e rc
	rm -rf "$TMP/slow-state"
	{
		printf 'version: 1\nserver:\n  listen: ["127.0.0.1:5399"]\n  nameservers: [ns1.example.net.]\n'
		printf '  hostmaster: hostmaster.example.net.\n  state_dir: %s/slow-state\ndomains:\n' "$TMP"
		for k in $(seq 1 "$S"); do printf '  s%d.example:\n    spf: { mode: flatten, include: [i%d.prov.test] }\n' $k $k; done
	} > "$TMP/slow.yaml"
	s=$(date +%s.%N)
	MAILNS_NOW=2030-01-01T00:00:00Z "$MAILNS" flatten -c "$TMP/slow.yaml" --resolver "127.0.0.1:$SLOW_PORT" \
		--jobs "$1" >/dev/null 2>"$TMP/err"
	rc=$?
	e=$(date +%s.%N)
	[ "$rc" -eq 0 ] || { echo "flatten --jobs $1 failed ($rc):"; head "$TMP/err"; exit 1; }
	printf -v "$2" '%s' "$(echo "$e - $s" | bc)"
	cp -r "$TMP/slow-state/spf" "$TMP/slow-spf.$1"
}
slow 1 S1
slow 16 S16
printf 'mailns flatten, %d domains each with its own include (4 lookups a domain), 20 ms an answer:\n' "$S"
printf '  first run, --jobs 1:        %6.2f s\n' "$S1"
printf '  first run, --jobs 16:       %6.2f s  (cache files %s)\n' "$S16" \
	"$(diff -rq "$TMP/slow-spf.1" "$TMP/slow-spf.16" >/dev/null && echo "identical to --jobs 1" || echo "DIFFER from --jobs 1")"
