#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# tcpclients.py -- TCP clients for tcplimits.sh: pipelining clients that never read, and held connections.
#
#   tcpclients.py flood PORT K MBYTES READY
#       K connections to 127.0.0.1:PORT, each sending up to MBYTES MiB of
#       pipelined queries for big._domainkey.example.com TXT (a ~750-byte
#       answer) without ever reading.  Sends until nothing more goes out for
#       1 s (8 s at most), then writes "sent=BYTES open=N" to READY and holds
#       the connections until killed (120 s at most).
#
#   tcpclients.py pipeline PORT N DELAY
#       One connection to 127.0.0.1:PORT sending N pipelined queries for
#       big._domainkey.example.com TXT (IDs 0..N-1), reading nothing for DELAY
#       seconds, then reading (and sending the rest) until every answer is in
#       (30 s at most).  Prints "answers=A ids=I" (I distinct IDs, in order or
#       not).
#
#   tcpclients.py hold PORT DST SRC... READY
#       One connection to DST:PORT from each SRC address (bound), then one
#       query for _dmarc.example.com TXT on each: writes "served=N" (answers
#       received, 2 s each at most) to READY and holds the connections until
#       killed (120 s at most).
import os
import select
import socket
import struct
import sys
import time


def query(qid, qname, qtype=16):
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", qtype, 1)


def framed(msg):
    return struct.pack(">H", len(msg)) + msg


def ready(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.rename(path + ".tmp", path)


def hold(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.5)


def flood(port, k, mbytes, path):
    qname = b"\x03big\x0a_domainkey\x07example\x03com\x00"
    one = b"".join(framed(query(i, qname)) for i in range(1000))
    blob = memoryview(one * max(1, int(mbytes * 1024 * 1024 / len(one))))
    conns = []
    for _ in range(k):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # a small receive window: the answers pile up at the server, not here
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(2)
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        conns.append([s, 0])
    sent = 0
    end = time.monotonic() + 8
    last = time.monotonic()
    while time.monotonic() < end and time.monotonic() - last < 1.0:
        live = [c for c in conns if c[1] < len(blob)]
        if not live:
            break
        _, w, _ = select.select([], [c[0] for c in live], [], 0.2)
        for c in live:
            if c[0] not in w:
                continue
            try:
                n = c[0].send(blob[c[1]:c[1] + 65536])
            except BlockingIOError:
                continue
            except OSError:
                c[1] = len(blob)	# closed by the server: counts as done
                continue
            c[1] += n
            sent += n
            last = time.monotonic()
    opened = 0
    for c in conns:
        try:
            c[0].getpeername()
            opened += 1
        except OSError:
            pass
    ready(path, "sent=%d open=%d" % (sent, opened))
    hold(120)


def pipeline(port, n, delay):
    qname = b"\x03big\x0a_domainkey\x07example\x03com\x00"
    blob = b"".join(framed(query(i, qname)) for i in range(n))
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.setblocking(False)
    start = time.monotonic()
    off, data, answers, ids = 0, b"", 0, set()
    while answers < n and time.monotonic() - start < 30:
        reading = time.monotonic() - start >= delay
        r, w, _ = select.select([s] if reading else [], [s] if off < len(blob) else [], [], 0.1)
        if w:
            try:
                off += s.send(blob[off:off + 65536])
            except BlockingIOError:
                pass
        if r:
            c = s.recv(1 << 20)
            if not c:
                break
            data += c
            while len(data) >= 2 and len(data) >= 2 + struct.unpack(">H", data[:2])[0]:
                m = struct.unpack(">H", data[:2])[0]
                ids.add(struct.unpack(">H", data[2:4])[0])
                answers += 1
                data = data[2 + m:]
    print("answers=%d ids=%d" % (answers, len(ids)))


def hold_conns(port, dst, path, srcs):
    family = socket.AF_INET6 if ":" in dst else socket.AF_INET
    qname = b"\x06_dmarc\x07example\x03com\x00"
    conns = []
    for src in srcs:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.bind((src, 0))
            s.connect((dst, port))
            conns.append(s)
        except OSError as e:
            print("connect from %s: %s" % (src, e), file=sys.stderr)
            s.close()
    time.sleep(0.3)	# a connection over a cap is closed by now
    served = 0
    for i, s in enumerate(conns):
        try:
            s.sendall(framed(query(i, qname)))
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                c = s.recv(65536)
                if not c:
                    break
                data += c
            if len(data) > 12:
                served += 1
        except OSError:
            pass
    ready(path, "served=%d" % served)
    hold(120)


def main():
    if len(sys.argv) >= 6 and sys.argv[1] == "flood":
        flood(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    elif len(sys.argv) == 5 and sys.argv[1] == "pipeline":
        pipeline(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    elif len(sys.argv) >= 6 and sys.argv[1] == "hold":
        hold_conns(int(sys.argv[2]), sys.argv[3], sys.argv[-1], sys.argv[4:-1])
    else:
        print(__doc__ if __doc__ else "usage: see the header", file=sys.stderr)
        sys.exit(2)


main()
