#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# wait-answer.py -- wait until 127.0.0.1:PORT answers a TXT query for NAME with an
# answer containing TEXT, asking every 10 ms (kdig's shortest timeout is 1 s,
# too coarse for load and reload times).  Exit 0 when answered, 1 after TIMEOUT s,
# 2 as soon as process PID (when given) has gone.
# Usage: bench/wait-answer.py PORT NAME TEXT [TIMEOUT [PID]]
# Env:   SOCKETS=K (default 1): ask from K sockets (K source ports) and wait until
#        each has been answered.  mailnsd's loop threads share the port with
#        SO_REUSEPORT, which spreads source ports over them: one socket lands on one
#        thread, 16 land on every thread of a 2-thread server but with odds of
#        2^-15, so "up" means every thread answers.
import os
import select
import socket
import struct
import sys
import time


def main():
    port, name, text = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
    deadline = time.monotonic() + (float(sys.argv[4]) if len(sys.argv) > 4 else 120)
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    k = max(1, int(os.environ.get("SOCKETS", "1")))
    socks = []
    for _ in range(k):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        socks.append(s)
    pid = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    qid = os.getpid() & 0xffff
    waiting = {s.fileno(): s for s in socks}
    while time.monotonic() < deadline:
        if pid and not os.path.exists("/proc/%d" % pid):
            return 2
        qid = (qid + 1) & 0xffff
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 16, 1)
        for s in list(waiting.values()):
            try:
                s.sendto(q, ("127.0.0.1", port))
            except OSError:
                pass
        end = time.monotonic() + 0.01
        while waiting and time.monotonic() < end:
            r, _, _ = select.select(list(waiting.values()), [], [], max(0, end - time.monotonic()))
            for s in r:
                try:
                    m = s.recv(65535)
                except OSError:
                    continue
                if len(m) > 12 and struct.unpack(">H", m[:2])[0] == qid:
                    if m[3] & 15 == 0 and struct.unpack(">H", m[6:8])[0] > 0 and text in m:
                        del waiting[s.fileno()]
        if not waiting:
            return 0
        time.sleep(0.005)
    return 1


if __name__ == "__main__":
    sys.exit(main())
