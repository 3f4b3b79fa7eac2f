#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# metrics.sh -- server.metrics: Prometheus text over HTTP, scraped with curl
# before and after known queries (every counter moves by exactly what was sent),
# reloads (ok, failed), serials, key phases, SPF cache age; 404 elsewhere;
# server.log_queries: one line per query when on, none when off.  Idle clients
# do not hold the listener (the oldest idle one makes room), and long pages
# (?serials=1&domains=1, thousands of domains) are rendered off the loop:
# DNS queries are answered while 60 of them are asked for at once.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v curl >/dev/null || skip_all "curl not installed"
mn_tmpdir

MPORT=$(mn_free_port)
# the policy of server.sh, with metrics and query logs, and a domain with managed keys
sed -e "s|^\(  user: root.*\)$|\1\n  metrics: \"127.0.0.1:$MPORT\"\n  log_queries: true|" \
	"$top_srcdir/tests/integration/server.tmpl" >"$TMP/m.tmpl"
printf '  example.net:\n    dkim: { algorithm: ed25519 }\n' >>"$TMP/m.tmpl"
# an SPF cache computed 1000 s ago (no lookups needed: networks only)
sed -e "s|@PORT@|1|g" -e "s|@TMP@|$TMP|g" "$TMP/m.tmpl" >"$TMP/pre.yaml"
MAILNS_NOW="@$(( $(date +%s) - 1000 ))" "$MAILNS" flatten -c "$TMP/pre.yaml" --resolver 127.0.0.1:9 >/dev/null 2>&1
ok $? "mailns flatten writes the SPF cache"

if ! mn_start "$TMP/m.tmpl"; then
	ok 1 "mailnsd starts"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts with metrics on 127.0.0.1:$MPORT"
URL="http://127.0.0.1:$MPORT"

scrape() { curl -s --max-time 5 "$URL/metrics$1" >"$TMP/scrape"; }
# m NAME: the value of one series in the last scrape ("" when absent)
m() { awk -v m="$1" '$1 == m { print $2 }' "$TMP/scrape"; }
declare -A before
snapshot() { scrape; while read -r k v; do before[$k]=$v; done < <(grep -v '^#' "$TMP/scrape"); }
# delta NAME: how much the series moved since the snapshot
delta() { echo $(( $(m "$1") - ${before[$1]:-0} )); }

# --- HTTP ------------------------------------------------------------------------
is "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$URL/metrics")" \
	"200 text/plain; version=0.0.4; charset=utf-8" "GET /metrics: 200, Prometheus text format"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")" 404 "GET /: 404"
is "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metricsx")" 404 "GET /metricsx: 404"
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/metrics")" 405 "POST /metrics: 405"
is "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 5000 /dev/zero | tr '\0' a)" "$URL/metrics")" \
	431 "a request over 4 KiB: 431"
is "$(printf 'GET /metrics HTTP/1.0\r\n\r\n' | timeout 5 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.stdin.buffer.read())
data = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    data += c
print(data.split(b"\r\n")[0].decode())' "$MPORT")" "HTTP/1.0 200 OK" "HTTP/1.0 request answered, then the connection closed"

# --- idle clients: 100 connections that send nothing (or half a request) ----------------
cat >"$TMP/idle.py" <<'PY'
import socket, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conns = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if i % 2:
        s.sendall(b"GET /metrics HTTP/1.0\r\n")	# never finished
    conns.append(s)
open(ready, "w").close()
time.sleep(15)
PY
timeout 30 python3 "$TMP/idle.py" "$MPORT" 100 "$TMP/idle.ready" &
IDLE_PID=$!
for i in $(seq 1 100); do [ -e "$TMP/idle.ready" ] && break; sleep 0.1; done
[ -e "$TMP/idle.ready" ]; ok $? "100 idle connections open on the metrics port"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/metrics")" 200 \
	"with 100 idle connections open, a scrape is answered within 2 s"
kill "$IDLE_PID" 2>/dev/null; wait "$IDLE_PID" 2>/dev/null
# a request that never ends is closed by the server (2 s; bound here: 10 s)
is "$(timeout 15 python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=12)
s.sendall(b"GET /metrics HTTP/1.0\r\nX-Slow: 1\r\n")
t = time.time()
try:
    print("closed" if s.recv(100) == b"" and time.time() - t < 10 else "data")
except OSError as e:
    print(type(e).__name__)' "$MPORT")" closed "a request never finished: the connection closed by the server"

