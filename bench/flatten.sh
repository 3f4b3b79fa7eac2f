#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# flatten.sh -- time `mailns flatten` for N domains (default 10000) sharing 20
# provider includes, against a local NSD (the providers) through a local unbound:
# the first run (everything written) and a run where nothing changed (goal < 2 s).
# Usage: bench/flatten.sh [BUILDDIR] [N]      Loopback only; daemons stopped by PID.
set -u
B=${1:-.}
N=${2:-10000}
MAILNS="$B/tools/mailns"
[ -x "$MAILNS" ] || { echo "no $MAILNS (give the build dir)"; exit 2; }
TMP=$(mktemp -d /tmp/mailns-bench-flatten.XXXXXX)
NSD_PID=""; UB_PID=""
cleanup() { for p in $UB_PID $NSD_PID; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$TMP"; }
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
