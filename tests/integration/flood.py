#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# flood.py -- a bounded UDP flood for ratelimit.sh.
#
#   flood.py PORT COUNT
#
# Sends COUNT queries for _dmarc.example.com TXT from 127.0.0.1 to 127.0.0.1:PORT
# as fast as it can.  After every 100 of them, one query from each of the other
# clients (127.0.1.1 and ::1 over UDP: other prefixes; 127.0.0.1 over TCP) is
# sent and its answer awaited (2 s at most).  Then the flood's answers are read
# until none arrives for 0.5 s (10 s at most).  Prints one line:
#   sent=N full=N tc=N other=N tcp_full=N/N v4other_full=N/N v6_full=N/N
# full: answers with records and TC clear; tc: TC set and no records.
import select
import socket
import struct
import sys
import time

QNAME = b"\x06_dmarc\x07example\x03com\x00"


def query(qid):
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + QNAME + struct.pack(">HH", 16, 1)


def kind(resp):
    """'full', 'tc' or 'other' for a response."""
    if len(resp) < 12:
        return "other"
    flags, an = struct.unpack(">H", resp[2:4])[0], struct.unpack(">H", resp[6:8])[0]
    rcode = flags & 0x0F
    tc = bool(flags & 0x0200)
    if tc and an == 0 and rcode == 0:
        return "tc"
    if not tc and an > 0 and rcode == 0:
        return "full"
    return "other"


def udp_one(family, src, port, qid):
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.bind((src, 0))
        s.settimeout(2)
        dst = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        s.sendto(query(qid), (dst, port))
        while True:
            data = s.recv(4096)
            if data[:2] == struct.pack(">H", qid):
                return kind(data) == "full"
    except (OSError, socket.timeout):
        return False
    finally:
        s.close()


def tcp_one(port, qid):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            q = query(qid)
            s.sendall(struct.pack(">H", len(q)) + q)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
                chunk = s.recv(4096)
                if not chunk:
                    return False
                buf += chunk
            return kind(buf[2:]) == "full"
    except OSError:
        return False


def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flood.bind(("127.0.0.1", 0))
    flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    flood.setblocking(False)
    counts = {"full": 0, "tc": 0, "other": 0}
    side = {"tcp": [0, 0], "v4other": [0, 0], "v6": [0, 0]}

    def drain():
        while True:
            try:
                data = flood.recv(4096)
            except BlockingIOError:
                return
            counts[kind(data)] += 1

    for i in range(count):
        while True:
            try:
                flood.sendto(query(i & 0xFFFF), ("127.0.0.1", port))
                break
            except BlockingIOError:
                drain()
        if i % 100 == 99:
            drain()
            qid = 50000 + i // 100
            for name, okay in (("tcp", tcp_one(port, qid)),
                               ("v4other", udp_one(socket.AF_INET, "127.0.1.1", port, qid)),
                               ("v6", udp_one(socket.AF_INET6, "::1", port, qid))):
                side[name][0] += okay
                side[name][1] += 1
    end = time.monotonic() + 10
    while time.monotonic() < end:
        r, _, _ = select.select([flood], [], [], 0.5)
        if not r:
            break
        drain()
    print("sent=%d full=%d tc=%d other=%d tcp_full=%d/%d v4other_full=%d/%d v6_full=%d/%d" % (
        count, counts["full"], counts["tc"], counts["other"],
        side["tcp"][0], side["tcp"][1], side["v4other"][0], side["v4other"][1],
        side["v6"][0], side["v6"][1]))


if __name__ == "__main__":
    main()