# --- counters move by exactly what was sent ------------------------------------------
snapshot
for i in 1 2 3; do mn_dig +short _dmarc.example.com TXT >/dev/null; done	# dmarc, NOERROR
for i in 1 2; do mn_dig +short nope._domainkey.example.com TXT >/dev/null; done	# dkim, NXDOMAIN
mn_dig +tcp +short _spf.example.com A >/dev/null				# spf, NODATA, tcp
mn_dig +short www.example.net A >/dev/null					# REFUSED
mn_dig +noedns +ignore big._domainkey.example.com TXT >/dev/null		# dkim, TC
scrape
is "$(delta 'mailns_queries_total{transport="udp"}'):$(delta 'mailns_queries_total{transport="tcp"}')" "7:1" \
	"queries by transport: 7 udp, 1 tcp"
is "$(delta 'mailns_responses_total{rcode="NOERROR"}'):$(delta 'mailns_responses_total{rcode="NXDOMAIN"}'):$(delta 'mailns_responses_total{rcode="REFUSED"}'):$(delta 'mailns_responses_total{rcode="FORMERR"}')" \
	"5:2:1:0" "responses by rcode: 5 NOERROR, 2 NXDOMAIN, 1 REFUSED"
is "$(delta 'mailns_queries_by_type_total{qtype="TXT"}'):$(delta 'mailns_queries_by_type_total{qtype="A"}'):$(delta 'mailns_queries_by_type_total{qtype="other"}')" \
	"6:2:0" "by type: 6 TXT, 2 A"
is "$(delta 'mailns_queries_by_zone_total{kind="dmarc"}'):$(delta 'mailns_queries_by_zone_total{kind="dkim"}'):$(delta 'mailns_queries_by_zone_total{kind="spf"}'):$(delta 'mailns_queries_by_zone_total{kind="none"}')" \
	"3:3:1:1" "by zone kind: 3 dmarc, 3 dkim, 1 spf, 1 outside"
is "$(delta mailns_truncated_total)" 1 "one truncated response"
is "$(delta 'mailns_ratelimited_total{action="dropped"}')" 0 "nothing rate-limited"
is "$(m mailns_zones):$(m mailns_domains)" "9:3" "zones and domains loaded"
is "$(m mailns_last_reload_success)" 1 "the start-up load succeeded"
t=$(m mailns_last_reload_time_seconds); now=$(date +%s)
[ -n "$t" ] && [ $((now - t)) -ge 0 ] && [ $((now - t)) -le 120 ]; ok $? "the load time is recent ($t)"
is "$(m 'mailns_transfers_total')" 0 "no transfer served"

# --- query logs (log_queries: true) -------------------------------------------------
is "$(grep -c 'info: query 127.0.0.1 _dmarc.example.com. TXT NOERROR udp$' "$MN_LOG")" 3 "log_queries: one line per query"
grep -q 'info: query 127.0.0.1 nope._domainkey.example.com. TXT NXDOMAIN udp$' "$MN_LOG"; ok $? "the NXDOMAIN query logged"
grep -q 'info: query 127.0.0.1 _spf.example.com. A NOERROR tcp$' "$MN_LOG"; ok $? "the TCP query logged"
grep -q 'info: query 127.0.0.1 big._domainkey.example.com. TXT NOERROR udp tc$' "$MN_LOG"; ok $? "the truncated answer logged with tc"

# --- serials and per-domain values, on request ------------------------------------------
grep -q mailns_zone_serial "$TMP/scrape"; ok $((! $?)) "no serials without ?serials=1"
scrape "?serials=1"
is "$(m 'mailns_zone_serial{zone="_dmarc.example.com"}')" "$(mn_dig +short _dmarc.example.com SOA | awk '{print $3}')" \
	"?serials=1: the serial of _dmarc.example.com as served"
is "$(grep -c '^mailns_zone_serial{' "$TMP/scrape")" 9 "?serials=1: one serial per zone"
scrape "?domains=1"
age=$(m 'mailns_spf_cache_age_seconds{domain="example.com"}')
[ -n "$age" ] && [ "$age" -ge 1000 ] && [ "$age" -le 1200 ]; ok $? "?domains=1: SPF cache age of example.com ($age s)"
is "$(grep -c '^mailns_spf_cache_age_seconds{' "$TMP/scrape")" 2 "SPF cache age for the two flattened domains"

# keys: a rotation run generates example.net's first key; the watcher reloads
n0=$(grep -c 'reloaded:' "$MN_LOG")
timeout 60 "$MAILNS" keys rotate -c "$TMP/policy.yaml" >/dev/null 2>&1; ok $? "mailns keys rotate"
for i in $(seq 1 100); do [ "$(grep -c 'reloaded:' "$MN_LOG")" -gt "$n0" ] && break; sleep 0.1; done
sleep 0.5	# a second change of the same run may reload once more
for i in $(seq 1 100); do
	scrape "?domains=1"
	[ $(( $(m 'mailns_dkim_keys{phase="pending"}') + $(m 'mailns_dkim_keys{phase="active"}') )) -eq 1 ] && break
	sleep 0.1
