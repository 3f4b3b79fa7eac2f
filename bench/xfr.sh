#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# xfr.sh -- zone transfer figures for N generated domains (3 zones each):
#  1. one TCP client pulling every zone by AXFR from mailnsd (time, bytes);
#  2. a real Knot secondary, started empty, until it serves every zone at
#     mailnsd's serial (time);
#  3. a real NSD secondary likewise;
#  4. one domain's policy changed: time until mailnsd, Knot and NSD serve it
#     (file watcher -> reload -> NOTIFY -> IXFR).
# Usage: bench/xfr.sh [N]   (default 10000; run from a built tree)
# Loopback only; servers stopped by PID.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
MAILNSD=${MAILNSD:-$top/server/mailnsd}
MAILNS=${MAILNS:-$top/tools/mailns}
n=${1:-10000}
dir=$(mktemp -d /tmp/mailns-xfrbench.XXXXXX)
pids=""
cleanup() {
	local p
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT
free_port() { # a port nothing listens on, not in "$@"
	local p
	while :; do
		p=$(( 30000 + (RANDOM * 7 + $$) % 20000 ))
		ss -Hlnut 2>/dev/null | awk '{print $5}' | grep -qE "[:.]$p\$" && continue
		case " $* " in *" $p "*) continue ;; esac
		echo "$p"; return
	done
}
port=$(free_port); kport=$(free_port "$port"); nport=$(free_port "$port" "$kport")
"$top/bench/gen-policy.sh" "$n" "$dir" "$port"
# transfers: allow loopback, notify both secondaries
sed -i "s|^  state_dir: .*|&\n  tcp_max_per_ip: 1000\n  transfer:\n    allow: [127.0.0.1/32]\n    notify: [\"127.0.0.1:$kport\", \"127.0.0.1:$nport\"]|" "$dir/policy.yaml"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

cat > "$dir/x.py" <<'PY'
import socket, struct, sys, time
def wire(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0"
def recvn(s, k):
    b = b""
    while len(b) < k:
        c = s.recv(k - len(b))
        if not c: raise EOFError
        b += c
    return b
mode, port, zones = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read().split()
if mode == "axfr":   # every zone, one after the other on one TCP connection
    s = socket.create_connection(("127.0.0.1", port))
    t0, total, msgs, rrs = time.time(), 0, 0, 0
    for i, z in enumerate(zones):
        q = struct.pack(">HHHHHH", i & 0xffff, 0, 1, 0, 0, 0) + wire(z) + struct.pack(">HH", 252, 1)
        s.sendall(struct.pack(">H", len(q)) + q)
        soas = 0
        while soas < 2:
            m = recvn(s, struct.unpack(">H", recvn(s, 2))[0])
            total += len(m) + 2; msgs += 1
            if m[3] & 15: raise SystemExit("rcode %d for %s" % (m[3] & 15, z))
            an = struct.unpack(">H", m[6:8])[0]; rrs += an
            o = 12
            if struct.unpack(">H", m[4:6])[0]:
                while m[o]: o += 1 + m[o]
                o += 5
            for _ in range(an):
                while m[o] and m[o] & 0xc0 != 0xc0: o += 1 + m[o]
                o += 2 if m[o] & 0xc0 else 1
                t, = struct.unpack(">H", m[o:o+2]); rdl, = struct.unpack(">H", m[o+8:o+10])
                soas += t == 6; o += 10 + rdl
    print("%d %d %d %d %.3f" % (len(zones), msgs, rrs, total, time.time() - t0))
else:                # synced: how many zones answer SOA with the wanted serial (UDP)
    want = dict(l.split() for l in open(sys.argv[4]))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
    good, pending = 0, {}
    for i, z in enumerate(zones):
        pending[i] = z
        q = struct.pack(">HHHHHH", i & 0xffff, 0, 1, 0, 0, 0) + wire(z) + struct.pack(">HH", 6, 1)
        s.sendto(q, ("127.0.0.1", port))
        if len(pending) > 200 or i == len(zones) - 1:
            while pending:
                try: m = s.recv(4096)
                except socket.timeout: break
                qid, = struct.unpack(">H", m[:2])
                z = pending.pop(qid, None)
                if z is None or m[3] & 15 or struct.unpack(">H", m[6:8])[0] < 1: continue
                o = 12
                while m[o]: o += 1 + m[o]
                o += 5 + 2 + 10   # question end, owner pointer, rr header
                while m[o] and m[o] & 0xc0 != 0xc0: o += 1 + m[o]
                o += 2 if m[o] & 0xc0 else 1
                while m[o] and m[o] & 0xc0 != 0xc0: o += 1 + m[o]
                o += 2 if m[o] & 0xc0 else 1
                if str(struct.unpack(">I", m[o:o+4])[0]) == want[z]: good += 1
            pending.clear()
    print(good)
PY

"$MAILNS" zone -c "$dir/policy.yaml" | awk '$4 == "SOA" { sub(/\.$/, "", $1); print $1, $7 }' | sort -u > "$dir/serials"
cut -d' ' -f1 "$dir/serials" > "$dir/zones"
nz=$(wc -l < "$dir/zones")
"$MAILNSD" -f -c "$dir/policy.yaml" > "$dir/mailnsd.log" 2>&1 &
mpid=$!; pids="$mpid"
for i in $(seq 1 600); do
	kdig @127.0.0.1 -p "$port" +time=1 +retry=0 +short SOA "_dmarc.d0.example" 2>/dev/null | grep -q . && break
	sleep 0.1
done
echo "mailns transfer figures: $n domains, $nz zones"
read -r zs msgs rrs bytes secs < <(python3 "$dir/x.py" axfr "$port" "$dir/zones")
awk -v z="$zs" -v m="$msgs" -v r="$rrs" -v b="$bytes" -v s="$secs" 'BEGIN {
	printf "AXFR of every zone, one client, one connection: %d zones, %d messages, %d records, %.1f MB in %.2f s (%.0f zones/s)\n",
	z, m, r, b / 1e6, s, z / s }'

