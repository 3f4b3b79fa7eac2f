#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# slowres.py -- a slow stand-in recursive resolver for flatten-jobs.sh: answers
# UDP queries on 127.0.0.1:PORT from a table (lines "NAME TYPE TTL RDATA..."),
# each after DELAY_MS in a thread of its own (NXDOMAIN for a name not in the
# table, NODATA for another type, SERVFAIL for a name starting "fail"), with
# constant TTLs so that two runs get the same answers.  It counts the queries
# and the most ever in flight at once and writes "queries Q max_inflight M" to
# STATS after each answer (SIGHUP: the most in flight counted anew); one thread per query, at most 256 at once (more are
# dropped).  Stops on SIGTERM, or by itself after LIFETIME seconds.
import os
import signal
import socket
import sys
import threading
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

port, table_path, delay_ms, stats_path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
LIFETIME = 300
MAX_THREADS = 256

table = {}
for line in open(table_path):
    f = line.split(None, 3)
    if len(f) == 4:
        table.setdefault(f[0].lower().rstrip("."), []).append((f[1].upper(), int(f[2]), f[3].strip()))

lock = threading.Lock()
inflight = 0
max_inflight = 0
queries = 0


def answer(sock, data, addr):
    global inflight, max_inflight, queries
    with lock:
        inflight += 1
        queries += 1
        max_inflight = max(max_inflight, inflight)
    try:
        time.sleep(delay_ms / 1000.0)
        q = dns.message.from_wire(data)
        r = dns.message.make_response(q)
        r.flags |= dns.flags.RA
        qn = q.question[0].name.to_text().lower().rstrip(".")
        qt = dns.rdatatype.to_text(q.question[0].rdtype)
        if qn.startswith("fail"):
            r.set_rcode(dns.rcode.SERVFAIL)
        elif qn not in table:
            r.set_rcode(dns.rcode.NXDOMAIN)
        else:
            rows = [x for x in table[qn] if x[0] == qt]
            if rows:
                r.answer.append(dns.rrset.from_text_list(qn + ".", rows[0][1], "IN", qt, [x[2] for x in rows]))
        wire = r.to_wire()
    except Exception as e:  # a bad query: no answer
        print("slowres:", e, file=sys.stderr)
        wire = None
    with lock:  # out of flight before the client has the answer (and asks the next)
        inflight -= 1
        write_stats()
    if wire is not None:
        sock.sendto(wire, addr)


def write_stats():
    with open(stats_path + ".tmp", "w") as f:
        f.write("queries %d max_inflight %d\n" % (queries, max_inflight))
    os.replace(stats_path + ".tmp", stats_path)


def reset(*args):
    global max_inflight
    with lock:
        max_inflight = inflight
        write_stats()


signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
signal.signal(signal.SIGHUP, reset)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", port))
sock.settimeout(1.0)
end = time.monotonic() + LIFETIME
while time.monotonic() < end:
    try:
        data, addr = sock.recvfrom(4096)
    except socket.timeout:
        continue
    if threading.active_count() > MAX_THREADS:
        continue
    threading.Thread(target=answer, args=(sock, data, addr), daemon=True).start()