done
is "$(( $(m 'mailns_dkim_keys{phase="pending"}') + $(m 'mailns_dkim_keys{phase="active"}') )):$(m 'mailns_dkim_keys{phase="retired"}'):$(m 'mailns_dkim_keys{phase="revoked"}')" \
	"1:0:0" "key phases: example.net's one key (pending or active)"
d=$(m 'mailns_dkim_next_change_days{domain="example.net"}')
# a first key is due for activation at once (it waits only for DNS): about 0 days
awk -v d="$d" 'BEGIN { exit !(d ~ /^-?[0-9]+\.[0-9][0-9][0-9]$/ && d > -1 && d < 1) }'
ok $? "days to example.net's next key change: due now ($d)"

# --- reloads: ok, then failed; query logs off ------------------------------------------
snapshot
sed -i '/^  log_queries: true/d' "$TMP/policy.yaml"
kill -HUP "$MN_PID"
for i in $(seq 1 100); do scrape; [ "$(delta 'mailns_reloads_total{result="ok"}')" -ge 1 ] && break; sleep 0.1; done
[ "$(delta 'mailns_reloads_total{result="ok"}')" -ge 1 ]; ok $? "a reload counted as ok"
is "$(m mailns_last_reload_success)" 1 "last reload success: 1"
n=$(grep -c 'info: query ' "$MN_LOG")
mn_dig +short _dmarc.example.com TXT >/dev/null; mn_dig +tcp +short _dmarc.example.com TXT >/dev/null
is "$(grep -c 'info: query ' "$MN_LOG")" "$n" "log_queries off: no query lines"
snapshot
sed -i 's/^  ttl: 3600/  ttl: 3600\n  tll: 5/' "$TMP/policy.yaml"
kill -HUP "$MN_PID"
for i in $(seq 1 100); do scrape; [ "$(delta 'mailns_reloads_total{result="failed"}')" -ge 1 ] && break; sleep 0.1; done
[ "$(delta 'mailns_reloads_total{result="failed"}')" -ge 1 ]; ok $? "a broken policy: reload counted as failed"
is "$(m mailns_last_reload_success)" 0 "last reload success: 0"
is "$(m mailns_zones)" 9 "the zones still served"

mn_stop; is "$?" 0 "clean stop"
grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$MN_LOG"; ok $((! $?)) "no sanitizer report in the server log"

# --- long pages off the loop: 5,000 domains, one loop thread (it answers the queries) ---
MPORT=$(mn_free_port) || MPORT=1
URL="http://127.0.0.1:$MPORT"
mkdir -p "$TMP/many.d"
awk 'BEGIN { print "domains:"; for (i = 0; i < 5000; i++)
	printf "  d%d.example:\n    spf: { mode: plain, ip4: [192.0.2.%d], all: fail }\n    dmarc: { p: none }\n", i, i % 250 }' \
	>"$TMP/many.d/many.yaml"
sed -e "s|^\(  user: root.*\)$|\1\n  metrics: \"127.0.0.1:$MPORT\"\n  threads: 1|" \
	-e "s|^domains:|include: [\"$TMP/many.d/*.yaml\"]\ndomains:|" \
	"$top_srcdir/tests/integration/server.tmpl" >"$TMP/many.tmpl"
rm -rf "$TMP/state"
if ! mn_start "$TMP/many.tmpl"; then
	ok 1 "mailnsd starts with 5,000 domains"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts with 5,000 domains and one loop thread"
