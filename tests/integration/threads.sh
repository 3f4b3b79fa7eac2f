#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# threads.sh -- server.threads: 4 loop threads behind SO_REUSEPORT sockets answer
# UDP and TCP from many source ports (several threads serve: the per-thread
# counters of the metrics), the query counter is the sum over the threads, the
# TCP per-address cap holds across threads, a reload reaches every thread (200
# queries from 200 ports after "reloaded" all get the new record), a change of
# server.threads asks for a restart, SIGTERM exits 0; a bad value fails at start.
. "${top_srcdir:?}/tests/tap/tap.sh"
command -v curl >/dev/null || skip_all "curl not installed"
mn_tmpdir

MPORT=$(mn_free_port)
cat >"$TMP/t.tmpl" <<EOF
version: 1
server:
  listen: ["127.0.0.1:@PORT@", "[::1]:@PORT@"]
  nameservers: [ns1.example.net.]
  hostmaster: hostmaster.example.net.
  user: root
  state_dir: @TMP@/state
  threads: 4
  tcp_max_per_ip: 4
  rate_limit: 0               # bursts of 200 from 127.0.0.1 (ratelimit-threads.sh limits)
  metrics: "127.0.0.1:$MPORT"
domains:
  example.com:
    dmarc: { p: reject }
EOF

# q.py PORT N [tcp]: N queries for _dmarc.example.com TXT, each from its own
# socket (its own source port; over TCP its own connection); prints the p= tag
# of each answer, "-" for no answer (2 s each at most)
cat >"$TMP/q.py" <<'EOF'
import socket, struct, sys
port, n, tcp = int(sys.argv[1]), int(sys.argv[2]), len(sys.argv) > 3
qname = b"\x06_dmarc\x07example\x03com\x00"
def tag(resp):
    i = resp.find(b"p=")
    if i < 0:
        return "?"
    j = i + 2
    while j < len(resp) and resp[j:j + 1].isalpha():
        j += 1
    return resp[i:j].decode()
for k in range(n):
    q = struct.pack(">HHHHHH", k, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 16, 1)
    try:
        if tcp:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(struct.pack(">H", len(q)) + q)
                data = b""
                while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                    c = s.recv(65536)
                    if not c:
                        break
                    data += c
                print(tag(data[2:]) if len(data) > 2 else "-")
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                s.sendto(q, ("127.0.0.1", port))
                print(tag(s.recv(4096)))
    except OSError:
        print("-")
EOF
Q() { timeout 120 python3 "$TMP/q.py" "$MN_PORT" "$@" | sort | uniq -c | awk '{ printf "%s%s:%s", sep, $2, $1; sep=" " }'; }

if ! mn_start "$TMP/t.tmpl"; then
	ok 1 "mailnsd starts"
	done_testing
	exit 1
fi
ok 0 "mailnsd starts with threads: 4 on port $MN_PORT"
# the workers answer before main() logs the line: wait for it (bounded)
for i in $(seq 1 50); do grep -q 'answering on 4 loop threads' "$MN_LOG" && break; sleep 0.1; done
grep -q 'answering on 4 loop threads' "$MN_LOG"; ok $? "the log says 4 loop threads"

scrape() { curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics"; }
metric() { scrape | awk -v m="$1" '$1 == m { print $2 }'; }
is "$(metric mailns_threads)" 4 "metrics: 4 threads"

# --- many source ports: several threads serve; the counters add up -----------------------
udp0=$(metric 'mailns_queries_total{transport="udp"}')
tcp0=$(metric 'mailns_queries_total{transport="tcp"}')
is "$(Q 200)" "p=reject:200" "UDP: 200 queries from 200 ports, all answered"
is "$(Q 30 tcp)" "p=reject:30" "TCP: 30 connections, all answered"
out=$(kdig @::1 -p "$MN_PORT" +time=2 +retry=0 +short _dmarc.example.com TXT)
case "$out" in *"p=reject"*) r=0 ;; *) r=1 ;; esac; ok $r "kdig over ::1 answered"
out=$(dig @127.0.0.1 -p "$MN_PORT" +time=2 +tries=1 +tcp +short _dmarc.example.com TXT)
case "$out" in *"p=reject"*) r=0 ;; *) r=1 ;; esac; ok $r "dig over TCP answered"
udp1=$(metric 'mailns_queries_total{transport="udp"}')
tcp1=$(metric 'mailns_queries_total{transport="tcp"}')
is "$((udp1 - udp0))" 201 "metrics: the UDP query counter summed over the threads (+201)"
is "$((tcp1 - tcp0))" 31 "metrics: the TCP query counter summed over the threads (+31)"
per=$(scrape | sed -n 's/^mailns_thread_queries_total{thread="\([0-9]*\)"} \([0-9]*\)$/\1=\2/p' | tr '\n' ' ')
diag "queries per thread: $per"
busy=$(echo "$per" | tr ' ' '\n' | grep -c '=[1-9]')
[ "$busy" -ge 2 ]; ok $? "several threads answered ($busy of 4)"
sum=$(echo "$per" | tr ' ' '\n' | sed -n 's/.*=//p' | paste -sd+ | bc)
is "$sum" "$((udp1 + tcp1))" "the per-thread counters add up to the total"