synced_wait() { # synced_wait PORT LABEL T0: until every zone is at mailnsd's serial
	local got=0 i
	for i in $(seq 1 600); do
		got=$(python3 "$dir/x.py" synced "$1" "$dir/zones" "$dir/serials")
		[ "$got" = "$nz" ] && { echo "$2: every zone transferred and served in $(since "$3") s"; return 0; }
		sleep 0.5
	done
	echo "$2: only $got of $nz zones after $(since "$3") s"
	return 1
}

mkdir -p "$dir/knot" "$dir/nsd"
{
	printf 'server:\n  listen: 127.0.0.1@%s\n  rundir: "%s/knot"\n' "$kport" "$dir"
	printf 'log:\n  - target: "%s/knot.log"\n    any: notice\n' "$dir"
	printf 'database:\n  storage: "%s/knot"\n' "$dir"
	printf 'remote:\n  - id: primary\n    address: 127.0.0.1@%s\n' "$port"
	printf 'acl:\n  - id: from_primary\n    address: 127.0.0.1\n    action: notify\n'
	printf 'template:\n  - id: default\n    master: primary\n    acl: from_primary\n'
	printf '    storage: "%s/knot"\n    zonefile-sync: -1\n    zonefile-load: none\n' "$dir"
	printf 'zone:\n'
	sed 's/^/  - domain: /' "$dir/zones"
} > "$dir/knot.conf"
t0=$(now)
knotd -c "$dir/knot.conf" > "$dir/knot.out" 2>&1 &
kpid=$!; pids="$pids $kpid"
synced_wait "$kport" "knot secondary" "$t0"

{
	printf 'server:\n  ip-address: 127.0.0.1\n  port: %s\n  username: ""\n  chroot: ""\n' "$nport"
	printf '  zonesdir: "%s/nsd"\n  pidfile: "%s/nsd.pid"\n  database: ""\n' "$dir" "$dir"
	printf '  xfrdfile: "%s/nsd/xfrd.state"\n  zonelistfile: "%s/nsd/zone.list"\n' "$dir" "$dir"
	printf '  xfrdir: "%s/nsd"\n  server-count: 1\n  verbosity: %s\n  logfile: "%s/nsd.log"\n' "$dir" "${NSD_VERBOSITY:-0}" "$dir"
	printf '  rrl-ratelimit: 0\nremote-control:\n  control-enable: no\n'
	awk -v p="$port" '{ printf "zone:\n  name: \"%s\"\n  request-xfr: 127.0.0.1@%s NOKEY\n  allow-notify: 127.0.0.1 NOKEY\n", $1, p }' "$dir/zones"
} > "$dir/nsd.conf"
t0=$(now)
nsd -d -c "$dir/nsd.conf" > "$dir/nsd.out" 2>&1 &
npid=$!; pids="$pids $npid"
synced_wait "$nport" "nsd secondary" "$t0"

# one domain changes: watcher -> reload -> NOTIFY -> IXFR on both
f=$(ls "$dir"/domains.d/*.yaml | head -1)
sed -i 's|mailto:dmarc@d5.example|mailto:changed@d5.example|' "$f"
t0=$(now)
want='"v=DMARC1; p=reject; rua=mailto:changed@d5.example"'
for who in "mailnsd $port" "knot $kport" "nsd $nport"; do
	set -- $who
	for i in $(seq 1 1200); do
		[ "$(kdig @127.0.0.1 -p "$2" +time=1 +retry=0 +short TXT _dmarc.d5.example 2>/dev/null)" = "$want" ] && break
		sleep 0.05
	done
	echo "one-domain change served by $1 after $(since "$t0") s"
done
grep -c 'ixfr of _dmarc.d5.example' "$dir/mailnsd.log" | sed 's/^/IXFRs served for the changed zone: /'
grep 'reloaded' "$dir/mailnsd.log" | tail -1
