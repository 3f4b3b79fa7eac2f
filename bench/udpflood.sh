#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# udpflood.sh -- issue 13's first attack: a UDP flood while the reply path is slow.
# In a private network namespace (unshare -n: nothing leaves the machine), lo is
# shaped so that the answers of mailnsd (UDP from its port) leave at RATE (tc htb
# + u32 filter, with a queue deep enough to fill the socket's send buffer);
# the queries pass unshaped.  A python client floods big TXT queries (a 4096-bit
# DKIM key, EDNS 1232: ~14 times the query) from 64 source ports for SECS seconds;
# the RSS of mailnsd is printed before, every second during, and after the flood,
# with mailns_udp_dropped_total and the UDP query count.  RSS stays flat when
# answers the kernel will not take are dropped; a send queue grows with the flood.
#
# Usage: bench/udpflood.sh                  (needs root, unshare, ip, tc, python3, curl)
# Env:   MAILNSD  the binary (default: BUILD/server/mailnsd); OLD=/path/to/mailnsd
#        runs the same flood against that binary too (e.g. main built in another dir)
#        SECS=8 flood seconds, RATE=2mbit the reply path, THREADS=2 server.threads,
#        RRL=0 server.rate_limit (0: off, the worst case for the queue)
# A benchmark, not a test: it prints figures.  The flood is bounded in time.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top}
MAILNSD=${MAILNSD:-$BUILD/server/mailnsd}
SECS=${SECS:-8}
RATE=${RATE:-2mbit}
THREADS=${THREADS:-2}
RRL=${RRL:-0}
OLD=${OLD:-}
if [ -z "${UDPFLOOD_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "udpflood.sh: needs root (unshare -n, tc)"; exit 2; }
	for t in unshare ip tc python3 curl; do
		command -v "$t" >/dev/null || { echo "udpflood.sh: $t not installed"; exit 2; }
	done
	[ -x "$MAILNSD" ] || { echo "udpflood.sh: no $MAILNSD (set BUILD or MAILNSD)"; exit 2; }
	exec unshare -n env UDPFLOOD_NS=1 MAILNSD="$MAILNSD" OLD="$OLD" bash "$0" "$@"
fi

# ---- inside the namespace --------------------------------------------------------
PORT=5399 MPORT=9199
ip link set lo up || exit 1
# replies from PORT: class 1:10 (htb at RATE, a byte fifo 8 MB deep: packets wait
# there and stay charged to the server's socket, whose send buffer fills);
# everything else class 1:20, unshaped
tc qdisc add dev lo root handle 1: htb default 20 &&
tc class add dev lo parent 1: classid 1:10 htb rate "$RATE" ceil "$RATE" quantum 1514 &&
tc class add dev lo parent 1: classid 1:20 htb rate 10gbit ceil 10gbit quantum 65536 &&
tc qdisc add dev lo parent 1:10 handle 10: bfifo limit 8mb &&
tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip protocol 17 0xff \
	match ip sport "$PORT" 0xffff flowid 1:10 || { echo "udpflood.sh: tc failed"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/mailns-udpflood.XXXXXX")
PID=""
trap '[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
KEY="MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAoG0o2H1EsxCcwEBJ7O8uwOKaVDccAkSVDeFqrRa0aodRnfAK0JLQn3Wsb9Yt0ZhNpmvggi7oeAPM7L7hgbAjKz0+VFvosa5T2i3iGzCndEYNGAt+b0sLzKfFphqRAt6bzuiC8gMhyfX+tm0wBIOfCJO4ifYxC0ujUOOvxL9pl1X7Bu6IzUmWirOo3Ea+roOHXf3IOmcyfBLKbgIWlEA3LdhpJwLhSQgdMbQQTzBsTiCiqSs/zabE5o5KIsxTwWLp8MRRbk9vIuzVejVyfsOkzQTXvA3HdqUy7RdhZhQ8Yqjvdtui+KnmlYoKE6s7WyB0Ma3NGHeztfu2kXtJfWG0PMnUoQI9XXhTjj65FCRM0fnsnSMQs6IK3xbdkp0t086wU7R8Q1+w1izqJQq80nkJz/F3Ou1iBt0B5o1mLPcyiKoE9wkoa0as+FSN3OxvPgRqAyCAhy6xUZ+HARsu+Qr2CGjy/RcyIWfhlFiXAcooKmwn7/3B5bDXI74j9g93ej1SpN9RVRoCYRTmwDs1bJK2fiKdoEQQftbaUIo9jNJYuxz7kx5fqSHkR/peqektmdxYBL3wZcbbsiRJGzmxAMK45upi9FUjWuu4arGHjR+MVvkLUUHmlbS9JRLcIxUVvG3Y6gkBIP6YeXp1eZLEzXTGIc9jhpjNJjIOO2yPS2NbeykCAwEAAQ=="
cat > "$T/policy.yaml" <<EOF
version: 1
server:
  listen: ["127.0.0.1:$PORT"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: $T/state
  threads: $THREADS
  rate_limit: $RRL
  metrics: "127.0.0.1:$MPORT"
domains:
  example.com:
    dkim: { selectors: { big: "v=DKIM1; k=rsa; p=$KEY" } }
    dmarc: { p: reject }
EOF
cat > "$T/flood.py" <<'EOF'
import socket, struct, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
q = (struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 1) + b"\x03big\x0a_domainkey\x07example\x03com\x00" +
     struct.pack(">HH", 16, 1) + b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 0))
socks = []
for _ in range(64):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    socks.append(s)
sent, end, i = 0, time.monotonic() + secs, 0
while time.monotonic() < end:
    for _ in range(256):
        s = socks[i & 63]
        i += 1
        try:
            s.sendto(q, ("127.0.0.1", port))
            sent += 1
        except BlockingIOError:
            pass
        try:
            while True:
                s.recv(4096)
        except BlockingIOError:
            pass
print("%d %d" % (sent, len(q)))
EOF

rss() { awk '/^VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
metric() { curl -s --max-time 3 "http://127.0.0.1:$MPORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

run() { # run LABEL BINARY
	local label=$1 bin=$2 i fpid line samples=""
	"$bin" -f -c "$T/policy.yaml" > "$T/$label.log" 2>&1 &
	PID=$!
	for i in $(seq 1 100); do
		python3 - "$PORT" <<'EOF' 2>/dev/null && break
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
s.sendto(struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\x06_dmarc\x07example\x03com\x00" + struct.pack(">HH", 6, 1), ("127.0.0.1", int(sys.argv[1])))
s.recv(512)
EOF
		sleep 0.1
	done
	local size; size=$(python3 - "$PORT" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
q = (struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 1) + b"\x03big\x0a_domainkey\x07example\x03com\x00" +
     struct.pack(">HH", 16, 1) + b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 0))
s.sendto(q, ("127.0.0.1", int(sys.argv[1])))
print(len(s.recv(4096)))
EOF
)
	local before; before=$(rss "$PID")
	python3 "$T/flood.py" "$PORT" "$SECS" > "$T/flood.out" &
	fpid=$!
	for i in $(seq 1 "$SECS"); do
		sleep 1
		samples="$samples $(rss "$PID")"
	done
	wait "$fpid"
	sleep 2
	local after; after=$(rss "$PID")
	read -r sent qlen < "$T/flood.out"
	local q dropped
	q=$(metric 'mailns_queries_total{transport="udp"}')
	dropped=$(metric mailns_udp_dropped_total)
	printf '%-5s RSS MB: before %s | during%s | 2 s after %s\n' "$label" "$before" "$samples" "$after"
	printf '      flood: %s queries of %s bytes sent in %s s (answer %s bytes), %s answered by the server, dropped (send buffer full): %s\n' \
		"$sent" "$qlen" "$SECS" "${size:-?}" "${q:-?}" "${dropped:-no such metric}"
	kill -TERM "$PID"
	for i in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=""
}

echo "udpflood.sh: replies shaped to $RATE on a private lo, server.threads: $THREADS, rate_limit: $RRL, $SECS s flood"
run new "$MAILNSD"
[ -n "$OLD" ] && run old "$OLD"
exit 0