scrape
zones=$(m mailns_zones)
[ "${zones:-0}" -gt 15000 ]; ok $? "zones served: $zones"
# Each round: 60 connections ask for ?serials=1&domains=1 at once, then one DNS
# query; its answer must not wait for the long pages, and the pages that come
# are whole.  Rendered on the loop, all 60 pages went out before the answer;
# off it, a few at most (only when the client is slow to send the query).
cat >"$TMP/pile.py" <<'PY'
import select, socket, struct, sys, time
mport, dport, nconn, rounds = (int(a) for a in sys.argv[1:5])
req = b"GET /metrics?serials=1&domains=1 HTTP/1.0\r\n\r\n"
q = b"\x00\x01\x00\x00\x00\x00\x00\x00\x06_dmarc\x07example\x03com\x00\x00\x10\x00\x01"
for r in range(rounds):
    conns = [socket.create_connection(("127.0.0.1", mport), timeout=10) for _ in range(nconn)]
    time.sleep(0.3)	# every connection accepted
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for c in conns:
        c.sendall(req)
    u.sendto(struct.pack("!H", r + 1) + q, ("127.0.0.1", dport))
    data, first, dns_at, pending = {c: b"" for c in conns}, {}, None, set(conns)
    deadline = time.time() + 20
    while (pending or dns_at is None) and time.time() < deadline:
        rl, _, _ = select.select(list(pending) + ([u] if dns_at is None else []), [], [], 0.5)
        now = time.time()
        for s in rl:
            if s is u:
                if u.recv(4096)[:2] == struct.pack("!H", r + 1):
                    dns_at = now
                continue
            chunk = s.recv(1 << 20)
            first.setdefault(s, now)
            data[s] += chunk
            if not chunk:
                pending.discard(s)
                s.close()
    ok = [s for s in conns if data[s].startswith(b"HTTP/1.0 200 ")]
    busy = sum(1 for s in conns if data[s].startswith(b"HTTP/1.0 503 "))
    before = sum(1 for s in ok if dns_at is None or first[s] < dns_at)
    lines = sorted(set(data[s].count(b"\nmailns_zone_serial{") for s in ok))
    print(r, "answered" if dns_at else "lost", len(ok), busy, before, ",".join(map(str, lines)))
PY
timeout 120 python3 "$TMP/pile.py" "$MPORT" "$MN_PORT" 60 3 >"$TMP/pile" 2>&1
ok $? "three rounds of 60 long pages asked for at once"
diag "round dns ok busy ok-before-dns serial-lines"; diag "$(cat "$TMP/pile")"
is "$(awk '$2 == "answered"' "$TMP/pile" | grep -c .)" 3 "the DNS query answered in every round"
is "$(awk '$5 > 10' "$TMP/pile" | grep -c .)" 0 \
	"the DNS answer did not wait for the long pages (at most 10 of 60 before it, each round)"
is "$(awk '$3 >= 1 && $6 == "'"$zones"'"' "$TMP/pile" | grep -c .)" 3 \
	"each round, long pages answered, each with one serial per zone ($zones)"
is "$(awk '$4 > 0' "$TMP/pile" | grep -c .)" 3 \
	"long pages at once are capped: the others told to retry (503)"
scrape "?serials=1"
is "$(grep -c '^mailns_zone_serial{' "$TMP/scrape")" "$zones" "a single long page after the rounds, whole"

# Reloads while long pages render (each swaps the zone set and the domain values
# the render reads: it holds references): 4 scrapers for 3 s, SIGHUP every 150 ms.
snapshot
cat >"$TMP/hup.py" <<'PY'
import os, signal, socket, sys, threading, time
mport, pid, zones = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
stop, res, lock = time.time() + 3, {"whole": 0, "503": 0, "other": 0}, threading.Lock()
def scrape():
    while time.time() < stop:
        s = socket.create_connection(("127.0.0.1", mport), timeout=10)
        s.sendall(b"GET /metrics?serials=1&domains=1 HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            c = s.recv(1 << 20)
            if not c:
                break
            data += c
        s.close()
        k = ("whole" if data.startswith(b"HTTP/1.0 200 ") and data.count(b"\nmailns_zone_serial{") == zones
             else "503" if data.startswith(b"HTTP/1.0 503 ") else "other")
        with lock:
            res[k] += 1
        if k == "503":
            time.sleep(0.05)
ts = [threading.Thread(target=scrape) for _ in range(4)]
for t in ts:
    t.start()
while time.time() < stop:
    os.kill(pid, signal.SIGHUP)
    time.sleep(0.15)
for t in ts:
    t.join()
print(res["whole"], res["503"], res["other"])
PY
read -r whole busy other < <(timeout 60 python3 "$TMP/hup.py" "$MPORT" "$MN_PID" "$zones" 2>&1)
diag "long pages during reloads: $whole whole, $busy 503, $other other"
[ "${whole:-0}" -ge 4 ] && [ "${other:-1}" -eq 0 ]; ok $? "long pages during reloads: all whole ($whole) or 503"
for i in $(seq 1 100); do scrape; [ "$(delta 'mailns_reloads_total{result="ok"}')" -ge 2 ] && break; sleep 0.1; done
[ "$(delta 'mailns_reloads_total{result="ok"}')" -ge 2 ]; ok $? "reloads done meanwhile ($(delta 'mailns_reloads_total{result="ok"}'))"
kill -0 "$MN_PID"; ok $? "the server is still running"
mn_stop; is "$?" 0 "clean stop after the long pages"
grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' "$MN_LOG"; ok $((! $?)) "no sanitizer report in the server log"
done_testing