# --- the TCP cap per client address holds across threads ----------------------------------
held=$(timeout 30 python3 - "$MN_PORT" <<'EOF'
import socket, struct, sys, time
port = int(sys.argv[1])
conns = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(8)]
time.sleep(0.3)
q = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x06_dmarc\x07example\x03com\x00" + struct.pack(">HH", 16, 1)
n = 0
for s in conns:
    try:
        s.sendall(struct.pack(">H", len(q)) + q)
        if len(s.recv(65536)) > 2:
            n += 1
    except OSError:
        pass
print(n)
EOF
)
is "$held" 4 "8 connections at once from one address: 4 served (tcp_max_per_ip: 4, all threads)"

# --- a reload reaches every thread ---------------------------------------------------------
reloaded() { grep -c 'reloaded:' "$MN_LOG"; }
n0=$(reloaded)
sed -i 's/p: reject/p: quarantine/' "$TMP/policy.yaml"
kill -HUP "$MN_PID"
for i in $(seq 1 100); do [ "$(reloaded)" -gt "$n0" ] && break; sleep 0.1; done
[ "$(reloaded)" -gt "$n0" ]; ok $? "the reload is logged"
is "$(Q 200)" "p=quarantine:200" "after the reload: 200 queries from 200 ports, all the new record"
is "$(Q 20 tcp)" "p=quarantine:20" "after the reload: 20 TCP connections, all the new record"

# --- server.threads changes on reload: a restart is needed --------------------------------
n0=$(reloaded)
sed -i 's/threads: 4/threads: 2/' "$TMP/policy.yaml"
kill -HUP "$MN_PID"
for i in $(seq 1 100); do [ "$(reloaded)" -gt "$n0" ] && break; sleep 0.1; done
grep -q 'server.threads changed (4 -> 2): restart mailnsd' "$MN_LOG"; ok $? "a change of server.threads: the log asks for a restart"
is "$(metric mailns_threads)" 4 "still 4 threads until the restart"

mn_stop; is "$?" 0 "SIGTERM: exit 0"
grep -q 'mailnsd\[[0-9]*\]: notice: stopped' "$MN_LOG"; ok $? "clean stop logged"
! grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error|not closed cleanly' "$MN_LOG"
ok $? "no sanitizer report, every loop closed"

# --- server.threads: 1 works, out of range fails at start ---------------------------------
sed -i 's/threads: 4/threads: 1/' "$TMP/t.tmpl"
if mn_start "$TMP/t.tmpl"; then
	grep -q 'answering on 1 loop thread (' "$MN_LOG"; ok $? "threads: 1 starts one loop"
	is "$(Q 20)" "p=reject:20" "threads: 1 answers"
	mn_stop; is "$?" 0 "threads: 1: exit 0"
else
	ok 1 "threads: 1 starts"
fi
sed -e 's/threads: 1/threads: 65/' -e "s|@PORT@|$(mn_free_port)|" -e "s|@TMP@|$TMP|g" \
	"$TMP/t.tmpl" >"$TMP/bad.yaml"
out=$("$MAILNSD" -f -c "$TMP/bad.yaml" 2>&1); rc=$?
is "$rc" 1 "threads: 65: exit 1"
case "$out" in *"bad.yaml:8:"*) r=0 ;; *) r=1 ;; esac; ok $r "with the position of the value"
diag "$out"

done_testing
