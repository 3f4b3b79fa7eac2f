#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# rrlflood.py -- bounded UDP floods from 127.0.0.1 for the rate-limit tests and bench.
#
#   rrlflood.py spread PORT COUNT SOCKETS
#       COUNT queries for _dmarc.example.com TXT, sent round-robin from SOCKETS
#       sockets (each its own source port: SO_REUSEPORT spreads them over the
#       server's threads) to 127.0.0.1:PORT, as fast as it can.
#   rrlflood.py tsig PORT COUNT ZONE KEY
#       COUNT IXFR queries for ZONE (serial 1 in the authority section), each
#       with a TSIG record of key KEY (hmac-sha256) and a MAC of random bytes,
#       from one socket.
#
# Then it reads the answers until none arrives for 0.5 s (10 s at most) and
# prints one line:
#   sent=N full=N tc=N none=N elapsed=SECONDS rcodes=RCODE:N,...
# full: responses without TC; tc: TC set (the slip of rate limiting); none: no
# response; rcodes: the responses by header rcode; elapsed: from the first query sent to the last response received
# (every response the server rate-limited was decided within that time).
# Loopback only; bounded in count and time.
import os
import select
import socket
import struct
import sys
import time


def name_wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query_txt(qid):
    return (struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name_wire("_dmarc.example.com") +
            struct.pack(">HH", 16, 1))


def query_ixfr_tsig(qid, zone, key):
    zw = name_wire(zone)
    soa = name_wire("ns1.example.net") + name_wire("hostmaster.example.net") + \
        struct.pack(">IIIII", 1, 3600, 600, 86400, 300)
    msg = struct.pack(">HHHHHH", qid, 0, 1, 0, 1, 1) + zw + struct.pack(">HH", 251, 1)
    msg += zw + struct.pack(">HHIH", 6, 1, 0, len(soa)) + soa
    alg = name_wire("hmac-sha256")
    mac = os.urandom(32)
    now = int(time.time())
    rdata = alg + struct.pack(">HIH", now >> 32, now & 0xFFFFFFFF, 300) + \
        struct.pack(">H", len(mac)) + mac + struct.pack(">HHH", qid, 0, 0)
    msg += name_wire(key) + struct.pack(">HHIH", 250, 255, 0, len(rdata)) + rdata
    return msg


def main():
    mode, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if mode == "spread":
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(int(sys.argv[4]))]
        packets = [query_txt(i & 0xFFFF) for i in range(count)]
    elif mode == "tsig":
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM)]
        packets = [query_ixfr_tsig(i & 0xFFFF, sys.argv[4], sys.argv[5]) for i in range(count)]
    else:
        sys.exit("usage: rrlflood.py spread PORT COUNT SOCKETS | tsig PORT COUNT ZONE KEY")
    for s in socks:
        s.bind(("127.0.0.1", 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.setblocking(False)
    counts = {"full": 0, "tc": 0}
    rcodes = {}
    last = [0.0]

    def drain(s):
        while True:
            try:
                data = s.recv(4096)
            except (BlockingIOError, ConnectionRefusedError):
                return
            last[0] = time.monotonic()
            tc = len(data) >= 4 and data[2] & 0x02
            counts["tc" if tc else "full"] += 1
            rc = data[3] & 0x0F if len(data) >= 4 else -1
            rcodes[rc] = rcodes.get(rc, 0) + 1

    start = time.monotonic()
    deadline = start + 10
    for i, p in enumerate(packets):
        s = socks[i % len(socks)]
        while time.monotonic() < deadline:
            try:
                s.sendto(p, ("127.0.0.1", port))
                break
            except BlockingIOError:
                drain(s)
    while time.monotonic() < deadline:
        r, _, _ = select.select(socks, [], [], 0.5)
        if not r:
            break
        for s in r:
            drain(s)
    got = counts["full"] + counts["tc"]
    elapsed = (last[0] - start) if got else 0.0
    print("sent=%d full=%d tc=%d none=%d elapsed=%.3f rcodes=%s" % (
        count, counts["full"], counts["tc"], count - got, elapsed,
        ",".join("%d:%d" % kv for kv in sorted(rcodes.items())) or "-"))


if __name__ == "__main__":
    main()
